"""reinstall.yml's and move.yml's reports: each host's outcome from what the playbook recorded of it.

The reports are remediate.yml's (``_remediation.build_report`` and its renderers, ``ReportKind``), each in its
own words: a host is reinstalled or moved; refused before any change, with the reason (the preflight: a VM that is
off, installers or a key missing, an agent the move cannot re-register); left alone because a reinstall does not
fix what is wrong (and who must act); skipped (users on it without consent, or another run changing it); failed,
with what happened; not reached (the run ended before it: the rollout stopped, or the host never answered);
unchanged (nothing to do), or in check mode planned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._remediation import ReportKind, _state, rollout_stop

# Every outcome, in the order the hosts are listed: what fails the run first, what was done last.
REINSTALL_OUTCOMES = (
    "failed",
    "refused",
    "not_reached",
    "skipped",
    "left_alone",
    "planned",
    "reinstalled",
    "unchanged",
)
MOVE_OUTCOMES = ("failed", "refused", "not_reached", "skipped", "planned", "moved", "unchanged")
RUN_WORDS = {
    "failed": "failed",
    "refused": "refused",
    "not_reached": "not reached",
    "skipped": "skipped",
    "left_alone": "left alone",
    "planned": "planned",
    "reinstalled": "reinstalled",
    "moved": "moved",
    "unchanged": "unchanged",
}
# A host with an error fails the run: one refused before any change as much as one that failed midway (it was not
# reinstalled or moved, and the run was asked to).
RUN_FAILING = ("failed", "refused")
NOT_REACHED = "not reached: the run ended before this host's turn (it did not answer, or the run was stopped)"


def _diagnosis(result: Mapping[str, Any] | None) -> dict[str, Any]:
    state, ids, reason = _state(result)
    return {"state": state, "findings": ids, "reason": reason}


def run_outcome(
    kind: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    run: Mapping[str, Any] | None,
    check_mode: bool = False,
    stopped: str = "",
) -> dict[str, Any]:
    """One host's entry in reinstall.yml's (``kind`` ``reinstall``) or move.yml's (``move``) report.

    ``run`` is what the playbook recorded: ``state`` (reinstall_state or avd_move: ``result``, ``error``,
    ``needed``, ``blocked``), ``batch`` and ``error`` (as ``rollout_stop`` reads them), ``changing`` (whether the
    host got as far as its first change, the drain: an error before it is a refusal, nothing changed) and
    ``drained``/``drain_restored``. ``stopped`` is why the rollout stopped (``rollout_stop``), the reason a host
    it never reached is not reached.
    """
    run = run or {}
    before = None if not before or before.get("skipped") else before  # a registered task that did not run
    after = None if not after or after.get("skipped") else after
    recorded = run.get("state")
    state: Mapping[str, Any] = recorded if isinstance(recorded, Mapping) else {}
    result = str(state.get("result") or "")
    error = state.get("error")
    skipped = ""
    if not state:
        outcome = "not_reached"
        skipped = stopped.replace("not attempted: ", "not reached: ", 1) if stopped else NOT_REACHED
    elif error:
        outcome = "failed" if run.get("changing") else "refused"
    elif result.startswith("skipped: "):
        outcome, skipped = "skipped", result.removeprefix("skipped: ")
    elif kind == "reinstall" and state.get("blocked"):
        outcome = "left_alone"
    elif (kind == "move" and result.startswith("already in ")) or (kind == "reinstall" and not state.get("needed")):
        outcome = "unchanged"
    elif check_mode:
        outcome = "planned"
    else:
        outcome = "reinstalled" if kind == "reinstall" else "moved"
    first = _diagnosis(before) if before else {"state": "not diagnosed", "findings": [], "reason": ""}
    done = outcome in ("reinstalled", "moved", "failed")
    last = _diagnosis(after) if done and after else first
    if outcome == "failed" and not after:
        last = {"state": "unknown", "findings": [], "reason": "not diagnosed after the failure"}
    return {
        "outcome": outcome,
        "before": first,
        "after": last,
        "roles": [kind] if outcome in ("reinstalled", "moved", "failed", "planned") else [],
        "result": result,
        "remaining": [],
        "report_only": [],
        "not_automated": [],
        "excluded": [],
        "skipped": skipped,
        "error": str(error) if error else None,
        "drained": bool(run.get("drained")),
        "drain_restored": run.get("drain_restored"),
        # the hosts this one ran beside (its avd_serial batch); [] for a host the rollout never reached
        "batch": [str(name) for name in run.get("batch") or []],
    }


def run_outcomes(
    kind: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    runs: Mapping[str, Any],
    max_fail_percentage: int,
    check_mode: bool,
) -> dict[str, dict[str, Any]]:
    """Every host's entry (the hosts of ``before``, ``after`` and ``runs``)."""
    stopped = rollout_stop(runs, [], max_fail_percentage, whole_batch=True)
    hosts = sorted(set(before) | set(after) | set(runs))
    return {
        host: run_outcome(kind, before.get(host), after.get(host), runs.get(host), check_mode, stopped)
        for host in hosts
    }


def what_was_done(entry: Mapping[str, Any]) -> str:
    """A host's summary line: the playbook's own sentence for it, or why it was left."""
    outcome = entry["outcome"]
    if outcome in RUN_FAILING:
        prefix = "nothing was changed: " if outcome == "refused" else ""
        return f"{prefix}{entry['error']}"
    if outcome in ("not_reached", "skipped"):
        return str(entry["skipped"])
    return str(entry["result"] or outcome)


def why_run(entry: Mapping[str, Any]) -> str:
    return str(entry["error"] or entry["skipped"] or entry["after"]["reason"] or entry["outcome"])


def _kind(name: str, title: str, outcomes: tuple[str, ...], done: str, verb: str) -> ReportKind:
    return ReportKind(
        name=name,
        title=title,
        outcomes=outcomes,
        words={outcome: RUN_WORDS[outcome] for outcome in outcomes},
        counts_order=tuple(
            name
            for name in (done, "unchanged", "left_alone", "skipped", "not_reached", "refused", "failed", "planned")
            if name in outcomes
        ),
        failing=RUN_FAILING,
        skipped=("skipped", "not_reached"),
        good=(done, "unchanged"),
        done_header=title,
        what=what_was_done,
        why=why_run,
        failing_host=lambda host, entry: f"{host}: not {verb}: {why_run(entry)}",
    )


REINSTALL = _kind("reinstall", "Reinstall", REINSTALL_OUTCOMES, "reinstalled", "reinstalled")
MOVE = _kind("move", "Move", MOVE_OUTCOMES, "moved", "moved")
KINDS = {"reinstall": REINSTALL, "move": MOVE}
