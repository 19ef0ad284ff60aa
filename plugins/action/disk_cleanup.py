# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.disk_cleanup (docs in plugins/modules)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, ClassVar

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _known as k
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import ChangeAction
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._cleanup import (
    MIB,
    cleanup_failure,
    plan_disk_cleanup,
    probe_disk_cleanup,
    shortfall_message,
    target_free,
    verify_disk_cleanup,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import ARTICLE_SETTLE_SECONDS, Plan, PlanError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult


class ActionModule(ChangeAction):
    OPTIONS: ClassVar[dict[str, Any]] = {
        "min_free_percent": {"type": "float", "default": k.DISK_LOW_PERCENT},
        "min_free_mb": {"type": "int", "default": k.DISK_MSI_BYTES // MIB},
        "temp_min_age_days": {"type": "float", "default": float(k.TEMP_MIN_AGE_DAYS)},
        "restart_agent": {"type": "bool", "default": False},
        "settle_seconds": {"type": "int", "default": ARTICLE_SETTLE_SECONDS},
        "service_wait_seconds": {"type": "int", "default": 30},
    }

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        facts = result.get("facts") or {}
        if facts.get("shortfall") and not result.get("failed") and "verification" not in result:
            # Check mode, or nothing to delete: what is left to do is said now, loudly.
            result["failed"] = True
            result["msg"] = shortfall_message(
                facts.get("drive"),
                int(facts["free"]) + int(facts["would_free"]),
                int(facts["target_free"]),
                int(facts["would_free"]),
            )
        return result

    def check_arguments(self, args: dict[str, Any]) -> None:
        if not 0 <= args["min_free_percent"] < 100:
            raise PlanError(f"min_free_percent must be from 0 to 99, got {args['min_free_percent']}")
        if not 0 <= args["settle_seconds"] <= 300:
            raise PlanError(f"settle_seconds must be between 0 and 300, got {args['settle_seconds']}")
        if not 1 <= args["service_wait_seconds"] <= 600:
            raise PlanError(f"service_wait_seconds must be between 1 and 600, got {args['service_wait_seconds']}")
        if args["min_free_mb"] < 0:
            raise PlanError(f"min_free_mb must not be negative, got {args['min_free_mb']}")
        if args["temp_min_age_days"] < 1:
            raise PlanError(
                "temp_min_age_days must be at least 1 (newer temp files may be in use), "
                f"got {args['temp_min_age_days']}"
            )

    def probe(self, args: dict[str, Any]) -> list[Operation]:
        operations: list[Operation] = probe_disk_cleanup()
        return operations

    def plan(self, results: Mapping[str, OperationResult], args: dict[str, Any], check_mode: bool) -> Plan:
        return plan_disk_cleanup(
            results,
            datetime.datetime.now(datetime.UTC),
            args["min_free_percent"],
            args["min_free_mb"],
            args["temp_min_age_days"],
            args["settle_seconds"] if args["restart_agent"] else None,
            args["service_wait_seconds"],
        )

    def explain_failure(self, applied: Mapping[str, OperationResult]) -> str:
        message: str = cleanup_failure(applied)
        return message

    def verify(self, results: Mapping[str, OperationResult], args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        disk = results.get("verify.disk")
        size = int(((disk.result or {}) if disk else {}).get("size") or 0)
        target = target_free(size, args["min_free_percent"], args["min_free_mb"])
        verification, problem = verify_disk_cleanup(results, target)
        return dict(verification), problem
