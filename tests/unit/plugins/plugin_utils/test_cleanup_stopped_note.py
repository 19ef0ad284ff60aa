"""The services a cleanup stops are noted on the host until they run again, so that a cleanup cut off mid-command
(the connection dropped and the client terminated the command) is put right by the next one (issue 19, item 8)."""

from __future__ import annotations

from test_cleanup import MIB, NOW, ok, probe

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _cleanup as c
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _known as k

GIB = 1024**3
NOTE = "stopped by avdops.sessionhost disk_cleanup at 2026-11-25T03:00:00Z"


def noted(*names: str, bits: str = "Stopped", wu: str = "Running", free: int = 40 * MIB):
    results = probe(free, wu_state=wu)
    results.update(
        [
            ok("probe.service.BITS", {"name": "BITS", "exists": True, "state": bits}),
            ok(
                "probe.stopped",
                {
                    "path": k.STOPPED_SERVICES,
                    "exists": bool(names),
                    "values": [{"name": name, "kind": "String", "data": NOTE} for name in names],
                },
            ),
        ]
    )
    return results


def test_the_probe_reads_the_note():
    assert ("probe.stopped", "registry_read", {"path": k.STOPPED_SERVICES}) in [
        (o.id, o.op, o.args) for o in c.probe_disk_cleanup()
    ]


def test_each_service_stopped_is_noted_before_the_stop_and_the_note_goes_only_once_it_runs_again():
    results = noted(bits="Running")
    plan = c.plan_disk_cleanup(results, NOW)
    ops = {o.id: o for o in plan.operations()}
    ids = list(ops)
    for name in k.WINDOWS_UPDATE_SERVICES:
        assert ids.index(f"apply.note.{name}") < ids.index(f"apply.stop.{name}")
        assert ops[f"apply.note.{name}"].args == {
            "path": k.STOPPED_SERVICES,
            "name": name,
            "type": "REG_SZ",
            "data": "stopped by avdops.sessionhost disk_cleanup at 2026-11-26T03:00:00Z",
        }
        assert ops[f"apply.unnote.{name}"].op == "registry_delete"
        assert ops[f"apply.unnote.{name}"].args == {
            "path": k.STOPPED_SERVICES,
            "name": name,
            "after_ok": [f"apply.start.{name}"],
        }
        assert ids.index(f"apply.start.{name}") < ids.index(f"apply.unnote.{name}")
    assert plan.facts["left_stopped"] == []


def test_services_an_earlier_cut_off_cleanup_left_stopped_are_started_again_though_a_cleanup_would_not_stop_them():
    """The bug: a rerun saw wuauserv and BITS Stopped, so it neither stopped nor started them, and they stayed off."""
    plan = c.plan_disk_cleanup(noted("wuauserv", "BITS", wu="Stopped"), NOW, service_wait_seconds=20)
    ops = {o.id: o for o in plan.operations()}
    for name in ("wuauserv", "BITS"):
        assert ops[f"apply.start.{name}"].args == {"name": name, "state": "started", "wait_seconds": 20}
        assert ops[f"apply.unnote.{name}"].args["after_ok"] == [f"apply.start.{name}"]
        assert f"apply.stop.{name}" not in ops and f"apply.note.{name}" not in ops
    assert plan.facts["left_stopped"] == [
        f"wuauserv was left stopped by an earlier cleanup cut off mid-command ({NOTE}): started again",
        f"BITS was left stopped by an earlier cleanup cut off mid-command ({NOTE}): started again",
    ]
    assert plan.facts["left_stopped"] == plan.notes[:2]


def test_they_are_started_again_when_the_disk_needs_nothing_more():
    plan = c.plan_disk_cleanup(noted("BITS", free=7 * GIB), NOW)
    assert [(o.id, o.op) for o in plan.operations()] == [
        ("apply.start.BITS", "service_control"),
        ("apply.unnote.BITS", "registry_delete"),
        ("verify.disk", "disk"),
    ]
    assert plan.changed and not plan.disruptive


def test_a_noted_service_running_again_only_loses_its_note_and_a_noted_one_stopping_now_is_left_to_this_cleanup():
    plan = c.plan_disk_cleanup(noted("wuauserv", "BITS", bits="Running", free=7 * GIB), NOW)
    assert [(o.id, o.args.get("after_ok")) for o in plan.operations()] == [
        ("apply.unnote.wuauserv", None),
        ("apply.unnote.BITS", None),
        ("verify.disk", None),
    ]
    assert plan.facts["left_stopped"] == []
    # A full disk with wuauserv noted and running: this cleanup stops, notes, starts and unnotes it itself.
    full = c.plan_disk_cleanup(noted("wuauserv"), NOW)
    assert [o.id for o in full.operations() if o.id.endswith(".wuauserv")] == [
        "apply.note.wuauserv",
        "apply.stop.wuauserv",
        "apply.start.wuauserv",
        "apply.unnote.wuauserv",
    ]


def test_a_noted_service_still_pending_is_left_and_said_with_what_to_do():
    plan = c.plan_disk_cleanup(noted("wuauserv", wu="StopPending", free=7 * GIB), NOW)
    assert not plan.changed
    assert plan.facts["left_stopped"] == [
        f"wuauserv is StopPending since an earlier cleanup stopped it ({NOTE}): restart the VM (drain it first) "
        "to end it, then run again"
    ]


def test_an_unreadable_note_or_a_value_of_another_name_is_no_note():
    results = noted(free=7 * GIB)
    results["probe.stopped"] = ok("probe.stopped", {"exists": True, "values": [{"name": "Spooler", "data": NOTE}]})[1]
    assert not c.plan_disk_cleanup(results, NOW).changed
    assert c.noted_stopped({}) == {}
    assert c.noted_stopped(dict([ok("probe.stopped", None)])) == {}
