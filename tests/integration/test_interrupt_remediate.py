"""issue #18 (done when): remediate.yml interrupted at each step that changes something on a host with an invalid
registration token (its fix re-registers the agent: disruptive, so the host is drained first), by SIGINT (Ctrl-C)
or SIGTERM (AWX, CI), then run again: the host ends registered and Available, not drained, fixed, with no lock or
journal entry left. Stopped between the key written and the boot loader's restart, the host holds a key that never
went through (REGISTRATION_INCOMPLETE): the rerun recognises it and repairs it.

Runs are stopped at an exact step by the lab's hold (a test control, docs/lab.md), or as Ansible starts the task
that follows the step. Each step has a host of its own, and the four interrupted runs run at once (each waits most of
its time on its host and the pool), as runs of one pool from several terminals or AWX jobs do; then one run of the
four hosts, with the drain journal they share (one controller's), runs again.
"""

from __future__ import annotations

import functools
import json
import signal
import subprocess
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, flat
from tests.interrupting import (
    Arm,
    converged,
    every_step_at_once,
    hold,
    interrupt,
    read_until,
    release,
    start,
    wait_held,
)

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-ir, max_session_limit: 4}
hosts:
  - {name: ir-01, faults: [invalid_registration_token]}
  - {name: ir-02, faults: [invalid_registration_token]}
  - {name: ir-03, faults: [invalid_registration_token]}
  - {name: ir-04, faults: [invalid_registration_token]}
"""
PLAYBOOK = REPO / "playbooks" / "remediate.yml"
QUICK = ("-e", "avd_settle_seconds=2", "-e", "registration_available_retries=5", "-e", "registration_available_delay=1")
AGENT_KEY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDInfraAgent"
QUICK += ("-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1")


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("interrupt-remediate") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("interrupt-remediate", "--scenario", str(scenario), "--first-address", "127.0.177.1")


# (step, its host, the held runtime operation, the task whose start stops the run (the hold set then), the signal)
STEPS = [
    ("after the lock", "ir-01", None, "TASK [Note a host that another run is changing]", signal.SIGINT),
    ("after the drain", "ir-02", {"op": "registry_write"}, None, signal.SIGTERM),
    ("after the key is written", "ir-03", {"op": "service_control"}, None, signal.SIGINT),
    ("before the drain is restored", "ir-04", None, "TASK [Restore the drain mode after the fix", signal.SIGTERM),
]


def interrupted(
    lab,
    tmp_path: Path,
    step: str,
    host: str,
    held: dict[str, str] | None,
    marker: str | None,
    sent: signal.Signals,
    *,
    journal: Path,
) -> tuple[int | None, str, dict]:
    """The remediation of ``host`` stopped at its step: the run's exit code and output, and the host's agent registry
    key after it."""
    if held is not None:
        hold(lab, host, **held)
    args = ("-e", f"target={host}", "-e", f"avd_journal={journal}", "-e", f"avd_report_dir={tmp_path / 'first'}")
    process = start(lab, "remediate.yml", *args, *QUICK)
    try:
        if marker is not None:
            read_until(process, marker)
        else:
            wait_held(lab, host, process)
        out = interrupt(process, sent, f"remediate.yml interrupted {step}")
    finally:
        release(lab, host)
        if process.poll() is None:  # read_until or wait_held failed: the run is not left behind
            interrupt(process, signal.SIGKILL, f"remediate.yml {step}, stopped")
    agent = {v["name"]: v["data"] for v in lab.control(f"/hosts/{host}")["registry"][AGENT_KEY]}
    return process.returncode, out, agent


@dataclass
class Runs:
    steps: dict[str, tuple[Future, Path]]  # each step's interrupted run, with its directory
    journal: Path  # the controller's drain journal, which the four runs and the run again share
    again: subprocess.CompletedProcess[str]  # the four hosts' remediation run again, once they were all interrupted
    report: Path


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory) -> Runs:
    """The four interrupted runs at once, each on its own host, then the remediation of the four hosts run again
    (one ansible-playbook run: each rerun of one host cost a run's start, about 1.5 CPU-s)."""
    work = tmp_path_factory.mktemp("run-again")
    journal = work / "drains.json"
    # every_step_at_once returns once every run has ended (its thread pool is shut down, waiting for them).
    steps = every_step_at_once(lab, tmp_path_factory, STEPS, functools.partial(interrupted, journal=journal))
    hosts = ":".join(step[1] for step in STEPS)
    args = ("-e", f"target={hosts}", "-e", f"avd_journal={journal}", "-e", f"avd_report_dir={work}", *QUICK)
    return Runs(steps, journal, lab.playbook(PLAYBOOK, *args), work)


@pytest.mark.parametrize(("step", "host"), [step[:2] for step in STEPS], ids=[step[0] for step in STEPS])
def test_remediate_interrupted_at_each_step_converges_when_run_again(lab, runs, step, host):
    future, _tmp_path = runs.steps[step]
    returncode, out, agent = future.result()
    assert returncode != 0, out[-3000:]
    if step == "after the key is written":  # a key that never went through: IsRegistered=0, the boot loader not told
        assert agent["IsRegistered"] == 0 and str(agent["RegistrationToken"]).startswith("<redacted"), agent
    again = runs.again
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    converged(Arm(lab), host, runs.journal, again.stdout)
    outcome = json.loads((runs.report / "remediation.json").read_text())["hosts"][host]
    assert outcome["outcome"] in ("fixed", "unchanged"), outcome
