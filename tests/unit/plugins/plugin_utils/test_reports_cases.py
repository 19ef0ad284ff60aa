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
