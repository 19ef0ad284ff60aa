"""Reports that say what the diagnosis found: entries, summary order and counts, JUnit, the terminal table, files."""

from __future__ import annotations

import datetime
import json
import xml.etree.ElementTree as ET
from typing import Any

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _reports as rep
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _rules as r

NOW = datetime.datetime(2026, 11, 25, 13, 30, 59, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))


def finding(check: str, severity: str = "critical", explained_by: str | None = None) -> dict[str, Any]:
    return r.Finding(check, severity, [f"{check} evidence"], explained_by=explained_by).as_dict()


def diagnosed(*findings: dict[str, Any], unchecked: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    state = "unhealthy" if any(f["severity"] != "info" for f in findings) else "healthy"
    return {
        "changed": False,
        "diagnosis": {"state": state, "findings": list(findings), "unchecked": unchecked or [], **extra},
    }


def report(results: dict[str, Any]) -> dict[str, Any]:
    return rep.build_report({name: rep.host_entry(result) for name, result in results.items()}, NOW)


def test_a_diagnosed_entry_carries_stale_events_and_the_pools_view():
    entry = rep.host_entry(diagnosed(stale_events=["event 3277 ..."], host_pool={"status": "Available"}))
    assert {key: entry[key] for key in ("state", "findings", "unchecked", "stale_events", "host_pool")} == {
        "state": "healthy",
        "findings": [],
        "unchecked": [],
        "stale_events": ["event 3277 ..."],
        "host_pool": {"status": "Available"},
    }
    bare = rep.host_entry({"diagnosis": {}})
    assert bare["state"] == "healthy" and bare["findings"] == [] and bare["stale_events"] == []


def test_entries_of_hosts_that_were_not_diagnosed():
    assert rep.host_entry(None)["state"] == "failed" and rep.host_entry({})["state"] == "failed"
    unreachable = rep.host_entry({"unreachable": True, "msg": "timed out"})
    assert unreachable["state"] == "unreachable" and "timed out" in unreachable["reason"]
    assert unreachable["findings"] == [] and unreachable["unchecked"] == []
    failed = rep.host_entry({"failed": True})
    assert failed["state"] == "failed" and failed["reason"] and failed["findings"] == [] and failed["unchecked"] == []
    assert rep.host_entry({"failed": False, "diagnosis": "not a mapping"})["state"] == "failed"
    assert rep.host_entry({"failed": True, "msg": "boom"})["reason"] == "boom"


def test_the_summary_orders_counts_and_time():
    data = report(
        {
            "a": diagnosed(finding("DOTNET_OUTDATED", "warning")),
            "b": diagnosed(finding("DOTNET_OUTDATED", "warning"), finding("UNSUPPORTED_OS")),
            "c": diagnosed(
                finding("AGENT_NOT_INSTALLED"), finding("BOOTLOADER_NOT_RUNNING", explained_by="AGENT_NOT_INSTALLED")
            ),
            "d": diagnosed(finding("BOOTLOADER_NOT_RUNNING")),
        }
    )
    assert data["generated"] == "2026-11-25T11:30:59Z"
    assert list(data["hosts"]) == ["a", "b", "c", "d"]
    summary = data["summary"]
    # most frequent first, then by id
    assert list(summary["by_finding"].items()) == [
        ("BOOTLOADER_NOT_RUNNING", 2),
        ("DOTNET_OUTDATED", 2),
        ("AGENT_NOT_INSTALLED", 1),
        ("UNSUPPORTED_OS", 1),
    ]
    assert list(summary["by_root_cause"].items()) == [
        ("DOTNET_OUTDATED", 2),
        ("AGENT_NOT_INSTALLED", 1),
        ("BOOTLOADER_NOT_RUNNING", 1),
        ("UNSUPPORTED_OS", 1),
    ]
    assert summary["by_severity"] == {"critical": 4, "warning": 2, "info": 0}
    assert (summary["hosts"], summary["unhealthy"], summary["healthy"]) == (4, 4, 0)


def test_hosts_are_ordered_by_state_then_worst_finding_then_name():
    data = report(
        {
            "h-info": diagnosed(finding("DOTNET_OUTDATED", "info")),
            "h-ok": diagnosed(),
            "h-warn": diagnosed(finding("DOTNET_OUTDATED", "warning")),
            "a-crit": diagnosed(finding("DOTNET_OUTDATED", "warning"), finding("UNSUPPORTED_OS")),
            "z-crit": diagnosed(finding("UNSUPPORTED_OS")),
            "gone": {"unreachable": True, "msg": "timed out"},
            "broke": {"failed": True, "msg": "x"},
        }
    )
    order = [name for name, _unused in rep.ordered_hosts(data)]
    assert order == ["gone", "broke", "a-crit", "z-crit", "h-warn", "h-info", "h-ok"]
    data["hosts"]["odd"] = {"state": "bogus", "findings": [], "unchecked": []}  # a state this module does not rank
    assert [name for name, _unused in rep.ordered_hosts(data)][-1] == "odd"


def junit(data: dict[str, Any]) -> ET.Element:
    return ET.fromstring(rep.render_junit(data))


def test_junit_counts_failures_errors_skips_and_tells_the_cause():
    data = report(
        {
            "sh-01": diagnosed(
                finding("AGENT_NOT_INSTALLED"),
                finding("BOOTLOADER_NOT_RUNNING", explained_by="AGENT_NOT_INSTALLED"),
                finding("DOTNET_OUTDATED", "info"),
                unchecked=["SESSION_LIMIT_REACHED: the host pool's max session limit is unknown"],
            ),
            "sh-02": {"unreachable": True, "msg": "ntlm: credentials rejected " + "y" * 600},
        }
    )
    root = junit(data)
    suite = root.find("testsuite")
    assert root.get("name") == "avdops.sessionhost diagnosis" and suite.get("name") == "avd-session-hosts"
    assert suite.get("timestamp") == "2026-11-25T11:30:59Z"
    expected = {"tests": str(len(r.CHECKS) + 1), "failures": "2", "errors": "1", "skipped": "1"}
    assert {key: suite.get(key) for key in expected} == expected
    assert {key: root.get(key) for key in expected} == expected
    cases = {(c.get("classname"), c.get("name").split(":")[0]): c for c in suite.findall("testcase")}
    symptom = cases[("sh-01", "BOOTLOADER_NOT_RUNNING")].find("failure")
    assert symptom.get("type") == "critical" and symptom.get("message").startswith("critical: ")
    lines = symptom.text.splitlines()
    assert lines[0] == "Explained by AGENT_NOT_INSTALLED." and lines[1] == "BOOTLOADER_NOT_RUNNING evidence"
    assert lines[-2].startswith("Fix: ") and lines[-1].startswith("Doc: https://")
    root_cause = cases[("sh-01", "AGENT_NOT_INSTALLED")].find("failure")
    assert root_cause.text.splitlines()[0] == "AGENT_NOT_INSTALLED evidence"
    assert cases[("sh-01", "DOTNET_OUTDATED")].find("failure") is None  # info is not a failure
    skipped = cases[("sh-01", "SESSION_LIMIT_REACHED")].find("skipped")
    assert skipped.get("message").startswith("SESSION_LIMIT_REACHED: ")
    error = cases[("sh-02", "connect and gather")].find("error")
    assert error.get("type") == "unreachable" and len(error.get("message")) == 500
    assert error.get("message").startswith("unreachable: ") and "ntlm" in error.get("message")
    assert error.text.endswith("y" * 600)


def test_the_terminal_table():
    data = report(
        {
            "sh-01": diagnosed(
                finding("AGENT_NOT_INSTALLED"), finding("BOOTLOADER_NOT_RUNNING", explained_by="AGENT_NOT_INSTALLED")
            ),
            "sh-02": diagnosed(),
            "sh-03": {"failed": True, "msg": "could not\n  gather   facts"},
        }
    )
    lines = rep.summary_lines(data, "/tmp/reports")
    assert lines[0] == f"{'HOST':<24} {'STATE':<12} FINDINGS (root cause first)"
    assert lines[1] == f"{'sh-03':<24} {'failed':<12} could not gather facts"
    assert lines[2] == (
        f"{'sh-01':<24} {'unhealthy':<12} AGENT_NOT_INSTALLED, BOOTLOADER_NOT_RUNNING (<- AGENT_NOT_INSTALLED)"
    )
    assert lines[3] == f"{'sh-02':<24} {'healthy':<12} -"
    assert "3 hosts" in lines[4] and "1 healthy" in lines[4] and "1 unhealthy" in lines[4] and "1 failed" in lines[4]
    assert lines[5] == "Reports: /tmp/reports/diagnosis.html, diagnosis.json, junit-diagnosis.xml"


def test_the_report_files(tmp_path):
    data = report({"sh-01": diagnosed(finding("UNSUPPORTED_OS")), "sh-é": diagnosed()})
    target = tmp_path / "a" / "b"
    files = rep.write_reports(data, target)
    assert files == {
        "json": str(target / "diagnosis.json"),
        "html": str(target / "diagnosis.html"),
        "junit": str(target / "junit-diagnosis.xml"),
    }
    text = (target / "diagnosis.json").read_text(encoding="utf-8")
    assert text == json.dumps(data, indent=2) + "\n"  # the report's own order, not sorted keys
    assert {"generated", "hosts", "summary"} <= set(json.loads(text)) and list(json.loads(text)) == list(data)
    assert "sh-é" in (target / "diagnosis.html").read_text(encoding="utf-8")
    assert ET.fromstring((target / "junit-diagnosis.xml").read_bytes()).tag == "testsuites"
    rep.write_reports(data, target)  # again into the same directory


# --- the triage details, stopped hosts, the run's own failure ----------------------------
FACTS = {
    "agent": {"version": "1.0.10004.1300", "sxs_stack_version": "1.0.2407.05700"},
    "sessions": {"total": 2, "by_state": {"Active": 2}},
}
POOL = {
    "host_pool": "hp-prod",
    "status": "Available",
    "sessions": 3,
    "allow_new_session": False,
    "agent_version": "1.0.9742.1500",
    "sxs_stack_version": "1.0.2404.16760",
    "last_heartbeat": "2026-11-25T11:29:30Z",
}


def test_details_prefer_the_hosts_own_answers_then_the_pools():
    result = {**diagnosed(), "ansible_facts": {"avd_session_host": FACTS}}
    details = rep.host_entry(result, POOL)["details"]
    assert details == {
        "host_pool": "hp-prod",
        "status": "Available",
        "sessions": 3,  # the pool's count of sessions wins
        "drain_mode": True,  # allow_new_session False
        "agent_version": "1.0.10004.1300",  # the host's own answer
        "sxs_stack_version": "1.0.2407.05700",
        "last_heartbeat": "2026-11-25T11:29:30Z",
    }
    from_pool = rep.host_entry(diagnosed(), {**POOL, "sessions": None, "allow_new_session": True})["details"]
    assert from_pool["agent_version"] == "1.0.9742.1500" and from_pool["sxs_stack_version"] == "1.0.2404.16760"
    assert from_pool["drain_mode"] is False and from_pool["sessions"] is None
    own_sessions = rep.host_entry(result, {**POOL, "sessions": None})["details"]
    assert own_sessions["sessions"] == 2
    nothing = rep.host_entry(diagnosed())["details"]
    assert nothing == dict.fromkeys(details)
    not_mappings = {**diagnosed(), "ansible_facts": {"avd_session_host": {"agent": "x", "sessions": 5}}}
    assert rep.host_entry(not_mappings, {"sessions": None, "agent_version": "p"})["details"]["agent_version"] == "p"
    assert rep.host_entry(not_mappings, {"sessions": None})["details"]["sessions"] is None


def test_the_diagnosis_pool_view_wins_over_the_inventorys():
    result = diagnosed(host_pool={"status": "Unavailable", "host_pool": "hp-a"})
    entry = rep.host_entry(result, {"status": "Available", "host_pool": "hp-b"})
    assert entry["host_pool"]["status"] == "Unavailable" and entry["details"]["status"] == "Unavailable"


def test_a_stopped_vm_is_stopped_not_failed_or_unreachable():
    off = {"power_state": "VM deallocated", "status": "Shutdown"}
    not_run = rep.host_entry(None, off)
    assert not_run["state"] == "stopped" and not_run["reason"] and not_run["host_pool"] == off
    assert not_run["details"]["status"] == "Shutdown"
    unreachable = rep.host_entry({"unreachable": True, "msg": "timed out"}, off)
    assert unreachable["state"] == "stopped" and "timed out" in unreachable["reason"]
    failed = rep.host_entry({"failed": True, "msg": "no route"}, off)
    assert failed["state"] == "stopped" and "no route" in failed["reason"]
    failed_after_diagnosis = rep.host_entry({"failed": True, "msg": "x", "diagnosis": {}}, off)
    assert failed_after_diagnosis["state"] == "failed"
    unreachable_quietly = rep.host_entry({"unreachable": True}, None)
    assert unreachable_quietly["state"] == "unreachable" and "unreachable" in unreachable_quietly["reason"]


def test_a_stopped_diagnosis_and_its_reason_are_kept():
    entry = rep.host_entry({"diagnosis": {"state": "stopped", "reason": "the VM is deallocated", "findings": []}})
    assert entry["state"] == "stopped" and entry["reason"] == "the VM is deallocated"
    recomputed = rep.host_entry({"diagnosis": {"state": "healthy", "findings": [finding("UNSUPPORTED_OS")]}})
    assert recomputed["state"] == "unhealthy"  # the state follows the findings, whatever the result said
    assert "reason" not in rep.host_entry({"diagnosis": {"state": "healthy", "findings": []}})
    assert rep.host_entry({"diagnosis": {"findings": [], "reason": 42}})["reason"] == "42"


def test_the_report_lists_each_found_check_with_its_title_and_doc():
    data = report({"a": diagnosed(finding("UNSUPPORTED_OS")), "b": diagnosed(finding("UNSUPPORTED_OS"))})
    check = r.CHECKS["UNSUPPORTED_OS"]
    assert data["findings"] == {"UNSUPPORTED_OS": {"title": check.title, "doc": check.doc}}
    bare = {"id": "X_CHECK", "severity": "warning", "evidence": [], "explained_by": None}
    entries = {"h": {"state": "unhealthy", "findings": [bare], "unchecked": []}}
    assert rep.build_report(entries, NOW)["findings"] == {"X_CHECK": {"title": "X_CHECK", "doc": ""}}


def test_unreachable_hosts_are_counted_by_reason_and_unknown_states_counted():
    data = report(
        {
            "a": {"unreachable": True, "msg": "certificate verify failed"},
            "b": {"unreachable": True, "msg": "connection timed out"},
            "c": {"unreachable": True, "msg": "certificate verify failed: self signed"},
        }
    )
    by_reason = data["summary"]["unreachable_by_reason"]
    assert sum(by_reason.values()) == 3 and max(by_reason.values()) == 2
    entries = {"x": {"state": "rebooting", "findings": [], "unchecked": []}}
    assert rep.build_report(entries, NOW)["summary"]["rebooting"] == 1


def test_why_a_run_fails_as_a_whole():
    assert rep.run_failure(report({"a": diagnosed()}), "critical") is None
    failed = rep.run_failure(
        report(
            {
                "a": {"failed": True, "msg": "r1"},
                "b": {"failed": True, "msg": "r2"},
                "c": {"failed": True, "msg": "r3"},
                "d": {"failed": True, "msg": "r4"},
                "e": {"unreachable": True, "msg": "timed out"},
            }
        ),
        "none",
    )
    assert failed is not None and "1 unreachable, 4 failed" in failed
    assert "r1; r2; r3" in failed and "r4" not in failed  # the first three reasons
    stopped = rep.build_report({"a": rep.host_entry(None, {"power_state": "VM deallocated"})}, NOW)
    assert rep.run_failure(stopped, "none") is None and "stopped" in (rep.run_failure(stopped, "warning") or "")
    empty = rep.build_report({}, NOW)
    assert rep.run_failure(empty, "none") is None and "no hosts" in (rep.run_failure(empty, "critical") or "")


def test_html_whitespace_and_junit_names_for_other_reports(tmp_path):
    data = report({"sh-01": diagnosed(finding("UNSUPPORTED_OS"))})
    html = rep.render_html(data)
    assert html.endswith("\n") and not html.endswith("\n\n\n")
    assert "\n\n\n" not in html  # blocks and indents of the template are trimmed
    files = rep.write_reports(data, tmp_path, stem="image", html=False)
    assert set(files) == {"json", "junit"} and files["junit"].endswith("junit-image.xml")
    root = ET.fromstring((tmp_path / "junit-image.xml").read_bytes())
    assert root.get("name") == "avdops.sessionhost image" and root.find("testsuite").get("name") == "avd-image"


def test_junit_for_a_run_that_checked_nothing_stopped_hosts_and_passed_checks():
    entries = {
        "off": rep.host_entry(None, {"power_state": "VM deallocated"}),
        "on": rep.host_entry(
            diagnosed(
                finding("DOTNET_OUTDATED", "warning"),
                unchecked=["SESSION_LIMIT_REACHED: no pool data: max_session_limit: unknown"],
            )
        ),
    }
    entries["on"]["passed"] = {"UNSUPPORTED_OS": ["EditionID=EnterpriseMultiSession", "supports the stack"]}
    reason = "no host was diagnosed: " + "z" * 600
    data = rep.build_report(entries, NOW, run={"failure": reason})
    root = junit(data)
    suite = root.find("testsuite")
    cases = {(c.get("classname"), c.get("name").split(":")[0]): c for c in suite.findall("testcase")}
    run = cases[("run", "hosts diagnosed")].find("error")
    assert run.get("type") == "run" and run.get("message") == reason[:500] and run.text == reason
    stopped = cases[("off", "connect and gather")].find("skipped")
    assert stopped.get("message").startswith("stopped: the VM is") and "deallocated" in stopped.get("message")
    warning = cases[("on", "DOTNET_OUTDATED")].find("failure")
    assert warning is not None and warning.get("type") == "warning"
    skipped = cases[("on", "SESSION_LIMIT_REACHED")].find("skipped")
    assert skipped.get("message") == "SESSION_LIMIT_REACHED: no pool data: max_session_limit: unknown"
    out = cases[("on", "UNSUPPORTED_OS")].find("system-out")
    assert out.text == "EditionID=EnterpriseMultiSession\nsupports the stack"
    tests = 1 + 1 + len(r.CHECKS)
    expected = {"tests": str(tests), "failures": "1", "errors": "1", "skipped": "2"}
    assert {key: suite.get(key) for key in expected} == expected


def test_the_terminal_table_for_unreachable_and_incomplete_hosts():
    entries = {
        "gone": rep.host_entry({"unreachable": True, "msg": "ntlm: the specified credentials were rejected"}),
        "part": rep.host_entry(
            diagnosed(unchecked=["DISK_SPACE_LOW: gather_subset left out disk", "DOTNET_OUTDATED: left out dotnet"])
        ),
        "odd": {"state": "unreachable", "reason": "no colon here", "findings": [], "unchecked": []},
    }
    lines = rep.summary_lines(rep.build_report(entries, NOW), "r")
    gone = next(line for line in lines if line.startswith("gone "))
    label = entries["gone"]["reason"].split(": ", 1)[0]
    assert gone.split(None, 2)[2].startswith(f"{label}: ") and gone.endswith("the specified credentials were rejected")
    odd = next(line for line in lines if line.startswith("odd "))
    assert odd.split(None, 2)[2] == "could not connect: no colon here"
    part = next(line for line in lines if line.startswith("part "))
    assert part.split(None, 2)[2] == "-; not checked: DISK_SPACE_LOW, DOTNET_OUTDATED"


def test_the_image_table_speaks_of_images_and_checks():
    """Issue 21: validate_image.yml's summary said healthy/unhealthy and 'diagnosed' of an image VM."""
    entries = {
        "img-clean": rep.host_entry(diagnosed()),
        "img-reboot": rep.host_entry(
            diagnosed({**finding("UNSUPPORTED_OS"), "id": "IMAGE_NO_PENDING_REBOOT", "title": "a reboot is pending"})
        ),
        "img-gone": rep.host_entry({"unreachable": True, "msg": "timed out"}),
    }
    lines = rep.summary_lines(rep.build_report(entries, NOW), "r", "image-validation.json", image=True)
    assert lines[0] == f"{'IMAGE VM':<24} {'RESULT':<12} FAILED CHECKS"
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in lines[1:-2]}
    assert rows["img-clean"] == ["passed", "-"] and rows["img-reboot"] == ["failed", "IMAGE_NO_PENDING_REBOOT"]
    assert rows["img-gone"][0] == "unreachable"
    assert lines[-2] == (
        "3 image VM(s), 2 checked: 1 passed, 1 failed a check, 0 incomplete, 0 stopped, 1 unreachable, "
        "0 not checked (an error)"
    )
    assert lines[-1] == "Reports: r/image-validation.json"
    assert not [line for line in lines if "healthy" in line or "diagnosed" in line]


