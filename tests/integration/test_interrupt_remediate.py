"""issue #18 (done when): remediate.yml interrupted at each step that changes something on a host with an invalid
registration token (its fix re-registers the agent: disruptive, so the host is drained first), by SIGINT (Ctrl-C)
or SIGTERM (AWX, CI), then run again: the host ends registered and Available, not drained, fixed, with no lock or
journal entry left. Stopped between the key written and the boot loader's restart, the host holds a key that never
went through (REGISTRATION_INCOMPLETE): the rerun recognises it and repairs it.

Runs are stopped at an exact step by the lab's hold (a test control, docs/lab.md), or as Ansible starts the task
that follows the step.
"""

from __future__ import annotations

import json
import signal

import pytest

from tests.conftest import REPO, flat
from tests.interrupting import Arm, converged, hold, interrupt, read_until, release, start, wait_held

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-ir, max_session_limit: 4}
hosts:
  - {name: ir-01, faults: [invalid_registration_token]}
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


# (step, the held runtime operation, the task whose start stops the run (the hold set then), the signal)
STEPS = [
    ("after the lock", None, "TASK [Note a host that another run is changing]", signal.SIGINT),
    ("after the drain", {"op": "registry_write"}, None, signal.SIGTERM),
    ("after the key is written", {"op": "service_control"}, None, signal.SIGINT),
    ("before the drain is restored", None, "TASK [Restore the drain mode after the fix", signal.SIGTERM),
]


@pytest.mark.parametrize(("step", "held", "marker", "sent"), STEPS, ids=[step[0] for step in STEPS])
def test_remediate_interrupted_at_each_step_converges_when_run_again(lab, tmp_path, step, held, marker, sent):
    arm = Arm(lab)
    lab.control("/hosts/ir-01/inject?fault=invalid_registration_token", method="POST")  # broken again each time
    args = ("-e", "target=ir-01", "-e", f"avd_journal={tmp_path / 'drains.json'}")
    if held is not None:
        hold(lab, "ir-01", **held)
    process = start(lab, "remediate.yml", *args, "-e", f"avd_report_dir={tmp_path / 'first'}", *QUICK)
    try:
        if marker is not None:
            read_until(process, marker)
        else:
            wait_held(lab, "ir-01", process)
        out = interrupt(process, sent, f"remediate.yml interrupted {step}")
    finally:
        release(lab, "ir-01")
    assert process.returncode != 0, out[-3000:]
    if step == "after the key is written":  # a key that never went through: IsRegistered=0, the boot loader not told
        agent = {v["name"]: v["data"] for v in lab.control("/hosts/ir-01")["registry"][AGENT_KEY]}
        assert agent["IsRegistered"] == 0 and str(agent["RegistrationToken"]).startswith("<redacted"), agent
    again = lab.playbook(PLAYBOOK, *args, "-e", f"avd_report_dir={tmp_path / 'second'}", *QUICK)
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    converged(arm, "ir-01", tmp_path / "drains.json", again.stdout)
    outcome = json.loads((tmp_path / "second" / "remediation.json").read_text())["hosts"]["ir-01"]
    assert outcome["outcome"] in ("fixed", "unchanged"), outcome
