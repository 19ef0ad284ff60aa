"""playbooks/reinstall.yml and remediate.yml on one host each, at once, on a lab of their own (a unit apart from
test_reinstall_playbook.py, whose pool runs before them there one after another): a reinstall that meets another
installation waits for it, and one whose host drops right after the uninstall converges when the playbook simply
runs again (the installers already on the host this time); a host without its agent and with a user, which
reinstall.yml leaves alone without consent, is reinstalled by remediate.yml with it.
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
host_pool: {name: hp-rw, max_session_limit: 4}
hosts:
  - {name: rw-01, installation_seconds: 80}
  - {name: rw-02, faults: [agent_not_installed], sessions: 1}
"""
# Installers already on the host instead of the manifest: the ones the lab's image carries in RDInfra.
PACKAGES = {
    "avd_reinstall_packages": {
        "agent": r"C:\Program Files\Microsoft RDInfra\Microsoft.RDInfra.RDAgent.Installer-x64-1.0.10004.1300.msi",
        "boot_loader": (
            r"C:\Program Files\Microsoft RDInfra\Microsoft.RDInfra.RDAgentBootLoader.Installer-x64-1.0.9023.1100.msi"
        ),
    }
}
# rw-01's other installation (its installation_seconds above): long enough that the run, which waits for it, meets it
# under the load of a whole test run too.
BUSY_SECONDS = 80
FAST = ["-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1", "-e", "avd_available_delay=1"]


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("reinstall-busy") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory(
        "reinstall-busy", "--scenario", str(scenario), "--first-address", "127.0.208.1", "--reboot-seconds", "1"
    )


def status(data: dict) -> str | None:
    return (data["pool_view"] or {}).get("status")


def busy_installer_then_drop(lab, packages: Path) -> tuple[int | None, str, subprocess.CompletedProcess[str], dict]:
    """rw-01 (healthy: reinstalled on request) runs another installation for 80 s from before the run starts (msiexec
    1618: the uninstall, after the lock and the preflight, waits and tries again), then goes off the network as soon
    as its programs are gone; the run again, with the installers already on the host (the image's)."""
    busy_until = time.monotonic() + BUSY_SECONDS  # the lab ends the installation after this
    lab.control("/hosts/rw-01/inject?fault=installer_busy", method="POST")
    run = subprocess.Popen(
        [str(BIN / "ansible-playbook"), "-i", str(lab.inventory / "hosts.yml"), str(REPO / "playbooks" / "reinstall.yml"),
         *FAST, "-e", "avd_reinstall_healthy=true", "-e", "avd_reboot_timeout=15", "-e", "avd_installer_busy_delay=10",
         "-e", "target=rw-01"],
        env=ansible_env(**lab.azure_env), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    try:
        # Windows Installer refuses the uninstall (1618) while the other installation runs: the programs cannot go
        # before it ends, so they are looked at (20 times a second, each a read of the whole host) from a second before.
        while time.monotonic() < busy_until - 1 and run.poll() is None:
            time.sleep(0.5)
        while [p for p in lab.control("/hosts/rw-01")["programs"] if p["display_name"].startswith("Remote Desktop")]:
            assert time.monotonic() < deadline and run.poll() is None, "the uninstall never happened"
            time.sleep(0.05)
        lab.control("/hosts/rw-01/power?state=off", method="POST")
        output, _unused = run.communicate(timeout=300)
        record_output("ansible-playbook reinstall.yml", output, returncode=run.returncode)
    finally:
        lab.control("/hosts/rw-01/power?state=on", method="POST")
        if run.poll() is None:
            run.kill()
            run.wait()
    rerun = lab.playbook(REPO / "playbooks" / "reinstall.yml", *FAST, "-e", f"@{packages}", "--limit", "rw-01")
    return run.returncode, output, rerun, lab.control("/hosts/rw-01")


def remediate_with_consent(lab, report_dir: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    """rw-02 (no agent, a user on it): remediate.yml with consent."""
    result = lab.playbook(
        REPO / "playbooks" / "remediate.yml", *FAST, "-e", "avd_force=true", "-e", "target=rw-02",
        "-e", f"avd_report_dir={report_dir}",
    )  # fmt: skip
    return result, lab.control("/hosts/rw-02")


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory) -> dict[str, Any]:
    """The two runs at once, each on its own host (each waits most of its time: another installation, a restart,
    the pool); the pool's key generated first, so neither generates one that replaces the other's (a key not the
    pool's current one no longer registers)."""
    Arm(lab).generate_key(6)
    packages = tmp_path_factory.mktemp("packages") / "packages.yml"
    packages.write_text(yaml.safe_dump(PACKAGES))
    report_dir = tmp_path_factory.mktemp("remediate")
    with ThreadPoolExecutor(max_workers=2) as pool:
        return {
            "busy": pool.submit(busy_installer_then_drop, lab, packages),
            "remediate": pool.submit(remediate_with_consent, lab, report_dir),
            "report_dir": report_dir,
        }


def test_a_busy_installer_is_waited_for_and_a_drop_right_after_the_uninstall_converges_on_a_rerun(runs):
    """rw-01's reinstall waits for the other installation, drops right after the uninstall and fails; run again
    (the installers already on the host this time, the image's, instead of the manifest), it converges."""
    returncode, output, rerun, host = runs["busy"].result()
    assert returncode != 0
    assert "FAILED - RETRYING: [rw-01]: Uninstall the four programs by product code" in output, output[-3000:]
    assert "rw-01: not reinstalled:" in flat(output), output[-3000:]
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert "rw-01: reinstalled: uninstalled 0 program instance(s), removed from hp-rw" in flat(rerun.stdout)
    assert "would install" not in rerun.stdout
    assert status(host) == "Available"


def test_remediate_fixes_a_missing_agent_with_the_reinstall_when_the_user_may_be_disrupted(runs):
    """rw-02 (no agent, a user on it) is what reinstall.yml leaves alone without consent (test_reinstall_playbook's
    re-07); remediate.yml with consent reinstalls it."""
    result, host = runs["remediate"].result()
    assert result.returncode == 0, result.stdout[-4000:]
    report = json.loads((runs["report_dir"] / "remediation.json").read_text())["hosts"]["rw-02"]
    assert report["outcome"] == "fixed" and report["roles"] == ["reinstall"], report
    assert status(host) == "Available"
