"""playbooks/remediate.yml rolling across a pool: avd_max_fail_percentage stops the rollout after a batch that
failed too much, without cutting off the other hosts of that batch, and the hosts after it are left alone and
reported as not attempted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, avdlab

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
"""


@pytest.fixture(scope="module")
def rollout(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("rollout") / "lab.yml"
    scenario.write_text(SCENARIO)
    lab = lab_factory("rollout", "--scenario", str(scenario), "--first-address", "127.0.47.1")
    before = {
        host["name"]: json.loads(avdlab("show", "--dir", str(lab.directory), host["name"]).stdout) for host in lab.hosts
    }
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
    after = {
        host["name"]: json.loads(avdlab("show", "--dir", str(lab.directory), host["name"]).stdout) for host in lab.hosts
    }
    return result, json.loads((Path(out) / "remediation.json").read_text()), lab.stats(), before, after


def test_the_failing_batch_finishes_and_the_rollout_stops_after_it(rollout):
    result, report, _stats, _before, _after = rollout
    hosts = report["hosts"]
    assert hosts["ro-01"]["outcome"] == "failed", result.stdout[-4000:]
    assert "still running" in hosts["ro-01"]["error"]
    # The other host of the failing batch was not cut off in the middle of its fix: fixed, drain mode restored.
    assert hosts["ro-02"]["outcome"] == "fixed", result.stdout[-4000:]
    assert hosts["ro-02"]["drained"] and hosts["ro-02"]["drain_restored"]
    assert result.returncode != 0 and "1 failed: ro-01 (failed: " in result.stdout


def test_the_hosts_after_it_are_untouched_and_reported_not_attempted(rollout):
    _result, report, stats, before, after = rollout
    for name in ("ro-03", "ro-04"):
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
    assert report["summary"]["skipped"] == 2
