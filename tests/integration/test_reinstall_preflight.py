"""reinstall.yml checks everything knowable before its first change, and reinstalls only what a reinstall fixes.

On today's main each of these hosts was drained, lost its agent and left its pool, and then the install failed
(1625 under DisableMSI, 1603 on a full disk, 1619 for a wrong package path) or fixed nothing (a blocked gateway).
Now each ends untouched - agent and boot loader installed, in its pool, not drained - with a message saying what is
wrong and who must act.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from tests.conftest import REPO, flat
from tests.interrupting import Arm

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-pf, max_session_limit: 4}
hosts:
  - {name: pf-01, faults: [msi_policy_blocked]}
  - {name: pf-02, faults: [disk_full]}
  - {name: pf-03, faults: [gateway_blocked]}
  - {name: pf-04, faults: [invalid_registration_token]}
  - {name: pf-05, faults: [invalid_registration_token]}
"""
HOSTS = ("pf-01", "pf-02", "pf-03", "pf-04", "pf-05")
FAST = ["-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1", "-e", "avd_available_delay=1"]
PROGRAMS = ("Remote Desktop Agent Boot Loader", "Remote Desktop Services Infrastructure Agent")
WRONG_PACKAGES = {
    "avd_reinstall_packages": {
        "agent": r"C:\Program Files\Microsoft RDInfra\no-such-agent.msi",
        "boot_loader": r"C:\Program Files\Microsoft RDInfra\no-such-bootloader.msi",
    }
}


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("reinstall-preflight") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory(
        "reinstall-preflight", "--scenario", str(scenario), "--first-address", "127.0.151.1", "--reboot-seconds", "1"
    )


def pool_hosts(lab) -> dict[str, bool]:
    """The pool's session hosts and whether each lets new sessions in, read as any ARM client would."""
    return {name: entry["allowNewSession"] for name, entry in Arm(lab).session_hosts().items()}


def programs(lab, host: str) -> set[str]:
    state = json.loads((lab.directory / "hosts" / f"{host}.json").read_text())
    return {str(p.get("display_name") or p.get("name")) for p in state["programs"]}


def reinstall(lab, *extra: str) -> subprocess.CompletedProcess[str]:
    return lab.playbook(REPO / "playbooks" / "reinstall.yml", *FAST, *extra)


def assert_untouched(lab, hosts: tuple[str, ...]) -> None:
    for host in hosts:
        installed = programs(lab, host)
        assert all(any(name in program for program in installed) for name in PROGRAMS), (host, installed)
    listed = pool_hosts(lab)
    assert {host: listed.get(host) for host in hosts} == {host: True for host in hosts}


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory) -> dict[str, subprocess.CompletedProcess[str]]:
    """The hosts a reinstall does not fix (pf-01 to pf-03), a wrong package path (pf-04: the installers given as its
    own variable, in an inventory of its own) and a VM that is off (pf-05) in one run, each refused or left alone on
    its own; then the hosts a reinstall does not fix again, in check mode."""
    packages = tmp_path_factory.mktemp("wrong-path") / "packages.yml"
    packages.write_text(yaml.safe_dump({"all": {"hosts": {"pf-04": WRONG_PACKAGES}}}))
    lab.power("pf-05", "off")
    try:
        refused = reinstall(lab, "-e", f"target={':'.join(HOSTS)}", "-i", str(packages), "--diff")
    finally:
        lab.power("pf-05", "on")
    return {"refused": refused, "check": reinstall(lab, "-e", "target=pf-01,pf-02,pf-03", "--check")}


def test_hosts_a_reinstall_does_not_fix_are_left_alone_with_who_must_act(lab, runs):
    out = flat(runs["refused"].stdout)
    assert (
        "pf-01: left alone, a reinstall does not fix what is wrong: INSTALL_MSI_BLOCKED needs the Active Directory team"
        in out
    )
    assert (
        "pf-02: left alone, a reinstall does not fix what is wrong: DISK_SPACE_LOW needs this collection first: remediate.yml -e avd_only=DISK_SPACE_LOW"
        in out
    )
    assert (
        "pf-03: left alone, a reinstall does not fix what is wrong: GATEWAY_UNREACHABLE needs the network team" in out
    )
    assert "avdops.sessionhost.drain : Drain the host" not in out and "Uninstall the four programs" not in out
    assert_untouched(lab, ("pf-01", "pf-02", "pf-03"))


def test_check_mode_plans_no_reinstall_for_them(runs):
    result = runs["check"]
    assert "would reinstall" not in result.stdout
    per_host, summary = result.stdout.split("TASK [Show the summary]")
    assert flat(per_host).count("left alone, a reinstall does not fix what is wrong") == 3
    # the run's summary and reinstall.json say it once more, a line a host
    assert flat(summary).count("left alone left alone, a reinstall does not fix what is wrong") == 3
    assert "3 hosts: 0 reinstalled, 0 unchanged, 3 left alone" in flat(summary)


def test_a_wrong_package_path_stops_before_the_drain_and_the_uninstall(lab, runs):
    result = runs["refused"]
    assert result.returncode != 0
    assert "no-such-agent.msi is not on the host" in flat(result.stdout)
    assert "nothing was changed; give the right path" in flat(result.stdout)
    assert (
        "avdops.sessionhost.drain : Drain the host" not in result.stdout
        and "Uninstall the four programs" not in result.stdout
    )
    assert_untouched(lab, ("pf-04",))


def test_a_vm_that_is_off_is_refused_before_the_drain(lab, runs):
    result = runs["refused"]
    assert result.returncode != 0
    assert "pf-05: not reinstalled: the VM is stopped" in flat(result.stdout)
    assert "start it, then run again" in flat(result.stdout)
    assert "avdops.sessionhost.drain : Drain the host" not in result.stdout
    assert_untouched(lab, ("pf-05",))
