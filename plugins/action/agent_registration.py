# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.agent_registration (docs in plugins/modules)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import ChangeAction, check_wait
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import (
    ARTICLE_SETTLE_SECONDS,
    Plan,
    PlanError,
    plan_registration,
    probe_registration,
    registration_problem,
    registration_under_way,
    verify_registration,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult


class ActionModule(ChangeAction):
    READS_CAPTURE = True  # capture: the caller's diagnosis, read instead of probing again
    WAITS = True  # registering takes minutes on Azure: wait_seconds, poll_seconds
    OPTIONS: ClassVar[dict[str, Any]] = {
        "registration_token": {"type": "str", "no_log": True},
        "reregister": {"type": "bool", "default": False},
        "settle_seconds": {"type": "int", "default": ARTICLE_SETTLE_SECONDS},
    }
    SECRET_OPTIONS = ("registration_token",)

    def check_arguments(self, args: dict[str, Any]) -> None:
        check_wait(args)
        if not 0 <= args["settle_seconds"] <= 300:
            raise PlanError(f"settle_seconds must be between 0 and 300, got {args['settle_seconds']}")
        token = args["registration_token"]
        if token is not None and (not token.strip() or any(c.isspace() for c in token.strip())):
            raise PlanError("registration_token is empty or has spaces inside: pass the key registration_token returns")

    def probe(self, args: dict[str, Any]) -> list[Operation]:
        operations: list[Operation] = probe_registration()
        return operations

    def plan(self, results: Mapping[str, OperationResult], args: dict[str, Any], check_mode: bool) -> Plan:
        token = args["registration_token"].strip() if args["registration_token"] else None
        return plan_registration(results, token, args["reregister"], args["settle_seconds"], check_mode)

    def verify(self, results: Mapping[str, OperationResult], args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        verification = verify_registration(results)
        return verification, registration_problem(verification, args["settle_seconds"])

    def still_on_its_way(self, verification: dict[str, Any]) -> str | None:
        seen: str | None = registration_under_way(verification)
        return seen
