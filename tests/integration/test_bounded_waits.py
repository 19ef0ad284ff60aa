"""Bounded waits through playbooks/reinstall.yml: a slow normal path prints no [ERROR], a wait that runs out says
what it saw and what to do (issue 21).

Registering takes minutes on Azure (the article: "Wait for 5-10 minutes for the session host status to say
Available"); the lab's `registration_seconds` keeps a freshly reinstalled host out of its pool's list that long.
ansible-core 2.19 prints an exhausted `until` as a failed task, "[ERROR] ... Unknown error", whatever failed_when
says; the waits end their loop on the last attempt and the task after them fails with words.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, flat
from tests.interrupting import Arm

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-bw, max_session_limit: 4}
hosts:
  - {name: bw-01, faults: [agent_not_installed], registration_seconds: 25}
  - {name: bw-02, faults: [agent_not_installed], registration_seconds: 120}
"""
PACKAGES = {
    "avd_reinstall_packages": {
        "agent": r"C:\Program Files\Microsoft RDInfra\Microsoft.RDInfra.RDAgent.Installer-x64-1.0.10004.1300.msi",
        "boot_loader": (
            r"C:\Program Files\Microsoft RDInfra\Microsoft.RDInfra.RDAgentBootLoader.Installer-x64-1.0.9023.1100.msi"
        ),
    }
}
WAIT_TASK = "avdops.sessionhost.reinstall : Ask the host pool until it lists the host Available"


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("waits") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("waits", "--scenario", str(scenario), "--first-address", "127.0.186.1", "--reboot-seconds", "1")


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    path = tmp_path_factory.mktemp("waits-packages") / "packages.yml"
    path.write_text(yaml.safe_dump(PACKAGES))
    return path


def sections(output: str, task: str) -> list[str]:
    """The output of each run of the task named ``task`` (its banner to the next banner)."""
    return [part for part in output.split("TASK [")[1:] if part.startswith(task)]


def reinstall(lab, packages, report_dir: Path, host: str, *wait: str) -> subprocess.CompletedProcess[str]:
    return lab.playbook(
        REPO / "playbooks" / "reinstall.yml", "-e", f"@{packages}", *wait, "-e", f"avd_report_dir={report_dir}",
        "--limit", host,
    )  # fmt: skip


@pytest.fixture(scope="module")
def runs(lab, packages, tmp_path_factory) -> dict[str, Future]:
    """Both reinstalls at once (each waits for its own host's registration); the pool's key generated first, so
    neither run generates one that replaces the other's (a key not the pool's current one no longer registers)."""
    Arm(lab).generate_key(6)
    slow, short = tmp_path_factory.mktemp("slow"), tmp_path_factory.mktemp("short")
    with ThreadPoolExecutor(max_workers=2) as pool:
        return {
            "bw-01": pool.submit(reinstall, lab, packages, slow, "bw-01", "-e", "avd_available_delay=2"),
            "bw-02": pool.submit(
                reinstall, lab, packages, short, "bw-02", "-e", "avd_available_retries=2", "-e", "avd_available_delay=1"
            ),
        }


def test_a_slow_registration_is_waited_for_without_error(lab, runs):
    result = runs["bw-01"].result()
    assert result.returncode == 0, result.stdout[-4000:]
    waits = sections(result.stdout, WAIT_TASK)
    assert waits and "FAILED - RETRYING: [bw-01" in waits[0], result.stdout[-4000:]  # it did wait
    assert "[ERROR]" not in result.stdout + result.stderr  # the suite's guard checks this run too
    assert lab.control("/hosts/bw-01")["pool_view"]["status"] == "Available"


def test_a_wait_that_runs_out_says_what_it_saw_and_what_to_do(runs):
    result = runs["bw-02"].result()
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-4000:]
    waits = sections(result.stdout, WAIT_TASK)
    assert waits and "[ERROR]" not in waits[0], waits  # running out is the next task's to say, with words
    assert "Unknown error" not in output
    said = flat(output)
    assert "hp-bw did not list bw-02 Available within 2 s after the reinstall and restart: last seen not listed" in (
        said
    ), said[-4000:]
    assert "-e avd_available_retries=N -e avd_available_delay=S" in said