def test_a_long_failure_reason_is_cut_in_the_table():
    entries = {"f": rep.host_entry({"failed": True, "msg": "w" * 300})}
    line = rep.summary_lines(rep.build_report(entries, NOW), "r")[1]
    assert len(line.split(None, 2)[2]) <= 120 and line.split(None, 2)[2].startswith("w" * 100)


# --- the triage grid: what each host's row says ------------------------------------------------
POOL_VIEW = {
    "host_pool": "hp-prod",
    "status": "Available",
    "sessions": 0,
    "allow_new_session": True,
    "agent_version": "1.0.9742.1500",
    "sxs_stack_version": "rdp-sxs240705700",
    "last_heartbeat": "2026-11-25T11:29:00Z",
}


def test_the_grid_shows_each_hosts_root_cause_or_why_it_was_not_checked():
    long_reason = "the runtime answered nothing the controller could read: " + "x" * 100
    entries = {
        # the symptom is listed first: the grid still names the root cause
        "sh-01": rep.host_entry(
            diagnosed(
                finding("BOOTLOADER_NOT_RUNNING", explained_by="INVALID_REGISTRATION_TOKEN"),
                finding("INVALID_REGISTRATION_TOKEN"),
            ),
            POOL_VIEW,
        ),
        # information only: no cause
        "sh-02": rep.host_entry(diagnosed(finding("AGENT_VERSION_DRIFT", "info")), {**POOL_VIEW, "sessions": 3}),
        "sh-03": {**rep.host_entry({"unreachable": True, "msg": "timed out"}), "reason_class": "timeout"},
        "sh-04": {**rep.host_entry({"unreachable": True, "msg": "?"}), "reason_class": None},
        "sh-05": rep.host_entry({"failed": True, "msg": long_reason}),
        "sh-06": {**rep.host_entry({"failed": True}), "reason": ""},
        "sh-07": rep.host_entry(
            diagnosed(unchecked=["DOTNET_OUTDATED: gather_subset left out dotnet", "DISK_SPACE_LOW: x"]),
            {**POOL_VIEW, "allow_new_session": False},
        ),
    }
    entries["sh-07"]["state"] = "incomplete"
    rows = {row["name"]: row for row in rep.grid_rows(rep.build_report(entries, NOW))}
    assert (rows["sh-01"]["root_cause"], rows["sh-01"]["root_is_finding"]) == ("INVALID_REGISTRATION_TOKEN", True)
    assert rows["sh-01"]["findings"] == ["BOOTLOADER_NOT_RUNNING", "INVALID_REGISTRATION_TOKEN"]
    assert rows["sh-01"]["root_causes"] == ["INVALID_REGISTRATION_TOKEN"]
    assert (rows["sh-02"]["root_cause"], rows["sh-02"]["root_is_finding"]) == ("", False)
    assert (rows["sh-03"]["root_cause"], rows["sh-03"]["root_is_finding"]) == (rep.UNREACHABLE_LABELS["timeout"], False)
    assert rows["sh-04"]["root_cause"] == "could not connect"
    assert (
        rows["sh-05"]["root_cause"] == rep.short_reason(long_reason, limit=70)
        and len(rows["sh-05"]["root_cause"]) <= 70
    )
    assert rows["sh-05"]["root_cause"] != rep.short_reason(long_reason, limit=71)
    assert (rows["sh-06"]["root_cause"], rows["sh-06"]["root_is_finding"]) == ("failed", False)
    assert (rows["sh-07"]["root_cause"], rows["sh-07"]["root_is_finding"]) == ("not checked: 2", False)
    assert {name: row["state_rank"] for name, row in rows.items()} == {
        name: rep.STATE_ORDER[entry["state"]] for name, entry in entries.items()
    }
    assert {key: rows["sh-01"][key] for key in POOL_VIEW if key in rows["sh-01"]} | {
        "pool": rows["sh-01"]["pool"],
        "drain_mode": rows["sh-01"]["drain_mode"],
    } == {
        "status": "Available",
        "sessions": 0,  # zero sessions is a count, not an empty cell
        "agent_version": "1.0.9742.1500",
        "sxs_stack_version": "rdp-sxs240705700",
        "last_heartbeat": "2026-11-25T11:29:00Z",
        "pool": "hp-prod",
        "drain_mode": "off",
    }
    assert rows["sh-02"]["sessions"] == 3 and rows["sh-07"]["drain_mode"] == "on"
    assert {key: rows["sh-05"][key] for key in ("pool", "status", "sessions", "drain_mode", "agent_version")} == {
        "pool": "",
        "status": "",
        "sessions": "",
        "drain_mode": "",
        "agent_version": "",
    }
    assert {key: rows["sh-05"][key] for key in ("sxs_stack_version", "last_heartbeat")} == {
        "sxs_stack_version": "",
        "last_heartbeat": "",
    }


