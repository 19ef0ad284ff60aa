"""Which checks _verdicts.py says did not run, and why a stopped VM is called stopped (issue 22, mutmut survivors):
each reason whole, every check of a run looked at whatever the one before it lacked."""

from __future__ import annotations

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _verdicts as v


def test_every_check_is_looked_at_whatever_the_one_before_it_lacked():
    facts = {"network": None, "disk": None, "agent": {}}
    gaps = v.coverage(facts, None, ["INVALID_FORM", "DISK_SPACE_LOW", "HEALTH_CHECK_FAILED", "DOTNET_OUTDATED"])
    assert gaps == {
        "INVALID_FORM": "gather_subset left out events",
        "DISK_SPACE_LOW": "no disk facts came back",
        "DOTNET_OUTDATED": "gather_subset left out dotnet",
    }


def test_a_check_whose_two_subsets_both_failed_gives_both_reasons():
    assert v.coverage({"events": None, "network": None}, None, ["INVALID_FORM", "GATEWAY_UNREACHABLE"]) == {
        "INVALID_FORM": "no events facts came back; no network facts came back",
        "GATEWAY_UNREACHABLE": "no events facts came back",
    }


def test_a_check_the_collection_does_not_know_needs_nothing():
    assert v.coverage({}, None, ["A_CHECK_ADDED_LATER"]) == {}


def test_a_session_count_that_failed_to_come_back_is_no_session_count():
    """The host's own session count stands in for the pool's only when it was gathered and came back."""
    pool = {"status": "Available", "max_session_limit": 10}
    assert v.coverage({"sessions": None}, pool, ["SESSION_LIMIT_REACHED"]) == {
        "SESSION_LIMIT_REACHED": "the host's session count is not in the host pool's data (Azure gave none)"
    }
    assert v.coverage({"sessions": {"count": 2}}, pool, ["SESSION_LIMIT_REACHED"]) == {}


def test_a_stopped_health_check_is_named_whole_past_an_entry_that_is_no_check():
    pool = {
        "status": "Unavailable",
        "health_checks": ["garbled", {"name": "DomainJoinedCheck", "result": "SessionHostShutdown"}],
    }
    assert v.stopped_reason(pool) == "the host pool's health check DomainJoinedCheck reports SessionHostShutdown"
    assert (
        v.stopped_reason({"status": None, "power_state": None, "health_checks": [{"name": "x", "result": None}]})
        is None
    )


def test_a_failed_operation_without_a_message_says_failed_and_counts_against_its_first_name_part():
    facts = {"events": {}, "errors": [{"operation": "events.agent.recent"}]}
    assert v.coverage(facts, None, ["GATEWAY_UNREACHABLE"]) == {
        "GATEWAY_UNREACHABLE": "operation events.agent.recent failed: failed"
    }
    assert v.unchecked_list({}, [], facts) == ["operation events.agent.recent failed: failed"]


def test_a_rule_s_note_on_a_check_already_listed_is_not_listed_again_whatever_colons_it_holds():
    lines = v.unchecked_list({"DISK_SPACE_LOW": "no disk facts came back"}, ["DISK_SPACE_LOW: C: unreadable"], {})
    assert lines == ["DISK_SPACE_LOW: no disk facts came back"]


def test_a_check_of_the_service_s_view_without_that_view_passes_on_to_the_next_check():
    facts = {"services": {}, "disk": None}
    assert v.coverage(facts, None, ["HEARTBEAT_LOST", "DISK_SPACE_LOW"]) == {
        "DISK_SPACE_LOW": "no disk facts came back"
    }
