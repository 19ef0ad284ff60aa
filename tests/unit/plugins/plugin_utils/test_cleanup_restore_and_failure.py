"""What _cleanup.py's plan says it changes when it puts right a cleanup cut off mid-command, and what a failed
cleanup's message counts (issue 22, mutmut survivors): the diff of each restart and note removal whole, every
noted service handled whatever comes before it, and only answered deletions counted as freed."""

from __future__ import annotations

from test_cleanup import MIB, NOW
from test_cleanup_stopped_note import GIB, NOTE, noted

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _cleanup as c
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _known as k
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import OperationResult


def test_the_diff_of_a_restore_shows_each_service_stopped_before_and_each_note_removed():
    plan = c.plan_disk_cleanup(noted("wuauserv", "BITS", wu="Stopped", free=7 * GIB), NOW)
    assert plan.diff() == {
        "before": {
            "service wuauserv again": "Stopped",
            "service BITS again": "Stopped",
            f"{k.STOPPED_SERVICES}\\wuauserv (once it runs)": NOTE,
            f"{k.STOPPED_SERVICES}\\BITS (once it runs)": NOTE,
        },
        "after": {
            "service wuauserv again": "Running",
            "service BITS again": "Running",
            f"{k.STOPPED_SERVICES}\\wuauserv (once it runs)": None,
            f"{k.STOPPED_SERVICES}\\BITS (once it runs)": None,
        },
    }


def test_the_diff_of_a_note_left_by_a_service_running_again_shows_the_note_removed():
    plan = c.plan_disk_cleanup(noted("BITS", bits="Running", free=7 * GIB), NOW)
    assert plan.diff() == {
        "before": {f"{k.STOPPED_SERVICES}\\BITS (once it runs)": NOTE},
        "after": {f"{k.STOPPED_SERVICES}\\BITS (once it runs)": None},
    }


def test_a_noted_service_after_one_this_cleanup_stops_itself_is_still_started_again():
    """wuauserv is noted and running (this cleanup stops and starts it), BITS is noted after it and Stopped."""
    plan = c.plan_disk_cleanup(noted("wuauserv", "BITS"), NOW)
    ops = {o.id: o for o in plan.operations()}
    assert ops["apply.start.BITS"].args == {"name": "BITS", "state": "started", "wait_seconds": 30}
    assert ops["apply.unnote.BITS"].args["after_ok"] == ["apply.start.BITS"]
    assert "apply.stop.BITS" not in ops and "apply.stop.wuauserv" in ops
    assert plan.facts["left_stopped"] == [
        f"BITS was left stopped by an earlier cleanup cut off mid-command ({NOTE}): started again"
    ]


def result(op_id: str, op: str, done: bool, answer: object = None, error: str | None = None):
    return op_id, OperationResult(id=op_id, op=op, ok=done, result=answer, error=error)


def test_a_failure_lists_every_location_left_and_service_started_again_and_counts_only_answered_deletions():
    applied = dict(
        [
            result("apply.stop.wuauserv", "service_control", False, error="wuauserv is StopPending"),
            result("apply.delete.windows_temp", "cleanup_delete", True, {"freed": MIB - 1}),
            result("apply.delete.agent_folders", "cleanup_delete", True, {"deleted": []}),  # no figure: 0
            result(
                "apply.delete.windows_update_download",
                "cleanup_delete",
                False,
                {"freed": 5 * MIB},
                "not run: apply.stop.wuauserv did not succeed.",
            ),
            result("apply.delete.windows_error_reports", "cleanup_delete", False, None, "not run: waited"),
            result("apply.start.wuauserv", "service_control", True, {"state": "Running"}),
            result("apply.start.BITS", "service_control", True, {"state": "Running"}),
        ]
    )
    assert c.cleanup_failure(applied) == (
        "wuauserv did not stop: wuauserv is StopPending; restart the VM (drain it first) to end it, then run again; "
        "left as it was: windows_update_download, windows_error_reports; started again: wuauserv, BITS; freed 0 MB"
    )
