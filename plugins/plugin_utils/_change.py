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
import time
from abc import abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ._plans import SECRET, Plan, PlanError
from ._replay import CAPTURE_FORMAT
from ._runtime import RUNTIME_VERSION, Operation, OperationResult, RuntimeCallError, execute

# The options of a module that can read the state it needs from a diagnosis's capture instead of probing.
CAPTURE_OPTIONS: dict[str, Any] = {
    "capture": {"type": "dict"},
    "capture_max_age": {"type": "int", "default": 120},
}


# The options of a module that waits for Windows to complete a change (WAITS).
WAIT_OPTIONS: dict[str, Any] = {
    "wait_seconds": {"type": "int", "default": 600},
    "poll_seconds": {"type": "int", "default": 10},
}


def check_wait(args: dict[str, Any]) -> None:
    """wait_seconds from 0 to an hour, poll_seconds from 1 to 300 (PlanError otherwise)."""
    if not 0 <= args["wait_seconds"] <= 3600:
        raise PlanError(f"wait_seconds must be between 0 and 3600, got {args['wait_seconds']}")
    if not 1 <= args["poll_seconds"] <= 300:
        raise PlanError(f"poll_seconds must be between 1 and 300, got {args['poll_seconds']}")


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
    if answer.get("error"):
        return None, "the capture's runtime call failed"
    if answer.get("version") != RUNTIME_VERSION:
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
        found[op.id] = OperationResult(op.id, op.op, True, entry.get("result"))
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
    # Takes wait_seconds/poll_seconds (WAIT_OPTIONS): verify looks again while still_on_its_way says so.
    WAITS: ClassVar[bool] = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        # ActionBase supports check mode and refuses async by default; its run() reads no task_vars
        # (tmp is deprecated and ignored)
        result = super().run(task_vars=task_vars)
        spec = {
            **(CAPTURE_OPTIONS if self.READS_CAPTURE else {}),
            **(WAIT_OPTIONS if self.WAITS else {}),
            **self.OPTIONS,
        }
        host = str((task_vars or {}).get("inventory_hostname", ""))
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
                    answer["msg"] = self.explain_failure(applied)
                else:
                    verification, problem = self.verify(applied, args)
                    if problem and self.WAITS:
                        verification, problem = self.wait(host, plan, verification, problem, args)
                    answer["verification"] = verification
                    if problem:
                        answer["failed"] = True
                        answer["msg"] = problem
        except (PlanError, RuntimeCallError) as exc:
            answer = {"changed": False, "failed": True, "msg": str(exc)}
        return {**result, **scrub(answer, secrets)}

    def wait(
        self, host: str, plan: Plan, verification: dict[str, Any], problem: str, args: dict[str, Any]
    ) -> tuple[dict[str, Any], str | None]:
        """Read the plan's verification again every poll_seconds while the host is still on its way (a change
        Windows completes in its own time), up to wait_seconds, saying each time what it sees."""
        started = time.monotonic()
        waited = 0.0
        seen = self.still_on_its_way(verification)
        while seen and waited < args["wait_seconds"]:
            pause = min(args["poll_seconds"], args["wait_seconds"] - waited)
            Display().display(
                f"{host}: {seen}; looking again in {pause:.0f} s "
                f"({waited:.0f} of wait_seconds {args['wait_seconds']} s)"
            )
            time.sleep(pause)
            waited = time.monotonic() - started
            verification, again = self.verify(execute(self, plan.verify), args)
            if again is None:
                return verification, None
            problem = again
            seen = self.still_on_its_way(verification)
        if seen:
            problem = f"{problem} (still so after waiting {waited:.0f} s; wait_seconds {args['wait_seconds']})"
        return verification, problem

    def explain_failure(self, applied: Mapping[str, OperationResult]) -> str:
        """The message of an apply command in which a change failed (each failure, with the host's words)."""
        failed = [r for r in applied.values() if r.id.startswith("apply.") and not r.ok]
        return "; ".join(f"{r.id} failed on the host: {r.error}" for r in failed)

    def still_on_its_way(self, verification: dict[str, Any]) -> str | None:
        """What the host shows while the change is still taking effect (then it is read again), or None when
        what verify saw is final."""
        return None

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
