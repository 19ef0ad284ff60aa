"""Per-host locks and drain journals for the write playbooks: pure decisions over a marker's text.

A write run marks each host it changes with one tag on the host pool (``avdops-run-<computer name>``), written
through Azure's Tags "update at scope" API (Merge and Delete one tag, so runs on other hosts of the pool never
overwrite each other's). Its value says who holds the host and until when, and whether this run drained it:
``run=<controller>:<pid>:<start>;owner=<user>@<controller>;until=<UTC time>;drained=0|1``. The controller keeps a
journal of the drains it made too (a JSON file). The next run of any write playbook that finds a marker or a
journal entry of a run that is over (its lock expired, or its process on this controller is gone) undoes that
run's drain before it decides anything; a host its admin drained carries no drain of ours and stays drained.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

TAG_PREFIX = "avdops-run-"
TAG_VALUE_MAX = 256  # Azure: a tag value has at most 256 characters
ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Marker:
    run: str
    owner: str
    until: datetime.datetime
    drained: bool

    def text(self) -> str:
        value = f"run={self.run};owner={self.owner};until={self.until.strftime(ISO)};drained={int(self.drained)}"
        if len(value) > TAG_VALUE_MAX:
            raise ValueError(f"the run's marker is longer than an Azure tag value ({TAG_VALUE_MAX}): {value!r}")
        return value

    def describe(self) -> str:
        return f"{self.owner} (run {self.run}, lock until {self.until.strftime(ISO)})"


def tag_name(session_host: str) -> str:
    """The tag that marks a host: its computer name, lower case (``hp/SH-01.contoso.com`` -> ``avdops-run-sh-01``)."""
    computer = session_host.rsplit("/", maxsplit=1)[-1].split(".", maxsplit=1)[0].strip().lower()
    if not computer or not re.fullmatch(r"[a-z0-9_\-@ ]+", computer):
        raise ValueError(f"{session_host!r} is not a computer name the run can mark its host pool with")
    return TAG_PREFIX + computer


def parse_marker(text: Any) -> Marker | None:
    """A marker from its tag value; None when it is not one of ours (then nobody holds the host)."""
    if not isinstance(text, str):
        return None
    fields = dict(part.split("=", 1) for part in text.split(";") if "=" in part)
    try:
        until = datetime.datetime.strptime(fields["until"], ISO).replace(tzinfo=datetime.UTC)
        return Marker(fields["run"], fields["owner"], until, fields.get("drained") == "1")
    except (KeyError, ValueError):
        return None


def run_identity(controller: str, pid: int, started: str) -> str:
    return f"{controller}:{pid}:{started}"


def run_is_over(
    run: str, now: datetime.datetime, until: datetime.datetime, controller: str, alive: Callable[[int, str], bool]
) -> bool:
    """A run is over when its lock expired, or when it ran on this controller and its process is gone."""
    if now >= until:
        return True
    host, _sep, rest = run.partition(":")
    pid_text, _sep, started = rest.partition(":")
    if host != controller or not pid_text.isdigit():
        return False  # another controller's run: only its expiry ends it
    return not alive(int(pid_text), started)


@dataclass(frozen=True)
class LockDecision:
    """What taking a host's lock comes to: refused (who holds it), or taken, and whether a drain is to be undone."""

    refused: str | None
    undo_drain_of: str | None  # the run whose drain is to be undone (None: nothing to undo)
    marker: Marker | None  # the marker to write (ours)


def decide_lock(
    current: Marker | None,
    journaled: Mapping[str, Any] | None,
    me: Marker,
    now: datetime.datetime,
    controller: str,
    alive: Callable[[int, str], bool],
) -> LockDecision:
    """Take the host's lock, unless another run that is not over holds it; carry an over run's drain over.

    ``journaled`` is this controller's journal entry for the host (a drain a run made), if any.
    """
    if (
        current is not None
        and current.run != me.run
        and not run_is_over(current.run, now, current.until, controller, alive)
    ):
        return LockDecision(f"another run holds this host: {current.describe()}", None, None)
    undo = None
    if current is not None and current.run != me.run and current.drained:
        undo = current.run
    elif isinstance(journaled, Mapping) and journaled.get("run") not in (None, me.run):
        run = str(journaled["run"])
        until = parse_time(journaled.get("until")) or now
        if run_is_over(run, now, until, controller, alive):
            undo = run
        else:
            return LockDecision(
                f"another run on this controller drained this host and is still running ({run})", None, None
            )
    keep_drained = bool(current is not None and current.run == me.run and current.drained)
    return LockDecision(None, undo, replace(me, drained=keep_drained or undo is not None))


def parse_time(text: Any) -> datetime.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.strptime(text, ISO).replace(tzinfo=datetime.UTC)
    except ValueError:
        return None


def journal_key(pool_id: str, session_host: str) -> str:
    return f"{pool_id.lower()}|{tag_name(session_host)}"


def journal_entry(marker: Marker, host_pool: str, resource_group: str, name: str) -> dict[str, Any]:
    return {
        "run": marker.run,
        "owner": marker.owner,
        "until": marker.until.strftime(ISO),
        "host_pool": host_pool,
        "resource_group": resource_group,
        "session_host": name,
    }


def process_alive(pid: int, started: str) -> bool:
    """Whether the process ``pid`` still runs and is the one that started at ``started`` (Linux: /proc)."""
    stat = f"/proc/{pid}/stat"
    if os.path.exists("/proc/self/stat"):
        try:
            with open(stat, encoding="ascii", errors="replace") as handle:
                return process_start(handle.read()) == started
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_start(stat_text: str) -> str:
    """The start time (field 22) of a /proc/PID/stat line (after the command name, which may hold spaces)."""
    return stat_text.rsplit(")", maxsplit=1)[-1].split()[19]


# --- the controller's journal of drains (a JSON file, one writer at a time) ------------------------------------
DEFAULT_JOURNAL = "~/.ansible/avdops.sessionhost/drains.json"


class JournalError(Exception):
    """The journal cannot be read or written: say where and why."""


def update_journal(path: str, key: str, entry: Mapping[str, Any] | None) -> dict[str, Any]:
    """Set (or with ``entry`` None, remove) one host's entry; returns the journal as it was before.

    Forks of one run and other runs on this controller write it too: an exclusive lock on ``path.lock`` around
    the read and the atomic replace.
    """
    target = os.path.expanduser(path)
    folder = os.path.dirname(target) or "."
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        with open(target + ".lock", "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            before = read_journal(path)
            after = dict(before)
            if entry is None:
                after.pop(key, None)
            else:
                after[key] = dict(entry)
            if after != before:
                handle, temporary = tempfile.mkstemp(dir=folder, prefix=".drains-")
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    json.dump(after, out, indent=1, sort_keys=True)
                os.replace(temporary, target)
    except OSError as exc:
        raise JournalError(f"cannot write the drain journal {target}: {exc.strerror or exc}") from None
    return before


def read_journal(path: str) -> dict[str, Any]:
    target = os.path.expanduser(path)
    try:
        with open(target, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise JournalError(
            f"cannot read the drain journal {target} ({exc}); move it aside and check the hosts' drain mode"
        ) from None
    return data if isinstance(data, dict) else {}
