"""A raw answer saved from a lab host and replayed through diagnose gives the findings of the live run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.lab

SCENARIO = {
    "host_pool": {"name": "hp-replay", "max_session_limit": 4},
    "hosts": [
        {"name": "rp-01"},
        {"name": "rp-02", "faults": ["invalid_registration_token"]},
        {"name": "rp-03", "faults": ["installer_busy"]},
        {"name": "rp-04", "faults": ["broker_blocked"]},
        {"name": "rp-05", "faults": ["stack_listener_broken"], "locale": "de-DE"},
        {"name": "rp-06", "faults": ["bootloader_stopped"], "sessions": 2},
    ],
}


@pytest.fixture(scope="module")
def replay_lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("replay") / "scenario.yml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    return lab_factory("replay", "--scenario", str(scenario), "--first-address", "127.0.19.1")


def diagnose(lab, report_dir: Path, *extra: str) -> dict:
    result = lab.playbook(REPO / "playbooks" / "diagnose.yml", "-e", f"avd_report_dir={report_dir}", *extra)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report: dict = json.loads((report_dir / "diagnosis.json").read_text())
    return report


@pytest.fixture(scope="module")
def runs(replay_lab, tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    captures = base / "captures"
    live = diagnose(replay_lab, base / "live", "-e", f"avd_save_raw={captures}")
    # Over a local connection nothing can reach the hosts: the replay must not need them.
    replayed = diagnose(replay_lab, base / "replayed", "-e", f"avd_replay={captures}", "-e", "ansible_connection=local")
    return live, replayed, captures


def test_one_capture_per_host_in_the_documented_format(runs):
    captures = runs[2]
    assert sorted(path.name for path in captures.iterdir()) == [f"rp-0{i}.json" for i in range(1, 7)]
    capture = json.loads((captures / "rp-01.json").read_text())
    assert capture["format"] == "avdops.sessionhost/runtime-answer" and capture["format_version"] == 1
    assert capture["host"] == "rp-01" and capture["answer"]["version"] == capture["request"]["version"]
    answered = {entry["id"] for entry in capture["answer"]["results"]}
    assert answered == {op["id"] for op in capture["request"]["operations"]}
    assert capture["options"]["gather_subset"] == ["all"]


def test_the_replay_gives_the_findings_of_the_live_run(runs):
    live, replayed = runs[0], runs[1]
    for host in (h["name"] for h in SCENARIO["hosts"]):
        assert replayed["hosts"][host]["findings"] == live["hosts"][host]["findings"], host
        assert replayed["hosts"][host]["state"] == live["hosts"][host]["state"], host
    found = {host: [f["id"] for f in live["hosts"][host]["findings"]] for host in live["hosts"]}
    assert found["rp-01"] == []
    assert "INVALID_REGISTRATION_TOKEN" in found["rp-02"] and "INSTALLER_BUSY" in found["rp-03"]
    assert "INVALID_FORM" in found["rp-04"] and "STACK_LISTENER_NOT_LISTENING" in found["rp-05"]


def test_the_planted_token_is_in_no_capture(replay_lab, runs):
    captures = runs[2]
    state = json.loads((replay_lab.directory / "hosts" / "rp-02.json").read_text())
    token = next(
        value["data"]
        for key, values in state["registry"].items()
        if key.lower().endswith("rdinfraagent")
        for value in values
        if value["name"] == "RegistrationToken"
    )
    assert len(token) > 100
    for path in captures.iterdir():
        text = path.read_text()
        assert token not in text and token[:40] not in text, path.name


def test_the_evidence_says_the_probe_ran_as_the_winrm_user(runs):
    live = runs[0]
    (invalid_form,) = [f for f in live["hosts"]["rp-04"]["findings"] if f["id"] == "INVALID_FORM"]
    assert any("probed as RP-04\\" in line and "LocalSystem" in line for line in invalid_form["evidence"]), invalid_form


def test_remediate_check_replays_captures_and_prints_each_hosts_plan(replay_lab, runs, tmp_path):
    """remediate.yml --check -e avd_replay=DIR: the plan per host from the saved captures, no host contacted."""
    captures = runs[2]
    replay_lab.reset_stats()
    result = replay_lab.playbook(
        REPO / "playbooks" / "remediate.yml",
        "--check",
        "-e",
        f"avd_replay={captures}",
        "-e",
        f"avd_report_dir={tmp_path}",
        "-e",
        "ansible_connection=local",  # nothing can reach the hosts: the replay must not need them
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    output = " ".join(result.stdout.split())
    assert "rp-01 (healthy): would apply no role" in output
    assert "rp-02 (unhealthy): would apply registration fixing INVALID_REGISTRATION_TOKEN" in output
    assert "rp-03 (unhealthy): would apply installer_busy fixing INSTALLER_BUSY" in output
    assert "rp-04 (unhealthy): would apply no role" in output and "only reported: INVALID_FORM" in output
    assert "rp-05 (unhealthy): would apply stack_listener fixing STACK_LISTENER_NOT_LISTENING" in output
    assert "rp-06 (unhealthy): would apply boot_loader fixing BOOTLOADER_NOT_RUNNING" in output
    assert "disruptive: the host would be drained" in output
    stats = replay_lab.stats()
    assert all(stats.get(host["name"], {}).get("commands", 0) == 0 for host in SCENARIO["hosts"]), stats
    assert not (tmp_path / "remediation.json").exists()  # the replay ends with the plan: no report of a run


def test_a_replay_without_check_is_refused_before_anything(replay_lab, runs, tmp_path):
    result = replay_lab.playbook(
        REPO / "playbooks" / "remediate.yml", "-e", f"avd_replay={runs[2]}", "-e", f"avd_report_dir={tmp_path}"
    )
    assert result.returncode != 0
    assert "changes nothing: run it with --check" in " ".join(result.stdout.split())
