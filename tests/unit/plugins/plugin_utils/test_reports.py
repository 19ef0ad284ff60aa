"""Reports from diagnose results: the design's JSON shape, JUnit that CI systems read, the summary, fail_on."""

from __future__ import annotations

import datetime
import json
import xml.etree.ElementTree as ET

import pytest

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
REFUSED = (
    "ntlm: HTTPSConnectionPool(host='127.0.10.250', port=5986): Max retries exceeded with url: /wsman (Caused by "
    "NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new connection: "
    "[Errno 111] Connection refused'))"
)
RESULTS = {
    "sh-01": {"changed": False, "diagnosis": {"state": "unhealthy", "findings": [FINDING], "unchecked": []}},
    "sh-02": {
        "changed": False,
        "diagnosis": {
            "state": "incomplete",
            "findings": [],
            "unchecked": ["SESSION_LIMIT_REACHED: the host pool's max session limit is unknown"],
        },
    },
    "sh-03": {"unreachable": True, "msg": "ntlm: the specified credentials were rejected by the server"},
    "sh-04": {"failed": True, "msg": "could not gather facts: the avdops runtime did not run"},
    "sh-05": {},
    "sh-06": {"changed": False, "diagnosis": {"state": "healthy", "findings": [], "unchecked": []}},
    "sh-07": {"unreachable": True, "msg": REFUSED},
    "sh-08": {"unreachable": True, "msg": "timed out"},
}
POOLS = {"sh-08": {"status": "Shutdown", "host_pool": "hp-1", "sessions": 0, "allow_new_session": False}}


def report(results=None, pools=None):
    chosen = RESULTS if results is None else results
    return rep.build_report(
        rep.entries_from(chosen, POOLS if pools is None else pools), NOW, {"target": "all", "fail_on": "none"}
    )


def test_json_shape_is_the_designs():
    data = report()
    assert data["generated"] == "2026-11-25T12:00:00Z"
    assert set(data["hosts"]) == set(RESULTS)
    assert data["hosts"]["sh-01"]["state"] == "unhealthy" and data["hosts"]["sh-01"]["findings"] == [FINDING]
    bad = data["hosts"]["sh-03"]
    assert (bad["state"], bad["reason_class"], bad["findings"], bad["unchecked"]) == (
        "unreachable",
        "credentials",
        [],
        [],
    )
    assert bad["reason"] == "credentials rejected: " + RESULTS["sh-03"]["msg"]  # the class, then all of it
    assert data["hosts"]["sh-07"]["reason"].endswith(REFUSED) and data["hosts"]["sh-07"]["reason_class"] == "refused"
    assert data["hosts"]["sh-04"]["state"] == "failed" and data["hosts"]["sh-05"]["state"] == "failed"
    assert (
        data["hosts"]["sh-02"]["state"] == "incomplete" and "1 check(s) did not run" in data["hosts"]["sh-02"]["reason"]
    )
    stopped = data["hosts"]["sh-08"]
    assert stopped["state"] == "stopped" and "status=Shutdown" in stopped["reason"]
    assert stopped["details"]["drain_mode"] is True and stopped["details"]["host_pool"] == "hp-1"
    summary = data["summary"]
    counts = {state: summary[state] for state in ("healthy", "unhealthy", "incomplete", "stopped", "unreachable")}
    assert counts == {"healthy": 1, "unhealthy": 1, "incomplete": 1, "stopped": 1, "unreachable": 2}
    assert (summary["hosts"], summary["diagnosed"], summary["failed"]) == (8, 3, 2)
    assert summary["by_finding"] == {"INVALID_REGISTRATION_TOKEN": 1}
    assert summary["by_root_cause"] == {"INVALID_REGISTRATION_TOKEN": 1}
    assert summary["unreachable_by_reason"] == {"credentials rejected": 1, "connection refused": 1}
    assert data["run"] == {"target": "all", "fail_on": "none"}
    json.dumps(data)


