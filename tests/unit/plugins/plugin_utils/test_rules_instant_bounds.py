"""The exact-instant bounds of _rules.py (issue 22, the sampler's survivors `now - beat <= HEARTBEAT_STALE` and
`when <= installed`): a heartbeat exactly ten minutes old is lost, one a second younger is not; an update error
logged at the second the agent installed is current, one a second before is stale."""

from __future__ import annotations

from test_rules import healthy, ids

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _rules as r


def test_a_heartbeat_exactly_ten_minutes_old_is_lost_and_one_a_second_younger_is_not():
    facts = healthy()
    facts["gathered_at"] = "2026-11-25T13:00:00Z"
    assert ids(facts, {"status": "Available", "last_heartbeat": "2026-11-25T12:50:00Z"}) == ["HEARTBEAT_LOST"]
    assert ids(facts, {"status": "Available", "last_heartbeat": "2026-11-25T12:50:01Z"}) == []


def test_an_update_error_logged_at_the_second_the_agent_installed_is_current_and_one_a_second_before_is_not():
    """The install that went through makes older update errors stale; one logged at its very second is not older."""
    installed = {"kind": "AgentInstalled", "time": "2026-11-25T12:00:00Z"}
    same = {"kind": "DownloadMsiException", "time": "2026-11-25T12:00:00Z"}
    before = {"kind": "DownloadMsiException", "time": "2026-11-25T11:59:59Z"}
    host = r.Host({**healthy(), "events": [installed, same, before]}, None)
    assert host.events("DownloadMsiException") == [same]
    assert host.stale_events("DownloadMsiException") == [before]
