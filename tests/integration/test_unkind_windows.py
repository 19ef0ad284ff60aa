"""remediate.yml on a lab as slow as Windows: a registration that takes longer than the old 10 s check (the article:
5-10 minutes for Available) is waited for with progress; a Windows Update service that hangs in StopPending while
the disk is cleaned is reported by name, bounded, with BITS started again and the download cache left; the stack
reinstall's MSIs keep Restart Manager from restarting Remote Desktop Services under the users."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO, avdlab

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
    return json.loads(avdlab("show", "--dir", str(lab.directory), name).stdout)


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("unkind") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("unkind", "--scenario", str(scenario), "--first-address", "127.0.140.1")


@pytest.fixture(scope="module")
def run(lab, tmp_path_factory):
    report_dir = tmp_path_factory.mktemp("report")
    result = lab.playbook(PLAYBOOK, "-e", f"avd_report_dir={report_dir}", *TARGET, *FAST)
    hosts = json.loads((report_dir / "remediation.json").read_text())["hosts"]
    return result, hosts


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


def test_the_stack_reinstall_keeps_restart_manager_off_remote_desktop_services(lab):
    result = lab.ansible("uk-04", "-m", "avdops.sessionhost.sxs_stack", "-a", "allow_sessions=true")
    assert result.returncode == 0, result.stdout[-3000:]
    state = shown(lab, "uk-04")
    assert [p["display_name"] for p in state["programs"]].count("Remote Desktop Services SxS Network Stack") == 1
    # The users stay connected until the restart the role makes; Remote Desktop Services never stopped.
    assert len(state["sessions"]) == 2
    assert not [e for e in state["events"] if e["source"] == "Service Control Manager"]


def test_a_registration_still_under_way_when_the_wait_ends_says_what_was_seen(lab, tmp_path):
    result = lab.playbook(
        PLAYBOOK,
        "-e",
        f"avd_report_dir={tmp_path}",
        "-e",
        "target=uk-05",
        *FAST,
        "-e",
        "avd_registration_wait_seconds=6",
    )
    assert result.returncode != 0
    error = json.loads((tmp_path / "remediation.json").read_text())["hosts"]["uk-05"]["error"]
    assert (
        "the agent did not register 1 s after the boot loader restart: IsRegistered=0, RegistrationToken still set, "
        in error
    )
    assert "RDAgentBootLoader Running; the agent is still trying (Azure can take 5-10 minutes)" in error, error
    assert "(still so after waiting 6 s; wait_seconds 6)" in error, error


def test_the_dotnet_installer_refused_over_winrm_runs_as_system_and_the_host_is_fixed(lab, tmp_path):
    result = lab.playbook(PLAYBOOK, "-e", f"avd_report_dir={tmp_path}", "-e", "target=uk-06", *FAST)
    host = json.loads((tmp_path / "remediation.json").read_text())["hosts"]["uk-06"]
    assert result.returncode == 0 and host["outcome"] == "fixed", (host, result.stdout[-4000:])
    assert "DOTNET_OUTDATED" in host["before"]["findings"] and host["after"]["state"] == "healthy"


def test_a_failed_stack_install_starts_the_boot_loader_again_before_failing(lab, tmp_path):
    """uk-07: Windows Installer is turned off by policy, so the new stack's install fails (1625) after the boot
    loader was stopped and the old stack uninstalled; the role starts the boot loader again, then fails."""
    play = tmp_path / "stack.yml"
    role = {"name": "avdops.sessionhost.sxs_stack"}
    task = {"name": "Stack", "ansible.builtin.include_role": role, "vars": {"sxs_stack_reinstall": True}}
    play.write_text(json.dumps([{"name": "Stack", "hosts": "uk-07", "gather_facts": False, "tasks": [task]}]))
    result = lab.playbook(play)
    assert result.returncode != 0
    assert "RDAgentBootLoader started again" in result.stdout and "exited with 1625" in result.stdout, result.stdout[
        -3000:
    ]
    assert shown(lab, "uk-07")["services"]["rdagentbootloader"]["state"] == "Running"
