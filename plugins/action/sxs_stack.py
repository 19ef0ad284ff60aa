# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.sxs_stack (docs in plugins/modules)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import ChangeAction
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import Plan
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._sxs import (
    plan_sxs_stack,
    probe_sxs_stack,
    verify_sxs_stack,
)


class ActionModule(ChangeAction):
    OPTIONS: ClassVar[dict[str, Any]] = {
        "reinstall": {"type": "bool", "default": False},
        "allow_sessions": {"type": "bool", "default": False},
    }

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        facts = result.get("facts") or {}
        verification = result.get("verification") or {}
        result["installer_busy"] = bool(facts.get("installer_busy") or verification.get("installer_busy"))
        if facts.get("installer_busy") and not result.get("failed"):
            result["failed"] = True
            result["msg"] = "another installation is in progress (Windows Installer holds Global\\_MSIExecute)"
        result["reboot_required"] = bool(result.get("changed")) and not self._task.check_mode
        return result

    def probe(self, args: dict[str, Any]) -> list[Operation]:
        operations: list[Operation] = probe_sxs_stack()
        return operations

    def plan(self, results: Mapping[str, OperationResult], args: dict[str, Any], check_mode: bool) -> Plan:
        return plan_sxs_stack(results, args["reinstall"], args["allow_sessions"])

    def verify(self, results: Mapping[str, OperationResult], args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        verification, problem = verify_sxs_stack(results)
        return dict(verification), problem
