"""issue #18 (done when): remediate.yml interrupted at each step that changes something on a host with an invalid
registration token (its fix re-registers the agent: disruptive, so the host is drained first), by SIGINT (Ctrl-C)
or SIGTERM (AWX, CI), then run again: the host ends registered and Available, not drained, fixed, with no lock or
journal entry left. Stopped between the key written and the boot loader's restart, the host holds a key that never
went through (REGISTRATION_INCOMPLETE): the rerun recognises it and repairs it.

Runs are stopped at an exact step by the lab's hold (a test control, docs/lab.md), or as Ansible starts the task
that follows the step. Each step has a host of its own, and the four interrupted runs and their reruns run at once
(each waits most of its time on its host and the pool), as runs of one pool from several terminals or AWX jobs do.
"""

from __future__ import annotations

import json
import signal
import subprocess
from concurrent.futures import Future
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


def interrupted_then_run_again(
    lab, tmp_path: Path, step: str, host: str, held: dict[str, str] | None, marker: str | None, sent: signal.Signals
) -> tuple[int | None, str, dict, subprocess.CompletedProcess[str]]:
    """The remediation of ``host`` stopped at its step, then the same command again: the interrupted run's exit code
    and output, the host's agent registry key between the two runs, and the rerun."""
    args = ("-e", f"target={host}", "-e", f"avd_journal={tmp_path / 'drains.json'}")
    if held is not None:
        hold(lab, host, **held)
    process = start(lab, "remediate.yml", *args, "-e", f"avd_report_dir={tmp_path / 'first'}", *QUICK)
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
    again = lab.playbook(PLAYBOOK, *args, "-e", f"avd_report_dir={tmp_path / 'second'}", *QUICK)
    return process.returncode, out, agent, again


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory) -> dict[str, tuple[Future, Path]]:
    return every_step_at_once(lab, tmp_path_factory, STEPS, interrupted_then_run_again)


@pytest.mark.parametrize(("step", "host"), [step[:2] for step in STEPS], ids=[step[0] for step in STEPS])
def test_remediate_interrupted_at_each_step_converges_when_run_again(lab, runs, step, host):
    future, tmp_path = runs[step]
    returncode, out, agent, again = future.result()
    assert returncode != 0, out[-3000:]
    if step == "after the key is written":  # a key that never went through: IsRegistered=0, the boot loader not told
        assert agent["IsRegistered"] == 0 and str(agent["RegistrationToken"]).startswith("<redacted"), agent
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    converged(Arm(lab), host, tmp_path / "drains.json", again.stdout)
    outcome = json.loads((tmp_path / "second" / "remediation.json").read_text())["hosts"][host]
    assert outcome["outcome"] in ("fixed", "unchanged"), outcome