def test_a_host_in_a_state_the_grid_does_not_know_is_ranked_after_the_known_ones():
    entry = {**rep.host_entry(diagnosed()), "state": "rebooting"}
    (row,) = rep.grid_rows(rep.build_report({"sh-09": entry}, NOW))
    assert row["state_rank"] == 9 and max(rep.STATE_ORDER.values()) < 9


def test_the_html_grid_escapes_what_hosts_said_and_lists_the_findings(tmp_path):
    data = report(
        {"sh-01": diagnosed(finding("UNSUPPORTED_OS")), "sh-02": {"failed": True, "msg": "<script>x</script>"}}
    )
    html = rep.render_html(data)
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert all(line == line.rstrip() for line in html.splitlines())  # indented block tags leave no spaces behind
    assert "UNSUPPORTED_OS" in html and r.CHECKS["UNSUPPORTED_OS"].title in html
    files = rep.write_reports(data, tmp_path)
    root = ET.fromstring((tmp_path / "junit-diagnosis.xml").read_bytes())
    assert (
        root.get("name") == "avdops.sessionhost diagnosis" and root.find("testsuite").get("name") == "avd-session-hosts"
    )
    text = (tmp_path / "diagnosis.json").read_text(encoding="utf-8")
    assert json.loads(text) == data and text.startswith('{\n  "generated"') and files["html"].endswith("diagnosis.html")


