# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.agent_install (docs in plugins/modules)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import ChangeAction
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import Plan
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._reinstall import (
    check_package,
    check_sha256,
    check_token,
    plan_install,
    probe_install,
    verify_install,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult


class ActionModule(ChangeAction):
    OPTIONS: ClassVar[dict[str, Any]] = {
        "agent_package": {"type": "str", "required": True},
        "boot_loader_package": {"type": "str", "required": True},
        "agent_sha256": {"type": "str"},
        "boot_loader_sha256": {"type": "str"},
        "registration_token": {"type": "str", "no_log": True},
        "packages_only": {"type": "bool", "default": False},
    }
    SECRET_OPTIONS = ("registration_token",)

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        verification = result.get("verification") or {}
        result["busy"] = list(verification.get("busy") or [])
        result["reboot_required"] = bool(verification.get("reboot_required"))
        return result

    def check_arguments(self, args: dict[str, Any]) -> None:
        check_package("agent_package", args["agent_package"])
        check_package("boot_loader_package", args["boot_loader_package"])
        check_sha256("agent_sha256", args["agent_sha256"])
        check_sha256("boot_loader_sha256", args["boot_loader_sha256"])
        check_token(args["registration_token"])

    def probe(self, args: dict[str, Any]) -> list[Operation]:
        operations: list[Operation] = probe_install(packages=[args["agent_package"], args["boot_loader_package"]])
        return operations

    def plan(self, results: Mapping[str, OperationResult], args: dict[str, Any], check_mode: bool) -> Plan:
        token = args["registration_token"].strip() if args["registration_token"] else None
        return plan_install(
            results,
            args["agent_package"],
            args["boot_loader_package"],
            token,
            args["agent_sha256"],
            args["boot_loader_sha256"],
            check_mode,
            args["packages_only"],
        )

    def verify(self, results: Mapping[str, OperationResult], args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        verdict: tuple[dict[str, Any], str | None] = verify_install(results)
        return verdict