def test_a_result_that_claims_healthy_with_unchecked_checks_is_incomplete():
    claimed = {"diagnosis": {"state": "healthy", "findings": [], "unchecked": ["DISK_SPACE_LOW: no disk facts"]}}
    assert rep.host_entry(claimed)["state"] == "incomplete"
    critical = {"diagnosis": {"state": "healthy", "findings": [FINDING], "unchecked": []}}
    assert rep.host_entry(critical)["state"] == "unhealthy"


def test_problems_first():
    order = [name for name, _unused in rep.ordered_hosts(report())]
    assert order == ["sh-03", "sh-07", "sh-04", "sh-05", "sh-01", "sh-02", "sh-08", "sh-06"]


def test_junit_has_a_case_per_host_and_check():
    root = ET.fromstring(rep.render_junit(report()))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    checks = len(rep.CHECKS)
    assert len(cases) == 3 * checks + 5  # three diagnosed hosts x every check, five not diagnosed
    assert suite.get("failures") == "1" and suite.get("errors") == "4" and suite.get("skipped") == "2"
    failure = next(c for c in cases if c.find("failure") is not None)
    assert failure.get("classname") == "sh-01" and failure.get("name").startswith("INVALID_REGISTRATION_TOKEN")
    assert "e <b>" in failure.find("failure").text
    error = next(c for c in cases if c.get("classname") == "sh-03")
    assert error.find("error").get("type") == "unreachable"
    stopped = next(c for c in cases if c.get("classname") == "sh-08")
    assert stopped.find("skipped").get("message").startswith("stopped: the host pool reports status=Shutdown")
    skipped = next(c for c in cases if c.get("classname") == "sh-02" and c.find("skipped") is not None)
    assert skipped.get("name").startswith("SESSION_LIMIT_REACHED")


def test_a_run_that_checked_nothing_is_an_error_in_junit():
    data = report({})
    data["run"]["failure"] = rep.run_failure(data, "critical")
    suite = ET.fromstring(rep.render_junit(data)).find("testsuite")
    assert suite.get("errors") == "1" and suite.find("testcase").get("classname") == "run"


def test_html_escapes_and_lists_every_host():
    html = rep.render_html(report())
    assert "e &lt;b&gt;" in html and "e <b>" not in html
    for name in RESULTS:
        assert f'id="host-{name}"' in html
    assert "the specified credentials were rejected" in html


def test_summary_lines_say_why_in_words_and_count_every_state():
    data = report()
    lines = rep.summary_lines(data, "reports")
    assert lines[0].startswith("HOST") and lines[-1].startswith("Reports: reports/diagnosis.html")
    assert "8 hosts, 3 diagnosed: 1 healthy, 1 unhealthy, 1 incomplete, 1 stopped, 2 unreachable, 2 failed" in lines
    by_host = {line.split()[0]: line for line in lines[1:-2]}
    assert "connection refused: [Errno 111] Connection refused" in by_host["sh-07"]
    assert "credentials rejected: the specified credentials were rejected by the server" in by_host["sh-03"]
    assert "not checked: SESSION_LIMIT_REACHED" in by_host["sh-02"]
    assert "status=Shutdown" in by_host["sh-08"]


def test_fail_on_counts_what_was_not_checked_and_stopped_only_when_asked():
    data = report()
    assert rep.hosts_at_or_above(data, "none") == []
    assert sorted(rep.hosts_at_or_above(data, "critical")) == ["sh-01", "sh-02", "sh-03", "sh-04", "sh-05", "sh-07"]
    assert "sh-08" in rep.hosts_at_or_above(data, "critical", fail_on_stopped=True)
    assert "sh-02" not in rep.hosts_at_or_above(data, "critical", fail_on_incomplete=False)


