"""playbooks/remediate.yml rolling across a pool: avd_max_fail_percentage stops the rollout after a batch that
failed too much, without cutting off the other hosts of that batch, and the hosts after it are left alone and
reported as not attempted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.lab

PLAYBOOK = REPO / "playbooks" / "remediate.yml"
# ro-01's fix fails (an installation that runs for an hour, waited for 0 times), ro-02's is the slowest (a VM
# restart) and runs in the same batch; ro-03 and ro-04 come after.
SCENARIO = """
host_pool: {name: hp-rollout}
hosts:
  - {name: ro-01, faults: [installer_busy], installation_seconds: 3600}
  - {name: ro-02, faults: [stack_listener_broken]}
  - {name: ro-03, faults: [bootloader_stopped]}
  - {name: ro-04, faults: [invalid_registration_token]}
  - {name: ro-05, faults: [installer_busy], installation_seconds: 8}
  - {name: ro-06, faults: [msi_policy_blocked]}
  - {name: ro-07, faults: [installer_busy], installation_seconds: 6}
"""


@pytest.fixture(scope="module")
def rollout(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("rollout") / "lab.yml"
    scenario.write_text(SCENARIO)
    lab = lab_factory("rollout", "--scenario", str(scenario), "--first-address", "127.0.47.1")
    before = {host["name"]: lab.show(host["name"]) for host in lab.hosts}
    lab.reset_stats()
    out = tmp_path_factory.mktemp("rollout-report")
    result = lab.playbook(
        PLAYBOOK,
        "-e",
        f"avd_report_dir={out}",
        "-e",
        "avd_serial=2",
        "-e",
        "avd_max_fail_percentage=40",
        "-e",
        "installer_busy_wait_retries=0",
        "-e",
        "avd_settle_seconds=1",
    )
    after = {host["name"]: lab.show(host["name"]) for host in lab.hosts}
    return result, json.loads((Path(out) / "remediation.json").read_text()), lab.stats(), before, after, lab


def test_the_failing_batch_finishes_and_the_rollout_stops_after_it(rollout):
    result, report, _stats, _before, _after, _lab = rollout
    hosts = report["hosts"]
    assert hosts["ro-01"]["outcome"] == "failed", result.stdout[-4000:]
    assert "still running" in hosts["ro-01"]["error"]
    # The other host of the failing batch was not cut off in the middle of its fix: fixed, drain mode restored.
    assert hosts["ro-02"]["outcome"] == "fixed", result.stdout[-4000:]
    assert hosts["ro-02"]["drained"] and hosts["ro-02"]["drain_restored"]
    # The summary is shown, then the run ends with the closing message (not "Unknown error" from the report task).
    shown = result.stdout.split("TASK [Show the summary]")[1].split("TASK [Fail when a host failed or was not fixed]")
    assert "ro-01" in shown[0] and "ro-02" in shown[0], result.stdout[-4000:]
    assert result.returncode != 0 and "1 failed: ro-01 (failed: " in shown[1]


def test_the_hosts_after_it_are_untouched_and_reported_not_attempted(rollout):
    _result, report, stats, before, after, _lab = rollout
    for name in ("ro-03", "ro-04", "ro-05", "ro-07"):
        entry = report["hosts"][name]
        assert entry["outcome"] == "skipped" and entry["after"]["findings"] == entry["before"]["findings"]
        assert entry["skipped"] == (
            "not attempted: the rollout stopped after the batch ro-01, ro-02, where 1 of 2 host(s) failed (ro-01), "
            "more than avd_max_fail_percentage=40"
        )
        assert stats[name]["commands"] == 2  # the diagnosis before and after, nothing in between
        assert after[name]["registry"] == before[name]["registry"]
        assert (
            after[name]["services"]["rdagentbootloader"]["state"]
            == before[name]["services"]["rdagentbootloader"]["state"]
        )
    assert report["summary"]["skipped"] == 4
    # Only reported without consent to remove the local policy: nothing to attempt, untouched either way.
    assert report["hosts"]["ro-06"]["outcome"] == "unchanged" and stats["ro-06"]["commands"] == 2


def test_after_the_installer_finishes_or_the_policy_goes_the_host_reads_fixed(rollout, tmp_path):
    """InstallMsiException stays in the log after the fix, as on Windows; the agent's update installing since
    (MsiInstaller 11707) makes it stale, so the diagnosis after the fix finds the host healthy."""
    lab = rollout[-1]
    lab.inject("ro-05", "installer_busy")  # an installation starts now, for 8 s
    result = lab.playbook(
        PLAYBOOK,
        "-e",
        f"avd_report_dir={tmp_path}",
        "-e",
        "target=ro-05:ro-06",
        "-e",
        "avd_remove_local_policy=true",
        "-e",
        "installer_busy_wait_delay=2",
        "-e",
        "installer_busy_wait_retries=30",
        "-e",
        "avd_settle_seconds=1",
    )
    hosts = json.loads((tmp_path / "remediation.json").read_text())["hosts"]
    for name, finding in (("ro-05", "INSTALLER_BUSY"), ("ro-06", "INSTALL_MSI_BLOCKED")):
        assert hosts[name]["before"]["findings"] == [finding], result.stdout[-4000:]
        assert hosts[name]["outcome"] == "fixed" and hosts[name]["after"]["state"] == "healthy", result.stdout[-4000:]
        events = lab.show(name)["events"]
        failure = max(e["time"] for e in events if "InstallMsiException" in e["message"])
        installed = [e for e in events if e["event_id"] == 11707 and "Infrastructure Agent --" in e["message"]]
        assert installed and max(e["time"] for e in installed) > failure  # the failure is still there, older
    assert result.returncode == 0, result.stdout[-4000:]


def test_the_installer_busy_role_alone_waits_restarts_and_checks(rollout, tmp_path):
    """On its own the role ends by diagnosing: the installation ended, the agent installed, INSTALLER_BUSY gone."""
    lab = rollout[-1]
    lab.inject("ro-07", "installer_busy")  # runs for 6 s from now
    play = tmp_path / "installer_busy.yml"
    play.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Installer busy",
                    "hosts": "ro-07",
                    "gather_facts": False,
                    "roles": [
                        {
                            "role": "avdops.sessionhost.installer_busy",
                            "installer_busy_wait_delay": 2,
                            "installer_busy_wait_retries": 30,
                            "avd_settle_seconds": 1,
                        }
                    ],
                }
            ]
        )
    )
    result = lab.playbook(play)
    assert result.returncode == 0, result.stdout[-4000:]
    checked = result.stdout.split("Fail loudly when the agent's update still did not install")[1].split("PLAY RECAP")[0]
    assert "ok: [ro-07]" in checked  # the closing diagnosis ran and found no INSTALLER_BUSY
