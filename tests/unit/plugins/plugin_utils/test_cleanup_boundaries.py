"""Freeing disk space, pinned at every boundary that decides whether something on the host is deleted or left.

Each boundary is tested with one value on each side (free space at the target and one byte under it, a temp
item exactly a week old and one second younger, ...), and the whole plan is compared, operations with their
arguments, so a wrong argument sent to the runtime fails a test (issue 22).
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _cleanup as c
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import Change, PlanError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult

GIB, MIB = 1024**3, 1024**2
NOW = datetime.datetime(2026, 11, 26, 3, 0, tzinfo=datetime.UTC)
TEMP = r"C:\Windows\Temp"
DOWNLOAD = r"C:\Windows\SoftwareDistribution\Download"
RDINFRA = r"C:\Program Files\Microsoft RDInfra"
SIZE = 100 * GIB  # 5% of it (5 GiB) is more than the agent's 300 MB: the target is 5 GiB
TARGET = 5 * GIB
STOPPED = r"HKEY_LOCAL_MACHINE\SOFTWARE\avdops\sessionhost\StoppedServices"  # the note of the services stopped
AT = "disk_cleanup at 2026-11-26T03:00:00Z"


def stamp(age: datetime.timedelta) -> str:
    return (NOW - age).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry(path: str, size: int | None, age: datetime.timedelta, kind: str = "file") -> dict[str, Any]:
    found: dict[str, Any] = {"name": path.rsplit("\\", 1)[-1], "path": path, "kind": kind, "modified": stamp(age)}
    if size is not None:
        found["size"] = size
    return found


WEEK = datetime.timedelta(days=7)
SECOND = datetime.timedelta(seconds=1)


def host_candidates() -> dict[str, Any]:
    return {
        "locations": [
            {"location": "windows_temp", "items": [entry(rf"{TEMP}\old.log", 3 * MIB, WEEK)]},
            {"location": "windows_update_download", "items": [entry(rf"{DOWNLOAD}\kb", 700 * MIB, SECOND, "folder")]},
            {"location": "agent_folders", "items": [entry(rf"{RDINFRA}\RDAgent_1.0.1.0", 100 * MIB, WEEK, "folder")]},
        ],
        "agents_in_use": ["RDAgent_1.0.2.0"],
        "agents_known": True,
    }


def ok(op_id: str, result: Any, op: str = "x") -> tuple[str, OperationResult]:
    return op_id, OperationResult(id=op_id, op=op, ok=True, result=result)


def results(
    free: int,
    cleanup: dict[str, Any] | None = None,
    wuauserv: dict[str, Any] | None = None,
    bits: dict[str, Any] | None = None,
    bootloader: dict[str, Any] | None = None,
) -> dict[str, OperationResult]:
    return dict(
        [
            ok("probe.disk", {"drive": "C:", "size": SIZE, "free": free}),
            ok("probe.cleanup", host_candidates() if cleanup is None else cleanup),
            ok("probe.service.wuauserv", wuauserv or {"name": "wuauserv", "exists": True, "state": "Running"}),
            ok("probe.service.BITS", bits or {"name": "BITS", "exists": True, "state": "Running"}),
            ok("probe.bootloader", bootloader or {"name": "RDAgentBootLoader", "exists": True, "state": "Running"}),
        ]
    )


def test_the_probe_reads_disk_candidates_windows_update_and_the_boot_loader_in_one_command():
    assert c.probe_disk_cleanup() == [
        Operation("probe.disk", "disk", {}),
        Operation("probe.cleanup", "cleanup_candidates", {}),
        Operation("probe.service.wuauserv", "service_query", {"name": "wuauserv"}),
        Operation("probe.service.BITS", "service_query", {"name": "BITS"}),
        Operation("probe.bootloader", "service_query", {"name": "RDAgentBootLoader"}),
        Operation(
            "probe.stopped",
            "registry_read",
            {"path": r"HKEY_LOCAL_MACHINE\SOFTWARE\avdops\sessionhost\StoppedServices"},
        ),
    ]


@pytest.mark.parametrize(
    ("size", "percent", "mb", "target"),
    [
        (100 * GIB, 5.0, 300, 5 * GIB),  # 5% wins
        (4 * GIB, 5.0, 300, 300 * MIB),  # the agent's 300 MB win
        (6000 * MIB, 5.0, 300, 300 * MIB),  # both the same
        (6000 * MIB + 20, 5.0, 300, 300 * MIB + 1),  # 5% one byte more: it wins
        (101, 5.0, 0, 6),  # 5.05 bytes: rounded up, never down
        (100, 5.0, 0, 5),
        (100, 5.0, 1, MIB),
    ],
)
def test_the_target_is_the_larger_threshold_rounded_up(size, percent, mb, target):
    assert c.target_free(size, percent, mb) == target


def test_exactly_the_target_free_changes_nothing_and_one_byte_less_cleans():
    enough = c.plan_disk_cleanup(results(TARGET), NOW)
    assert enough.changes == [] and enough.verify == []
    assert enough.notes == ["C: has 5120 MB free, the target is 5120 MB"]
    assert enough.facts == {
        "drive": "C:",
        "size": SIZE,
        "free": TARGET,
        "target_free": TARGET,
        "held": {"windows_temp": 3 * MIB, "windows_update_download": 700 * MIB, "agent_folders": 100 * MIB},
        "agents_in_use": ["RDAgent_1.0.2.0"],
        "would_free": 0,
        "shortfall": 0,
        "left_stopped": [],
    }
    short = c.plan_disk_cleanup(results(TARGET - 1), NOW)
    assert short.changed and short.verify == [Operation("verify.disk", "disk", {})]
    assert short.notes == []
    assert short.facts["would_free"] == 803 * MIB
    assert short.facts["shortfall"] == 0


def test_the_whole_plan_stops_both_update_services_deletes_then_starts_them_again():
    plan = c.plan_disk_cleanup(results(TARGET - 1), NOW)
    notes = [
        Change(
            Operation(
                f"apply.note.{name}",
                "registry_write",
                {"path": STOPPED, "name": name, "type": "REG_SZ", "data": f"stopped by avdops.sessionhost {AT}"},
            ),
            rf"{STOPPED}\{name}",
            None,
            f"stopped by avdops.sessionhost {AT}",
        )
        for name in ("wuauserv", "BITS")
    ]
    unnotes = [
        Change(
            Operation(
                f"apply.unnote.{name}",
                "registry_delete",
                {"path": STOPPED, "name": name, "after_ok": [f"apply.start.{name}"]},
            ),
            rf"{STOPPED}\{name} (once it runs)",
            None,
            None,
        )
        for name in ("wuauserv", "BITS")
    ]
    assert plan.changes[:2] == notes and plan.changes[-2:] == unnotes
    assert plan.changes[2:-2] == [
        Change(
            Operation(
                "apply.stop.wuauserv", "service_control", {"name": "wuauserv", "state": "stopped", "wait_seconds": 30}
            ),
            "service wuauserv",
            "Running",
            "Stopped (started again after the cleanup)",
        ),
        Change(
            Operation("apply.stop.BITS", "service_control", {"name": "BITS", "state": "stopped", "wait_seconds": 30}),
            "service BITS",
            "Running",
            "Stopped (started again after the cleanup)",
        ),
        Change(
            Operation("apply.delete.windows_temp", "cleanup_delete", {"paths": [rf"{TEMP}\old.log"]}),
            "windows_temp",
            {rf"{TEMP}\old.log": 3 * MIB},
            {},
        ),
        Change(
            Operation(
                "apply.delete.windows_update_download",
                "cleanup_delete",
                {"paths": [rf"{DOWNLOAD}\kb"], "after_ok": ["apply.stop.wuauserv", "apply.stop.BITS"]},
            ),
            "windows_update_download",
            {rf"{DOWNLOAD}\kb": 700 * MIB},
            {},
        ),
        Change(
            Operation("apply.delete.agent_folders", "cleanup_delete", {"paths": [rf"{RDINFRA}\RDAgent_1.0.1.0"]}),
            "agent_folders",
            {rf"{RDINFRA}\RDAgent_1.0.1.0": 100 * MIB},
            {},
        ),
        Change(
            Operation(
                "apply.start.wuauserv",
                "service_control",
                {"name": "wuauserv", "state": "started", "wait_seconds": 30, "after_ok": ["apply.stop.wuauserv"]},
            ),
            "service wuauserv again",
            "Stopped",
            "Running",
        ),
        Change(
            Operation(
                "apply.start.BITS",
                "service_control",
                {"name": "BITS", "state": "started", "wait_seconds": 30, "after_ok": ["apply.stop.BITS"]},
            ),
            "service BITS again",
            "Stopped",
            "Running",
        ),
    ]
    assert not plan.disruptive


def test_update_services_are_stopped_only_when_their_cache_is_cleaned_and_they_run():
    absent = {"name": "BITS", "exists": False}
    stopped = {"name": "wuauserv", "exists": True, "state": "Stopped"}
    plan = c.plan_disk_cleanup(results(TARGET - 1, wuauserv=stopped, bits=absent), NOW)
    assert [o.id for o in plan.operations() if o.op == "service_control"] == []
    no_cache = host_candidates()
    del no_cache["locations"][1]
    plan = c.plan_disk_cleanup(results(TARGET - 1, cleanup=no_cache), NOW)
    assert [o.id for o in plan.operations()] == [
        "apply.delete.windows_temp",
        "apply.delete.agent_folders",
        "verify.disk",
    ]


def test_a_temp_item_exactly_a_week_old_goes_and_one_a_second_younger_stays():
    def temp(age: datetime.timedelta, days: float = 7) -> dict[str, Any]:
        found = {"locations": [{"location": "windows_temp", "items": [entry(rf"{TEMP}\a", 5, age)]}]}
        return c.candidates(found, NOW, days)

    assert temp(WEEK) == {"windows_temp": [{"path": rf"{TEMP}\a", "size": 5}]}
    assert temp(WEEK - SECOND) == {}
    assert temp(datetime.timedelta(days=2), days=2) != {}
    assert temp(datetime.timedelta(days=2) - SECOND, days=2) == {}


def test_the_plan_passes_its_temp_age_on():
    young = {"locations": [{"location": "windows_temp", "items": [entry(rf"{TEMP}\a", 5, datetime.timedelta(days=3))]}]}
    assert not c.plan_disk_cleanup(results(TARGET - 1, cleanup=young), NOW).changed
    plan = c.plan_disk_cleanup(results(TARGET - 1, cleanup=young), NOW, temp_min_age_days=3)
    assert [o.id for o in plan.operations()] == ["apply.delete.windows_temp", "verify.disk"]


def test_a_time_without_zone_is_utc_and_a_zone_is_honoured():
    def kept(modified: str) -> bool:
        item = {"path": rf"{TEMP}\a", "kind": "file", "size": 1, "modified": modified}
        return c.candidates({"locations": [{"location": "windows_temp", "items": [item]}]}, NOW) == {}

    assert not kept("2026-11-19T03:00:00")  # naive: UTC, exactly a week
    assert kept("2026-11-19T03:00:01")
    assert kept("2026-11-19T03:00:00-00:01")  # a minute later in UTC: younger than a week
    assert not kept("2026-11-19T03:00:00+00:01")


def test_only_files_and_folders_of_known_locations_and_agent_folders_not_in_use_go():
    cleanup = {
        "locations": [
            {"location": "user_profiles", "items": [entry(r"C:\Users\x", 1, WEEK, "folder")]},
            {
                "location": "windows_update_download",
                "items": [
                    entry(rf"{DOWNLOAD}\link", 1, WEEK, "link"),
                    entry(rf"{DOWNLOAD}\nosize", None, WEEK),
                ],
            },
            {
                "location": "agent_folders",
                "items": [
                    entry(rf"{RDINFRA}\RDAgent_1.0.2.0", 1, WEEK, "folder"),  # in use, named in another case
                    entry(rf"{RDINFRA}\RDAgent_1.0.3.0.zip", 1, WEEK, "file"),
                    entry(rf"{RDINFRA}\RDAgent_1.0.1.0", 1, WEEK, "folder"),
                ],
            },
        ],
        "agents_in_use": ["rdagent_1.0.2.0"],
        "agents_known": True,
    }
    assert c.candidates(cleanup, NOW) == {
        "windows_update_download": [{"path": rf"{DOWNLOAD}\nosize", "size": 0}],
        "agent_folders": [{"path": rf"{RDINFRA}\RDAgent_1.0.1.0", "size": 1}],
    }
    assert c.candidates({}, NOW) == {}


@pytest.mark.parametrize("known", [False, None, "true", 1])
def test_agent_folders_stay_unless_the_boot_loaders_agents_were_read(known):
    cleanup = host_candidates()
    cleanup["agents_known"] = known
    assert sorted(c.candidates(cleanup, NOW)) == ["windows_temp", "windows_update_download"]
    del cleanup["agents_known"]
    assert sorted(c.candidates(cleanup, NOW)) == ["windows_temp", "windows_update_download"]


def test_nothing_to_delete_under_the_target_plans_nothing_and_no_verify():
    plan = c.plan_disk_cleanup(results(TARGET - 1, cleanup={"locations": [], "agents_in_use": []}), NOW)
    assert plan.changes == [] and plan.verify == []
    assert plan.facts["would_free"] == 0 and plan.facts["shortfall"] == 1
    held = c.plan_disk_cleanup(results(TARGET - 1, cleanup={}), NOW).facts
    assert held["held"] == {} and held["agents_in_use"] == []


def test_the_shortfall_is_what_is_left_after_the_deletions():
    plan = c.plan_disk_cleanup(results(TARGET - 900 * MIB), NOW)
    assert plan.facts["shortfall"] == 97 * MIB
    assert c.plan_disk_cleanup(results(TARGET - 803 * MIB), NOW).facts["shortfall"] == 0
    assert c.plan_disk_cleanup(results(TARGET - 803 * MIB - 1), NOW).facts["shortfall"] == 1


def test_a_missing_disk_reading_is_read_as_zero():
    found = results(0)
    found.update([ok("probe.disk", {"drive": "C:"})])
    plan = c.plan_disk_cleanup(found, NOW)
    assert plan.facts["size"] == 0 and plan.facts["free"] == 0 and plan.facts["target_free"] == 300 * MIB
    assert plan.facts["shortfall"] == 0 and plan.changed


def test_the_agent_restart_comes_only_with_deletions_and_an_installed_boot_loader():
    stopped = {"name": "RDAgentBootLoader", "exists": True, "state": "Stopped"}
    plan = c.plan_disk_cleanup(results(TARGET - 1, bootloader=stopped), NOW, restart_agent_settle=5)
    assert plan.changes[-1] == Change(
        Operation(
            "apply.bootloader",
            "service_control",
            {"name": "RDAgentBootLoader", "state": "restarted", "settle_seconds": 5},
        ),
        "service RDAgentBootLoader",
        "Stopped",
        "Running",
        disruptive=True,
    )
    gone = {"name": "RDAgentBootLoader", "exists": False}
    plan = c.plan_disk_cleanup(results(TARGET - 1, bootloader=gone), NOW, restart_agent_settle=5)
    assert all(o.id != "apply.bootloader" for o in plan.operations()) and plan.verify
    assert all(o.id != "apply.bootloader" for o in c.plan_disk_cleanup(results(TARGET - 1), NOW).operations())


def test_a_failed_probe_is_refused():
    found = results(TARGET - 1)
    found["probe.cleanup"] = OperationResult(id="probe.cleanup", op="cleanup_candidates", ok=False, error="denied")
    with pytest.raises(PlanError, match=r"probe\.cleanup failed on the host: denied"):
        c.plan_disk_cleanup(found, NOW)


def verified(free: int, *entries: OperationResult) -> tuple[dict[str, Any], str | None]:
    found = {e.id: e for e in entries}
    found.update([ok("verify.disk", {"drive": "C:", "size": SIZE, "free": free}, "disk")])
    return c.verify_disk_cleanup(found, TARGET)


def deletion(op_id: str, result: dict[str, Any], done: bool = True, op: str = "cleanup_delete") -> OperationResult:
    return OperationResult(id=op_id, op=op, ok=done, result=result if done else None, error=None if done else "x")


def test_verify_at_the_target_succeeds_and_one_byte_under_fails():
    deleted = deletion("apply.delete.windows_temp", {"deleted": ["a", "b"], "failed": [], "freed": 7 * MIB})
    verification, problem = verified(TARGET, deleted)
    assert problem is None
    assert verification == {"free": TARGET, "freed": 7 * MIB, "deleted": 2, "not_deleted": [], "shortfall": 0}
    verification, problem = verified(TARGET - 1, deleted)
    assert verification["shortfall"] == 1
    assert problem == (
        "C: has 5119 MB free after freeing 7 MB from the locations safe to clean; 1 MB short of the 5120 MB the "
        "agent needs: enlarge the VM's disk or delete other files that are no longer in use (the article's "
        "DownloadMsiException)"
    )


def test_verify_counts_only_deletions_that_answered():
    counted = deletion("apply.delete.windows_temp", {"deleted": ["a"], "failed": ["b"], "freed": 2})
    failed = deletion("apply.delete.agent_folders", {}, done=False)
    other = deletion("apply.stop.wuauserv", {"deleted": ["c"], "freed": 4}, op="service_control")
    bare = deletion("apply.delete.windows_update_download", {})
    verification, problem = verified(TARGET + 1, counted, failed, other, bare)
    assert problem is None
    assert verification == {"free": TARGET + 1, "freed": 2, "deleted": 1, "not_deleted": ["b"], "shortfall": 0}


def test_verify_without_a_free_reading_reads_zero():
    found = {"verify.disk": OperationResult(id="verify.disk", op="disk", ok=True, result={"drive": "D:"})}
    verification, problem = c.verify_disk_cleanup(found, 10)
    assert verification == {"free": 0, "freed": 0, "deleted": 0, "not_deleted": [], "shortfall": 10}
    assert problem is not None and problem.startswith("D: has 0 MB free after freeing 0 MB")


def test_a_young_temp_item_is_skipped_not_the_ones_after_it():
    items = [entry(rf"{TEMP}\young", 1, WEEK - SECOND), entry(rf"{TEMP}\old", 2, WEEK)]
    assert c.candidates({"locations": [{"location": "windows_temp", "items": items}]}, NOW) == {
        "windows_temp": [{"path": rf"{TEMP}\old", "size": 2}]
    }


def test_what_a_location_holds_counts_an_item_without_size_as_zero():
    cleanup = {"locations": [{"location": "windows_temp", "items": [entry(rf"{TEMP}\a", None, WEEK)]}]}
    assert c.plan_disk_cleanup(results(TARGET, cleanup=cleanup), NOW).facts["held"] == {"windows_temp": 0}