def test_the_table_keeps_the_connection_error_after_its_prefix_and_names_unchecked_checks():
    message = "ntlm: HTTPSConnectionPool(host='sh-01', port=5986): Max retries exceeded"
    unreachable = {**rep.host_entry({"unreachable": True, "msg": message}), "reason_class": "timeout"}
    incomplete = rep.host_entry(diagnosed(unchecked=["DOTNET_OUTDATED: operation dotnet.ndp failed: Access: denied"]))
    incomplete["state"] = "incomplete"
    lines = rep.summary_lines(rep.build_report({"sh-01": unreachable, "sh-02": incomplete}, NOW), "reports")
    assert lines[1].endswith(
        f"{rep.UNREACHABLE_LABELS['timeout']}: ntlm: HTTPSConnectionPool(host='sh-01', port=5986): Max retries exceeded"
    )
    assert lines[2].endswith("-; not checked: DOTNET_OUTDATED")


def test_a_run_where_no_host_was_diagnosed_quotes_each_reason_cut_to_200():
    reason = "WinRM: " + "y" * 300
    data = report({"a": {"failed": True, "msg": reason}, "b": {"failed": True, "msg": "boom"}})
    failure = rep.run_failure(data, "critical")
    assert failure == (
        f"no host was diagnosed: 0 unreachable, 2 failed, 0 stopped of 2 ({rep.short_reason(reason, 200)}; boom)"
    )
    assert rep.short_reason(reason, 200) != rep.short_reason(reason, 201)


def test_the_grid_lists_every_root_cause_of_a_host():
    """Issue 21: a host with two root causes showed only the first in the grid."""
    entry = rep.host_entry(
        diagnosed(
            finding("DOTNET_OUTDATED"),
            finding("GATEWAY_UNREACHABLE"),
            finding("BOOTLOADER_NOT_RUNNING", explained_by="DOTNET_OUTDATED"),
            finding("AGENT_VERSION_DRIFT", "info"),
        ),
        POOL_VIEW,
    )
    report = rep.build_report({"sh-01": entry}, NOW)
    (row,) = rep.grid_rows(report)
    assert row["root_causes"] == ["DOTNET_OUTDATED", "GATEWAY_UNREACHABLE"] and row["root_is_finding"]
    assert row["root_cause"] == "DOTNET_OUTDATED, GATEWAY_UNREACHABLE"  # what the column sorts by
    cell = rep.render_html(report).split('data-host="sh-01"')[1].split("</tr>")[0].split("<td>")[3]
    assert '<span class="id">DOTNET_OUTDATED</span><br><span class="id">GATEWAY_UNREACHABLE</span>' in cell
    assert "BOOTLOADER_NOT_RUNNING" not in cell and "AGENT_VERSION_DRIFT" not in cell
