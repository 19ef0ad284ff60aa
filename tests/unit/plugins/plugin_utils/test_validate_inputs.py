"""The input checks diagnose, session_host_facts and image_check run before any rule (issue 22): the host pool's
view of a host (each field's type, the counts at -1 and 0, named as the option or as the avd_* variable), the counts
made numbers, and the gather options' lower bounds (0 and 1) and URL schemes, each message compared whole.
test_bad_input.py runs the same checks through the action plugins; these pin each boundary alone."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _validate as v


def refused(function: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(v.InputError) as error:
        function(*args, **kwargs)
    return str(error.value)


POOL = {
    "status": "Available",
    "allow_new_session": True,
    "agent_version": "1.0.10004.1300",
    "sxs_stack_version": "rdp-sxs240705700",
    "update_state": "Succeeded",
    "vm_id": "0c8b4b4e-5a1f-4bd6-9d1e-2f3f0c1d9e11",
    "in_pool": True,
    "registration_expiration_time": "2026-12-08T00:00:00Z",
    "host_pool": "hp-demo",
    "last_heartbeat": "2026-12-07T04:00:00Z",
    "read_at": "2026-12-07T04:00:01Z",
    "power_state": "VM running",
    "health_checks": [{"name": "DomainJoinedCheck"}],
    "sessions": 3,
    "max_session_limit": "8",
}


def test_a_whole_pool_view_and_none_are_accepted():
    assert v.validate_pool(POOL) is None
    assert v.validate_pool(None) is None
    assert v.validate_pool({**POOL, "health_checks": None, "status": None, "sessions": None}) is None
    assert v.validate_pool({"sessions": 0, "max_session_limit": " 8 "}) is None


def test_a_pool_view_that_is_no_mapping_is_refused():
    assert refused(v.validate_pool, ["Available"]) == (
        "host_pool: expected a mapping of the host pool's view of the host (status, sessions, ...), "
        "got list ['Available']"
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("status", 1, "a string or null, got int 1"),
        ("allow_new_session", "yes", "true or false or null, got str 'yes'"),
        ("in_pool", 0, "true or false or null, got int 0"),
        ("vm_id", True, "a string or null, got bool True"),
        ("health_checks", {"name": "x"}, "a list, got dict {'name': 'x'}"),
        ("health_checks", ["x"], "a mapping, got str 'x'"),
    ],
)
def test_each_field_of_the_pool_view_is_named_with_what_it_accepts(name, value, expected):
    where = f"{name}[0]" if value == ["x"] else name
    assert refused(v.validate_pool, {**POOL, name: value}) == f"host_pool.{where}: expected {expected}"
    assert refused(v.validate_pool, {name: value}, variables=True) == f"avd_{where}: expected {expected}"


@pytest.mark.parametrize("name", v.POOL_COUNTS)
@pytest.mark.parametrize("value", [-1, "-1", True, False, "eight", "", 2.5, [1]])
def test_a_count_is_a_whole_number_0_or_more(name, value):
    shown = repr(value)
    expected = f"a whole number, 0 or more, got {type(value).__name__} {shown}"
    assert refused(v.validate_pool, {name: value}) == f"host_pool.{name}: expected {expected}"
    assert refused(v.validate_pool, {name: value}, "pool", variables=True) == f"avd_{name}: expected {expected}"
    assert refused(v.validate_pool, {name: value}, "pool") == f"pool.{name}: expected {expected}"


@pytest.mark.parametrize("name", v.POOL_COUNTS)
@pytest.mark.parametrize("value", [0, 1, "0", "12"])
def test_a_count_at_0_or_more_is_accepted(name, value):
    assert v.validate_pool({name: value}) is None


def test_pool_counts_makes_the_counts_numbers_and_leaves_the_rest():
    assert v.pool_counts(None) is None
    assert v.pool_counts({"sessions": "3", "max_session_limit": "8", "status": "5", "vm_id": None}) == {
        "sessions": 3,
        "max_session_limit": 8,
        "status": "5",
        "vm_id": None,
    }
    assert v.pool_counts({"sessions": None, "max_session_limit": 0}) == {"sessions": None, "max_session_limit": 0}


@pytest.mark.parametrize("name", ["events_max_age", "events_max_count", "probe_timeout"])
def test_each_gather_option_is_at_least_1(name):
    assert v.validate_gather_options({name: 1}) is None
    assert v.validate_gather_options({name: None}) is None
    assert refused(v.validate_gather_options, {name: 0}) == f"{name} must be at least 1, got 0"
    assert refused(v.validate_gather_options, {name: -5}) == f"{name} must be at least 1, got -5"


def test_probe_urls_are_http_or_https_each_named_by_index():
    good = ["https://rdbroker.wvd.microsoft.com/api/health", "HTTP://169.254.169.254/", "http://x"]
    assert v.validate_gather_options({"probe_urls": good}) is None
    assert v.validate_gather_options({"probe_urls": None}) is None
    assert refused(v.validate_gather_options, {"probe_urls": [*good, "ftp://x"]}) == (
        "probe_urls[3]: expected an http:// or https:// URL, got 'ftp://x'"
    )
    assert refused(v.validate_gather_options, {"probe_urls": ["https:/x"]}) == (
        "probe_urls[0]: expected an http:// or https:// URL, got 'https:/x'"
    )
    long = "rdbroker.wvd.microsoft.com/" + "a" * 60
    assert refused(v.validate_gather_options, {"probe_urls": [long]}) == (
        f"probe_urls[0]: expected an http:// or https:// URL, got {repr(long)[:57]}..."
    )


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        (v.STR, 1, "a string, got int 1"),
        (v.OPT_INT, "1", "a whole number or null, got str '1'"),
        (v.OPT_INT, True, "a whole number or null, got bool True"),
        (v.NUMBER, "1.5", "a whole number or a number or null, got str '1.5'"),
        (v.BOOL, None, "true or false, got NoneType None"),
        ((list,), "x", "list, got str 'x'"),
    ],
)
def test_the_expected_types_in_words(spec, value, expected):
    assert refused(v.check, value, spec, "facts.x") == f"facts.x: expected {expected}"


def test_a_bool_is_a_bool_where_one_is_accepted_and_numbers_pass_as_numbers():
    assert v.check(True, v.OPT_BOOL, "x") is None
    assert v.check(2.5, v.NUMBER, "x") is None
    assert v.check(None, v.NUMBER, "x") is None
