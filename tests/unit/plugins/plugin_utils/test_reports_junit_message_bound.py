"""The JUnit report's messages are cut at 500 characters, not one fewer (issue 22): a stopped host's long reason
and a failed run's long failure keep their first 500 characters in the message and the whole text in the body."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _reports as rep

REASON = "deallocated by the pool's scaling plan " + "x" * 600


def test_a_stopped_hosts_skipped_message_keeps_500_characters():
    report = {"generated": "2026-12-07T04:00:00Z", "hosts": {"sh-01": {"state": "stopped", "reason": REASON}}}
    skipped = ET.fromstring(rep.render_junit(report)).find("testsuite/testcase/skipped")
    assert skipped is not None
    assert skipped.get("message") == f"stopped: {REASON}"[:500]
    assert len(skipped.get("message") or "") == 500


def test_a_failed_runs_error_message_keeps_500_characters_and_the_body_all():
    report = {"generated": "2026-12-07T04:00:00Z", "hosts": {}, "run": {"failure": REASON}}
    error = ET.fromstring(rep.render_junit(report)).find("testsuite/testcase/error")
    assert error is not None
    assert (error.get("message"), error.text) == (REASON[:500], REASON)
