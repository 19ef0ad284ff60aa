"""remediate.yml on the side-by-side stack and a full disk (lab): the stack reinstalled and the VM restarted, space
freed from the safe locations only; the finding gone, the pool Available; --check and a second run change nothing;
the stack listener role hands over to the stack reinstall when its fix cannot work; a standard user's junction and
folder in C:\\Windows\\Temp (sd-04) leave the junction's target untouched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.interrupting import Arm

pytestmark = pytest.mark.lab

PLAYBOOK = REPO / "playbooks" / "remediate.yml"
SCENARIO = """
host_pool: {name: hp-stack-disk, max_session_limit: 4}
hosts:
  - {name: sd-01, faults: [sxs_stack_missing]}
  - {name: sd-02, faults: [disk_full]}
  - {name: sd-03, faults: [sxs_stack_missing]}
  - {name: sd-04, faults: [disk_full], temp_junction: 'C:\\Windows\\System32\\config'}
"""
TARGET = ("-e", "target=sd-01:sd-02:sd-04")
FAST = ("-e", "avd_settle_seconds=1", "-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1")
GIB = 1024**3


def shown(lab, name: str) -> dict:
    """The host's whole state, as `avdlab show` prints it (the lab's control, without a process of its own)."""
    return lab.control(f"/hosts/{name}")


def host_states(lab, names: tuple[str, ...] = ("sd-01", "sd-02", "sd-03", "sd-04")) -> dict[str, dict]:
    """Each host's registry, programs, services, files, free space and boot time (what the fixes change)."""
    states = {}
    for name in names:
        state = shown(lab, name)
        states[name] = {
            "registry": state["registry"],
            "programs": state["programs"],
            "services": {
                k: (s["start_type"], "Stopped" if s["stop_at"] else s["state"]) for k, s in state["services"].items()
            },
            "files": sorted(state["files"]),
            "free": state["disk"]["free"],
            "boot_time": state["boot_time"],
        }
    return states


def remediate(lab, report_dir: Path, *extra: str):
    return lab.playbook(PLAYBOOK, "-e", f"avd_report_dir={report_dir}", *FAST, *TARGET, *extra)


def report(report_dir: Path) -> dict:
    return json.loads((report_dir / "remediation.json").read_text())


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("stack-disk") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("stack-disk", "--scenario", str(scenario), "--first-address", "127.0.32.1")


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory):
    """--check, then the fix, then a second run: each host's state after each."""
    before = host_states(lab)
    check_dir = tmp_path_factory.mktemp("check")
    check = remediate(lab, check_dir, "--check", "--diff")
    after_check = host_states(lab)
    first_dir = tmp_path_factory.mktemp("first")
    first = remediate(lab, first_dir)
    after_first = host_states(lab)
    second_dir = tmp_path_factory.mktemp("second")
    second = remediate(lab, second_dir)
    return {
        "states": (before, after_check, after_first, host_states(lab)),
        "check": (check, check_dir),
        "first": (first, first_dir),
        "second": (second, second_dir),
    }


def test_check_mode_lists_what_it_would_do_and_changes_nothing(runs):
    result, out = runs["check"]
    before, after_check, _unused1, _unused2 = runs["states"]
    assert result.returncode == 0, result.stdout[-5000:]
    assert after_check == before
    hosts = report(out)["hosts"]
    assert hosts["sd-01"]["outcome"] == "planned" and hosts["sd-01"]["roles"] == ["sxs_stack"]
    assert hosts["sd-02"]["outcome"] == "planned" and hosts["sd-02"]["roles"] == ["disk_cleanup"]
    # The diff names what would be uninstalled and installed, and every path that would be deleted.
    assert "SxSStack-1.0.2407.05700.msi" in result.stdout
    assert "3c1b3f8d0a8e4a4f9c2e5d7b1a6f0e21" in result.stdout and "RDAgent_1.0.9388.1600" in result.stdout
    assert "MSI5f3e2.LOG" not in result.stdout  # written two hours ago: kept


def test_the_stack_is_reinstalled_and_the_disk_freed_and_both_hosts_end_available(runs, lab):
    result, out = runs["first"]
    before, _unused, after, _unused2 = runs["states"]
    assert result.returncode == 0, result.stdout[-6000:]
    hosts = report(out)["hosts"]
    assert hosts["sd-01"]["outcome"] == "fixed" and hosts["sd-01"]["after"]["state"] == "healthy", hosts["sd-01"]
    assert hosts["sd-01"]["before"]["findings"][0] == "SXS_STACK_NOT_INSTALLED"
    assert hosts["sd-02"]["outcome"] == "fixed" and hosts["sd-02"]["after"]["state"] == "healthy", hosts["sd-02"]
    assert hosts["sd-02"]["before"]["findings"][0] == "DISK_SPACE_LOW"
    # The stack: reinstalled, the VM restarted; the disk host was not restarted.
    assert after["sd-01"]["boot_time"] > before["sd-01"]["boot_time"]
    assert after["sd-02"]["boot_time"] == before["sd-02"]["boot_time"]
    # The disk: only the safe locations lost files, the recent temp file and the agents in use stayed.
    gone = set(before["sd-02"]["files"]) - set(after["sd-02"]["files"])
    assert gone and all(
        p.startswith(("c:\\windows\\temp\\", "c:\\windows\\softwaredistribution\\download\\"))
        or p.startswith("c:\\program files\\microsoft rdinfra\\rdagent_1.0.9388.1600\\")
        for p in gone
    ), gone
    assert "c:\\windows\\temp\\msi5f3e2.log" in after["sd-02"]["files"]
    assert after["sd-02"]["free"] - before["sd-02"]["free"] > 6 * GIB
    assert after["sd-02"]["services"]["wuauserv"] == ("Manual", "Running")  # started again
    assert after["sd-03"] == before["sd-03"]  # not targeted
    pool = pool_hosts(lab)
    assert pool["sd-01"]["status"] == "Available" and pool["sd-02"]["status"] == "Available"


