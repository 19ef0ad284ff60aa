# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.boot_loader (docs in plugins/modules)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import ChangeAction
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import (
    ARTICLE_SETTLE_SECONDS,
    Plan,
    PlanError,
    plan_boot_loader,
    probe_boot_loader,
    verify_boot_loader,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult


class ActionModule(ChangeAction):
    READS_CAPTURE = True  # capture: the caller's diagnosis, read instead of probing again
    OPTIONS: ClassVar[dict[str, Any]] = {
        "state": {"type": "str", "default": "started", "choices": ["started", "restarted"]},
        "settle_seconds": {"type": "int", "default": ARTICLE_SETTLE_SECONDS},
        "fail_when_stopped": {"type": "bool", "default": False},
    }

    def check_arguments(self, args: dict[str, Any]) -> None:
        if not 0 <= args["settle_seconds"] <= 300:
            raise PlanError(f"settle_seconds must be between 0 and 300, got {args['settle_seconds']}")

    def probe(self, args: dict[str, Any]) -> list[Operation]:
        operations: list[Operation] = probe_boot_loader()
        return operations

    def plan(self, results: Mapping[str, OperationResult], args: dict[str, Any], check_mode: bool) -> Plan:
        return plan_boot_loader(results, args["state"], args["settle_seconds"])

    def verify(self, results: Mapping[str, OperationResult], args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        verification = verify_boot_loader(results)
        if verification["stopped_again"] and args["fail_when_stopped"]:
            return verification, (
                f"RDAgentBootLoader stopped again within {args['settle_seconds']} s "
                f"(state {verification['state']}): look for a registration failure (event 3277)"
            )
        return verification, None
