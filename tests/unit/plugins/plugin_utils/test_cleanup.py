"""Freeing disk space: only the safe locations, week-old temp items, unused agent folders, the shortfall named."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _cleanup as c
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import OperationResult

GIB, MIB = 1024**3, 1024**2
NOW = datetime.datetime(2026, 11, 26, 3, 0, tzinfo=datetime.UTC)
TEMP = r"C:\Windows\Temp"
DOWNLOAD = r"C:\Windows\SoftwareDistribution\Download"
RDINFRA = r"C:\Program Files\Microsoft RDInfra"


def item(folder: str, name: str, size: int, days: float, kind: str = "file") -> dict[str, Any]:
    modified = (NOW - datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"name": name, "path": rf"{folder}\{name}", "kind": kind, "size": size, "modified": modified}


# A full session host: a cumulative update downloaded twice over, servicing's extraction in temp, three agents.
CANDIDATES = {
    "locations": [
        {
            "location": "windows_temp",
            "path": TEMP,
            "exists": True,
            "items": [
                item(TEMP, "2E4C7A1B-9F3D-4E8A-B6C5-D1F0A9E8B7C6", 1_900 * MIB, 20, "folder"),
                item(TEMP, "MpSigStub.log", 1 * MIB, 9),
                item(TEMP, "MSI5f3e2.LOG", 300 * MIB, 0.1),  # being written: kept
                item(TEMP, "ProfileLink", 0, 30, "link"),  # a junction: never followed nor deleted
            ],
        },
        {
            "location": "windows_update_download",
            "path": DOWNLOAD,
            "exists": True,
            "items": [item(DOWNLOAD, "3c1b3f8d0a8e4a4f9c2e5d7b1a6f0e21", 4_700 * MIB, 12, "folder")],
        },
        {
            "location": "agent_folders",
            "path": RDINFRA,
            "exists": True,
            "items": [
                item(RDINFRA, "RDAgent_1.0.9388.1600", 160 * MIB, 90, "folder"),
                item(RDINFRA, "RDAgent_1.0.9742.1500", 160 * MIB, 30, "folder"),
                item(RDINFRA, "RDAgent_1.0.10004.1300", 160 * MIB, 1, "folder"),
            ],
        },
    ],
    "agents_in_use": ["RDAgent_1.0.9742.1500", "RDAgent_1.0.10004.1300"],
    "agents_known": True,
}


def ok(op_id: str, result: Any, op: str = "x") -> tuple[str, OperationResult]:
    return op_id, OperationResult(id=op_id, op=op, ok=True, result=result)


def probe(free: int, wu_state: str = "Running", candidates: dict[str, Any] | None = None):
    return dict(
        [
            ok("probe.disk", {"drive": "C:", "size": 128 * GIB, "free": free}),
            ok("probe.cleanup", CANDIDATES if candidates is None else candidates),
            ok("probe.service.wuauserv", {"name": "wuauserv", "exists": True, "state": wu_state}),
            ok("probe.service.BITS", {"name": "BITS", "exists": True, "state": "Stopped"}),
        ]
    )


def test_the_target_is_the_diagnosis_threshold():
    assert c.target_free(128 * GIB, 5.0, 300) == int(6.4 * GIB) + 1
    assert c.target_free(4 * GIB, 5.0, 300) == 300 * MIB


def test_only_week_old_temp_items_the_download_cache_and_agents_the_boot_loader_does_not_name():
    chosen = c.candidates(CANDIDATES, NOW)
    paths = [i["path"] for items in chosen.values() for i in items]
    assert paths == [
        rf"{TEMP}\2E4C7A1B-9F3D-4E8A-B6C5-D1F0A9E8B7C6",
        rf"{TEMP}\MpSigStub.log",
        rf"{DOWNLOAD}\3c1b3f8d0a8e4a4f9c2e5d7b1a6f0e21",
        rf"{RDINFRA}\RDAgent_1.0.9388.1600",
    ]


@pytest.mark.parametrize(
    "unknown",
    [
        {"agents_in_use": [], "agents_known": False},  # no RDAgentBootLoader key, or DefaultAgent unreadable
        {"agents_in_use": ["RDAgent_1.0.9742.1500"], "agents_known": False},  # PreviousAgent only
        {"agents_in_use": []},  # an answer that does not say: unknown
    ],
)
def test_no_agent_folder_qualifies_when_the_boot_loaders_default_agent_is_unknown(unknown):
    answer = {key: value for key, value in CANDIDATES.items() if key != "agents_known"}
    chosen = c.candidates({**answer, **unknown}, NOW)
    assert "agent_folders" not in chosen and "windows_temp" in chosen


def test_a_full_disk_plan_stops_windows_update_around_its_cache_and_says_what_it_frees():
    plan = c.plan_disk_cleanup(probe(40 * MIB), NOW)
    assert [(o.id, o.op) for o in plan.operations()] == [
        ("apply.note.wuauserv", "registry_write"),  # noted on the host before it stops: a cut-off run leaves it
        ("apply.stop.wuauserv", "service_control"),
        ("apply.delete.windows_temp", "cleanup_delete"),
        ("apply.delete.windows_update_download", "cleanup_delete"),
        ("apply.delete.agent_folders", "cleanup_delete"),
        ("apply.start.wuauserv", "service_control"),
        ("apply.unnote.wuauserv", "registry_delete"),
        ("verify.disk", "disk"),
    ]
    assert plan.facts["would_free"] == (1_900 + 1 + 4_700 + 160) * MIB and plan.facts["shortfall"] == 0
    assert plan.diff()["before"]["agent_folders"] == {rf"{RDINFRA}\RDAgent_1.0.9388.1600": 160 * MIB}
    assert not plan.disruptive


def test_enough_free_space_changes_nothing():
    assert not c.plan_disk_cleanup(probe(7 * GIB), NOW).changed


def test_a_stopped_windows_update_is_neither_stopped_nor_started():
    plan = c.plan_disk_cleanup(probe(40 * MIB, wu_state="Stopped"), NOW)
    assert all(o.op != "service_control" for o in plan.operations())


def test_not_enough_to_free_names_the_shortfall():
    small = {"locations": [{**CANDIDATES["locations"][0]}], "agents_in_use": []}
    plan = c.plan_disk_cleanup(probe(40 * MIB, candidates=small), NOW)
    assert plan.facts["shortfall"] == c.target_free(128 * GIB, 5.0, 300) - 40 * MIB - 1_901 * MIB


def verify(free: int, deleted: list[dict[str, Any]]):
    results = dict(ok(f"apply.delete.{i}", d, "cleanup_delete") for i, d in enumerate(deleted))
    results.update([ok("verify.disk", {"drive": "C:", "size": 128 * GIB, "free": free})])
    return c.verify_disk_cleanup(results, c.target_free(128 * GIB, 5.0, 300))


def test_verify_counts_what_was_freed_and_what_is_in_use():
    in_use = {"path": rf"{TEMP}\x", "error": "The process cannot access the file", "freed": 0}
    verification, problem = verify(7 * GIB, [{"deleted": [{"path": "a", "size": 5}], "failed": [in_use], "freed": 5}])
    assert problem is None and verification["freed"] == 5 and verification["not_deleted"] == [in_use]


def test_verify_fails_naming_the_remaining_shortfall():
    _verification, problem = verify(2 * GIB, [{"deleted": [], "failed": [], "freed": 2 * GIB}])
    assert problem is not None
    assert "C: has 2048 MB free after freeing 2048 MB" in problem and "4506 MB short of the 6554 MB" in problem


@pytest.mark.parametrize("modified", ["", "yesterday"])
def test_a_temp_item_of_unknown_age_is_kept(modified):
    odd = {"locations": [{"location": "windows_temp", "items": [{**item(TEMP, "x", 1, 30), "modified": modified}]}]}
    assert c.candidates(odd, NOW) == {}


def test_the_agent_restart_rides_in_the_same_command_after_the_deletions():
    results = probe(40 * MIB)
    results.update([ok("probe.bootloader", {"name": "RDAgentBootLoader", "exists": True, "state": "Running"})])
    plan = c.plan_disk_cleanup(results, NOW, restart_agent_settle=10)
    ops = plan.operations()
    assert [o.id for o in ops[-2:]] == ["apply.bootloader", "verify.disk"]
    assert ops[-2].args == {"name": "RDAgentBootLoader", "state": "restarted", "settle_seconds": 10}
    assert plan.disruptive  # a service restart
    assert not c.plan_disk_cleanup(probe(7 * GIB), NOW, restart_agent_settle=10).changed  # nothing to free: no restart


def test_the_download_cache_is_emptied_only_after_its_writers_stopped_and_each_is_started_only_if_it_stopped():
    plan = c.plan_disk_cleanup(probe(40 * MIB), NOW, service_wait_seconds=45)
    ops = {o.id: o.args for o in plan.operations()}
    assert ops["apply.stop.wuauserv"] == {"name": "wuauserv", "state": "stopped", "wait_seconds": 45}
    assert ops["apply.delete.windows_update_download"]["after_ok"] == ["apply.stop.wuauserv"]
    assert "after_ok" not in ops["apply.delete.windows_temp"] and "after_ok" not in ops["apply.delete.agent_folders"]
    assert ops["apply.start.wuauserv"] == {
        "name": "wuauserv",
        "state": "started",
        "wait_seconds": 45,
        "after_ok": ["apply.stop.wuauserv"],
    }


def failed(op_id: str, op: str, error: str) -> tuple[str, OperationResult]:
    return op_id, OperationResult(id=op_id, op=op, ok=False, result=None, error=error)


def test_a_hung_service_is_named_with_what_was_left_restored_and_freed():
    hung = (
        "service_control: wuauserv is StopPending, not Stopped, 30 s after the stop request "
        "(a service that hangs stopping stays so until Windows restarts)."
    )
    applied = dict(
        [
            failed("apply.stop.wuauserv", "service_control", hung),
            ok("apply.stop.BITS", {"name": "BITS", "state": "Stopped"}, "service_control"),
            ok("apply.delete.windows_temp", {"deleted": [], "failed": [], "freed": 1_901 * MIB}, "cleanup_delete"),
            failed(
                "apply.delete.windows_update_download",
                "cleanup_delete",
                "not run: apply.stop.wuauserv did not succeed.",
            ),
            failed("apply.start.wuauserv", "service_control", "not run: apply.stop.wuauserv did not succeed."),
            ok("apply.start.BITS", {"name": "BITS", "state": "Running"}, "service_control"),
        ]
    )
    assert c.cleanup_failure(applied) == (
        f"wuauserv did not stop: {hung}; restart the VM (drain it first) to end it, then run again; "
        "left as it was: windows_update_download; started again: BITS; freed 1901 MB"
    )
