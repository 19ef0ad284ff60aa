"""Remediation decisions an administrator acts on, field by field (mutation testing showed which were loose).

What a host's state was before and after, which findings a role was run for and which it
fixed, who must act on what is only reported, and the same in remediation.json, the
HTML page, the JUnit file and the console summary.
"""

from __future__ import annotations

import datetime
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jinja2
import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _remediation as r

GENERATED = datetime.datetime(2026, 11, 26, 3, 4, 5, tzinfo=datetime.UTC)


def finding(fid: str, severity: str = "critical", explained_by: str | None = None) -> dict[str, Any]:
    return {"id": fid, "severity": severity, "explained_by": explained_by}


def diagnosed(*findings: dict[str, Any], state: str | None = None) -> dict[str, Any]:
    diagnosis: dict[str, Any] = {"findings": list(findings)}
    if state is not None:
        diagnosis["state"] = state
    return {"changed": False, "diagnosis": diagnosis}


# --- a host's state from its diagnose result ------------------------------------------------
def test_states_before_and_after_say_why() -> None:
    plan = r.plan_host(diagnosed(finding("BOOTLOADER_NOT_RUNNING"))["diagnosis"], [], [])
    entry = r.host_outcome(None, {"unreachable": True}, plan, {"reached": True})
    assert entry["before"] == {"state": "failed", "findings": [], "reason": "not diagnosed"}
    assert entry["after"] == {"state": "unreachable", "findings": [], "reason": "unreachable"}
    assert entry["outcome"] == "failed" and entry["fixed"] == []


def test_a_failed_result_that_still_carries_a_diagnosis_is_failed_not_fixed() -> None:
    """The diagnosis of a failed run is not believed: the fix is not counted as done."""
    before = diagnosed(finding("BOOTLOADER_NOT_RUNNING"), state="unhealthy")
    plan = r.plan_host(before["diagnosis"], [], [])
    after = {**diagnosed(state="healthy"), "failed": True, "msg": "diagnose: the runtime timed out"}
    entry = r.host_outcome(before, after, plan, {"reached": True})
    assert entry["after"] == {"state": "failed", "findings": [], "reason": "diagnose: the runtime timed out"}
    assert entry["outcome"] == "failed" and entry["fixed"] == []
    without_message = r.host_outcome(before, {**after, "msg": None}, plan, {"reached": True})
    assert without_message["after"]["reason"] == "the diagnosis failed"
    assert r.host_outcome(before, {"diagnosis": None}, plan, {"reached": True})["after"]["state"] == "failed"


def test_warnings_count_info_does_not_and_a_diagnosis_without_state_is_healthy() -> None:
    before = diagnosed(finding("DISK_SPACE_LOW", "warning"), finding("AGENT_VERSION_DRIFT", "info"), state="unhealthy")
    entry = r.host_outcome(before, diagnosed(), r.plan_host(before["diagnosis"], [], []), {"reached": True})
    assert entry["before"] == {"state": "unhealthy", "findings": ["DISK_SPACE_LOW"], "reason": ""}
    assert entry["after"] == {"state": "healthy", "findings": [], "reason": ""}


def test_a_fix_that_left_the_host_unreachable_fixed_nothing() -> None:
    before = diagnosed(finding("BOOTLOADER_NOT_RUNNING"), state="unhealthy")
    plan = r.plan_host(before["diagnosis"], [], [])
    for after in ({"unreachable": True, "msg": "WinRM timed out"}, {"failed": True, "msg": "x"}):
        entry = r.host_outcome(before, after, plan, {"reached": True})
        assert entry["outcome"] == "failed" and entry["fixed"] == [] and entry["fixing"] == ["BOOTLOADER_NOT_RUNNING"]


