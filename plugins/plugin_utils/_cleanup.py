"""Freeing disk space for the agent as pure functions: what to read, what to delete, whether it was enough.

Article: "Error: DownloadMsiException" - there isn't enough space on the disk
for the RDAgent; make space by deleting files that are no longer in use (or
enlarge the disk). Only locations whose content nothing needs are cleaned:
- Windows' temp folder (``%SystemRoot%\\Temp``): items unchanged for a week
  (``TEMP_MIN_AGE_DAYS``, as Disk Cleanup's "Temporary files"); newer ones may
  belong to an installation that is running.
- Windows Update's download cache (``%SystemRoot%\\SoftwareDistribution\\Download``):
  payloads Windows Update downloads again when it needs them; wuauserv and
  BITS, which write there, are stopped while it is emptied and started again.
- ``RDAgent_<version>`` folders in ``C:\\Program Files\\Microsoft RDInfra`` that
  the boot loader no longer names: not ``DefaultAgent`` (the agent it loads)
  nor ``PreviousAgent`` (the one it rolls back to); none when ``DefaultAgent``
  cannot be read (unknown means keep).
The runtime refuses any other path itself (``cleanup_delete``).

The services it stops are noted on the host first (``STOPPED_SERVICES``) and the note goes once each runs again,
in the same command. A command cut off in between (the connection dropped and the client terminated it, which ends
the script where it was) leaves the note: the next cleanup starts the services it names that are still stopped and
says so.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import Any

from . import _known as k
from ._plans import Change, Plan, answer, control_service
from ._runtime import Operation, OperationResult

MIB = 1024**2
WU_LOCATION = "windows_update_download"  # emptied only while wuauserv and BITS are stopped


def probe_disk_cleanup() -> list[Operation]:
    return [
        Operation("probe.disk", "disk"),
        Operation("probe.cleanup", "cleanup_candidates"),
        *(Operation(f"probe.service.{name}", "service_query", {"name": name}) for name in k.WINDOWS_UPDATE_SERVICES),
        Operation("probe.bootloader", "service_query", {"name": k.BOOTLOADER_SERVICE}),
        Operation("probe.stopped", "registry_read", {"path": k.STOPPED_SERVICES}),
    ]


def noted_stopped(results: Mapping[str, OperationResult]) -> dict[str, str]:
    """The services an earlier cleanup noted as stopped by it and not started again (name -> the note's text),
    among the ones a cleanup stops; an unreadable note reads as none."""
    entry = results.get("probe.stopped")
    read = (entry.result if entry is not None and entry.ok else None) or {}
    names = {name.lower(): name for name in k.WINDOWS_UPDATE_SERVICES}
    return {
        names[str(value.get("name")).lower()]: str(value.get("data"))
        for value in read.get("values") or []
        if str(value.get("name")).lower() in names
    }


def _note_stop(name: str, now: datetime.datetime) -> Change:
    text = f"stopped by avdops.sessionhost disk_cleanup at {now.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    return Change(
        Operation(
            f"apply.note.{name}",
            "registry_write",
            {"path": k.STOPPED_SERVICES, "name": name, "type": "REG_SZ", "data": text},
        ),
        f"{k.STOPPED_SERVICES}\\{name}",
        None,
        text,
    )


def _unnote(name: str, note: str | None, after: str | None) -> Change:
    return Change(
        Operation(
            f"apply.unnote.{name}",
            "registry_delete",
            {"path": k.STOPPED_SERVICES, "name": name} | ({"after_ok": [after]} if after else {}),
        ),
        f"{k.STOPPED_SERVICES}\\{name} (once it runs)",
        note,
        None,
    )


def _start(name: str, before: str, wait_seconds: int, after: str | None) -> Change:
    return Change(
        Operation(
            f"apply.start.{name}",
            "service_control",
            {"name": name, "state": "started", "wait_seconds": wait_seconds} | ({"after_ok": [after]} if after else {}),
        ),
        f"service {name} again",
        before,
        "Running",
    )


def restore_left_stopped(
    results: Mapping[str, OperationResult], service_wait_seconds: int, stopping: tuple[str, ...] = ()
) -> tuple[list[Change], list[Change], list[str]]:
    """What an earlier cleanup cut off mid-command left: the services its note names that are still Stopped are
    started again (then the note goes), a note for one running again goes, one still pending is left and said.
    Services this cleanup stops itself (``stopping``) are left to it. Returns (starts, note removals, notes)."""
    starts: list[Change] = []
    removals: list[Change] = []
    notes: list[str] = []
    for name, note in noted_stopped(results).items():
        if name in stopping:
            continue
        service = answer(results, f"probe.service.{name}")
        state = service.get("state")
        if not service.get("exists") or state == "Running":
            removals.append(_unnote(name, note, None))
        elif state == "Stopped":
            starts.append(_start(name, "Stopped", service_wait_seconds, None))
            removals.append(_unnote(name, note, f"apply.start.{name}"))
            notes.append(f"{name} was left stopped by an earlier cleanup cut off mid-command ({note}): started again")
        else:
            notes.append(
                f"{name} is {state} since an earlier cleanup stopped it ({note}): restart the VM (drain it first) "
                "to end it, then run again"
            )
    return starts, removals, notes


def target_free(size: int, min_free_percent: float, min_free_mb: int) -> int:
    """Bytes that must be free: the diagnosis's threshold (the agent's download, 5% of the drive) or more."""
    return max(min_free_mb * MIB, math.ceil(size * min_free_percent / 100))


def _parse(text: Any) -> datetime.datetime | None:
    try:
        moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def candidates(
    cleanup: Mapping[str, Any], now: datetime.datetime, temp_min_age_days: float = k.TEMP_MIN_AGE_DAYS
) -> dict[str, list[dict[str, Any]]]:
    """What may go, per location: links are never followed; temp items only when a week old; agent folders
    only when the boot loader's DefaultAgent was read (``agents_known``: unknown means keep) and it names
    neither (the runtime checks both again)."""
    in_use = {str(name).lower() for name in cleanup.get("agents_in_use") or []}
    agents_known = cleanup.get("agents_known") is True
    oldest = now - datetime.timedelta(days=temp_min_age_days)
    chosen: dict[str, list[dict[str, Any]]] = {}
    for location in cleanup.get("locations") or []:
        name = str(location.get("location"))
        if name not in k.CLEANUP_LOCATIONS or (name == "agent_folders" and not agents_known):
            continue
        items = []
        for item in location.get("items") or []:
            if item.get("kind") not in ("file", "folder"):
                continue
            if name == "windows_temp":
                modified = _parse(item.get("modified"))
                if modified is None or modified > oldest:
                    continue
            if name == "agent_folders" and (item.get("kind") != "folder" or str(item.get("name")).lower() in in_use):
                continue
            items.append({"path": str(item["path"]), "size": int(item.get("size") or 0)})
        if items:
            chosen[name] = items
    return chosen


def plan_disk_cleanup(
    results: Mapping[str, OperationResult],
    now: datetime.datetime,
    min_free_percent: float = k.DISK_LOW_PERCENT,
    min_free_mb: int = k.DISK_MSI_BYTES // MIB,
    temp_min_age_days: float = k.TEMP_MIN_AGE_DAYS,
    restart_agent_settle: int | None = None,
    service_wait_seconds: int = 30,
) -> Plan:
    """Delete what the safe locations hold when the system drive has less free than the target.

    ``restart_agent_settle``: after deleting, restart RDAgentBootLoader in the same command and wait that many
    seconds, so the agent retries the update that had no room (None: leave it).
    ``service_wait_seconds``: how long each stop and start of wuauserv/BITS may take; the download cache is
    emptied only after every one of them stopped (``after_ok``), and each is started again only if it stopped.
    """
    disk = answer(results, "probe.disk")
    cleanup = answer(results, "probe.cleanup")
    size, free = int(disk.get("size") or 0), int(disk.get("free") or 0)
    target = target_free(size, min_free_percent, min_free_mb)
    chosen = candidates(cleanup, now, temp_min_age_days)
    would_free = sum(item["size"] for items in chosen.values() for item in items)
    held = {
        str(loc.get("location")): sum(int(i.get("size") or 0) for i in loc.get("items") or [])
        for loc in cleanup.get("locations") or []
    }
    plan = Plan(
        facts={
            "drive": disk.get("drive"),
            "size": size,
            "free": free,
            "target_free": target,
            "held": held,
            "agents_in_use": list(cleanup.get("agents_in_use") or []),
            "would_free": 0,
            "shortfall": 0,
        }
    )
    cleaning = free < target  # the one boundary: at the target nothing is deleted nor stopped
    stop: list[str] = []
    if cleaning and WU_LOCATION in chosen:
        services = [answer(results, f"probe.service.{name}") for name in k.WINDOWS_UPDATE_SERVICES]
        stop = [s["name"] for s in services if s.get("exists") and s.get("state") != "Stopped"]
    restarts, removals, restore_notes = restore_left_stopped(results, service_wait_seconds, tuple(stop))
    plan.notes.extend(restore_notes)
    plan.facts["left_stopped"] = restore_notes  # what an earlier cleanup cut off mid-command left, in words
    if not cleaning:
        plan.notes.append(f"{disk.get('drive')} has {free // MIB} MB free, the target is {target // MIB} MB")
        plan.changes.extend(restarts + removals)
        if plan.changes:
            plan.verify.append(Operation("verify.disk", "disk"))
        return plan
    plan.facts["would_free"] = would_free
    plan.facts["shortfall"] = max(0, target - free - would_free)
    for name in stop:
        plan.changes.append(_note_stop(name, now))
    for name in stop:
        plan.changes.append(
            Change(
                Operation(
                    f"apply.stop.{name}",
                    "service_control",
                    {"name": name, "state": "stopped", "wait_seconds": service_wait_seconds},
                ),
                f"service {name}",
                "Running",
                "Stopped (started again after the cleanup)",
            )
        )
    for location in k.CLEANUP_LOCATIONS:
        items = chosen.get(location)
        if items:
            plan.changes.append(
                Change(
                    Operation(
                        f"apply.delete.{location}",
                        "cleanup_delete",
                        {"paths": [i["path"] for i in items]}
                        | (
                            {"after_ok": [f"apply.stop.{name}" for name in stop]}
                            if location == WU_LOCATION and stop
                            else {}
                        ),
                    ),
                    location,
                    {i["path"]: i["size"] for i in items},
                    {},
                )
            )
    deleting = bool(plan.changes)
    plan.changes.extend(_start(name, "Stopped", service_wait_seconds, f"apply.stop.{name}") for name in stop)
    plan.changes.extend(restarts)
    plan.changes.extend(_unnote(name, None, f"apply.start.{name}") for name in stop)
    plan.changes.extend(removals)
    if deleting and restart_agent_settle is not None:
        service = answer(results, "probe.bootloader")
        if service.get("exists"):
            plan.changes.append(
                control_service(
                    "apply.bootloader", k.BOOTLOADER_SERVICE, "restarted", service.get("state"), restart_agent_settle
                )
            )
    if plan.changes:
        plan.verify.append(Operation("verify.disk", "disk"))
    return plan


def shortfall_message(drive: Any, free: int, target: int, freed: int) -> str:
    return (
        f"{drive} has {free // MIB} MB free after freeing {freed // MIB} MB from the locations safe to clean; "
        f"{math.ceil((target - free) / MIB)} MB short of the {math.ceil(target / MIB)} MB the agent needs: "
        "enlarge the VM's disk or delete other files that are no longer in use (the article's DownloadMsiException)"
    )


def verify_disk_cleanup(results: Mapping[str, OperationResult], target: int) -> tuple[dict[str, Any], str | None]:
    """How much was freed, what could not be deleted, and the remaining shortfall (the problem) if any."""
    disk = answer(results, "verify.disk")
    deleted = [entry.result or {} for entry in results.values() if entry.op == "cleanup_delete" and entry.ok]
    freed = sum(int(d.get("freed") or 0) for d in deleted)
    failed = [f for d in deleted for f in d.get("failed") or []]
    free = int(disk.get("free") or 0)
    verification = {
        "free": free,
        "freed": freed,
        "deleted": sum(len(d.get("deleted") or []) for d in deleted),
        "not_deleted": failed,
        "shortfall": max(0, target - free),
    }
    if free < target:
        return verification, shortfall_message(disk.get("drive"), free, target, freed)
    return verification, None


def cleanup_failure(applied: Mapping[str, OperationResult]) -> str:
    """What went wrong in a cleanup's apply command and what was still done, in words: a service that did not
    stop (hung in StopPending) named, what was left as it was for it, the services started again, what was freed."""
    failed = [r for r in applied.values() if r.id.startswith("apply.") and not r.ok]
    stopped_not = [r for r in failed if r.id.startswith("apply.stop.")]
    waited = [r for r in failed if str(r.error).startswith("not run:")]
    others = [r for r in failed if r not in stopped_not and r not in waited]
    parts = [f"{r.id.removeprefix('apply.stop.')} did not stop: {r.error}" for r in stopped_not]
    if stopped_not:
        parts.append("restart the VM (drain it first) to end it, then run again")
    parts += [f"{r.id} failed on the host: {r.error}" for r in others]
    left = [r.id.removeprefix("apply.delete.") for r in waited if r.id.startswith("apply.delete.")]
    if left:
        parts.append(f"left as it was: {', '.join(left)}")
    restored = [r.id.removeprefix("apply.start.") for r in applied.values() if r.id.startswith("apply.start.") and r.ok]
    if restored:
        parts.append(f"started again: {', '.join(restored)}")
    freed = sum(int((r.result or {}).get("freed") or 0) for r in applied.values() if r.op == "cleanup_delete" and r.ok)
    parts.append(f"freed {freed // MIB} MB")
    return "; ".join(parts)
