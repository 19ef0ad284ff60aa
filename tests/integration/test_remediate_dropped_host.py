"""playbooks/remediate.yml when a host drops in the middle of its remediation: the host is reported failed and
unreachable, the run says so and fails, the other host is fixed, and a rerun once the host is back converges. On a
lab of its own (its host is down 40 s), beside test_remediate.py's pool."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO, ansible_env, record_output
from tests.remediate_pool import FAST, PLAYBOOK, remediate, report

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-remediate-dropped, max_session_limit: 4}
hosts:
  - {name: rm-01}
  - {name: rm-04}
"""


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("remediate-dropped") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("remediate-dropped", "--scenario", str(scenario), "--first-address", "127.0.192.1")


def test_a_host_that_drops_mid_remediation_is_reported_and_a_rerun_converges(lab, tmp_path: Path):
    for name in ("rm-01", "rm-04"):
        lab.inject(name, "invalid_registration_token")
    lab.reset_stats()
    run = subprocess.Popen(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(lab.inventory / "hosts.yml"),
            str(PLAYBOOK),
            "-e",
            f"avd_report_dir={tmp_path / 'a'}",
            "-e",
            "target=rm-01:rm-04",
            *FAST,
        ],
        env=ansible_env(**lab.azure_env),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while lab.stats().get("rm-04", {}).get("commands", 0) < 2:  # diagnosed, and its fix has started
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    lab.crash("rm-04", 40)
    output, _unused = run.communicate(timeout=600)
    record_output("ansible-playbook remediate.yml", output, returncode=run.returncode)
    hosts = report(tmp_path / "a")["hosts"]
    assert hosts["rm-01"]["outcome"] == "fixed", output[-4000:]
    assert hosts["rm-04"]["outcome"] == "failed" and hosts["rm-04"]["after"]["state"] == "unreachable"
    shown = output.split("TASK [Show the summary]")[1].split("TASK [Fail when a host failed or was not fixed]")
    assert "rm-04" in shown[0], output[-4000:]
    assert run.returncode != 0 and "1 failed: rm-04 (failed: " in shown[1]
    deadline = time.monotonic() + 90
    while not lab.status()["hosts"]["rm-04"]["up"]:
        assert time.monotonic() < deadline
        time.sleep(1)
    rerun = remediate(lab, tmp_path / "b", "-e", "target=rm-01:rm-04")
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert report(tmp_path / "b")["hosts"]["rm-04"]["outcome"] in ("fixed", "unchanged")
    assert report(tmp_path / "b")["hosts"]["rm-04"]["after"]["state"] == "healthy"
