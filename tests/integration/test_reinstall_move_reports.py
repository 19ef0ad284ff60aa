"""reinstall.yml and move.yml write a report and a summary like remediate.yml (issue 21): reinstall.json,
reinstall.html and junit-reinstall.xml (and move.*) in avd_report_dir, one entry per host with its state before
and after and its outcome - reinstalled or moved, refused before any change with the reason, left alone with who
acts, skipped for users without consent, unchanged, planned in check mode - the summary lines under the default
callback, and the run failing at its end (after the report), not midway. The planted key is in none of it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, flat
from tests.interrupting import Arm

pytestmark = pytest.mark.lab

SCENARIO = """
host_pools:
  - {name: hp-ra, max_session_limit: 4}
  - {name: hp-rb, max_session_limit: 4}
hosts:
  - {name: rr-01, faults: [expired_registration_token]}
  - {name: rr-02, faults: [agent_not_installed], sessions: 1}
  - {name: rr-03}
  - {name: rr-04, faults: [gateway_blocked]}
  - {name: rr-05, faults: [invalid_registration_token]}
  - {name: rm-01}
  - {name: rm-02, sessions: 1}
  - {name: rm-03, pool: hp-rb}
  - {name: rm-04, faults: [agent_not_installed]}
"""
REINSTALL_HOSTS = "rr-01:rr-02:rr-03:rr-04:rr-05"
MOVE_HOSTS = "rm-01:rm-02:rm-03:rm-04"
PACKAGES = {
    "avd_reinstall_packages": {
        "agent": r"C:\Program Files\Microsoft RDInfra\Microsoft.RDInfra.RDAgent.Installer-x64-1.0.10004.1300.msi",
        "boot_loader": (
            r"C:\Program Files\Microsoft RDInfra\Microsoft.RDInfra.RDAgentBootLoader.Installer-x64-1.0.9023.1100.msi"
        ),
    }
}
FAST = ["-e", "avd_settle_seconds=2", "-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1"]
FAST += ["-e", "avd_available_delay=1"]


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("run-reports") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory(
        "run-reports", "--scenario", str(scenario), "--first-address", "127.0.189.1", "--reboot-seconds", "1"
    )


@pytest.fixture(scope="module")
def tokens(lab) -> list[str]:
    """A key of each pool made before the runs (as an admin does in the portal): the playbooks reuse them, so the
    test knows what to look for."""
    arm = Arm(lab)
    planted = [arm.generate_key(6, pool) for pool in ("hp-ra", "hp-rb")]
    assert len(planted) == 2 and all(token.count(".") == 2 for token in planted)
    return planted


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("run-report-packages") / "packages.yml"
    path.write_text(yaml.safe_dump(PACKAGES))
    return path


def reinstall_check_then_run(lab, packages: Path, check: Path, reports: Path):
    """reinstall.yml's check run on rr-01, then its run on every rr- host, rr-05 off (refused)."""
    checked = lab.playbook(
        REPO / "playbooks" / "reinstall.yml", "--check", "-e", "target=rr-01", "-e", f"@{packages}", *FAST,
        "-e", f"avd_report_dir={check}",
    )  # fmt: skip
    lab.power("rr-05", "off")
    try:
        result = lab.playbook(
            REPO / "playbooks" / "reinstall.yml", "-e", f"target={REINSTALL_HOSTS}", "-e", f"@{packages}", *FAST,
            "-e", f"avd_report_dir={reports}",
        )  # fmt: skip
    finally:
        lab.power("rr-05", "on")
    return (checked, check), (result, reports)


def move_hosts(lab, reports: Path):
    result = lab.playbook(
        REPO / "playbooks" / "move.yml", "-e", "avd_target_pool=hp-rb", "-e", f"target={MOVE_HOSTS}", *FAST,
        "-e", f"avd_report_dir={reports}",
    )  # fmt: skip
    return result, reports