def test_a_finding_its_role_fixes_left_is_not_fixed_and_names_what_was_fixed() -> None:
    before = diagnosed(finding("BOOTLOADER_NOT_RUNNING"), finding("STACK_LISTENER_NOT_LISTENING"), state="unhealthy")
    plan = r.plan_host(before["diagnosis"], [], [])
    after = diagnosed(finding("STACK_LISTENER_NOT_LISTENING"), state="unhealthy")
    entry = r.host_outcome(before, after, plan, {"reached": True})
    assert entry["outcome"] == "not_fixed"
    assert entry["fixing"] == ["BOOTLOADER_NOT_RUNNING", "STACK_LISTENER_NOT_LISTENING"]
    assert entry["fixed"] == ["BOOTLOADER_NOT_RUNNING"]


def test_the_entry_carries_the_plan_and_the_run() -> None:
    diagnosis = diagnosed(
        finding("INVALID_REGISTRATION_TOKEN"),
        finding("INVALID_FORM"),
        finding("HEALTH_CHECK_FAILED", "warning"),
        finding("STACK_LISTENER_NOT_LISTENING"),
        state="unhealthy",
    )
    plan = r.plan_host(diagnosis["diagnosis"], [], ["STACK_LISTENER_NOT_LISTENING"])
    entry = r.host_outcome(diagnosis, diagnosis, plan, {"reached": True, "drained": True, "drain_restored": False})
    assert entry["roles"] == ["registration"]
    assert entry["report_only"] == [{"id": "INVALID_FORM", "who": r.REPORT_ONLY["INVALID_FORM"]}]
    assert entry["not_automated"] == [{"id": "HEALTH_CHECK_FAILED", "reason": r.NO_ROLE_YET["HEALTH_CHECK_FAILED"]}]
    assert entry["excluded"] == ["STACK_LISTENER_NOT_LISTENING"]
    assert entry["drained"] is True and entry["drain_restored"] is False
    assert entry["skipped"] is None and entry["error"] is None
    plain = r.host_outcome(diagnosis, diagnosis, {}, {})
    assert plain["drained"] is False and plain["drain_restored"] is None and plain["roles"] == []


# --- plan_host: what each finding gets ------------------------------------------------------
def test_policy_findings_without_consent_name_who_acts_and_unknown_findings_get_the_default_reason() -> None:
    plan = r.plan_host(
        diagnosed(finding("CMD_BLOCKED"), finding("A_FINDING_FROM_A_NEWER_RULE", "warning"))["diagnosis"], [], []
    )
    assert plan["report_only"] == [{"id": "CMD_BLOCKED", "who": r.POLICY_OWNER}]
    assert plan["not_automated"] == [
        {"id": "A_FINDING_FROM_A_NEWER_RULE", "reason": "no role in this collection: follow the finding's remediation"}
    ]
    assert plan["findings"] == ["CMD_BLOCKED", "A_FINDING_FROM_A_NEWER_RULE"]
    assert plan["roles"] == [] and plan["fixing"] == [] and plan["disruptive"] is False


def test_every_finding_is_listed_even_symptoms_and_info() -> None:
    diagnosis = diagnosed(
        finding("INVALID_REGISTRATION_TOKEN"),
        finding("BOOTLOADER_NOT_RUNNING", explained_by="INVALID_REGISTRATION_TOKEN"),
        finding("AGENT_VERSION_DRIFT", "info"),
    )["diagnosis"]
    plan = r.plan_host(diagnosis, [], [])
    assert plan["findings"] == ["INVALID_REGISTRATION_TOKEN", "BOOTLOADER_NOT_RUNNING", "AGENT_VERSION_DRIFT"]
    assert plan["fixing"] == ["INVALID_REGISTRATION_TOKEN"] and plan["not_automated"] == []


def test_two_findings_of_one_role_run_it_once() -> None:
    plan = r.plan_host(
        diagnosed(finding("SXS_STACK_NOT_INSTALLED"), finding("INSTALLATION_HEALTH_CHECK_FAILED"))["diagnosis"],
        [],
        [],
    )
    assert plan["roles"] == ["sxs_stack"]
    assert plan["fixing"] == ["SXS_STACK_NOT_INSTALLED", "INSTALLATION_HEALTH_CHECK_FAILED"]