def test_a_users_junction_and_folder_in_temp_are_kept_and_the_junctions_target_untouched(runs, lab):
    """sd-04: a standard user's week-old junction to C:\\Windows\\System32\\config and its own week-old folder in
    C:\\Windows\\Temp (which it may swap for a junction mid-delete): neither is deleted nor followed."""
    _result, out = runs["first"]
    before, _unused, after, _unused2 = runs["states"]
    host = report(out)["hosts"]["sd-04"]
    assert host["outcome"] == "fixed" and host["after"]["state"] == "healthy", host
    target = sorted(p for p in before["sd-04"]["files"] if p.startswith("c:\\windows\\system32\\config\\"))
    assert len(target) == 3 and all(p in after["sd-04"]["files"] for p in target)
    assert "c:\\windows\\temp\\userscratch\\cache\\blob.bin" in after["sd-04"]["files"]
    state = shown(lab, "sd-04")
    assert "c:\\windows\\temp\\userlink" in state["links"]
    assert after["sd-04"]["free"] - before["sd-04"]["free"] > 6 * GIB  # the rest was freed


def test_a_second_run_changes_nothing(runs):
    result, out = runs["second"]
    _unused1, _unused2, after_first, after_second = runs["states"]
    assert result.returncode == 0, result.stdout[-4000:]
    assert after_second == after_first
    assert {e["outcome"] for e in report(out)["hosts"].values()} == {"unchanged"}


def pool_hosts(lab) -> dict[str, dict]:
    """The host pool's session hosts by name, as ARM lists them (read as any ARM client would)."""
    return Arm(lab).session_hosts()


def task_output(output: str, task: str) -> str:
    """What the run printed for one task: from its TASK line to the next task's, or the recap."""
    part = output.split(f"TASK [{task}]", 1)[1]
    return re.split(r"^(?:TASK \[|PLAY )", part, maxsplit=1, flags=re.MULTILINE)[0]


@pytest.fixture(scope="module")
def role_runs(runs, lab, tmp_path_factory) -> dict:
    """After the playbook's runs, the roles alone in one run, each on its own host: the stack_listener role on sd-03
    (no rdp-sxs WinStation), then disk_cleanup on sd-02 asked for half the drive free, in check mode (its failure
    ignored) and for real. The hosts before and after, the run, the pool after. (Three runs before: a run's start
    is about 1.5 CPU-s.)"""
    play = tmp_path_factory.mktemp("roles") / "roles.yml"
    disk = {"avdops.sessionhost.disk_cleanup": {"min_free_percent": 50}}
    plays = [
        {
            "name": "Fix",
            "hosts": "sd-03",
            "gather_facts": False,
            "tasks": [
                {"name": "Listener", "ansible.builtin.include_role": {"name": "avdops.sessionhost.stack_listener"}}
            ],
        },
        {
            "name": "Disk",
            "hosts": "sd-02",
            "gather_facts": False,
            "tasks": [
                {"name": "Disk in check mode", **disk, "check_mode": True, "ignore_errors": True},
                {"name": "Disk", **disk},
            ],
        },
    ]
    play.write_text(yaml.safe_dump(plays, sort_keys=False))
    before = {"sd-03": shown(lab, "sd-03"), "sd-02": host_states(lab, ("sd-02",))["sd-02"]}
    result = lab.playbook(play)
    after = {"sd-03": shown(lab, "sd-03"), "sd-02": host_states(lab, ("sd-02",))["sd-02"]}
    return {"before": before, "result": result, "after": after, "pool": pool_hosts(lab)}


def test_the_listener_role_hands_over_to_the_stack_reinstall(role_runs):
    """No rdp-sxs WinStation to set flags on: the stack_listener role runs the sxs_stack role instead of failing."""
    result, before, after = role_runs["result"], role_runs["before"]["sd-03"], role_runs["after"]["sd-03"]
    # The role's play ended without a failure on sd-03 (the run fails later, by the disk play's last task).
    assert re.search(r"^sd-03 +: ok=\d+ +changed=\d+ +unreachable=0 +failed=0 ", result.stdout, re.MULTILINE), (
        result.stdout[-5000:]
    )
    assert "Stop RDAgentBootLoader, uninstall every SxS stack instance" in result.stdout.split("PLAY [Disk]")[0]
    assert after["boot_time"] > before["boot_time"]
    assert [p["display_name"] for p in after["programs"]].count("Remote Desktop Services SxS Network Stack") == 1
    assert role_runs["pool"]["sd-03"]["status"] == "Available"


def test_not_enough_to_free_fails_naming_the_shortfall_in_check_mode_too(role_runs):
    """Asked for half the drive free: nothing left to clean (the recent temp file stays), the shortfall is named."""
    result = role_runs["result"]
    assert result.returncode != 0, result.stdout[-3000:]  # the real run's failure ends the run
    for task in ("Disk in check mode", "Disk"):
        printed = task_output(result.stdout, task)
        assert "fatal: [sd-02]: FAILED!" in printed, result.stdout[-3000:]
        assert "MB short of the 65536 MB the agent needs: enlarge the VM's disk" in printed, result.stdout[-3000:]
    assert role_runs["after"]["sd-02"] == role_runs["before"]["sd-02"]
