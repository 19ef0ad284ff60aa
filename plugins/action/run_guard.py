# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.run_guard (docs in plugins/modules)."""

from __future__ import annotations

import datetime
import getpass
import os
import socket
import time
from typing import Any, ClassVar

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._azure import AzureError, call, models
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._azure_action import AzureAction
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._host_pool import (
    PoolRef,
    find_session_host,
    list_session_host_dicts,
    pool_id,
    read_tags,
    update_tags,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._pool_host import LOOKUP_HOST_VARS, find_pool_host
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._run_guard import (
    DEFAULT_JOURNAL,
    JournalError,
    Marker,
    decide_lock,
    journal_entry,
    journal_key,
    parse_marker,
    process_alive,
    process_start,
    read_journal,
    run_identity,
    tag_name,
    update_journal,
)


def this_run() -> tuple[str, str]:
    """The run (the ansible-playbook process that forked this worker) and who runs it."""
    controller = socket.gethostname().split(".", maxsplit=1)[0].lower() or "controller"
    parent = os.getppid()
    try:
        with open(f"/proc/{parent}/stat", encoding="ascii", errors="replace") as handle:
            started = process_start(handle.read())
    except OSError:
        started = ""
    return run_identity(controller, parent, started), f"{getpass.getuser()}@{controller}"


class ActionModule(AzureAction):
    OPTIONS: ClassVar[dict[str, Any]] = {
        "name": {"type": "str"},
        "host_pool": {"type": "str", "required": True},
        "resource_group": {"type": "str", "required": True},
        "state": {"type": "str", "required": True, "choices": ["locked", "drained", "restored", "released"]},
        "lock_minutes": {"type": "int", "default": 240},
        "journal": {"type": "path", "default": DEFAULT_JOURNAL},
        "settle_seconds": {"type": "float", "default": 2.0},
    }
    _host_vars: dict[str, Any]

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        # The task's own host, also under delegate_to: localhost (hostvars templates each value it gives).
        task_vars = task_vars or {}
        hostvars = task_vars.get("hostvars", {})
        own = hostvars[task_vars["inventory_hostname"]] if task_vars.get("inventory_hostname") in hostvars else {}
        self._host_vars = {key: own[key] for key in LOOKUP_HOST_VARS if key in own}
        result: dict[str, Any] = super().run(tmp, task_vars)
        return result

    def check_arguments(self, args: dict[str, Any]) -> None:
        if not 1 <= args["lock_minutes"] <= 7 * 24 * 60:
            raise AzureError(f"lock_minutes must be from 1 to 10080 (a week), got {args['lock_minutes']}")
        if args["name"] is not None:
            self._tag(args["name"])

    @staticmethod
    def _tag(name: str) -> str:
        try:
            return str(tag_name(name))
        except ValueError as exc:
            raise AzureError(str(exc)) from None

    def _pool_name(self, client: Any, settings: Any, pool: PoolRef) -> str:
        """The pool's name for the task's host (the collection's one lookup), or its inventory name when not listed."""
        entry = find_pool_host(list_session_host_dicts(client, settings, pool), self._host_vars).entry
        name = entry["name"] if entry is not None else self._host_vars.get("inventory_hostname")
        if not name:
            raise AzureError("no name: set name, or run the task for an inventory host")
        return str(name)

    def work(self, args: dict[str, Any], settings: Any, client: Any) -> dict[str, Any]:
        pool = PoolRef(args["resource_group"], args["host_pool"])
        name = args["name"] if args["name"] is not None else self._pool_name(client, settings, pool)
        args = {**args, "name": name}
        tag = self._tag(name)
        key = journal_key(pool_id(settings, pool), name)
        run, owner = this_run()
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        me = Marker(run, owner, now + datetime.timedelta(minutes=args["lock_minutes"]), drained=False)
        controller = run.split(":", maxsplit=1)[0]
        check_mode = bool(self._task.check_mode)
        base = {"changed": False, "name": name, "marker": tag, "run": run, "owner": owner}
        try:
            raw = read_tags(client, settings, pool).get(tag)
            current = parse_marker(raw)
            if args["state"] == "locked":
                journaled = read_journal(args["journal"]).get(key)
                decision = decide_lock(current, journaled, me, now, controller, process_alive)
                if decision.refused or decision.marker is None:
                    return {**base, "locked": False, "held_by": decision.refused, "undone": None}
                if check_mode:
                    undone = self._undo(decision, args, pool, settings, client, True)
                    return {
                        **base,
                        "locked": True,
                        "held_by": None,
                        "undone": undone,
                        **self._undone_warning(undone, True),
                    }
                update_tags(client, settings, pool, "Merge", {tag: decision.marker.text()})
                time.sleep(args["settle_seconds"])  # a run that wrote at the same moment: the last writer holds it
                now_there = parse_marker(read_tags(client, settings, pool).get(tag))
                if now_there is None or now_there.run != run:
                    held = now_there.describe() if now_there else "its marker was removed"
                    return {
                        **base,
                        "locked": False,
                        "held_by": f"another run took this host at the same moment: {held}",
                        "undone": None,
                    }
                undone = self._undo(decision, args, pool, settings, client, False)
                if undone is not None:
                    update_tags(client, settings, pool, "Merge", {tag: me.text()})
                    update_journal(args["journal"], key, None)
                return {
                    **base,
                    "changed": bool(undone and undone["restored"]),
                    "locked": True,
                    "held_by": None,
                    "undone": undone,
                    **self._undone_warning(undone, False),
                }
            if check_mode:
                return {**base, "locked": current is not None and current.run == run}
            if args["state"] == "released" and (current is None or current.run != run):
                return {**base, "locked": False}  # nothing of this run's to release
            if current is None or current.run != run:
                held = current.describe() if current else "no run"
                raise AzureError(
                    f"this run no longer holds {args['name']} in {args['host_pool']} ({held} does): it changes nothing "
                    "more on the host; run again"
                )
            if args["state"] in ("drained", "restored"):
                drained = args["state"] == "drained"
                marker = Marker(run, owner, current.until, drained=drained)
                # Journal first, then the pool's marker: an interrupt between them leaves one of the two to find.
                update_journal(
                    args["journal"],
                    key,
                    journal_entry(marker, pool.name, pool.resource_group, args["name"]) if drained else None,
                )
                update_tags(client, settings, pool, "Merge", {tag: marker.text()})
                return {**base, "locked": True}
            if current.drained:
                # A drain this run could not undo stays on record, its lock ended: the next run undoes it.
                ended = Marker(run, owner, now, drained=True)
                update_tags(client, settings, pool, "Merge", {tag: ended.text()})
                return {**base, "locked": False, "drain_left": True}
            update_tags(client, settings, pool, "Delete", {tag: str(raw)})  # only while the value is ours
            entry = read_journal(args["journal"]).get(key)
            if isinstance(entry, dict) and entry.get("run") == run:
                update_journal(args["journal"], key, None)
            return {**base, "locked": False, "drain_left": False}
        except JournalError as exc:
            raise AzureError(str(exc)) from None

    def _undone_warning(self, undone: dict[str, Any] | None, check_mode: bool) -> dict[str, Any]:
        """An interrupted run's drain undone on the host is worth the admin's attention: say it as a warning."""
        if not undone or not undone["restored"]:
            return {}
        host = self._host_vars.get("inventory_hostname", "the host")
        verb = "would let" if check_mode else "let"
        said = f"{host}: {verb} new sessions in again: drained by run {undone['run']}, which was interrupted"
        return {"warnings": [said]}

    @staticmethod
    def _undo(
        decision: Any, args: dict[str, Any], pool: PoolRef, settings: Any, client: Any, check_mode: bool
    ) -> dict[str, Any] | None:
        """Let new sessions in again where a run that is over drained the host (its drain, never the admin's)."""
        if decision.undo_drain_of is None:
            return None
        host = find_session_host(client, settings, pool, args["name"])
        if host is None or host.allow_new_session:
            return {"run": decision.undo_drain_of, "restored": False}
        if not check_mode:
            name = host.name.split("/")[-1]
            patch = models().SessionHostPatch(allow_new_session=True)
            call(
                f"let new sessions in again on {name} (drained by run {decision.undo_drain_of}, which is over)",
                settings,
                lambda: client.session_hosts.update(pool.resource_group, pool.name, name, session_host=patch),
            )
        return {"run": decision.undo_drain_of, "restored": True}
