"""The contract of remediate.yml's reports: every field and value README and the remediation_report docs promise in
remediation.json, junit-remediation.xml and remediation.html, from one real rolling run on a lab pool whose hosts
end in every outcome (and one --check run of two of them).

The documented fields are read from README and the module's documentation, so a field documented there and not
written (or written and not documented) fails here.
"""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import REPO, flat

pytestmark = pytest.mark.lab

PLAYBOOK = REPO / "playbooks" / "remediate.yml"
README = (REPO / "README.md").read_text(encoding="utf-8")
MODULE_DOC = (REPO / "plugins" / "modules" / "remediation_report.py").read_text(encoding="utf-8")
# avd_serial=2: batches ct-01+ct-02, ct-03+ct-04 (ct-04 fails: 1 of 2 > 40 %), then the rollout stops.
SCENARIO = """
host_pool: {name: hp-contract, max_session_limit: 4}
hosts:
  - {name: ct-01, faults: [bootloader_stopped]}
  - {name: ct-02, faults: [bootloader_stopped, gateway_blocked]}
  - {name: ct-03, sessions: 2, faults: [stack_listener_broken]}
  - {name: ct-04, faults: [installer_busy], installation_seconds: 3600}
  - {name: ct-05}
  - {name: ct-06, faults: [gateway_blocked]}
  - {name: ct-07, faults: [msi_policy_blocked]}
  - {name: ct-08, faults: [disk_full]}
  - {name: ct-09, faults: [bootloader_stopped]}
"""
ROLLOUT = ("-e", "avd_serial=2", "-e", "avd_max_fail_percentage=40", "-e", "avd_skip=DISK_SPACE_LOW")
FAST = (
    "-e",
    "avd_settle_seconds=1",
    "-e",
    "avd_session_wait_retries=1",
    "-e",
    "avd_session_wait_delay=1",
    "-e",
    "installer_busy_wait_retries=0",
)
STOPPED = (
    "not attempted: the rollout stopped after the batch ct-03, ct-04, where 1 of 2 host(s) failed (ct-04), "
    "more than avd_max_fail_percentage=40"
)
# How each outcome reads in the summary, the HTML and JUnit (README and the module docs: "not_fixed reads 'not
# fixed'", "partly_fixed reads 'partly fixed'"; the others read as they are spelt).
WORDS = {"not_fixed": "not fixed", "partly_fixed": "partly fixed"}


