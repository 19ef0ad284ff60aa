# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.stack_listener (docs in plugins/modules)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import ChangeAction
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import (
    Plan,
    plan_stack_listener,
    probe_stack_listener,
    verify_stack_listener,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult


class ActionModule(ChangeAction):
    READS_CAPTURE = True  # capture: the caller's diagnosis, read instead of probing again
    OPTIONS: ClassVar[dict[str, Any]] = {}

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        facts = result.get("facts") or {}
        # The flags take effect at the next start of the VM: a restart is due after a change, or while the
        # flags are right but the listener is still not listening (changed by an earlier run, not restarted yet).
        result["reboot_required"] = bool(result.get("changed")) or (
            bool(facts.get("winstation")) and not facts.get("listening")
        )
        return result

    def probe(self, args: dict[str, Any]) -> list[Operation]:
        operations: list[Operation] = probe_stack_listener()
        return operations

    def plan(self, results: Mapping[str, OperationResult], args: dict[str, Any], check_mode: bool) -> Plan:
        return plan_stack_listener(results)

    def verify(self, results: Mapping[str, OperationResult], args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        verification: dict[str, Any]
        verification, problem = verify_stack_listener(results)
        return verification, problem
