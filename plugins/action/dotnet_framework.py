# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.dotnet_framework (docs in plugins/modules)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import ChangeAction
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._dotnet import (
    plan_dotnet,
    probe_dotnet,
    verify_dotnet,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._installers import SHA256
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._known import DOTNET_48_MINIMUM
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import Plan, PlanError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult


class ActionModule(ChangeAction):
    OPTIONS: ClassVar[dict[str, Any]] = {
        "installer": {"type": "str", "required": True},
        "sha256": {"type": "str", "required": True},
        "minimum_release": {"type": "int", "default": DOTNET_48_MINIMUM},
        "as_system": {"type": "bool", "default": True},
    }

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        result["reboot_required"] = bool((result.get("verification") or {}).get("reboot_required"))
        return result

    def check_arguments(self, args: dict[str, Any]) -> None:
        if not SHA256.match(str(args["sha256"])):
            raise PlanError("sha256 must be 64 hexadecimal digits (the installer's SHA-256 from the manifest)")

    def probe(self, args: dict[str, Any]) -> list[Operation]:
        operations: list[Operation] = probe_dotnet()
        return operations

    def plan(self, results: Mapping[str, OperationResult], args: dict[str, Any], check_mode: bool) -> Plan:
        plan: Plan = plan_dotnet(
            results, str(args["installer"]), str(args["sha256"]), int(args["minimum_release"]), bool(args["as_system"])
        )
        return plan

    def verify(self, results: Mapping[str, OperationResult], args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        verification: dict[str, Any]
        problem: str | None
        verification, problem = verify_dotnet(results, int(args["minimum_release"]))
        return verification, problem
