"""A host that drops off the network in the middle of its gather is reported, per host; the run goes on."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.conftest import BIN, REPO, ansible_env, record_output

pytestmark = pytest.mark.lab


# The dropped host's gather fails (a real error, reported for that host); the run goes on and ends in success.
@pytest.mark.ansible_errors(r"could not gather facts: the connection to the host dropped")
def test_a_host_that_drops_mid_gather_is_reported_and_the_rest_diagnosed(lab_factory, tmp_path):
    # Every command takes 3 s to start, so the crash lands while the gather is under way.
    lab = lab_factory("resilience", "--hosts", "3", "--first-address", "127.0.13.1", "--latency", "3")
    run = subprocess.Popen(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(lab.inventory / "hosts.yml"),
            str(REPO / "playbooks" / "diagnose.yml"),
            "-e",
            f"avd_report_dir={tmp_path}",
        ],
        env=ansible_env(),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while lab.stats()["sh-02"]["commands"] == 0:  # its gather has started
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.1)
    lab.crash("sh-02", 30)
    output, _unused = run.communicate(timeout=300)
    record_output("ansible-playbook diagnose.yml", output, returncode=run.returncode)
    assert run.returncode == 0, output[-3000:]  # the run itself does not fail
    report = json.loads((tmp_path / "diagnosis.json").read_text())
    dropped = report["hosts"]["sh-02"]
    assert dropped["state"] in ("unreachable", "failed") and dropped["reason"]
    assert report["hosts"]["sh-01"]["state"] == "healthy" and report["hosts"]["sh-03"]["state"] == "healthy"
    assert f"sh-02                    {dropped['state']}" in output
