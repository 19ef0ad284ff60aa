"""issue #18 (done when): reinstall.yml interrupted at each step that changes something, by SIGINT (a person's
Ctrl-C) or SIGTERM (AWX, a cancelled CI job), then run again: the host ends with its agent, registered and
Available in its one host pool, not drained (unless its admin had drained it), its users untouched, and no lock
or journal entry left.

Each run is stopped exactly at its step by the lab's hold (a test control, docs/lab.md): the host's next matching
runtime operation waits, the run is interrupted while it waits, and the operation never runs. Each step has a host
of its own, and the six interrupted runs run at once (each waits most of its time: restarts, the host pool), as runs
of one pool from several terminals or AWX jobs do, sharing the controller's journal of drains as they do; then one
run of the six hosts runs them all again, as an admin runs the playbook again over the pool.
"""

from __future__ import annotations

import functools
import signal
import subprocess
from concurrent.futures import Future, wait
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
host_pool: {name: hp-ri, max_session_limit: 4}
hosts:
  - {name: ri-01}
  - {name: ri-02}
  - {name: ri-03}
  - {name: ri-04}
  - {name: ri-05}
  - {name: ri-06}
"""
PLAYBOOK = REPO / "playbooks" / "reinstall.yml"
QUICK = ("-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1", "-e", "avd_available_delay=1")


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("interrupt-reinstall") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory(
        "interrupt-reinstall", "--scenario", str(scenario), "--first-address", "127.0.174.1", "--reboot-seconds", "1"
    )


# (step, its host, the runtime operation held right after it, the task whose start sets the hold (None: set before
# the run), and the signal: SIGINT and SIGTERM in turn). "after the uninstall": the uninstall and the restart done,
# the cleanup held; "after the install": the key written and the agent installed, the boot loader's install held.
STEPS = [
    ("after the lock", "ri-01", {"op": "*"}, None, signal.SIGINT),
    ("after the drain", "ri-02", {"op": "msiexec", "action": "uninstall"}, None, signal.SIGTERM),
    ("after the uninstall", "ri-03", {"op": "*"}, "Restart the VM after the uninstall", signal.SIGINT),
    ("after the removal from the pool", "ri-04", {"op": "msiexec", "action": "install"}, None, signal.SIGTERM),
    ("after the install", "ri-05", {"op": "msiexec", "package": "*RDAgentBootLoader*"}, None, signal.SIGINT),
    (
        "before the drain is restored",
        "ri-06",
        {"op": "qwinsta"},
        "Ask the host pool until it lists the host Available",
        signal.SIGTERM,
    ),
]


def interrupted(
    lab,
    tmp_path: Path,
    step: str,
    host: str,
    held: dict[str, str],
    marker: str | None,
    sent: signal.Signals,
    *,
    journal: Path,
) -> tuple[int | None, str]:
    """The reinstall of ``host`` stopped at its step: the interrupted run's exit code and output."""
    args = ("-e", f"target={host}", "-e", f"avd_journal={journal}", "-e", f"avd_report_dir={tmp_path}")
    if marker is None:
        hold(lab, host, **held)
    process = start(lab, "reinstall.yml", *args, "-e", "avd_reinstall_healthy=true", *QUICK)
    try:
        if marker is not None:
            read_until(process, marker)
            hold(lab, host, **held)
        wait_held(lab, host, process)
        out = interrupt(process, sent, f"reinstall.yml interrupted {step}")
    finally:
        release(lab, host)
        if process.poll() is None:  # read_until or wait_held failed: the run is not left behind
            interrupt(process, signal.SIGKILL, f"reinstall.yml {step}, stopped")
    return process.returncode, out


@pytest.fixture(scope="module")
def journal(tmp_path_factory) -> Path:
    """The controller's journal of drains, one for all the runs (as the default one is)."""
    return tmp_path_factory.mktemp("journal") / "drains.json"


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory, journal) -> dict[str, tuple[Future, Path]]:
    return every_step_at_once(lab, tmp_path_factory, STEPS, functools.partial(interrupted, journal=journal))


@pytest.fixture(scope="module")
def again(lab, runs, journal, tmp_path_factory) -> subprocess.CompletedProcess[str]:
    """Once every interrupted run is over, the six hosts run again in one run, not asked to reinstall a healthy
    host: what each interrupted run left decides (a host without its agent or its pool is reinstalled; a healthy one
    gets its drain undone and is left alone)."""
    wait([future for future, _tmp in runs.values()])
    return lab.playbook(
        PLAYBOOK,
        *("-e", f"target={':'.join(step[1] for step in STEPS)}", "-e", f"avd_journal={journal}"),
        *("-e", f"avd_report_dir={tmp_path_factory.mktemp('again')}", *QUICK),
    )


@pytest.mark.parametrize(("step", "host"), [step[:2] for step in STEPS], ids=[step[0] for step in STEPS])
def test_reinstall_interrupted_at_each_step_converges_when_run_again(lab, runs, again, journal, step, host):
    future, _tmp = runs[step]
    returncode, out = future.result()
    assert returncode != 0, out[-3000:]
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    converged(Arm(lab), host, journal, again.stdout)
    if step == "after the lock":
        assert f"{host}: healthy and Available: nothing to do" in flat(again.stdout)
