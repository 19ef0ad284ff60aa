"""reinstall.yml's and move.yml's reports (issue 21): each host's outcome from what the playbook recorded, in
the files and summary remediate.yml's report has, each in its own words."""

from __future__ import annotations

import datetime
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _remediation as r
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _run_reports as rr

GENERATED = datetime.datetime(2026, 12, 7, 4, 5, 6, tzinfo=datetime.UTC)


def diagnosed(*ids: str, state: str = "unhealthy") -> dict[str, Any]:
    return {"diagnosis": {"state": state, "findings": [{"id": fid, "severity": "critical"} for fid in ids]}}


HEALTHY = diagnosed(state="healthy")
BROKEN = diagnosed("EXPIRED_REGISTRATION_TOKEN")


def run(state: dict[str, Any] | None, changing: bool = False, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"batch": ["a", "b"], "changing": changing, **extra}
    if state is not None:
        record["state"] = state
        if state.get("error"):
            record["error"] = state["error"]
    return record


def test_a_reinstalled_host_reads_before_and_after():
    state = {"needed": True, "result": "reinstalled: uninstalled 4 program instance(s), ..., Available"}
    entry = rr.run_outcome("reinstall", BROKEN, HEALTHY, run(state, changing=True, drained=True, drain_restored=True))
    assert entry["outcome"] == "reinstalled" and entry["roles"] == ["reinstall"]
    assert entry["before"] == {"state": "unhealthy", "findings": ["EXPIRED_REGISTRATION_TOKEN"], "reason": ""}
    assert entry["after"] == {"state": "healthy", "findings": [], "reason": ""}
    assert entry["drained"] and entry["drain_restored"]
    assert rr.what_was_done(entry) == state["result"]


def test_an_error_before_the_drain_is_a_refusal_and_after_it_a_failure():
    state = {"needed": True, "result": "reinstalling (X)", "error": "the VM is stopped (deallocated): start it"}
    refused = rr.run_outcome("reinstall", BROKEN, {"skipped": True}, run(state))
    assert refused["outcome"] == "refused" and refused["after"] == refused["before"]  # nothing changed
    assert rr.what_was_done(refused) == "nothing was changed: the VM is stopped (deallocated): start it"
    failed = rr.run_outcome("reinstall", BROKEN, {"skipped": True}, run(state, changing=True))
    assert failed["outcome"] == "failed"
    assert failed["after"] == {"state": "unknown", "findings": [], "reason": "not diagnosed after the failure"}


def test_left_alone_skipped_unchanged_planned_and_not_reached():
    blocked = {"needed": False, "blocked": [{"id": "INVALID_FORM"}], "result": "left alone, ...: INVALID_FORM needs"}
    assert rr.run_outcome("reinstall", BROKEN, None, run(blocked))["outcome"] == "left_alone"
    users = {"needed": True, "result": "skipped: 1 user session(s) on it: -e avd_force=true"}
    entry = rr.run_outcome("reinstall", BROKEN, None, run(users, changing=True))
    assert entry["outcome"] == "skipped" and entry["skipped"] == "1 user session(s) on it: -e avd_force=true"
    fine = {"needed": False, "blocked": [], "result": "healthy and Available: nothing to do"}
    assert rr.run_outcome("reinstall", HEALTHY, None, run(fine))["outcome"] == "unchanged"
    planned = {"needed": True, "result": "would reinstall: uninstall 4 program instance(s)"}
    assert rr.run_outcome("reinstall", BROKEN, None, run(planned), check_mode=True)["outcome"] == "planned"
    missing = rr.run_outcome("reinstall", None, None, None)
    assert missing["outcome"] == "not_reached" and missing["skipped"] == rr.NOT_REACHED
    assert missing["before"]["state"] == "not diagnosed"