def remediate(lab, report_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return lab.playbook(PLAYBOOK, "-e", f"avd_report_dir={report_dir}", *FAST, *ROLLOUT, *extra)


@pytest.fixture(scope="module")
def contract_lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("remediation-contract") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("remediation-contract", "--scenario", str(scenario), "--first-address", "127.0.182.1")


@pytest.fixture(scope="module")
def checked(contract_lab, tmp_path_factory):
    """--check first: it changes nothing, so the real run after it finds the same hosts. On the two hosts its test
    reads (one batch of avd_serial=2): the nine-host check run was 18.4 CPU-s at load 9 to 17, the two-host one 5.4."""
    out = tmp_path_factory.mktemp("remediation-contract-check")
    result = remediate(contract_lab, out, "--check", "-e", "target=ct-01:ct-02")
    return out, result


@pytest.fixture(scope="module")
def applied(contract_lab, checked, tmp_path_factory):
    out = tmp_path_factory.mktemp("remediation-contract-run")
    result = remediate(contract_lab, out)
    return out, result


def load(out: Path) -> dict:
    return json.loads((out / "remediation.json").read_text(encoding="utf-8"))


# --- what the documentation promises, read from it -------------------------------------------------------------
def documented_remediation_json() -> dict[str, list[str]]:
    """The fields README's report table promises in remediation.json."""
    line = next(x for x in README.splitlines() if x.startswith("| `remediation.json` |"))
    shape = re.search(r"`(\{.*\})`", line)
    assert shape, line
    text = shape.group(1)
    host = re.search(r'"<host>": \{(.*)\}\}, "summary"', text)
    assert host, text

    def inner(name: str) -> list[str]:
        match = re.search(rf'"{name}": \[?\{{([^}}]*)\}}', host.group(1))
        assert match, name
        return [field.strip(' "') for field in match.group(1).split(",")]

    top = re.findall(r'"(\w+)"', re.sub(r'"hosts": \{.*\}\}', "", text))
    return {
        "top": [name for name in top if name != "summary"] + ["hosts", "summary"],
        "host": re.findall(r'"(\w+)"', re.sub(r"\[\{[^]]*\]|\{[^}]*\}", "", host.group(1))),
        "before": inner("before"),
        "after": inner("after"),
        "report_only": inner("report_only"),
        "not_automated": inner("not_automated"),
        "summary": re.search(r'"summary": \{([^}]*)\}', text).group(1).replace(" ", "").split(","),  # type: ignore[union-attr]
    }


def documented_outcomes() -> dict[str, list[str]]:
    """The outcomes as README's paragraph, the module's description and its summary sample name them."""
    readme = README.split("Each host's outcome is", 1)[1].split("The summary prints", 1)[0]
    module = MODULE_DOC.split("Each host's outcome is", 1)[1].split("The summary, the HTML", 1)[0]
    sample = re.search(r"sample: \{hosts: \d+, (.*)\}", MODULE_DOC)
    assert sample
    return {
        "readme": re.findall(r"`([a-z_]+)`", readme),
        "module": re.findall(r"C\(([a-z_]+)\)", module),
        "sample": [item.split(":")[0].strip() for item in sample.group(1).split(",")],
    }


def documented_grid_columns() -> list[str]:
    line = next(x for x in README.splitlines() if x.startswith("| `remediation.html` |"))
    match = re.search(r"a grid of every host \(([^)]*)\)", line)
    assert match, line
    return [column.strip() for column in match.group(1).split(", ")]


def test_the_documentation_names_each_outcome_the_same_everywhere():
    outcomes = documented_outcomes()
    assert sorted(outcomes["readme"]) == sorted(outcomes["module"]) == sorted(outcomes["sample"])
    assert set(outcomes["readme"]) == {
        "fixed",
        "partly_fixed",
        "not_fixed",
        "skipped",
        "failed",
        "unchanged",
        "planned",
    }


# --- remediation.json ------------------------------------------------------------------------------------------
def test_remediation_json_has_every_documented_field_and_no_other(applied):
    out, result = applied
    report = load(out)
    contract = documented_remediation_json()
    assert list(report) == contract["top"], result.stdout[-3000:]
    outcomes = documented_outcomes()["readme"]
    summary_fields = [f for name in contract["summary"] for f in (outcomes if name == "<countperoutcome>" else [name])]
    assert sorted(report["summary"]) == sorted(summary_fields)
    assert report["summary"]["hosts"] == len(report["hosts"]) == 9
    assert sum(report["summary"][name] for name in outcomes) == 9
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", report["generated"])
    assert report["check_mode"] is False
    for name, entry in report["hosts"].items():
        assert sorted(entry) == sorted(contract["host"]), name
        assert entry["outcome"] in outcomes, name
        for side in ("before", "after"):
            assert sorted(entry[side]) == sorted(contract[side]), (name, side)
            assert isinstance(entry[side]["findings"], list) and isinstance(entry[side]["reason"], str)
        for item in entry["report_only"]:
            assert sorted(item) == sorted(contract["report_only"]) and item["who"], name
        for item in entry["not_automated"]:
            assert sorted(item) == sorted(contract["not_automated"]) and item["reason"], name
        assert isinstance(entry["drained"], bool) and all(isinstance(h, str) for h in entry["batch"])


def test_each_host_reads_right_field_by_field(applied):
    out, result = applied
    hosts = load(out)["hosts"]
    # fixed: its finding gone, healthy, not drained (starting a stopped boot loader disrupts nobody)
    assert hosts["ct-01"] == {
        "outcome": "fixed",
        "before": {"state": "unhealthy", "findings": ["BOOTLOADER_NOT_RUNNING"], "reason": ""},
        "after": {"state": "healthy", "findings": [], "reason": ""},
        "roles": ["boot_loader"],
        "fixing": ["BOOTLOADER_NOT_RUNNING"],
        "fixed": ["BOOTLOADER_NOT_RUNNING"],
        "remaining": [],
        "report_only": [],
        "not_automated": [],
        "excluded": [],
        "skipped": None,
        "error": None,
        "drained": False,
        "drain_restored": None,
        "batch": ["ct-01", "ct-02"],
    }, result.stdout[-4000:]
    # partly fixed: the boot loader runs again, the gateway is the network team's
    partly = hosts["ct-02"]
    assert partly["outcome"] == "partly_fixed", result.stdout[-4000:]
    assert sorted(partly["before"]["findings"]) == ["BOOTLOADER_NOT_RUNNING", "GATEWAY_UNREACHABLE"]
    assert partly["fixed"] == ["BOOTLOADER_NOT_RUNNING"] and partly["after"]["findings"] == ["GATEWAY_UNREACHABLE"]
    assert partly["remaining"] == ["GATEWAY_UNREACHABLE"] and partly["after"]["state"] == "unhealthy"
    assert [item["id"] for item in partly["report_only"]] == ["GATEWAY_UNREACHABLE"]
    assert partly["report_only"][0]["who"].startswith("the network team:")
    assert partly["batch"] == ["ct-01", "ct-02"]
    # skipped for its users: drained for the wait, drain mode restored, nothing else done
    users = hosts["ct-03"]
    assert users["outcome"] == "skipped" and "avd_force" in users["skipped"], users
    assert users["roles"] == ["stack_listener"] and users["fixed"] == []
    assert users["after"]["findings"] == users["before"]["findings"] == ["STACK_LISTENER_NOT_LISTENING"]
    assert users["drained"] is True and users["drain_restored"] is True and users["error"] is None
    assert users["batch"] == ["ct-03", "ct-04"]
    # failed: the fix ran into an error, said in words; drain mode restored all the same
    failed = hosts["ct-04"]
    assert failed["outcome"] == "failed" and "still running" in failed["error"], failed
    assert failed["roles"] == ["installer_busy"] and failed["drained"] and failed["drain_restored"] is True
    assert failed["skipped"] is None and failed["remaining"] == []
    # unchanged: healthy, a network finding only, a policy without consent, a finding left out by avd_skip
    assert hosts["ct-05"]["outcome"] == "unchanged" and hosts["ct-05"]["after"]["state"] == "healthy"
    assert hosts["ct-05"]["remaining"] == [] and hosts["ct-05"]["roles"] == []
    assert hosts["ct-06"]["outcome"] == "unchanged" and hosts["ct-06"]["remaining"] == ["GATEWAY_UNREACHABLE"]
    policy = hosts["ct-07"]
    assert policy["outcome"] == "unchanged" and policy["remaining"] == ["INSTALL_MSI_BLOCKED"]
    assert [item["id"] for item in policy["report_only"]] == ["INSTALL_MSI_BLOCKED"]
    assert "avd_remove_local_policy=true" in policy["report_only"][0]["who"]
    assert hosts["ct-08"]["outcome"] == "unchanged" and hosts["ct-08"]["excluded"] == ["DISK_SPACE_LOW"]
    assert hosts["ct-08"]["remaining"] == ["DISK_SPACE_LOW"] and hosts["ct-08"]["roles"] == []
    # not reached: the rollout stopped after ct-04's batch, and says so
    late = hosts["ct-09"]
    assert late["outcome"] == "skipped" and late["skipped"] == STOPPED and late["batch"] == []
    assert late["after"]["findings"] == ["BOOTLOADER_NOT_RUNNING"] and late["drained"] is False
    for name in ("ct-05", "ct-06", "ct-07", "ct-08", "ct-09"):
        assert hosts[name]["batch"] == [], name  # the rollout never reached their batch
    assert load(out)["summary"] == {
        "hosts": 9,
        "fixed": 1,
        "partly_fixed": 1,
        "not_fixed": 0,
        "skipped": 2,
        "failed": 1,
        "unchanged": 4,
        "planned": 0,
    }
    # The run fails after the summary, with the closing message the docs give (failing_message).
    assert result.returncode != 0
    assert re.search(r"1 failed: ct-04 \(failed: [^)]*still running", flat(result.stdout)), result.stdout[-3000:]


def test_check_mode_plans_in_words_and_changes_nothing(checked, applied):
    out, result = checked
    report = load(out)
    assert report["check_mode"] is True, result.stdout[-3000:]
    hosts = report["hosts"]
    for name in ("ct-01", "ct-02"):
        assert hosts[name]["outcome"] == "planned" and hosts[name]["fixed"] == [], (name, hosts[name])
        assert hosts[name]["after"]["findings"] == hosts[name]["before"]["findings"]  # nothing was changed
    text = flat(result.stdout)
    assert "would fix BOOTLOADER_NOT_RUNNING with role boot_loader" in text
    assert "(check mode: nothing was changed)" in text
    assert "check mode: nothing was changed" in (out / "remediation.html").read_text(encoding="utf-8")
    assert report["summary"]["planned"] >= 2 and report["summary"]["fixed"] == 0


# --- junit-remediation.xml -------------------------------------------------------------------------------------
def test_junit_has_a_case_per_host_with_the_documented_counts_and_messages(applied):
    out, _result = applied
    report = load(out)
    root = ET.fromstring((out / "junit-remediation.xml").read_text(encoding="utf-8"))
    (suite,) = root.findall("testsuite")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert sorted(cases) == sorted(report["hosts"])
    assert {case.get("classname") for case in cases.values()} == {"remediation"}
    assert suite.get("tests") == "9" and suite.get("failures") == "1" and suite.get("skipped") == "2"
    failure = cases["ct-04"].find("failure")
    assert failure is not None and failure.get("message", "").startswith("failed: ")
    assert "still running" in failure.get("message", "")
    assert failure.text == "before: unhealthy INSTALLER_BUSY; after: unhealthy INSTALLER_BUSY"
    for name in ("ct-03", "ct-09"):
        skipped = cases[name].find("skipped")
        assert skipped is not None and skipped.get("message") == report["hosts"][name]["skipped"]
    assert cases["ct-09"].find("skipped").get("message") == STOPPED  # type: ignore[union-attr]
    for name in ("ct-01", "ct-02", "ct-05", "ct-06", "ct-07", "ct-08"):
        assert cases[name].find("failure") is None and cases[name].find("skipped") is None, name
        output = cases[name].find("system-out")
        assert output is not None and output.text and output.text.startswith("before: "), name
    assert cases["ct-01"].find("system-out").text == "before: unhealthy BOOTLOADER_NOT_RUNNING; after: healthy -"  # type: ignore[union-attr]


# --- remediation.html ------------------------------------------------------------------------------------------
class Grid(HTMLParser):
    """The header cells, and per row its data-outcome, its cells' text and the badge's classes."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.rows: list[dict] = []
        self.header_text = ""
        self._cell: list[str] | None = None
        self._in_th = False
        self._in_header = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "header":
            self._in_header = True
        elif tag == "th":
            self._in_th = True
            self.headers.append("")
        elif tag == "tr" and "data-outcome" in values:
            self.rows.append({"outcome": values["data-outcome"], "cells": [], "badge": []})
        elif tag == "td" and self.rows:
            self._cell = []
            self.rows[-1]["cells"].append(self._cell)
        elif tag == "span" and "outcome" in (values.get("class") or "").split() and self.rows:
            self.rows[-1]["badge"] = (values.get("class") or "").split()

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_th = False
        elif tag == "td":
            self._cell = None
        elif tag == "header":
            self._in_header = False

    def handle_data(self, data: str) -> None:
        if self._in_th:
            self.headers[-1] += data
        elif self._cell is not None:
            self._cell.append(data)
        elif self._in_header:
            self.header_text += data


def grid(out: Path) -> Grid:
    parser = Grid()
    parser.feed((out / "remediation.html").read_text(encoding="utf-8"))
    return parser


def text(cell: list[str]) -> str:
    return " ".join(" ".join(cell).split())


def test_html_grid_shows_every_host_in_the_documented_columns(applied):
    out, _result = applied
    report = load(out)
    page = grid(out)
    assert [h.strip().lower() for h in page.headers] == documented_grid_columns()
    assert "1 fixed, 1 partly fixed, 0 not fixed, 2 skipped, 1 failed, 4 unchanged, 0 planned" in " ".join(
        page.header_text.split()
    )
    rows = {text(row["cells"][0]): row for row in page.rows}
    assert sorted(rows) == sorted(report["hosts"])
    for name, entry in report["hosts"].items():
        row = rows[name]
        shown_name, badge, before, roles, after, done = (text(cell) for cell in row["cells"])
        assert shown_name == name and row["outcome"] == entry["outcome"] and entry["outcome"] in row["badge"], name
        assert badge == WORDS.get(entry["outcome"], entry["outcome"]), name
        assert before.split()[0] == entry["before"]["state"] and all(f in before for f in entry["before"]["findings"])
        assert roles == (", ".join(entry["roles"]) or "-")
        assert after.split()[0] == entry["after"]["state"] and all(f in after for f in entry["after"]["findings"])
        for item in entry["report_only"]:
            assert f"{item['id']} : {item['who']}" in done or f"{item['id']}: {item['who']}" in done, name
        if entry["skipped"]:
            assert f"skipped: {entry['skipped']}" in done, name
        if entry["error"]:
            assert "error: " in done and "still running" in done, name
        if entry["excluded"]:
            assert "left out by avd_only/avd_skip: DISK_SPACE_LOW" in done, name
        drained = "drained for the fix; drain mode restored" in done
        assert drained == (entry["drained"] and entry["drain_restored"] is True), name
        # README: only a host healthy afterwards has a green badge (the page's CSS: .fixed, .unchanged.healthy)
        green = row["outcome"] == "fixed" or (row["outcome"] == "unchanged" and "healthy" in row["badge"])
        assert green == (entry["after"]["state"] == "healthy" and not entry["remaining"]), name
    assert text(rows["ct-02"]["cells"][5]).startswith(
        "fixed BOOTLOADER_NOT_RUNNING with role boot_loader; still found: GATEWAY_UNREACHABLE (the network team)"
    )
    assert text(rows["ct-01"]["cells"][5]).startswith("fixed BOOTLOADER_NOT_RUNNING with role boot_loader; healthy now")


def test_the_summary_shows_one_line_per_host_in_the_same_words(applied):
    out, result = applied
    report = load(out)
    shown = flat(result.stdout)
    for name, entry in report["hosts"].items():
        assert re.search(rf"{name}\s+{WORDS.get(entry['outcome'], entry['outcome'])}\s", shown), name
    assert "9 hosts: 1 fixed, 1 partly fixed, 0 not fixed, 2 skipped, 1 failed, 4 unchanged, 0 planned" in shown
    assert f"Reports: {out.resolve()}/remediation.html, remediation.json, junit-remediation.xml" in shown
