"""playbooks/reinstall.yml against the lab: the article's last resort for a pool.

Hosts with an expired token, an invalid token, no agent, a stack stuck Upgrading and one removed from the pool all
end Available and clean; a healthy host is left alone; a host with a user is left alone without consent; check
mode and a second run change nothing; the planted key is in no output, log or host file, not even the MSI logs a
machine Logging/Debug policy (re-03) makes Windows Installer write. A healthy host reinstalled when asked (waiting
for another installation, then dropping right after the uninstall) and a host with a user fixed by remediate.yml
with consent are test_reinstall_busy_and_consent.py's, on a lab of their own (a unit of their own).
"""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import REPO, flat
from tests.interrupting import Arm

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-re, max_session_limit: 4}
hosts:
  - {name: re-01, faults: [expired_registration_token]}
  - {name: re-02, faults: [invalid_registration_token]}
  - {name: re-03, faults: [agent_not_installed], msi_logging_policy: voicewarmupx, msi_debug_policy: 7}
  - {name: re-04, faults: [sxs_stack_missing]}
  - {name: re-05, faults: [endpoint_not_found]}
  - {name: re-06}
  - {name: re-07, faults: [agent_not_installed], sessions: 1}
"""
BROKEN = ["re-01", "re-02", "re-03", "re-04", "re-05"]
FAST = ["-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1", "-e", "avd_available_delay=1"]


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("reinstall") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory(
        "reinstall", "--scenario", str(scenario), "--first-address", "127.0.41.1", "--reboot-seconds", "1"
    )


def reinstall(lab, *extra: str) -> subprocess.CompletedProcess[str]:
    """The installers come from the manifest avdlab up wrote (the inventory's avd_installer_manifest)."""
    return lab.playbook(REPO / "playbooks" / "reinstall.yml", *FAST, *extra)


def state(lab) -> dict[str, dict]:
    """Each host as the lab holds it (programs, services, registry) and as its pool lists it."""
    return {host["name"]: lab.control(f"/hosts/{host['name']}") for host in lab.hosts}


def status(data: dict) -> str | None:
    return (data["pool_view"] or {}).get("status")


def pool(lab) -> dict[str, dict]:
    """The host pool's session hosts as ARM lists them (read as any ARM client would): status, drain mode,
    sessions."""
    listed = Arm(lab).session_hosts()
    return {
        name: {"status": h["status"], "allow_new_session": h["allowNewSession"], "sessions": h["sessions"]}
        for name, h in listed.items()
    }


def comparable(lab) -> tuple[dict[str, dict], dict[str, dict]]:
    hosts = {
        name: {
            "programs": sorted(p["product_code"] for p in data["programs"]),
            "services": sorted(data["services"]),
            "registry": data["registry"],
            "pool": data["pool"],
        }
        for name, data in state(lab).items()
    }
    return hosts, pool(lab)


@pytest.fixture(scope="module")
def planted_token(lab) -> str:
    """A key generated before the runs (as an admin does in the portal): the reinstall reuses it, so the test knows
    what to look for."""
    token = Arm(lab).generate_key(6)
    assert token.count(".") == 2
    return token


@pytest.fixture(scope="module")
def check_run(lab, planted_token):
    before = comparable(lab)
    result = reinstall(lab, "--check", "--diff")
    return before, result, comparable(lab)


@pytest.fixture(scope="module")
def first_run(lab, check_run):
    result = reinstall(lab, "--diff", "-vvv")
    return result, state(lab), pool(lab)


@pytest.fixture(scope="module")
def second_run(lab, first_run):
    before = comparable(lab)
    result = reinstall(lab, "--diff")
    return before, result, comparable(lab)


def test_check_mode_previews_every_step_and_changes_nothing(check_run):
    before, result, after = check_run
    assert result.returncode == 0, result.stdout[-4000:]
    assert before == after
    for name in BROKEN:
        assert f"{name}: would reinstall" in flat(result.stdout), name
    assert "re-06: healthy and Available: nothing to do" in flat(result.stdout)
    assert "would install the agent from C:\\ProgramData\\avdops\\installers\\agent\\" in flat(result.stdout)
    # Each instance by product code, with its version, in the article's order.
    assert "program Remote Desktop Agent Boot Loader 1.0.9023.1100 {" in flat(result.stdout)


def test_every_broken_host_ends_available_and_clean(first_run):
    result, hosts, listed = first_run
    assert result.returncode == 0, result.stdout[-6000:]
    for name in BROKEN:
        assert status(hosts[name]) == "Available" and listed[name]["status"] == "Available", name
        assert f"{name}: reinstalled: " in flat(result.stdout), name
        agent = {
            v["name"]: v["data"] for v in hosts[name]["registry"][r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDInfraAgent"]
        }
        assert agent["IsRegistered"] == 1 and agent["RegistrationToken"] == ""
        names = sorted(p["display_name"].rsplit(" ", 1)[0] if "Geneva" in p["display_name"] else p["display_name"]
                       for p in hosts[name]["programs"] if p["display_name"].startswith("Remote Desktop"))  # fmt: skip
        assert names == [
            "Remote Desktop Agent Boot Loader",
            "Remote Desktop Services Infrastructure Agent",
            "Remote Desktop Services Infrastructure Geneva Agent",
            "Remote Desktop Services SxS Network Stack",
        ], name
    assert "re-01: reinstalled: uninstalled 4 program instance(s), removed from hp-re," in flat(result.stdout)
    assert "re-05: reinstalled: uninstalled 4 program instance(s), agent and boot loader installed" in flat(
        result.stdout
    )


def test_a_healthy_host_and_a_host_with_a_user_are_left_alone(first_run):
    result, hosts, listed = first_run
    assert "re-06: healthy and Available: nothing to do" in flat(result.stdout)
    assert "re-07: skipped: 1 user session(s) still on the host" in flat(result.stdout)
    assert hosts["re-07"]["sessions"][0]["messages"], "the user was told"
    assert listed["re-07"]["allow_new_session"] is True  # drained for the wait, then let in again
    assert not [p for p in hosts["re-07"]["programs"] if p["display_name"].startswith("Remote Desktop")]


def test_second_run_changes_nothing(second_run):
    before, result, after = second_run
    assert result.returncode == 0, result.stdout[-4000:]
    recap = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("re-0")}
    for name in [*BROKEN, "re-06"]:
        assert " changed=0 " in recap[name], recap[name]
        assert f"{name}: healthy and Available: nothing to do" in flat(result.stdout)
    assert before == after


def test_planted_token_is_in_no_output_log_or_host_file(lab, planted_token, check_run, first_run, second_run):
    assert "ESTABLISH WINRM" in first_run[0].stdout or "<127." in first_run[0].stdout  # the run really was at -vvv
    texts = [check_run[1].stdout, check_run[1].stderr, first_run[0].stdout, first_run[0].stderr]
    texts += [second_run[1].stdout, second_run[1].stderr, (lab.directory / "lab.log").read_text()]
    texts += [path.read_text() for path in (lab.directory / "hosts").glob("*.json")]  # registry, files, events
    for text in texts:
        assert planted_token not in text
        assert planted_token.split(".")[1][:24] not in text
    for data in first_run[1].values():  # no file holding it on any host: no MSI log, no answer file
        assert not [f for f in data["files"].values() if planted_token in (f.get("text") or "")]
        assert not [f for f in data["files"].values() if f["path"].lower().endswith((".txt", ".token"))
                    and "rdinfra" not in f["path"].lower()]  # fmt: skip
    # re-03's Windows Installer Logging policy (voicewarmupx, Debug=7) logged every installation it ran there.
    installs = [f for f in first_run[1]["re-03"]["files"].values() if f["path"].startswith("C:\\Windows\\Temp\\MSI")]
    assert any("CommandLine: REBOOT=ReallySuppress" in (f.get("text") or "") for f in installs), installs
