# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.agent_uninstall (docs in plugins/modules)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import ChangeAction
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import Plan
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._reinstall import (
    plan_uninstall,
    probe_uninstall,
    verify_uninstall,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult


class ActionModule(ChangeAction):
    OPTIONS: ClassVar[dict[str, Any]] = {}
    # What each uninstall operation removes, from the plan, so exit codes are reported by program.
    labels: dict[str, str]

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        verification = result.get("verification") or {}
        facts = result.get("facts") or {}
        result["left"] = verification.get("left", facts.get("left", []))
        result["busy"] = list(verification.get("busy") or [])
        result["reboot_required"] = bool(verification.get("reboot_required"))
        return result

    def probe(self, args: dict[str, Any]) -> list[Operation]:
        operations: list[Operation] = probe_uninstall()
        return operations

    def plan(self, results: Mapping[str, OperationResult], args: dict[str, Any], check_mode: bool) -> Plan:
        plan = plan_uninstall(results)
        self.labels = {change.operation.id: change.target for change in plan.changes}
        return plan

    def verify(self, results: Mapping[str, OperationResult], args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        verdict: tuple[dict[str, Any], str | None] = verify_uninstall(results, self.labels)
        return verdict
