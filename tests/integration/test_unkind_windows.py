"""remediate.yml on a lab as slow as Windows: a registration that takes longer than the old 10 s check (the article:
5-10 minutes for Available) is waited for with progress; a Windows Update service that hangs in StopPending while
the disk is cleaned is reported by name, bounded, with BITS started again and the download cache left; the stack
reinstall's MSIs keep Restart Manager from restarting Remote Desktop Services under the users."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.interrupting import Arm

pytestmark = pytest.mark.lab

PLAYBOOK = REPO / "playbooks" / "remediate.yml"
SCENARIO = """
host_pool: {name: hp-unkind, max_session_limit: 4}
hosts:
  - {name: uk-01, faults: [invalid_registration_token], registration_seconds: 20}
  - {name: uk-02, faults: [disk_full], service_hang: [wuauserv]}
  - {name: uk-03, faults: [disk_full], service_delays: {wuauserv: 2, BITS: 1}}
  - {name: uk-04, faults: [sxs_stack_missing], sessions: 2}
  - {name: uk-05, faults: [invalid_registration_token], registration_seconds: 900}
  - {name: uk-06, faults: [dotnet_outdated], network_logon_denied: [dotnet]}
  - {name: uk-07, faults: [msi_policy_blocked]}
"""
TARGET = ("-e", "target=uk-01:uk-02:uk-03")
FAST = (
    "-e",
    "avd_settle_seconds=1",
    "-e",
    "avd_registration_poll_seconds=3",
    "-e",
    "avd_available_delay=2",
    "-e",
    "avd_service_wait_seconds=4",
    "-e",
    "avd_session_wait_retries=1",
    "-e",
    "avd_session_wait_delay=1",
)


def shown(lab, name: str) -> dict:
    """The host's whole state, as `avdlab show` prints it (the lab's control, without a process of its own)."""
    return lab.control(f"/hosts/{name}")


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("unkind") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("unkind", "--scenario", str(scenario), "--first-address", "127.0.140.1")


def remediate(lab, report_dir: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    result = lab.playbook(PLAYBOOK, "-e", f"avd_report_dir={report_dir}", *extra, *FAST)
    path = report_dir / "remediation.json"
    return result, json.loads(path.read_text())["hosts"] if path.exists() else {}


def stack_with_policy_off(lab, directory: Path) -> subprocess.CompletedProcess[str]:
    """uk-07's stack reinstalled by the role alone (sxs_stack_reinstall), Windows Installer off by policy."""
    play = directory / "stack.yml"
    role = {"name": "avdops.sessionhost.sxs_stack"}
    task = {"name": "Stack", "ansible.builtin.include_role": role, "vars": {"sxs_stack_reinstall": True}}
    play.write_text(json.dumps([{"name": "Stack", "hosts": "uk-07", "gather_facts": False, "tasks": [task]}]))
    return lab.playbook(play)


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory) -> dict[str, Future]:
    """Every test's run, each on hosts of its own, at once (each waits on its hosts: registrations, services, a
    restart); the pool's key generated first, so no run generates one that replaces another's (a key not the pool's
    current one no longer registers)."""
    Arm(lab).generate_key(6)
    directory = {name: tmp_path_factory.mktemp(name) for name in ("report", "uk-05", "uk-06", "uk-07")}
    with ThreadPoolExecutor(max_workers=5) as pool:
        return {
            "uk-01:uk-03": pool.submit(remediate, lab, directory["report"], *TARGET),
            "uk-04": pool.submit(
                lab.ansible, "uk-04", "-m", "avdops.sessionhost.sxs_stack", "-a", "allow_sessions=true"
            ),
            "uk-05": pool.submit(
                remediate, lab, directory["uk-05"], "-e", "target=uk-05", "-e", "avd_registration_wait_seconds=6"
            ),
            "uk-06": pool.submit(remediate, lab, directory["uk-06"], "-e", "target=uk-06"),
            "uk-07": pool.submit(stack_with_policy_off, lab, directory["uk-07"]),
        }


