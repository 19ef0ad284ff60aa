"""playbooks/reinstall.yml against the lab: the article's last resort for a pool.

Hosts with an expired token, an invalid token, no agent, a stack stuck Upgrading and one removed from the pool all
end Available and clean; a healthy host is left alone (and reinstalled only when asked); a host with a user is
left alone without consent; check mode and a second run change nothing; a host that drops right after the
uninstall converges when the playbook simply runs again; the planted key is in no output, log or host file, not
even the MSI logs a machine Logging/Debug policy (re-03) makes Windows Installer write.
"""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import BIN, REPO, ansible_env, flat, record_output
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
  - {name: re-06, installation_seconds: 40}
  - {name: re-07, faults: [agent_not_installed], sessions: 1}
"""
BROKEN = ["re-01", "re-02", "re-03", "re-04", "re-05"]
# Installers already on the host instead of the manifest: the ones the lab's image carries in RDInfra.
PACKAGES = {
    "avd_reinstall_packages": {
        "agent": r"C:\Program Files\Microsoft RDInfra\Microsoft.RDInfra.RDAgent.Installer-x64-1.0.10004.1300.msi",
        "boot_loader": (
            r"C:\Program Files\Microsoft RDInfra\Microsoft.RDInfra.RDAgentBootLoader.Installer-x64-1.0.9023.1100.msi"
        ),
    }
}
FAST = ["-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1", "-e", "avd_available_delay=1"]


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("reinstall") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory(
        "reinstall", "--scenario", str(scenario), "--first-address", "127.0.41.1", "--reboot-seconds", "1"
    )


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("packages") / "packages.yml"
    path.write_text(yaml.safe_dump(PACKAGES))
    return path


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


def busy_installer_then_drop(lab, packages: Path) -> tuple[int | None, str, subprocess.CompletedProcess[str], dict]:
    """re-06 (healthy: reinstalled on request) runs another installation for 40 s when the run starts (msiexec
    1618: the uninstall, after the lock and the preflight, waits and tries again), then goes off the network as soon
    as its programs are gone; the run again, with the installers already on the host (the image's)."""
    lab.control("/hosts/re-06/inject?fault=installer_busy", method="POST")
    run = subprocess.Popen(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory / "hosts.yml"), str(REPO / "playbooks" / "reinstall.yml"),
         *FAST, "-e", "avd_reinstall_healthy=true", "-e", "avd_reboot_timeout=15", "-e", "avd_installer_busy_delay=2",
         "-e", "target=re-06"],
        env=ansible_env(**lab.azure_env), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    try:
        while [p for p in lab.control("/hosts/re-06")["programs"] if p["display_name"].startswith("Remote Desktop")]:
            assert time.monotonic() < deadline and run.poll() is None, "the uninstall never happened"
            time.sleep(0.05)
        lab.control("/hosts/re-06/power?state=off", method="POST")
        output, _unused = run.communicate(timeout=300)
        record_output("ansible-playbook reinstall.yml", output, returncode=run.returncode)
    finally:
        lab.control("/hosts/re-06/power?state=on", method="POST")
        if run.poll() is None:
            run.kill()
            run.wait()
    rerun = reinstall(lab, "-e", f"@{packages}", "--limit", "re-06")
    return run.returncode, output, rerun, lab.control("/hosts/re-06")


def remediate_with_consent(lab, report_dir: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    """re-07 (no agent, a user on it), left alone by reinstall.yml: remediate.yml with consent."""
    result = lab.playbook(
        REPO / "playbooks" / "remediate.yml", *FAST, "-e", "avd_force=true", "-e", "target=re-07",
        "-e", f"avd_report_dir={report_dir}",
    )  # fmt: skip
    return result, lab.control("/hosts/re-07")


@pytest.fixture(scope="module")
def last_runs(lab, packages, second_run, tmp_path_factory) -> dict[str, Any]:
    """The two runs on one host each after the second run (re-06's busy installer and drop, re-07's remediation),
    at once: each waits most of its time (another installation, a restart, the pool), not on the other."""
    report_dir = tmp_path_factory.mktemp("remediate")
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {
            "busy": pool.submit(busy_installer_then_drop, lab, packages),
            "remediate": pool.submit(remediate_with_consent, lab, report_dir),
        }
    return {**runs, "report_dir": report_dir}


def test_a_busy_installer_is_waited_for_and_a_drop_right_after_the_uninstall_converges_on_a_rerun(last_runs):
    """re-06's reinstall waits for the other installation, drops right after the uninstall and fails; run again
    (the installers already on the host this time, the image's, instead of the manifest), it converges."""
    returncode, output, rerun, host = last_runs["busy"].result()
    assert returncode != 0
    assert "FAILED - RETRYING: [re-06]: Uninstall the four programs by product code" in output, output[-3000:]
    assert "re-06: not reinstalled:" in flat(output), output[-3000:]
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert "re-06: reinstalled: uninstalled 0 program instance(s), removed from hp-re" in flat(rerun.stdout)
    assert "would install" not in rerun.stdout
    assert status(host) == "Available"


def test_remediate_fixes_a_missing_agent_with_the_reinstall_when_the_user_may_be_disrupted(last_runs):
    """re-07 (no agent, a user on it) was left alone by reinstall.yml; remediate.yml with consent reinstalls it."""
    result, host = last_runs["remediate"].result()
    assert result.returncode == 0, result.stdout[-4000:]
    report = json.loads((last_runs["report_dir"] / "remediation.json").read_text())["hosts"]["re-07"]
    assert report["outcome"] == "fixed" and report["roles"] == ["reinstall"], report
    assert status(host) == "Available"
