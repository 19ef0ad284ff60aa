# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.local_policy (docs in plugins/modules)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import ChangeAction
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import (
    POLICIES,
    Plan,
    plan_policies,
    probe_policies,
    verify_policies,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult


class ActionModule(ChangeAction):
    OPTIONS: ClassVar[dict[str, Any]] = {
        "remove": {"type": "list", "elements": "str", "default": [], "choices": list(POLICIES)},
    }

    def probe(self, args: dict[str, Any]) -> list[Operation]:
        operations: list[Operation] = probe_policies()
        return operations

    def plan(self, results: Mapping[str, OperationResult], args: dict[str, Any], check_mode: bool) -> Plan:
        return plan_policies(results, args["remove"])

    def verify(self, results: Mapping[str, OperationResult], args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        verification = verify_policies(results, args["remove"])
        if verification["left"]:
            return verification, f"policy values still set after removal: {', '.join(verification['left'])}"
        return verification, None