@pytest.fixture(scope="module")
def runs(lab, tokens, packages, tmp_path_factory) -> dict[str, Future]:
    """The reinstall (rr- hosts) and the move (rm- hosts) at once: different hosts, and each run waits most of its
    time (restarts, the host pools), not on the other."""
    check, reinstall, move = (tmp_path_factory.mktemp(name) for name in ("reinstall-check", "reinstall", "move"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        return {
            "reinstall": pool.submit(reinstall_check_then_run, lab, packages, check, reinstall),
            "move": pool.submit(move_hosts, lab, move),
        }


@pytest.fixture(scope="module")
def reinstall_check(runs):
    return runs["reinstall"].result()[0]


@pytest.fixture(scope="module")
def reinstall_run(runs):
    return runs["reinstall"].result()[1]


@pytest.fixture(scope="module")
def move_run(runs):
    return runs["move"].result()


def outcomes(reports: Path, name: str) -> dict[str, dict]:
    return json.loads((reports / f"{name}.json").read_text())["hosts"]


def ends_with_the_closing_failure(output: str) -> None:
    """The summary is shown, then the run's last task fails it: no host failed midway (its play went on)."""
    tasks = [part.split("]", 1)[0] for part in output.split("TASK [")[1:]]
    assert tasks[-3:] == [
        "Show the summary",
        "Publish the summary and where the reports are as the run's artifacts (AWX/AAP)",
        "Fail when a host failed or was refused",
    ], tasks[-6:]
    recap = output.split("PLAY RECAP")[1]
    assert sum(int(part.split("=")[1]) for part in recap.split() if part.startswith("failed=")) == 1, recap


def test_check_mode_plans_the_reinstall_and_writes_the_report(reinstall_check):
    result, reports = reinstall_check
    assert result.returncode == 0, result.stdout[-4000:]
    entry = outcomes(reports, "reinstall")["rr-01"]
    assert entry["outcome"] == "planned" and entry["result"].startswith("would reinstall")
    assert json.loads((reports / "reinstall.json").read_text())["check_mode"] is True
    assert "(check mode: nothing was changed)" in flat(result.stdout)


def test_reinstall_reports_each_host_with_its_outcome(reinstall_run):
    result, reports = reinstall_run
    assert result.returncode != 0, result.stdout[-4000:]
    hosts = outcomes(reports, "reinstall")
    assert {name: entry["outcome"] for name, entry in hosts.items()} == {
        "rr-01": "reinstalled",
        "rr-02": "skipped",
        "rr-03": "unchanged",
        "rr-04": "left_alone",
        "rr-05": "refused",
    }, result.stdout[-4000:]
    assert hosts["rr-01"]["before"]["state"] == "unhealthy"
    assert "EXPIRED_REGISTRATION_TOKEN" in hosts["rr-01"]["before"]["findings"]
    assert hosts["rr-01"]["after"] == {"state": "healthy", "findings": [], "reason": ""}
    assert hosts["rr-01"]["drained"] and hosts["rr-01"]["drain_restored"]
    assert "avd_force=true" in hosts["rr-02"]["skipped"]
    assert "GATEWAY_UNREACHABLE needs the network team" in hosts["rr-04"]["result"]
    assert hosts["rr-05"]["error"].startswith("the VM is stopped")
    assert hosts["rr-05"]["after"] == hosts["rr-05"]["before"]  # refused: nothing changed
    suite = ET.parse(reports / "junit-reinstall.xml").getroot()[0]
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("skipped")) == (
        "avd-reinstall",
        "5",
        "1",
        "1",
    )
    failure = next(case for case in suite if case.get("name") == "rr-05").find("failure")
    assert failure is not None and failure.get("message", "").startswith("refused: the VM is stopped")
    html = (reports / "reinstall.html").read_text()
    assert "Reinstall of 5 session host(s)" in html and 'class="outcome reinstalled healthy good"' in html
    said = flat(result.stdout)
    assert "rr-01 reinstalled reinstalled: uninstalled" in said
    assert "rr-05 refused nothing was changed: the VM is stopped" in said
    assert (
        "5 hosts: 1 reinstalled, 1 unchanged, 1 left alone, 1 skipped, 0 not reached, 1 refused, 0 failed, 0 planned"
        in said
    )
    assert "1 refused: rr-05: not reinstalled: the VM is stopped" in said
    ends_with_the_closing_failure(result.stdout)


def test_move_reports_each_host_with_its_outcome(move_run):
    result, reports = move_run
    assert result.returncode != 0, result.stdout[-4000:]
    hosts = outcomes(reports, "move")
    assert {name: entry["outcome"] for name, entry in hosts.items()} == {
        "rm-01": "moved",
        "rm-02": "skipped",
        "rm-03": "unchanged",
        "rm-04": "refused",
    }, result.stdout[-4000:]
    assert hosts["rm-01"]["result"] == "moved from hp-ra to hp-rb"
    assert hosts["rm-01"]["after"]["state"] == "healthy"
    assert hosts["rm-03"]["result"] == "already in hp-rb"
    assert "run playbooks/reinstall.yml on it first" in hosts["rm-04"]["error"]
    suite = ET.parse(reports / "junit-move.xml").getroot()[0]
    assert (suite.get("name"), suite.get("failures"), suite.get("skipped")) == ("avd-move", "1", "1")
    assert "Move of 4 session host(s)" in (reports / "move.html").read_text()
    said = flat(result.stdout)
    assert "rm-01 moved moved from hp-ra to hp-rb" in said
    assert "1 refused: rm-04: not moved: the agent is not installed" in said
    ends_with_the_closing_failure(result.stdout)


def test_the_planted_keys_are_in_no_output_or_report(tokens, reinstall_check, reinstall_run, move_run):
    for result, reports in (reinstall_check, reinstall_run, move_run):
        texts = [result.stdout, result.stderr, *(path.read_text() for path in reports.iterdir())]
        assert len(texts) == 5  # the output, and the three reports
        for token in tokens:
            assert not [text for text in texts if token in text or token.split(".")[1][:24] in text]
