"""The remediation pool the test_remediate*.py modules share: its scenario, the run's short waits, and how they look
at the hosts and the host pool. Each module starts its own lab of it on its own address block, so pytest-xdist runs
them on different workers at once."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.conftest import REPO, RunningLab

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
POOL = {"host_pool": "{{ avd_host_pool }}", "resource_group": "{{ avd_resource_group }}"}


def play(directory: Path, name: str, hosts: str, tasks: list[dict]) -> Path:
    path = directory / f"{name}.yml"
    path.write_text(yaml.safe_dump([{"name": name, "hosts": hosts, "gather_facts": False, "tasks": tasks}]))
    return path


def pool_view(lab: RunningLab, directory: Path) -> dict[str, dict]:
    """The host pool as the ARM API lists it: status, drain mode and sessions of every session host."""
    out = directory / "pool.json"
    tasks = [
        {
            "name": "Pool",
            "avdops.sessionhost.host_pool_info": {"name": POOL["host_pool"], "resource_group": POOL["resource_group"]},
            "register": "pool",
        },
        {"name": "Keep", "ansible.builtin.copy": {"content": "{{ pool.session_hosts | to_json }}", "dest": str(out)}},
    ]
    result = lab.playbook(play(directory, "pool", "localhost", tasks), "-c", "local")
    assert result.returncode == 0, result.stdout[-3000:]
    return {
        h["short_name"]: {k: h[k] for k in ("status", "allow_new_session", "sessions")}
        for h in json.loads(out.read_text())
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
    a registration key planted to look for later (returned with the lab)."""
    (work / "lab.yml").write_text(SCENARIO.replace("POOL_NAME", f"hp-{name}"))
    lab = lab_factory(name, "--scenario", str(work / "lab.yml"), "--first-address", first_address)
    token_file = work / "token.txt"
    tasks = [
        {
            "name": "Drain",
            "avdops.sessionhost.session_host": {"name": "rm-08", "allow_new_session": False, **POOL},
        },
        {
            "name": "Key",
            "avdops.sessionhost.registration_token": {**POOL, "expiration_hours": 6},
            "register": "key",
        },
        {
            "name": "Keep",
            "ansible.builtin.copy": {"content": "{{ key.token }}", "dest": str(token_file)},
            "no_log": True,
        },
    ]
    result = lab.playbook(play(work, "setup", "localhost", tasks), "-c", "local")
    assert result.returncode == 0, result.stdout[-3000:]
    return lab, token_file.read_text().strip()


def token_absent(token: str, texts: list[str]) -> None:
    """The planted registration key is in none of ``texts``, whole or its payload's start."""
    for text in texts:
        assert token not in text and token.split(".")[1][:24] not in text
