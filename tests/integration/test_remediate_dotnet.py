"""remediate.yml on a lab host whose .NET Framework is too old for the agent update (DOTNET_OUTDATED): --check
changes nothing, one run installs .NET Framework 4.8 from the pinned installer, restarts the VM and ends with the
agent updated and the host Available; a second run changes nothing; the planted registration key is in no output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.interrupting import Arm

pytestmark = pytest.mark.lab

PLAYBOOK = REPO / "playbooks" / "remediate.yml"
SCENARIO = """
host_pool: {name: hp-dotnet, max_session_limit: 4}
hosts:
  - {name: dn-01, faults: [dotnet_outdated]}
"""
NDP = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v4\\Full"
CACHE = "c:\\programdata\\avdops\\installers\\dotnet48"


def state(lab) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads((lab.directory / "hosts" / "dn-01.json").read_text())
    return shown


def release(shown: dict[str, Any]) -> int:
    values = {v["name"]: v["data"] for v in next(v for k, v in shown["registry"].items() if k.lower() == NDP.lower())}
    return int(values["Release"])


def remediate(lab, report_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return lab.playbook(PLAYBOOK, "-e", f"avd_report_dir={report_dir}", "-e", "avd_settle_seconds=2", *extra)


@pytest.fixture(scope="module")
def dotnet_lab(lab_factory, tmp_path_factory):
    work = tmp_path_factory.mktemp("dotnet")
    (work / "lab.yml").write_text(SCENARIO)
    lab = lab_factory("dotnet", "--scenario", str(work / "lab.yml"), "--first-address", "127.0.53.1")
    # A registration key of the host pool, planted to look for in every output later (generated through ARM, as an
    # admin does in the portal).
    return lab, work, Arm(lab).generate_key(6)


@pytest.fixture(scope="module")
def runs(dotnet_lab, tmp_path_factory):
    lab, _work, _token = dotnet_lab
    before = state(lab)
    check = remediate(lab, tmp_path_factory.mktemp("check"), "--check", "--diff")
    after_check = state(lab)
    first_dir = tmp_path_factory.mktemp("first")
    first = remediate(lab, first_dir, "-vvv")
    after_first = state(lab)
    second = remediate(lab, tmp_path_factory.mktemp("second"))
    return {
        "before": before,
        "check": check,
        "after_check": after_check,
        "first": first,
        "first_report": json.loads((first_dir / "remediation.json").read_text()),
        "after_first": after_first,
        "second": second,
    }


def test_check_mode_copies_and_installs_nothing(runs):
    assert runs["check"].returncode == 0, runs["check"].stdout[-4000:]
    before, after = runs["before"], runs["after_check"]
    assert release(after) == release(before) < 461808
    assert not [path for path in after["files"] if path.startswith(CACHE)]
    assert after["boot_time"] == before["boot_time"] and after["programs"] == before["programs"]


def test_one_run_installs_dotnet_48_restarts_and_the_agent_updates(runs):
    result, entry = runs["first"], runs["first_report"]["hosts"]["dn-01"]
    assert result.returncode == 0, result.stdout[-6000:]
    assert entry["roles"] == ["dotnet"] and entry["outcome"] == "fixed", entry
    assert entry["before"]["findings"][0] == "DOTNET_OUTDATED" and entry["after"]["state"] == "healthy"
    after = runs["after_first"]
    assert release(after) >= 528040 and after["boot_time"] > runs["before"]["boot_time"]
    copied = [entry for path, entry in after["files"].items() if path.startswith(CACHE)]
    assert [c["product"]["kind"] for c in copied] == ["dotnet48"]
    agents = [p["display_version"] for p in after["programs"] if p["display_name"].endswith("Infrastructure Agent")]
    assert agents == ["1.0.10004.1300"]  # the update the old .NET blocked went through after the restart


def test_a_second_run_changes_nothing(runs):
    result = runs["second"]
    assert result.returncode == 0, result.stdout[-4000:]
    recap = next(line for line in result.stdout.splitlines() if line.startswith("dn-01"))
    assert "changed=0" in recap, recap


def test_the_planted_token_is_in_no_output(dotnet_lab, runs):
    _lab, _work, token = dotnet_lab
    assert "ESTABLISH WINRM CONNECTION" in runs["first"].stdout  # the first run was verbose
    for name in ("check", "first", "second"):
        for text in (runs[name].stdout, runs[name].stderr):
            assert token not in text and token.split(".")[1][:24] not in text
