"""The common shape of the remediation modules: probe, plan, apply and verify in one more command.

An action plugin subclasses :class:`ChangeAction` and names its options and
its three pure steps from ``_plans.py``. This class runs them over the
task's own connection: one runtime command to probe, and - only when the
plan changes something and the task is not in check mode - one runtime
command that applies every change and reads back the result. Secrets the
module was given (``SECRET_OPTIONS``) are scrubbed from everything it
returns, whatever the host said.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from ansible.plugins.action import ActionBase

from ._plans import SECRET, Plan, PlanError
from ._runtime import Operation, OperationResult, RuntimeCallError, execute


def scrub(value: Any, secrets: list[str]) -> Any:
    """``value`` with every secret replaced by ``(secret)``, in every string it holds."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, SECRET)
        return value
    if isinstance(value, Mapping):
        return {scrub(key, secrets): scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item, secrets) for item in value]
    return value


class ChangeAction(ActionBase):  # type: ignore[misc]
    """Probe, plan, apply, verify; check mode and diff for free."""

    TRANSFERS_FILES = False
    _requires_connection = True
    OPTIONS: ClassVar[dict[str, Any]] = {}
    SECRET_OPTIONS: ClassVar[tuple[str, ...]] = ()

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        # ActionBase supports check mode and refuses async by default; its run() reads no task_vars
        # (tmp is deprecated and ignored)
        result = super().run(task_vars=task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=self.OPTIONS)
        secrets = [str(args[name]) for name in self.SECRET_OPTIONS if args.get(name)]
        check_mode = bool(self._task.check_mode)
        try:
            self.check_arguments(args)
            probe = self.probe(args)
            plan = self.plan(execute(self, probe), args, check_mode)
            answer: dict[str, Any] = {
                "changed": plan.changed,
                "changes": plan.summary(),
                "facts": plan.facts,
                "notes": plan.notes,
            }
            if self._task.diff and plan.changed:
                answer["diff"] = plan.diff()
            if plan.changed and not check_mode:
                applied = execute(self, plan.operations())
                failed = [r for r in applied.values() if r.id.startswith("apply.") and not r.ok]
                if failed:
                    answer["failed"] = True
                    answer["msg"] = "; ".join(f"{r.id} failed on the host: {r.error}" for r in failed)
                else:
                    verification, problem = self.verify(applied, args)
                    answer["verification"] = verification
                    if problem:
                        answer["failed"] = True
                        answer["msg"] = problem
        except (PlanError, RuntimeCallError) as exc:
            answer = {"changed": False, "failed": True, "msg": str(exc)}
        return {**result, **scrub(answer, secrets)}

    def check_arguments(self, args: dict[str, Any]) -> None:
        """Refuse bad input before anything reaches the host (raise PlanError)."""

    @abstractmethod
    def probe(self, args: dict[str, Any]) -> list[Operation]:
        """The reads the plan needs."""

    @abstractmethod
    def plan(self, results: Mapping[str, OperationResult], args: dict[str, Any], check_mode: bool) -> Plan:
        """What to change, from what the probe read."""

    @abstractmethod
    def verify(self, results: Mapping[str, OperationResult], args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """What the verifying reads say, and the failure message when the fix did not hold."""