# --- avd_only / avd_skip ----------------------------------------------------------------------
def test_finding_ids_from_a_list_or_a_comma_string() -> None:
    assert r.finding_ids([" bootloader_not_running", "", "CMD_BLOCKED "]) == ["BOOTLOADER_NOT_RUNNING", "CMD_BLOCKED"]
    assert r.finding_ids("a,,b") == ["A", "B"] and r.finding_ids(None) == []


def test_unknown_ids_are_all_named() -> None:
    with pytest.raises(r.RemediationInputError) as raised:
        r.check_ids(["NOPE", "CMD_BLOCKED", "ALSO_NOPE"], r.known_ids(), "avd_only")
    assert str(raised.value) == "avd_only names unknown finding ids: ALSO_NOPE, NOPE"
    r.check_ids(["CMD_BLOCKED"], r.known_ids(), "avd_only")


# --- the report files -------------------------------------------------------------------------
def pool_report(check_mode: bool = False) -> dict[str, Any]:
    broken = diagnosed(finding("BOOTLOADER_NOT_RUNNING"), finding("INVALID_FORM"), state="unhealthy")
    plan = r.plan_host(broken["diagnosis"], [], [])
    entries = {
        "avd-02": r.host_outcome(broken, diagnosed(), plan, {"reached": True, "drained": True, "drain_restored": True}),
        "avd-01": r.host_outcome(broken, diagnosed(), plan, {"reached": True}),
        "avd-05": r.host_outcome(broken, broken, plan, {"reached": True}),
        "avd-04": r.host_outcome(broken, {"unreachable": True, "msg": "WinRM timed out"}, plan, {"reached": True}),
        "avd-03": r.host_outcome(broken, broken, plan, {"reached": True, "skipped": "2 user session(s)"}),
    }
    return r.build_report(entries, GENERATED, check_mode)


def test_build_report_counts_each_outcome_and_sorts_worst_first_then_by_name() -> None:
    report = pool_report()
    assert report["generated"] == "2026-11-26T03:04:05Z" and report["check_mode"] is False
    assert list(report["hosts"]) == ["avd-04", "avd-05", "avd-03", "avd-01", "avd-02"]
    assert report["summary"] == {
        "hosts": 5,
        "failed": 1,
        "not_fixed": 1,
        "skipped": 1,
        "partly_fixed": 0,
        "planned": 0,
        "fixed": 2,
        "unchanged": 0,
    }


def test_junit_one_case_per_host_failures_and_skips() -> None:
    report = pool_report()
    text = r.render_junit(report)
    assert text.startswith("<?xml") and text.endswith("</testsuites>\n")
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    (suite,) = root
    assert (suite.tag, suite.attrib) == (
        "testsuite",
        {"name": "avd-remediation", "tests": "5", "failures": "2", "skipped": "1", "timestamp": "2026-11-26T03:04:05Z"},
    )
    cases = {case.get("name"): case for case in suite}
    assert all(case.tag == "testcase" and case.get("classname") == "remediation" for case in suite)
    (failure,) = cases["avd-04"]
    assert (failure.tag, failure.get("message")) == ("failure", "failed: WinRM timed out")
    assert failure.text == "before: unhealthy BOOTLOADER_NOT_RUNNING, INVALID_FORM; after: unreachable -"
    (not_fixed,) = cases["avd-05"]
    assert (not_fixed.tag, not_fixed.get("message")) == (
        "failure",
        "not fixed: BOOTLOADER_NOT_RUNNING still found after remediation",
    )
    (skipped,) = cases["avd-03"]
    assert (skipped.tag, skipped.get("message")) == ("skipped", "2 user session(s)")
    (out,) = cases["avd-01"]
    assert (out.tag, out.text) == (
        "system-out",
        "before: unhealthy BOOTLOADER_NOT_RUNNING, INVALID_FORM; after: healthy -",
    )


