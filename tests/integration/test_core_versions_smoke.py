"""The lab smoke `make test-matrix` runs under each supported ansible-core (docs/testing.md, "ansible-core matrix"):
diagnose.yml over winrm and psrp, remediate.yml fixing a stopped boot loader, a bad registration (its key through the
host pool) and a stack listener (a restart: ansible.windows' win_reboot), a host with a user drained, told, left
alone and reopened, then a second run that changes nothing.
ansible-core before 2.19 sends the collection's command line as the script of another PowerShell (winrm) and
pipeline input as one string (psrp): the same playbooks must work either way. Under the pinned core it runs in
`make test` like every module."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.release import __version__ as ansible_core_version

from tests.remediate_pool import FAST, PLAYBOOK, report

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-core-smoke, max_session_limit: 4}
hosts:
  - {name: cs-01}
  - {name: cs-02, faults: [bootloader_stopped]}
  - {name: cs-03, faults: [invalid_registration_token]}
  - {name: cs-04, faults: [stack_listener_broken]}
  - {name: cs-05, sessions: 1, faults: [stack_health_check_failed]}
"""
FAULTY = {
    "cs-02": ["BOOTLOADER_NOT_RUNNING"],
    "cs-03": ["INVALID_REGISTRATION_TOKEN", "BOOTLOADER_NOT_RUNNING"],
    "cs-04": ["STACK_LISTENER_NOT_LISTENING"],
    "cs-05": ["STACK_LISTENER_NOT_LISTENING", "INSTALLATION_HEALTH_CHECK_FAILED"],
}
DIAGNOSE = Path(__file__).resolve().parents[2] / "playbooks" / "diagnose.yml"


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("core-smoke") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory(
        "core-smoke", "--scenario", str(scenario), "--first-address", "127.0.193.1", "--reboot-seconds", "1"
    )


def diagnosis(lab, report_dir: Path, *extra: str) -> dict:
    result = lab.playbook(DIAGNOSE, "-e", f"avd_report_dir={report_dir}", *extra)
    assert result.returncode == 0, f"ansible-core {ansible_core_version}:\n{result.stdout[-4000:]}"
    return {
        name: [finding["id"] for finding in entry["findings"] if finding["severity"] in ("critical", "warning")]
        for name, entry in json.loads((report_dir / "diagnosis.json").read_text())["hosts"].items()
    }


@pytest.mark.parametrize("connection", ["winrm", "psrp"])
def test_diagnose_finds_each_fault_over_each_connection(lab, tmp_path, connection):
    found = diagnosis(lab, tmp_path, "-e", f"ansible_connection={connection}")
    assert found == {"cs-01": [], **FAULTY}, f"ansible-core {ansible_core_version}"


def test_remediate_fixes_the_pool_and_a_second_run_changes_nothing(lab, tmp_path):
    first = lab.playbook(PLAYBOOK, "-e", f"avd_report_dir={tmp_path / 'first'}", *FAST)
    assert first.returncode == 0, f"ansible-core {ansible_core_version}:\n{first.stdout[-5000:]}"
    hosts = report(tmp_path / "first")["hosts"]
    assert {name: entry["outcome"] for name, entry in hosts.items()} == {
        "cs-01": "unchanged",
        "cs-02": "fixed",
        "cs-03": "fixed",
        "cs-04": "fixed",
        "cs-05": "skipped",
    }
    assert "avd_force=true" in hosts["cs-05"]["skipped"]
    assert hosts["cs-05"]["drained"] and hosts["cs-05"]["drain_restored"]
    again = lab.playbook(PLAYBOOK, "-e", f"avd_report_dir={tmp_path / 'again'}", *FAST)
    assert again.returncode == 0, again.stdout[-4000:]
    outcomes = {name: entry["outcome"] for name, entry in report(tmp_path / "again")["hosts"].items()}
    assert outcomes == {"cs-01": "unchanged", "cs-02": "unchanged", "cs-03": "unchanged", "cs-04": "unchanged"} | {
        "cs-05": "skipped"  # its user is still on it: drained, told and reopened again, never disrupted
    }
    after = diagnosis(lab, tmp_path / "after")
    assert after == {"cs-01": [], "cs-02": [], "cs-03": [], "cs-04": [], "cs-05": FAULTY["cs-05"]}
