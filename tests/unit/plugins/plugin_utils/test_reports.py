"""Reports from diagnose results: the design's JSON shape, JUnit that CI systems read, the summary, fail_on."""

from __future__ import annotations

import datetime
import json
import xml.etree.ElementTree as ET

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _reports as rep

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)
FINDING = {
    "id": "INVALID_REGISTRATION_TOKEN",
    "severity": "critical",
    "title": "t",
    "evidence": ["e <b>"],
    "remediation": "r",
    "doc": "https://learn.microsoft.com/x#y",
    "explained_by": None,
    "explains": [],
}
RESULTS = {
    "sh-01": {"changed": False, "diagnosis": {"state": "unhealthy", "findings": [FINDING], "unchecked": []}},
    "sh-02": {
        "changed": False,
        "diagnosis": {"state": "healthy", "findings": [], "unchecked": ["SESSION_LIMIT_REACHED: unknown limit"]},
    },
    "sh-03": {"unreachable": True, "msg": "ntlm: the specified credentials were rejected by the server"},
    "sh-04": {"failed": True, "msg": "could not gather facts: the avdops runtime did not run"},
    "sh-05": {},
}


def report():
    return rep.build_report({name: rep.host_entry(value) for name, value in RESULTS.items()}, NOW)


def test_json_shape_is_the_designs():
    data = report()
    assert data["generated"] == "2026-11-25T12:00:00Z"
    assert set(data["hosts"]) == set(RESULTS)
    assert data["hosts"]["sh-01"]["state"] == "unhealthy" and data["hosts"]["sh-01"]["findings"] == [FINDING]
    assert data["hosts"]["sh-03"] == {
        "state": "unreachable",
        "reason": RESULTS["sh-03"]["msg"],
        "findings": [],
        "unchecked": [],
    }
    assert data["hosts"]["sh-04"]["state"] == "failed" and data["hosts"]["sh-05"]["state"] == "failed"
    summary = data["summary"]
    assert (summary["hosts"], summary["healthy"], summary["unhealthy"], summary["unreachable"], summary["failed"]) == (
        5,
        1,
        1,
        1,
        2,
    )
    assert summary["by_finding"] == {"INVALID_REGISTRATION_TOKEN": 1}
    assert summary["by_root_cause"] == {"INVALID_REGISTRATION_TOKEN": 1}
    json.dumps(data)


def test_unhealthy_first():
    assert [name for name, _ in rep.ordered_hosts(report())] == ["sh-03", "sh-04", "sh-05", "sh-01", "sh-02"]


def test_junit_has_a_case_per_host_and_check():
    root = ET.fromstring(rep.render_junit(report()))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 2 * len(rep.CHECKS) + 3  # two diagnosed hosts x every check, three that could not be checked
    assert suite.get("failures") == "1" and suite.get("errors") == "3" and suite.get("skipped") == "1"
    failure = next(c for c in cases if c.find("failure") is not None)
    assert failure.get("classname") == "sh-01" and failure.get("name").startswith("INVALID_REGISTRATION_TOKEN")
    assert "e <b>" in failure.find("failure").text
    error = next(c for c in cases if c.get("classname") == "sh-03")
    assert error.find("error").get("type") == "unreachable"


def test_html_escapes_and_lists_every_host():
    html = rep.render_html(report())
    assert "e &lt;b&gt;" in html and "e <b>" not in html
    for name in RESULTS:
        assert f'id="host-{name}"' in html
    assert "the specified credentials were rejected" in html


def test_summary_lines_and_fail_on():
    data = report()
    lines = rep.summary_lines(data, "reports")
    assert lines[0].startswith("HOST") and lines[-1].startswith("Reports: reports/diagnosis.html")
    assert "5 hosts: 1 healthy, 1 unhealthy, 1 unreachable, 2 failed" in lines
    assert rep.hosts_at_or_above(data, "none") == []
    assert sorted(rep.hosts_at_or_above(data, "critical")) == ["sh-01", "sh-03", "sh-04", "sh-05"]


def test_write_reports(tmp_path):
    files = rep.write_reports(report(), tmp_path / "out")
    assert json.loads((tmp_path / "out" / "diagnosis.json").read_text())["summary"]["hosts"] == 5
    assert set(files) == {"json", "html", "junit"}