def test_junit_failure_message_prefers_the_run_error() -> None:
    broken = diagnosed(finding("BOOTLOADER_NOT_RUNNING"), state="unhealthy")
    plan = r.plan_host(broken["diagnosis"], [], [])
    entry = r.host_outcome(broken, {"unreachable": True, "msg": "gone"}, plan, {"reached": True, "error": "role died"})
    (suite,) = ET.fromstring(r.render_junit(r.build_report({"h": entry}, GENERATED, False)))
    assert suite[0][0].get("message") == "failed: role died"


def test_summary_lines_per_host_and_totals() -> None:
    lines = r.summary_lines(pool_report(), "reports/pool")
    assert lines[0] == f"{'HOST':<24} {'OUTCOME':<12} WHAT WAS DONE"
    assert lines[1] == f"{'avd-04':<24} {'failed':<12} WinRM timed out"
    assert lines[2] == (
        f"{'avd-05':<24} {'not fixed':<12} BOOTLOADER_NOT_RUNNING still found after remediation; "
        "still found: INVALID_FORM (the network team)"
    )
    assert lines[3] == f"{'avd-03':<24} {'skipped':<12} BOOTLOADER_NOT_RUNNING left as found: 2 user session(s)"
    assert lines[4] == (f"{'avd-01':<24} {'fixed':<12} fixed BOOTLOADER_NOT_RUNNING with role boot_loader; healthy now")
    assert lines[-2] == "5 hosts: 2 fixed, 0 partly fixed, 1 not fixed, 1 skipped, 1 failed, 0 unchanged, 0 planned"
    assert lines[-1] == "Reports: reports/pool/remediation.html, remediation.json, junit-remediation.xml"
    checked = r.summary_lines(pool_report(check_mode=True), "r")
    assert checked[0].endswith("WHAT WOULD BE DONE") and checked[-2].endswith("(check mode: nothing was changed)")
    unchanged = r.host_outcome(diagnosed(), diagnosed(), {}, {})
    assert r.summary_lines(r.build_report({"h": unchanged}, GENERATED, False), "r")[1] == (
        f"{'h':<24} {'unchanged':<12} healthy: nothing to fix"
    )
    broken = diagnosed(finding("GATEWAY_UNREACHABLE"), state="unhealthy")
    left = r.host_outcome(broken, broken, r.plan_host(broken["diagnosis"], [], []), {})
    assert r.summary_lines(r.build_report({"h": left}, GENERATED, False), "r")[1] == (
        f"{'h':<24} {'unchanged':<12} nothing this run fixes: GATEWAY_UNREACHABLE (the network team)"
    )


def test_fixed_only_for_a_host_healthy_after_else_partly_fixed_with_what_remains() -> None:
    """Issue 21: 'avd-20 fixed DOTNET_OUTDATED, GATEWAY_UNREACHABLE -> GATEWAY_UNREACHABLE' read as fixed."""
    before = diagnosed(finding("DOTNET_OUTDATED"), finding("GATEWAY_UNREACHABLE"), state="unhealthy")
    plan = r.plan_host(before["diagnosis"], [], [])
    after = diagnosed(finding("GATEWAY_UNREACHABLE"), state="unhealthy")
    entry = r.host_outcome(before, after, plan, {"reached": True})
    assert entry["outcome"] == "partly_fixed" and entry["fixed"] == ["DOTNET_OUTDATED"]
    assert entry["remaining"] == ["GATEWAY_UNREACHABLE"]
    report = r.build_report({"avd-20": entry}, GENERATED, False)
    assert report["summary"]["partly_fixed"] == 1 and report["summary"]["fixed"] == 0
    assert r.summary_lines(report, "r")[1] == (
        f"{'avd-20':<24} {'partly fixed':<12} fixed DOTNET_OUTDATED with role dotnet; "
        "still found: GATEWAY_UNREACHABLE (the network team)"
    )
    assert r.failing_message(report) == ""  # what is left needs a person, named in the summary
    # every finding gone but the diagnosis could not check everything: not "fixed" either
    incomplete = r.host_outcome(before, diagnosed(state="incomplete"), plan, {"reached": True})
    assert incomplete["outcome"] == "partly_fixed" and incomplete["remaining"] == ["incomplete"]
    assert r.what_happened(incomplete) == "fixed DOTNET_OUTDATED with role dotnet; incomplete after the fix"
    healthy = r.host_outcome(before, diagnosed(state="healthy"), plan, {"reached": True})
    assert healthy["outcome"] == "fixed" and healthy["remaining"] == []