def test_move_outcomes():
    moved = {"needed": True, "result": "moved from hp-a to hp-b"}
    assert rr.run_outcome("move", HEALTHY, HEALTHY, run(moved, changing=True))["outcome"] == "moved"
    there = {"needed": False, "result": "already in hp-b"}
    assert rr.run_outcome("move", None, None, run(there))["outcome"] == "unchanged"
    locked = {"needed": False, "result": "skipped: not changed: run 1234 (alice) holds it"}
    assert rr.run_outcome("move", None, None, run(locked))["outcome"] == "skipped"
    # "already in" is move.yml's word only: a reinstall's result never makes a host unchanged by it
    assert rr.run_outcome("reinstall", None, None, run({"needed": True, "result": "already in x"}))["outcome"] == (
        "reinstalled"
    )


def test_the_rollout_stop_names_the_hosts_it_never_reached():
    runs = {
        "a": run({"needed": True, "result": "r", "error": "boom"}, changing=True),
        "b": run({"needed": True, "result": "r", "error": "bang"}, changing=True),
    }
    entries = rr.run_outcomes("reinstall", {}, {}, {**runs, "c": {}}, 100, False)
    assert entries["c"]["outcome"] == "not_reached"
    assert entries["c"]["skipped"].startswith("not reached: the rollout stopped after the batch a, b, where every host")
    # one of two failed: under 100 % and not the whole batch, so the rollout goes on
    runs["b"] = run({"needed": True, "result": "reinstalled"}, changing=True)
    assert rr.run_outcomes("reinstall", {}, {}, {**runs, "c": {}}, 100, False)["c"]["skipped"] == rr.NOT_REACHED
    assert r.rollout_stop(runs, [], 40, whole_batch=True).startswith("not attempted: the rollout stopped after")


def test_the_reports_files_summary_and_closing_message(tmp_path: Path):
    entries = {
        "sh-01": rr.run_outcome(
            "reinstall", BROKEN, HEALTHY, run({"needed": True, "result": "reinstalled: ..."}, changing=True)
        ),
        "sh-02": rr.run_outcome("reinstall", BROKEN, None, run({"needed": True, "result": "x", "error": "no key"})),
        "sh-03": rr.run_outcome("reinstall", None, None, None),
    }
    report = r.build_report(entries, GENERATED, False, rr.REINSTALL)
    assert list(report["hosts"]) == ["sh-02", "sh-03", "sh-01"]  # what fails the run first
    assert report["summary"]["refused"] == 1 and report["summary"]["reinstalled"] == 1
    assert r.failing_message(report, rr.REINSTALL) == "1 refused: sh-02: not reinstalled: no key"
    files = r.write_reports(report, tmp_path, rr.REINSTALL)
    assert sorted(Path(path).name for path in files.values()) == [
        "junit-reinstall.xml",
        "reinstall.html",
        "reinstall.json",
    ]
    assert json.loads((tmp_path / "reinstall.json").read_text())["hosts"]["sh-02"]["outcome"] == "refused"
    suite = ET.parse(tmp_path / "junit-reinstall.xml").getroot()[0]
    assert suite.get("name") == "avd-reinstall" and suite.get("failures") == "1" and suite.get("skipped") == "1"
    html = (tmp_path / "reinstall.html").read_text()
    assert "Reinstall of 3 session host(s)" in html and 'class="outcome reinstalled healthy good"' in html
    assert 'class="outcome refused attention bad"' in html and 'class="outcome not_reached attention"' in html
    lines = r.summary_lines(report, "reports", rr.REINSTALL)
    assert lines[1] == f"{'sh-02':<24} {'refused':<12} nothing was changed: no key"
    assert lines[-2] == "3 hosts: 1 reinstalled, 0 unchanged, 0 left alone, 0 skipped, 1 not reached, 1 refused, " + (
        "0 failed, 0 planned"
    )
    assert lines[-1] == "Reports: reports/reinstall.html, reinstall.json, junit-reinstall.xml"
    moved = r.build_report({"h": rr.run_outcome("move", None, None, None)}, GENERATED, False, rr.MOVE)
    assert r.summary_lines(moved, "d", rr.MOVE)[-1] == "Reports: d/move.html, move.json, junit-move.xml"
