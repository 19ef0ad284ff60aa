"""Remediation across a pool: root causes to roles, consent for policies, before/after outcomes and reports."""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.filter.avd import (
    avd_remediation_outcome,
    avd_remediation_plan,
    avd_rollout_stop,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _remediation as r
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._rules import CHECKS


def finding(fid: str, severity: str = "critical", explained_by: str | None = None) -> dict[str, Any]:
    return {"id": fid, "severity": severity, "explained_by": explained_by}


def diagnosed(*findings: dict[str, Any]) -> dict[str, Any]:
    state = "unhealthy" if findings else "healthy"
    return {"changed": False, "diagnosis": {"state": state, "findings": list(findings)}}


def test_every_article_finding_has_a_role_a_reason_or_someone_to_act() -> None:
    assert set(CHECKS) - r.known_ids() == set()


def test_symptoms_explained_by_a_root_cause_are_not_fixed_on_their_own() -> None:
    plan = r.plan_host(
        diagnosed(
            finding("INVALID_REGISTRATION_TOKEN"),
            finding("BOOTLOADER_NOT_RUNNING", explained_by="INVALID_REGISTRATION_TOKEN"),
        )["diagnosis"],
        [],
        [],
    )
    assert plan["roles"] == ["registration"] and plan["fixing"] == ["INVALID_REGISTRATION_TOKEN"]
    assert plan["disruptive"]


def test_a_report_only_root_cause_changes_nothing_even_with_a_fixable_symptom() -> None:
    plan = r.plan_host(
        diagnosed(finding("INVALID_FORM"), finding("BOOTLOADER_NOT_RUNNING", explained_by="INVALID_FORM"))["diagnosis"],
        [],
        [],
    )
    assert plan["roles"] == [] and not plan["disruptive"]
    assert plan["report_only"][0]["id"] == "INVALID_FORM" and "network team" in plan["report_only"][0]["who"]


def test_roles_run_in_order_reboot_last() -> None:
    plan = r.plan_host(
        diagnosed(
            finding("STACK_LISTENER_NOT_LISTENING"),
            finding("BOOTLOADER_NOT_RUNNING"),
            finding("INSTALLER_BUSY", "warning"),
        )["diagnosis"],
        [],
        [],
    )
    assert plan["roles"] == ["installer_busy", "boot_loader", "stack_listener"]


def test_starting_a_stopped_boot_loader_is_not_disruptive_restarting_a_silent_one_is() -> None:
    assert not r.plan_host(diagnosed(finding("BOOTLOADER_NOT_RUNNING"))["diagnosis"], [], [])["disruptive"]
    heartbeat = r.plan_host(diagnosed(finding("HEARTBEAT_LOST"))["diagnosis"], [], [])
    assert heartbeat["roles"] == ["boot_loader"] and heartbeat["disruptive"]


def test_policies_are_reported_unless_removal_is_consented() -> None:
    diagnosis = diagnosed(finding("INSTALL_MSI_BLOCKED"))["diagnosis"]
    reported = r.plan_host(diagnosis, [], [])
    assert reported["roles"] == [] and "Active Directory" in reported["report_only"][0]["who"]
    assert r.plan_host(diagnosis, [], [], remove_local_policy=True)["roles"] == ["policies"]


def test_info_findings_and_unknown_ids_are_not_acted_on() -> None:
    plan = r.plan_host(diagnosed(finding("AGENT_VERSION_DRIFT", "info"), finding("SOMETHING_NEW"))["diagnosis"], [], [])
    assert plan["roles"] == [] and plan["not_automated"][0]["id"] == "SOMETHING_NEW"


def test_only_and_skip() -> None:
    diagnosis = diagnosed(finding("STACK_LISTENER_NOT_LISTENING"), finding("BOOTLOADER_NOT_RUNNING"))["diagnosis"]
    assert r.plan_host(diagnosis, ["BOOTLOADER_NOT_RUNNING"], [])["roles"] == ["boot_loader"]
    skipped = r.plan_host(diagnosis, [], ["BOOTLOADER_NOT_RUNNING"])
    assert skipped["roles"] == ["stack_listener"] and skipped["excluded"] == ["BOOTLOADER_NOT_RUNNING"]


def test_filter_parses_comma_lists_and_refuses_unknown_ids() -> None:
    result = diagnosed(finding("BOOTLOADER_NOT_RUNNING"))
    assert avd_remediation_plan(result, " bootloader_not_running, ", "")["roles"] == ["boot_loader"]
    with pytest.raises(Exception, match="avd_skip names unknown finding ids: NOPE"):
        avd_remediation_plan(result, "", "nope")
    assert avd_remediation_plan({"unreachable": True, "msg": "down"})["roles"] == []


def test_outcomes() -> None:
    before = diagnosed(finding("INVALID_REGISTRATION_TOKEN"))
    plan = r.plan_host(before["diagnosis"], [], [])
    reached = {"reached": True, "drained": True, "drain_restored": True}
    assert r.host_outcome(before, diagnosed(), plan, reached)["outcome"] == "fixed"
    assert r.host_outcome(before, before, plan, reached)["outcome"] == "not_fixed"
    assert r.host_outcome(before, before, plan, reached, check_mode=True)["outcome"] == "planned"
    skipped = r.host_outcome(before, before, plan, {**reached, "skipped": "2 user session(s)"})
    assert skipped["outcome"] == "skipped" and skipped["skipped"] == "2 user session(s)"
    failed = r.host_outcome(before, {"unreachable": True, "msg": "timed out"}, plan, {**reached, "error": "x"})
    assert failed["outcome"] == "failed" and failed["after"] == {
        "state": "unreachable",
        "findings": [],
        "reason": "timed out",
    }
    not_reached = r.host_outcome(before, before, plan, {"reached": False})
    assert not_reached["outcome"] == "skipped" and not_reached["skipped"] == r.NOT_ATTEMPTED
    stopped = r.host_outcome(before, diagnosed(), plan, {"reached": False}, stopped="not attempted: batch a-01")
    assert stopped["outcome"] == "skipped" and stopped["skipped"] == "not attempted: batch a-01"
    assert (
        r.host_outcome(diagnosed(), diagnosed(), r.plan_host(None, [], []), {"reached": False})["outcome"]
        == "unchanged"
    )


def test_reports_written_together(tmp_path: Path) -> None:
    before = diagnosed(finding("INVALID_REGISTRATION_TOKEN"))
    plan = r.plan_host(before["diagnosis"], [], [])
    entries = {
        "avd-01": r.host_outcome(before, diagnosed(), plan, {"reached": True}),
        "avd-02": r.host_outcome(before, before, plan, {"reached": True, "skipped": "1 user session(s) <b>"}),
        "avd-03": r.host_outcome(before, before, plan, {"reached": True, "error": "boom"}),
    }
    report = r.build_report(entries, datetime.datetime(2026, 11, 26, tzinfo=datetime.UTC), check_mode=False)
    assert list(report["hosts"]) == ["avd-03", "avd-02", "avd-01"]  # failed first
    assert report["summary"] == {
        "hosts": 3,
        "failed": 1,
        "not_fixed": 0,
        "skipped": 1,
        "partly_fixed": 0,
        "planned": 0,
        "fixed": 1,
        "unchanged": 0,
    }
    files = r.write_reports(report, tmp_path)
    suite = ET.parse(files["junit"]).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1" and suite.get("skipped") == "1"
    html = Path(files["html"]).read_text()
    assert "&lt;b&gt;" in html and "<b>" not in html.split("<body>")[1].split("</header>")[1]
    lines = r.summary_lines(report, str(tmp_path))
    assert lines[1].startswith("avd-03") and "boom" in lines[1]
    assert "1 fixed, 0 partly fixed, 0 not fixed, 1 skipped, 1 failed" in lines[-2]
    assert "1 fixed, 0 partly fixed, 0 not fixed, 1 skipped, 1 failed, 0 unchanged, 0 planned." in html
    assert r.failing_message(report) == "1 failed: avd-03 (failed: boom)"
    assert suite.find("testcase[@name='avd-03']/failure").get("message") == "failed: boom"  # type: ignore[union-attr]


def test_the_same_words_for_an_outcome_everywhere(tmp_path: Path) -> None:
    """The summary, the HTML, JUnit and the run's closing message name each outcome alike (not_fixed: 'not fixed')."""
    before = diagnosed(finding("INVALID_REGISTRATION_TOKEN"), finding("BOOTLOADER_NOT_RUNNING"))
    plan = r.plan_host(before["diagnosis"], [], [])
    still = diagnosed(finding("BOOTLOADER_NOT_RUNNING"))
    entries = {
        "avd-01": r.host_outcome(before, still, plan, {"reached": True}),
        "avd-02": r.host_outcome(before, {"unreachable": True, "msg": "timed out"}, plan, {"reached": True}),
        "avd-03": r.host_outcome(before, diagnosed(), plan, {"reached": True}),
    }
    report = r.build_report(entries, datetime.datetime(2026, 11, 26, tzinfo=datetime.UTC), check_mode=False)
    message = r.failing_message(report)
    assert message == (
        "1 failed and 1 not fixed: avd-02 (failed: timed out); "
        "avd-01 (not fixed: BOOTLOADER_NOT_RUNNING still found after remediation)"
    )
    lines = r.summary_lines(report, "reports")
    assert [line.split()[1] for line in lines[1:3]] == ["failed", "not"]
    assert lines[2].split()[1:3] == ["not", "fixed"] and "not_fixed" not in "\n".join(lines)
    assert lines[-2] == "3 hosts: 1 fixed, 0 partly fixed, 1 not fixed, 0 skipped, 1 failed, 0 unchanged, 0 planned"
    html = r.render_html(report)
    assert ">not fixed</span>" in html and ">not_fixed<" not in html
    suite = ET.fromstring(r.render_junit(report)).find("testsuite")
    assert suite is not None and suite.get("failures") == "2"
    messages = {case.get("name"): [f.get("message") for f in case.iter("failure")] for case in suite}
    assert messages == {
        "avd-02": ["failed: timed out"],
        "avd-01": ["not fixed: BOOTLOADER_NOT_RUNNING still found after remediation"],
        "avd-03": [],
    }
    fixed_only = r.build_report(
        {"avd-03": entries["avd-03"]}, datetime.datetime(2026, 11, 26, tzinfo=datetime.UTC), False
    )
    assert fixed_only["summary"]["fixed"] == 1
    assert r.failing_message(fixed_only) == ""


def run(batch: list[str], error: str | None = None) -> dict[str, Any]:
    return {"reached": True, "batch": batch, **({"error": error} if error else {})}


def test_the_rollout_stops_after_a_batch_failed_beyond_the_percentage() -> None:
    first, second = ["a-01", "a-02"], ["a-03", "a-04"]
    runs = {"a-01": run(first, "boom"), "a-02": run(first), "a-03": {"reached": False}, "a-04": {"reached": False}}
    reason = r.rollout_stop(runs, second, 40)
    assert reason == (
        "not attempted: the rollout stopped after the batch a-01, a-02, where 1 of 2 host(s) failed (a-01), "
        "more than avd_max_fail_percentage=40"
    )
    assert r.rollout_stop(runs, second, 50) == ""  # 1 of 2 is 50%: not more than 50
    assert r.rollout_stop(runs, second, 100) == ""
    assert r.rollout_stop(runs, first, 0) == ""  # the batch running now is not counted (its hosts go on)
    # A host without a role still counts in its batch, as Ansible counts every host of a batch.
    runs_unchanged = {**runs, "a-02": {"reached": False, "batch": first}}
    assert r.rollout_stop(runs_unchanged, second, 40).startswith("not attempted: the rollout stopped after the batch")
    # Not yet run, or never reached: no batch, nothing to count.
    assert r.rollout_stop({"a-01": {"reached": False}, "a-02": {}}, second, 0) == ""
    with pytest.raises(r.RemediationInputError, match="avd_max_fail_percentage must be a whole number"):
        r.rollout_stop(runs, second, -1)


def test_rollout_stop_filter_takes_what_the_playbook_passes() -> None:
    runs = {"a-01": run(["a-01"], "boom"), "a-02": {"reached": False}}
    assert "a-01" in avd_rollout_stop(runs, ["a-02"], "0")
    assert avd_rollout_stop(runs, ["a-02"], "100") == ""
    with pytest.raises(Exception, match="avd_max_fail_percentage must be a whole number from 0 to 100; got 'lots'"):
        avd_rollout_stop(runs, ["a-02"], "lots")
    with pytest.raises(Exception, match="expects a mapping of host runs"):
        avd_rollout_stop(runs, "a-02", 10)


def test_an_outdated_dotnet_is_fixed_by_the_disruptive_dotnet_role_before_the_agents_own_fixes() -> None:
    plan = r.plan_host(
        diagnosed(finding("BOOTLOADER_NOT_RUNNING"), finding("DOTNET_OUTDATED"), finding("INSTALLER_BUSY", "warning"))[
            "diagnosis"
        ],
        [],
        [],
    )
    assert plan["roles"] == ["installer_busy", "dotnet", "boot_loader"] and plan["disruptive"]
    assert "DOTNET_OUTDATED" in plan["fixing"] and "DOTNET_OUTDATED" not in r.NO_ROLE_YET
    alone = r.plan_host(diagnosed(finding("DOTNET_OUTDATED", "warning"))["diagnosis"], [], [])
    assert alone["roles"] == ["dotnet"] and alone["disruptive"]


def test_the_stack_and_the_disk_have_roles_disk_first_reinstall_last() -> None:
    plan = r.plan_host(
        diagnosed(
            finding("SXS_STACK_NOT_INSTALLED"),
            finding("STACK_LISTENER_NOT_LISTENING", explained_by="SXS_STACK_NOT_INSTALLED"),
            finding("DISK_SPACE_LOW"),
        )["diagnosis"],
        [],
        [],
    )
    assert plan["roles"] == ["disk_cleanup", "sxs_stack"] and plan["disruptive"]
    assert plan["fixing"] == ["SXS_STACK_NOT_INSTALLED", "DISK_SPACE_LOW"] and plan["not_automated"] == []


def test_a_failed_stack_health_check_goes_to_the_listener_fix_first_when_the_listener_is_down() -> None:
    # Article: InstallationHealthCheckFailedException - check the listener; if it does not work, reinstall the stack.
    down = r.plan_host(
        diagnosed(
            finding("STACK_LISTENER_NOT_LISTENING"),
            finding("INSTALLATION_HEALTH_CHECK_FAILED", explained_by="STACK_LISTENER_NOT_LISTENING"),
        )["diagnosis"],
        [],
        [],
    )
    assert down["roles"] == ["stack_listener"]  # which hands over to sxs_stack when flags and a restart fail
    alone = r.plan_host(diagnosed(finding("INSTALLATION_HEALTH_CHECK_FAILED"))["diagnosis"], [], [])
    assert alone["roles"] == ["sxs_stack"]
    assert r.ROLE_ORDER.index("disk_cleanup") < min(r.ROLE_ORDER.index(x) for x in ("registration", "sxs_stack"))


def test_an_agent_that_is_not_installed_gets_the_full_reinstall_which_is_disruptive() -> None:
    diagnosis = diagnosed(
        finding("AGENT_NOT_INSTALLED"), finding("BOOTLOADER_NOT_RUNNING", explained_by="AGENT_NOT_INSTALLED")
    )["diagnosis"]
    plan = r.plan_host(diagnosis, [], [])
    assert plan["roles"] == ["reinstall"] and plan["fixing"] == ["AGENT_NOT_INSTALLED"] and plan["disruptive"]
    assert "AGENT_NOT_INSTALLED" not in r.NO_ROLE_YET


def test_the_full_reinstall_needs_the_agent_missing_now_not_a_load_error_alone() -> None:
    """A warning AGENT_NOT_INSTALLED (only an AgentLoadException logged) must not start the full reinstall."""
    logged_only = r.plan_host(diagnosed(finding("AGENT_NOT_INSTALLED", "warning"))["diagnosis"], [], [])
    assert logged_only["roles"] == [] and logged_only["fixing"] == [] and not logged_only["disruptive"]
    assert [n["id"] for n in logged_only["not_automated"]] == ["AGENT_NOT_INSTALLED"]
    assert "reinstall.yml by hand" in logged_only["not_automated"][0]["reason"]
    missing = r.plan_host(diagnosed(finding("AGENT_NOT_INSTALLED"))["diagnosis"], [], [])
    assert missing["roles"] == ["reinstall"] and missing["fixing"] == ["AGENT_NOT_INSTALLED"] and missing["disruptive"]


# --- the rollout gate counts a host attempted and not fixed (issue 18, item 6) -----------------------------------
def ran(batch: list[str], outcome: str, why: str = "") -> dict[str, Any]:
    """A host's run once its fix is done, as remediate.yml notes it (avd_remediation_outcome)."""
    return {**run(batch), "outcome": outcome, "outcome_why": why}


def test_a_host_attempted_and_not_fixed_counts_against_the_percentage_as_a_failed_one() -> None:
    first, second = ["a-01", "a-02"], ["a-03"]
    runs = {
        "a-01": ran(first, "not_fixed", "DISK_SPACE_LOW still found after remediation"),
        "a-02": ran(first, "fixed"),
    }
    assert r.rollout_stop(runs, second, 49) == (
        "not attempted: the rollout stopped after the batch a-01, a-02, where 1 of 2 host(s) failed or were attempted "
        "and not fixed (a-01: attempted and not fixed, DISK_SPACE_LOW still found after remediation), more than "
        "avd_max_fail_percentage=49"
    )
    assert r.rollout_stop(runs, second, 50) == ""  # exactly at the percentage (1 of 2 is 50%): the rollout goes on
    assert r.rollout_stop(runs, second, 0).startswith("not attempted: the rollout stopped after the batch a-01, a-02")
    assert r.rollout_stop(runs, first, 0) == ""  # the batch running now is not counted


def test_the_gate_at_zero_percent_and_one_host_per_batch() -> None:
    runs = {"a-01": ran(["a-01"], "not_fixed", "X still found after remediation"), "a-02": {}}
    assert r.rollout_stop(runs, ["a-02"], 0) == (
        "not attempted: the rollout stopped after the batch a-01, where 1 of 1 host(s) failed or were attempted and "
        "not fixed (a-01: attempted and not fixed, X still found after remediation), more than "
        "avd_max_fail_percentage=0"
    )
    assert r.rollout_stop(runs, ["a-02"], 100) == ""  # 1 of 1 is 100%: not more than 100
    assert r.rollout_stop(runs, ["a-02"], 99) != ""  # one under: it stops


def test_each_outcome_and_what_the_gate_makes_of_it() -> None:
    batch, after = ["a-01", "a-02", "a-03"], ["a-04"]
    # What does not fail the run does not count: fixed, partly fixed, skipped, unchanged, planned, none noted.
    for outcome in ("fixed", "partly_fixed", "skipped", "unchanged", "planned", None):
        runs = {"a-01": {**run(batch), "outcome": outcome}, "a-02": run(batch), "a-03": run(batch)}
        assert r.rollout_stop(runs, after, 0) == "", outcome
        assert r.gate_failure(runs["a-01"]) is None
    lost = ran(batch, "failed", "unreachable")
    assert r.gate_failure(lost) == "failed after its fix, unreachable"
    assert r.gate_failure({**lost, "outcome_why": ""}) == "failed after its fix"
    assert r.gate_failure(ran(batch, "not_fixed")) == "attempted and not fixed"
    assert r.gate_failure(run(batch, "boom")) == ""  # an error: the host's name says it, as before
    assert r.gate_failure("not a run") is None
    # A batch of each kind, two of three counted: 66% is more than 66, not more than 67.
    runs = {"a-01": run(batch, "boom"), "a-02": lost, "a-03": ran(batch, "fixed")}
    assert r.rollout_stop(runs, after, 66) == (
        "not attempted: the rollout stopped after the batch a-01, a-02, a-03, where 2 of 3 host(s) failed or were "
        "attempted and not fixed (a-01; a-02: failed after its fix, unreachable), more than avd_max_fail_percentage=66"
    )
    assert r.rollout_stop(runs, after, 67) == ""
    # Errors alone read as they always did.
    only_errors = {"a-01": run(batch, "boom"), "a-02": run(batch, "bang"), "a-03": ran(batch, "fixed")}
    assert "where 2 of 3 host(s) failed (a-01, a-02), more than" in r.rollout_stop(only_errors, after, 0)
    # reinstall.yml and move.yml note no outcome: a whole batch failed still stops them, as before.
    whole = {"a-01": run(["a-01"], "boom")}
    assert r.rollout_stop(whole, [], 100, whole_batch=True).endswith("where every host failed (a-01)")
    assert r.rollout_stop({"a-01": ran(["a-01"], "fixed")}, [], 100, whole_batch=True) == ""


def test_the_outcome_once_a_fix_is_done_is_the_reports() -> None:
    before = diagnosed(finding("DISK_SPACE_LOW"))
    still = diagnosed(finding("DISK_SPACE_LOW", "warning"))
    healthy = diagnosed()
    plan = r.plan_host(before["diagnosis"], [], [])
    reached = {"reached": True}
    not_fixed = {"outcome": "not_fixed", "why": "DISK_SPACE_LOW still found after remediation"}
    assert r.run_outcome(before, still, plan, reached) == not_fixed
    assert r.run_outcome(before, healthy, plan, reached) == {"outcome": "fixed", "why": ""}
    assert r.run_outcome(before, healthy, plan, reached, check_mode=True) == {"outcome": "planned", "why": ""}
    assert r.run_outcome(before, {"unreachable": True, "msg": "gone"}, plan, reached) == {
        "outcome": "failed",
        "why": "gone",
    }
    assert r.run_outcome(before, still, plan, {"reached": True, "skipped": "users"})["outcome"] == "skipped"
    assert avd_remediation_outcome(still, before, plan, reached, False) == not_fixed
    assert avd_remediation_outcome(healthy, before, plan, reached)["outcome"] == "fixed"
    with pytest.raises(Exception, match=r"avd_remediation_outcome: expects .*; plan is not"):
        avd_remediation_outcome(healthy, before, "plan", reached)
