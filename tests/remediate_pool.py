"""The remediation pool the test_remediate*.py modules share: its scenario, the run's short waits, and how they look
at the hosts and the host pool. Each module starts its own lab of it on its own address block, so pytest-xdist runs
them on different workers at once."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import REPO, RunningLab
from tests.interrupting import Arm

PLAYBOOK = REPO / "playbooks" / "remediate.yml"
# Each module's lab has a host pool of its own name: the drain journal on the controller (shared by every run, as
# on a real controller) keys a host by its pool and name, and a run on another lab must not hold this one's lock.
SCENARIO = """
host_pool: {name: POOL_NAME, max_session_limit: 4}
hosts:
  - {name: rm-01, faults: [invalid_registration_token]}
  - {name: rm-02, faults: [bootloader_stopped]}
  - {name: rm-03, faults: [stack_listener_broken]}
  - {name: rm-04, faults: [endpoint_not_found]}
  - {name: rm-05, faults: [msi_policy_blocked]}
  - {name: rm-06, sessions: 2, faults: [stack_health_check_failed]}
  - {name: rm-07, faults: [gateway_blocked]}
  - {name: rm-08, faults: [expired_registration_token]}
  - {name: rm-09, sessions: 1}
"""
FAST = (
    "-e",
    "avd_settle_seconds=2",
    "-e",
    "avd_session_wait_retries=1",
    "-e",
    "avd_session_wait_delay=1",
    "-e",
    "registration_available_retries=3",
    "-e",
    "registration_available_delay=1",
)


def pool_view(lab: RunningLab) -> dict[str, dict]:
    """The host pool as the ARM API lists it: status, drain mode and sessions of every session host (read as any ARM
    client would, in-process: a play of host_pool_info cost an ansible-playbook run, about 1.5 CPU-s)."""
    return {
        name: {"status": host["status"], "allow_new_session": host["allowNewSession"], "sessions": host["sessions"]}
        for name, host in Arm(lab).session_hosts().items()
    }


def host_states(lab: RunningLab) -> dict[str, dict]:
    """What `avdlab show` says of every host, without what only time changes."""
    states = {}
    for host in lab.hosts:
        shown = lab.show(host["name"])
        states[host["name"]] = {
            "registry": shown["registry"],
            "programs": shown["programs"],
            "services": {
                k: (s["start_type"], "Stopped" if s["stop_at"] else s["state"]) for k, s in shown["services"].items()
            },
            "sessions": [(s["user"], s["state"], len(s["messages"])) for s in shown["sessions"]],
            "boot_time": shown["boot_time"],
        }
    return states


def remediate(lab: RunningLab, report_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return lab.playbook(PLAYBOOK, "-e", f"avd_report_dir={report_dir}", *FAST, *extra)


def report(report_dir: Path) -> dict:
    return json.loads((report_dir / "remediation.json").read_text())


def start_pool(lab_factory, work: Path, name: str, first_address: str) -> tuple[RunningLab, str]:
    """The pool's lab (host pool hp-NAME), with rm-08 drained by its admin before the run (it must stay drained) and
    a registration key planted to look for later (returned with the lab): both through ARM, as an admin does in the
    portal."""
    (work / "lab.yml").write_text(SCENARIO.replace("POOL_NAME", f"hp-{name}"))
    lab = lab_factory(name, "--scenario", str(work / "lab.yml"), "--first-address", first_address)
    arm = Arm(lab)
    arm.drain("rm-08")
    return lab, arm.generate_key(6)


def token_absent(token: str, texts: list[str]) -> None:
    """The planted registration key is in none of ``texts``, whole or its payload's start."""
    for text in texts:
        assert token not in text and token.split(".")[1][:24] not in text