@pytest.mark.parametrize(
    ("results", "pools", "fail_on", "expected"),
    [
        ({}, {}, "critical", "the run had no hosts"),
        ({}, {}, "none", None),
        ({"a": {"unreachable": True, "msg": "timed out"}, "b": {"failed": True, "msg": "x"}}, {}, "none", "no host"),
        ({"a": {"failed": True, "msg": "winrm or requests is not installed"}}, {}, "none", "install pywinrm"),
        ({"a": {}}, {"a": {"status": "Shutdown"}}, "none", None),
        ({"a": {}}, {"a": {"status": "Shutdown"}}, "warning", "all 1 are stopped"),
        ({"a": RESULTS["sh-06"], "b": {"unreachable": True, "msg": "timed out"}}, {}, "critical", None),
    ],
)
def test_run_failure(results, pools, fail_on, expected):
    failure = rep.run_failure(report(results, pools), fail_on)
    assert failure is None if expected is None else expected in failure


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ({"sh-01": "healthy"}, "results['sh-01']: expected the host's registered diagnose result (a mapping), got str"),
        ({"sh-01": {"diagnosis": "x"}}, "results['sh-01'].diagnosis: expected a diagnosis"),
        ({"sh-01": {"diagnosis": {"state": "fine"}}}, "results['sh-01'].diagnosis.state: expected one of"),
        ({"sh-01": {"diagnosis": {"findings": [{**FINDING, "severity": "high"}]}}}, "findings[0].severity"),
        ({"sh-01": {"diagnosis": {"findings": ["x"]}}}, "results['sh-01'].diagnosis.findings[0]: expected a finding"),
        ({"sh-01": {"diagnosis": {"findings": [{"severity": "info"}]}}}, "findings[0]: has no id"),
        ({"sh-01": {"diagnosis": {"unchecked": "DISK"}}}, "results['sh-01'].diagnosis.unchecked: expected a list"),
    ],
)
def test_results_diagnose_cannot_have_made_are_refused(results, message):
    with pytest.raises(rep.ReportError, match=None) as caught:
        rep.entries_from(results)
    assert message in str(caught.value)


def test_write_reports(tmp_path):
    files = rep.write_reports(report(), tmp_path / "out")
    assert json.loads((tmp_path / "out" / "diagnosis.json").read_text())["summary"]["hosts"] == 8
    assert set(files) == {"json", "html", "junit"}


def test_html_opens_with_a_grid_of_every_host():
    html = rep.render_html(report())
    assert html.index('id="grid"') < html.index('id="findings-summary"') < html.index('id="host-sh-01"')
    for name in RESULTS:
        assert f'data-host="{name}"' in html
    rows = {row["name"]: row for row in rep.grid_rows(report())}
    assert rows["sh-01"]["root_cause"] == "INVALID_REGISTRATION_TOKEN" and rows["sh-01"]["root_is_finding"]
    assert rows["sh-03"]["root_cause"] == "credentials rejected" and rows["sh-07"]["root_cause"] == "connection refused"
    assert (
        rows["sh-08"]["state"] == "stopped" and rows["sh-08"]["drain_mode"] == "on" and rows["sh-08"]["pool"] == "hp-1"
    )
    assert rows["sh-02"]["root_cause"] == "not checked: 1"
    assert 'href="#host-sh-01"' in html.split('id="findings-summary"')[1]  # findings link to their hosts


@pytest.mark.parametrize(
    ("results", "pools", "expected", "never"),
    [
        ({}, {}, "no host was diagnosed", "fully checked and are healthy"),
        ({"a": {"unreachable": True, "msg": "timed out"}}, {}, "no host was diagnosed", "are healthy"),
        ({"a": {}}, {"a": {"status": "Shutdown"}}, "no host was diagnosed", "are healthy"),
        (
            {"a": RESULTS["sh-06"], "b": RESULTS["sh-08"]},
            {"b": {"status": "Shutdown"}},
            "not fully checked",
            "are healthy",
        ),
        ({"a": RESULTS["sh-06"]}, {}, "all 1 hosts were fully checked and are healthy", "not fully checked"),
    ],
)
def test_html_never_says_healthy_of_what_it_did_not_check(results, pools, expected, never):
    html = rep.render_html(report(results, pools))
    assert expected in html and never not in html
    assert "every reachable session host is healthy" not in html