def test_check_mode_says_what_would_be_done_by_which_role() -> None:
    before = diagnosed(finding("DOTNET_OUTDATED"), finding("INVALID_REGISTRATION_TOKEN"), finding("INVALID_FORM"))
    plan = r.plan_host(before["diagnosis"], [], [])
    entry = r.host_outcome(before, before, plan, {"reached": True}, check_mode=True)
    assert entry["outcome"] == "planned"
    line = r.summary_lines(r.build_report({"h": entry}, GENERATED, True), "r")[1]
    assert line == (
        f"{'h':<24} {'planned':<12} would fix DOTNET_OUTDATED with role dotnet, INVALID_REGISTRATION_TOKEN with "
        "role registration; not by this run: INVALID_FORM (the network team)"
    )
    assert " -> " not in line


def test_html_badges_are_green_only_for_a_host_healthy_after() -> None:
    broken = diagnosed(finding("GATEWAY_UNREACHABLE"), state="unhealthy")
    entries = {
        "broken": r.host_outcome(broken, broken, r.plan_host(broken["diagnosis"], [], []), {}),
        "healthy": r.host_outcome(diagnosed(), diagnosed(), {}, {}),
    }
    html = r.render_html(r.build_report(entries, GENERATED, False))
    assert 'class="outcome unchanged attention"' in html and 'class="outcome unchanged healthy good"' in html
    style = html.split("<style>")[1].split("</style>")[0]
    green = next(line for line in style.splitlines() if "var(--ok)" in line and ".outcome" in line)
    assert green.strip() == ".outcome.good { background: var(--ok); }"  # the class only a host healthy after gets
    assert "background: var(--skip); }" in style.split(".outcome {")[1].split("\n")[0]  # amber unless green, blue, red


def test_the_html_page_shows_what_the_admin_acts_on_and_nothing_is_left_undefined() -> None:
    html = r.render_html(pool_report())
    assert "Remediation of 5 session host(s)" in html
    assert r.REPORT_ONLY["INVALID_FORM"].split(":", maxsplit=1)[0] in html
    assert "drain mode restored" in html and "skipped: 2 user session(s)" in html
    assert not [line for line in html.splitlines() if not line.strip()]  # block tags leave no blank lines
    broken = pool_report()
    del broken["hosts"]["avd-01"]["after"]
    with pytest.raises(jinja2.UndefinedError):
        r.render_html(broken)


def test_write_reports_creates_the_directory_and_writes_the_three_files(tmp_path: Path) -> None:
    report = pool_report()
    files = r.write_reports(report, tmp_path / "reports" / "2026-11-26")
    assert {kind: Path(path).name for kind, path in files.items()} == {
        "json": "remediation.json",
        "html": "remediation.html",
        "junit": "junit-remediation.xml",
    }
    text = Path(files["json"]).read_text(encoding="utf-8")
    assert json.loads(text) == report
    assert text.startswith('{\n  "generated"') and text.endswith("}\n")  # indented for people and diffs
    assert Path(files["html"]).read_text(encoding="utf-8") == r.render_html(report)
    assert Path(files["junit"]).read_text(encoding="utf-8") == r.render_junit(report)