@pytest.fixture(scope="module")
def run(runs):
    return runs["uk-01:uk-03"].result()


def test_a_registration_that_takes_minutes_is_waited_for_with_progress(run, lab):
    result, hosts = run
    assert hosts["uk-01"]["outcome"] == "fixed", (hosts["uk-01"], result.stdout[-5000:])
    assert "uk-01: the agent has not registered yet (IsRegistered=0, RegistrationToken still set" in result.stdout
    state = shown(lab, "uk-01")
    assert state["pool_view"]["status"] == "Available"


def test_a_hung_service_is_named_its_partner_started_again_the_rest_cleaned(run, lab):
    result, hosts = run
    assert hosts["uk-02"]["outcome"] == "failed", (hosts["uk-02"], result.stdout[-5000:])
    error = hosts["uk-02"]["error"]
    assert "wuauserv did not stop: service_control: wuauserv is StopPending, not Stopped, 4 s" in error, error
    assert "started again: BITS" in error and "left as it was: windows_update_download" in error, error
    state = shown(lab, "uk-02")
    assert state["services"]["wuauserv"]["state"] == "StopPending"
    assert state["services"]["bits"]["state"] == "Running"
    files = set(state["files"])
    assert any(p.startswith("c:\\windows\\softwaredistribution\\download\\") for p in files)  # left as it was
    assert not any(p.startswith("c:\\windows\\temp\\2e4c7a1b") for p in files)  # the rest was cleaned


def test_slow_services_within_the_bound_are_waited_for_and_the_host_fixed(run, lab):
    result, hosts = run
    assert hosts["uk-03"]["outcome"] == "fixed", (hosts["uk-03"], result.stdout[-5000:])
    state = shown(lab, "uk-03")
    assert state["services"]["wuauserv"]["state"] == "Running" and state["services"]["bits"]["state"] == "Running"
    assert not any(p.startswith("c:\\windows\\softwaredistribution\\download\\") for p in state["files"])


def test_the_stack_reinstall_keeps_restart_manager_off_remote_desktop_services(lab, runs):
    result = runs["uk-04"].result()
    assert result.returncode == 0, result.stdout[-3000:]
    state = shown(lab, "uk-04")
    assert [p["display_name"] for p in state["programs"]].count("Remote Desktop Services SxS Network Stack") == 1
    # The users stay connected until the restart the role makes; Remote Desktop Services never stopped.
    assert len(state["sessions"]) == 2
    assert not [e for e in state["events"] if e["source"] == "Service Control Manager"]


def test_a_registration_still_under_way_when_the_wait_ends_says_what_was_seen(runs):
    result, hosts = runs["uk-05"].result()
    assert result.returncode != 0
    error = hosts["uk-05"]["error"]
    assert (
        "the agent did not register 1 s after the boot loader restart: IsRegistered=0, RegistrationToken still set, "
        in error
    )
    assert "RDAgentBootLoader Running; the agent is still trying (Azure can take 5-10 minutes)" in error, error
    assert "(still so after waiting 6 s; wait_seconds 6)" in error, error


def test_the_dotnet_installer_refused_over_winrm_runs_as_system_and_the_host_is_fixed(runs):
    result, hosts = runs["uk-06"].result()
    host = hosts["uk-06"]
    assert result.returncode == 0 and host["outcome"] == "fixed", (host, result.stdout[-4000:])
    assert "DOTNET_OUTDATED" in host["before"]["findings"] and host["after"]["state"] == "healthy"


def test_a_failed_stack_install_starts_the_boot_loader_again_before_failing(lab, runs):
    """uk-07: Windows Installer is turned off by policy, so the new stack's install fails (1625) after the boot
    loader was stopped and the old stack uninstalled; the role starts the boot loader again, then fails."""
    result = runs["uk-07"].result()
    assert result.returncode != 0
    assert "RDAgentBootLoader started again" in result.stdout and "exited with 1625" in result.stdout, result.stdout[
        -3000:
    ]
    assert shown(lab, "uk-07")["services"]["rdagentbootloader"]["state"] == "Running"
