"""issue #18 (done when): reinstall.yml interrupted at each step that changes something, by SIGINT (a person's
Ctrl-C) or SIGTERM (AWX, a cancelled CI job), then run again: the host ends with its agent, registered and
Available in its one host pool, not drained (unless its admin had drained it), its users untouched, and no lock
or journal entry left.

Each run is stopped exactly at its step by the lab's hold (a test control, docs/lab.md): the host's next matching
runtime operation waits, the run is interrupted while it waits, and the operation never runs.
"""

from __future__ import annotations

import signal

import pytest

from tests.conftest import REPO, flat
from tests.interrupting import Arm, converged, hold, interrupt, read_until, release, start, wait_held

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-ri, max_session_limit: 4}
hosts:
  - {name: ri-01}
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


# (step, the runtime operation held right after it, the task whose start sets the hold (None: set before the run),
# and the signal: SIGINT and SIGTERM in turn). "after the uninstall": the uninstall and the restart done, the
# cleanup held; "after the install": the key written and the agent installed, the boot loader's install held.
STEPS = [
    ("after the lock", {"op": "*"}, None, signal.SIGINT),
    ("after the drain", {"op": "msiexec", "action": "uninstall"}, None, signal.SIGTERM),
    ("after the uninstall", {"op": "*"}, "Restart the VM after the uninstall", signal.SIGINT),
    ("after the removal from the pool", {"op": "msiexec", "action": "install"}, None, signal.SIGTERM),
    ("after the install", {"op": "msiexec", "package": "*RDAgentBootLoader*"}, None, signal.SIGINT),
    (
        "before the drain is restored",
        {"op": "qwinsta"},
        "Ask the host pool until it lists the host Available",
        signal.SIGTERM,
    ),
]


@pytest.mark.parametrize(("step", "held", "marker", "sent"), STEPS, ids=[step[0] for step in STEPS])
def test_reinstall_interrupted_at_each_step_converges_when_run_again(lab, tmp_path, step, held, marker, sent):
    arm = Arm(lab)
    args = ("-e", "target=ri-01", "-e", f"avd_journal={tmp_path / 'drains.json'}", "-e", f"avd_report_dir={tmp_path}")
    if marker is None:
        hold(lab, "ri-01", **held)
    process = start(lab, "reinstall.yml", *args, "-e", "avd_reinstall_healthy=true", *QUICK)
    try:
        if marker is not None:
            read_until(process, marker)
            hold(lab, "ri-01", **held)
        wait_held(lab, "ri-01", process)
        out = interrupt(process, sent, f"reinstall.yml interrupted {step}")
    finally:
        release(lab, "ri-01")
    assert process.returncode != 0, out[-3000:]
    # Run again, not asked to reinstall a healthy host: what the interrupted run left decides (a host without its
    # agent or its pool is reinstalled; a healthy one gets its drain undone and is left alone).
    again = lab.playbook(PLAYBOOK, *args, *QUICK)
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    converged(arm, "ri-01", tmp_path / "drains.json", again.stdout)
    if step == "after the lock":
        assert "ri-01: healthy and Available: nothing to do" in flat(again.stdout)
