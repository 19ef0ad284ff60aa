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

import datetime
from abc import abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from ansible.plugins.action import ActionBase

from ._plans import SECRET, Plan, PlanError
from ._replay import CAPTURE_FORMAT
from ._runtime import RUNTIME_VERSION, Operation, OperationResult, RuntimeCallError, execute

# The options of a module that can read the state it needs from a diagnosis's capture instead of probing.
CAPTURE_OPTIONS: dict[str, Any] = {
    "capture": {"type": "dict"},
    "capture_max_age": {"type": "int", "default": 120},
}


def _same_read(probe: Operation, gathered: Mapping[str, Any]) -> bool:
    """Whether an operation the diagnosis ran answers ``probe``: the same operation on the same target, reading
    at least the values the probe reads (a registry read of every value answers one of some of them)."""
    if gathered.get("op") != probe.op:
        return False
    asked = {key: value for key, value in gathered.items() if key not in ("id", "op")}
    for key in set(asked) | set(probe.args):
        if key == "names" and probe.op == "registry_read":
            wanted, read = probe.args.get("names"), asked.get("names")
            if read is not None and (
                wanted is None or not {str(n).lower() for n in wanted} <= {str(n).lower() for n in read}
            ):
                return False
        elif asked.get(key) != probe.args.get(key):
            return False
    return True


def answers_from_capture(
    document: Mapping[str, Any] | None, probe: Iterable[Operation], now: datetime.datetime, max_age: int
) -> tuple[dict[str, OperationResult] | None, str]:
    """The probe's answers read from a diagnosis's capture, and why not when they cannot be (then it probes).

    Only a capture of this runtime version, at most ``max_age`` seconds old, in which every read of the probe
    was made and succeeded: a fix never acts on an older or partial view of the host than its own probe gives.
    """
    if not document:
        return None, "no capture given"
    if document.get("format") != CAPTURE_FORMAT or not isinstance(document.get("answer"), Mapping):
        return None, "the capture is not a diagnosis capture"
    answer, request = document["answer"], document.get("request") or {}
    if answer.get("error") or answer.get("version") != RUNTIME_VERSION:
        return None, f"the capture is of runtime {answer.get('version')!r}, not {RUNTIME_VERSION}"
    try:
        gathered = datetime.datetime.strptime(str(document.get("gathered_at")), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None, "the capture says no time"
    age = (now - gathered.replace(tzinfo=datetime.UTC)).total_seconds()
    if not -5 <= age <= max_age:
        return None, f"the capture is {age:.0f} s old (capture_max_age {max_age})"
    results = {str(entry.get("id")): entry for entry in answer.get("results") or [] if isinstance(entry, Mapping)}
    operations = [op for op in request.get("operations") or [] if isinstance(op, Mapping)]
    found: dict[str, OperationResult] = {}
    for op in probe:
        match = next((gathered_op for gathered_op in operations if _same_read(op, gathered_op)), None)
        entry = results.get(str(match.get("id"))) if match else None
        if entry is None or not entry.get("ok"):
            return None, f"the capture has no answer to {op.id}"
        found[op.id] = OperationResult(op.id, op.op, True, entry.get("result"), None)
    return found, f"read from the diagnosis gathered {age:.0f} s ago"


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
    READS_CAPTURE: ClassVar[bool] = False  # takes capture/capture_max_age (CAPTURE_OPTIONS)

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        # ActionBase supports check mode and refuses async by default; its run() reads no task_vars
        # (tmp is deprecated and ignored)
        result = super().run(task_vars=task_vars)
        spec = {**CAPTURE_OPTIONS, **self.OPTIONS} if self.READS_CAPTURE else self.OPTIONS
        _validation, args = self.validate_argument_spec(argument_spec=spec)
        secrets = [str(args[name]) for name in self.SECRET_OPTIONS if args.get(name)]
        check_mode = bool(self._task.check_mode)
        try:
            self.check_arguments(args)
            probe = self.probe(args)
            read, how = None, ""
            if self.READS_CAPTURE and args.get("capture"):
                read, how = answers_from_capture(
                    args["capture"], probe, datetime.datetime.now(datetime.UTC), args["capture_max_age"]
                )
            plan = self.plan(read if read is not None else execute(self, probe), args, check_mode)
            if how:
                plan.notes.append(f"the host's state {how}" if read is not None else f"probed the host: {how}")
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
