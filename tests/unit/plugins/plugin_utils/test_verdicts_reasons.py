"""The reasons a verdict gives, whole (mutmut survivors, issue 22): an incomplete host's one line, a check short of
host pool data, a connection error's telling part at its length bound, the controller's hint."""

from __future__ import annotations

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _verdicts as v

UNCHECKED = [
    "SESSION_LIMIT_REACHED: the host pool's max session limit is unknown: no data",
    "HEARTBEAT_LOST: operation services.bootloader failed: Access denied",
    "DISK_SPACE_LOW: operation services.bootloader failed: Access denied",
    "operation os.version failed: timed out",
]


def test_an_incomplete_host_counts_the_checks_and_lists_each_reason_once_whole():
    assert v.incomplete_reason(UNCHECKED) == (
        "3 check(s) did not run: the host pool's max session limit is unknown: no data; "
        "operation services.bootloader failed: Access denied; operation os.version failed: timed out"
    )


def test_without_a_check_named_it_says_not_everything_could_be_read():
    assert v.incomplete_reason(UNCHECKED[3:]) == "not everything could be read: operation os.version failed: timed out"


def test_a_check_short_of_host_pool_data_names_every_variable_that_would_give_it():
    assert v._pool_gap("SESSION_LIMIT_REACHED", "the limit", ("max_session_limit", "limit"), None, {}) == (
        "the limit is unknown (no host pool data: use the host_pool inventory or set avd_max_session_limit, avd_limit)"
    )
    live = {"status": "Available"}
    assert v._pool_gap("SESSION_LIMIT_REACHED", "the limit", ("max_session_limit",), live, {}) == (
        "the limit is not in the host pool's data (Azure gave none)"
    )


@pytest.mark.parametrize("services", [None, [], "RDAgentBootLoader"])
def test_a_heartbeat_gap_without_a_services_view_to_read_is_no_gap(services):
    facts = {"services": services}
    assert v._pool_gap("HEARTBEAT_LOST", "the heartbeat", ("last_heartbeat",), {"status": "Available"}, facts) == ""


@pytest.mark.parametrize(("length", "kept"), [(110, True), (111, False)])
def test_a_reason_is_kept_whole_up_to_110_characters(length, kept):
    message = "x" * length
    assert v.short_reason(message) == (message if kept else "x" * 107 + "...")


def test_the_controller_hint_is_empty_text_when_nothing_is_known():
    assert v.failure_hint("something else broke") == ""
    assert v.failure_hint("ERROR: PyPSRP IS NOT INSTALLED") == "install pypsrp on the controller (pip install pypsrp)"


def test_the_telling_part_is_found_whatever_its_case():
    message = "ntlm: Max retries exceeded (Caused by AuthError('Failed to authenticate the user avdadmin with ntlm'))"
    assert v.short_reason(message) == "Failed to authenticate the user avdadmin with ntlm"
