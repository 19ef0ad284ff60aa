"""Diagnosis reports: the pool's results as JSON, one HTML page, JUnit XML, and a terminal summary."""

from __future__ import annotations

import datetime
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from ._rules import CHECKS, SEVERITY_RANK

TEMPLATES = Path(__file__).parent / "templates"
STATE_ORDER = {"unreachable": 0, "failed": 1, "unhealthy": 2, "healthy": 3}
FAIL_ON = ("none", "warning", "critical")


def host_entry(result: Mapping[str, Any] | None) -> dict[str, Any]:
    """One host's registered diagnose result as its report entry."""
    if not result:
        return {
            "state": "failed",
            "reason": "no diagnosis result (the host was not run)",
            "findings": [],
            "unchecked": [],
        }
    if result.get("unreachable"):
        return {
            "state": "unreachable",
            "reason": str(result.get("msg") or "unreachable"),
            "findings": [],
            "unchecked": [],
        }
    diagnosis = result.get("diagnosis")
    if result.get("failed") or not isinstance(diagnosis, Mapping):
        return {
            "state": "failed",
            "reason": str(result.get("msg") or "the diagnosis failed"),
            "findings": [],
            "unchecked": [],
        }
    return {
        "state": diagnosis.get("state", "healthy"),
        "findings": list(diagnosis.get("findings") or []),
        "unchecked": list(diagnosis.get("unchecked") or []),
        "stale_events": list(diagnosis.get("stale_events") or []),
        "host_pool": diagnosis.get("host_pool"),
        "versions": diagnosis.get("versions"),
    }


def build_report(entries: Mapping[str, dict[str, Any]], generated: datetime.datetime) -> dict[str, Any]:
    by_state = {state: 0 for state in STATE_ORDER}
    by_finding: dict[str, int] = {}
    by_root_cause: dict[str, int] = {}
    by_severity = {severity: 0 for severity in SEVERITY_RANK}
    for entry in entries.values():
        by_state[entry["state"]] = by_state.get(entry["state"], 0) + 1
        for finding in entry["findings"]:
            by_finding[finding["id"]] = by_finding.get(finding["id"], 0) + 1
            if not finding.get("explained_by"):
                by_root_cause[finding["id"]] = by_root_cause.get(finding["id"], 0) + 1
            by_severity[finding["severity"]] += 1
    return {
        "generated": generated.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hosts": dict(sorted(entries.items())),
        "summary": {
            "hosts": len(entries),
            **by_state,
            "by_finding": dict(sorted(by_finding.items(), key=lambda item: (-item[1], item[0]))),
            "by_root_cause": dict(sorted(by_root_cause.items(), key=lambda item: (-item[1], item[0]))),
            "by_severity": by_severity,
        },
    }


def ordered_hosts(report: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Unhealthy first: unreachable, failed, then by worst finding, then by name."""

    def key(item: tuple[str, dict[str, Any]]) -> tuple[int, int, str]:
        name, entry = item
        worst = min((SEVERITY_RANK[f["severity"]] for f in entry["findings"]), default=9)
        return STATE_ORDER.get(entry["state"], 9), worst, name

    return sorted(report["hosts"].items(), key=key)


def hosts_at_or_above(report: Mapping[str, Any], fail_on: str) -> list[str]:
    """Hosts that make the run fail: a finding at or above ``fail_on``, or a host that could not be checked."""
    if fail_on == "none":
        return []
    threshold = SEVERITY_RANK[fail_on]
    return [
        name
        for name, entry in report["hosts"].items()
        if entry["state"] in ("unreachable", "failed")
        or any(SEVERITY_RANK[f["severity"]] <= threshold for f in entry["findings"])
    ]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(report: Mapping[str, Any]) -> str:
    return (
        _environment()
        .get_template("diagnosis.html.j2")
        .render(report=report, hosts=ordered_hosts(report), checks=CHECKS)
    )


def render_junit(
    report: Mapping[str, Any],
    checks: Mapping[str, Any] = CHECKS,
    title: str = "avdops.sessionhost diagnosis",
    suite_name: str = "avd-session-hosts",
) -> str:
    """One test case per host and check, so CI systems show the pool's health natively.

    ``checks`` is the catalog (id -> an object with a ``title``): the diagnosis rules, or the
    image checks of validate_image. An entry's ``passed`` (check id -> evidence) goes to the
    passing case's system-out.
    """
    suites = ET.Element("testsuites", name=title)
    suite = ET.SubElement(suites, "testsuite", name=suite_name, timestamp=report["generated"])
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for name, entry in sorted(report["hosts"].items()):
        if entry["state"] in ("unreachable", "failed"):
            case = ET.SubElement(suite, "testcase", classname=name, name="connect and gather")
            error = ET.SubElement(
                case, "error", message=f"{entry['state']}: {entry.get('reason', '')}"[:500], type=entry["state"]
            )
            error.text = entry.get("reason", "")
            counts["tests"] += 1
            counts["errors"] += 1
            continue
        findings = {f["id"]: f for f in entry["findings"]}
        unchecked = " ".join(entry.get("unchecked") or [])
        passed = entry.get("passed") or {}
        for check_id, check in checks.items():
            case = ET.SubElement(suite, "testcase", classname=name, name=f"{check_id}: {check.title}")
            counts["tests"] += 1
            finding = findings.get(check_id)
            if finding and finding["severity"] in ("critical", "warning"):
                failure = ET.SubElement(
                    case, "failure", message=f"{finding['severity']}: {finding['title']}", type=finding["severity"]
                )
                lines = [*finding["evidence"], f"Fix: {finding['remediation']}", f"Doc: {finding['doc']}"]
                if finding.get("explained_by"):
                    lines.insert(0, f"Explained by {finding['explained_by']}.")
                failure.text = "\n".join(lines)
                counts["failures"] += 1
            elif check_id in unchecked:
                ET.SubElement(case, "skipped", message=next(u for u in entry["unchecked"] if check_id in u))
                counts["skipped"] += 1
            elif passed.get(check_id):
                ET.SubElement(case, "system-out").text = "\n".join(passed[check_id])
    for key, value in counts.items():
        suite.set(key, str(value))
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def summary_lines(report: Mapping[str, Any], report_dir: str, files: str = "") -> list[str]:
    """A short table for the end of the run."""
    lines = [f"{'HOST':<24} {'STATE':<12} FINDINGS (root cause first)"]
    for name, entry in ordered_hosts(report):
        if entry["state"] in ("unreachable", "failed"):
            detail = " ".join(str(entry.get("reason", "")).split())[:90]
        else:
            detail = (
                ", ".join(
                    f["id"] + ("" if not f.get("explained_by") else f" (<- {f['explained_by']})")
                    for f in entry["findings"]
                )
                or "-"
            )
        lines.append(f"{name:<24} {entry['state']:<12} {detail}")
    summary = report["summary"]
    lines.append(
        f"{summary['hosts']} hosts: {summary['healthy']} healthy, {summary['unhealthy']} unhealthy, "
        f"{summary['unreachable']} unreachable, {summary['failed']} failed"
    )
    lines.append(f"Reports: {report_dir}/{files or 'diagnosis.html, diagnosis.json, junit-diagnosis.xml'}")
    return lines


def write_reports(
    report: Mapping[str, Any],
    directory: Path,
    stem: str = "diagnosis",
    checks: Mapping[str, Any] = CHECKS,
    html: bool = True,
) -> dict[str, str]:
    """``<stem>.json``, ``<stem>.html`` (when ``html``) and ``junit-<stem>.xml`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {"json": directory / f"{stem}.json"}
    files["json"].write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    if html:
        files["html"] = directory / f"{stem}.html"
        files["html"].write_text(render_html(report), encoding="utf-8")
    files["junit"] = directory / f"junit-{stem}.xml"
    files["junit"].write_text(render_junit(report, checks, *_junit_names(stem)), encoding="utf-8")
    return {key: str(path) for key, path in files.items()}


def _junit_names(stem: str) -> tuple[str, str]:
    if stem == "diagnosis":
        return "avdops.sessionhost diagnosis", "avd-session-hosts"
    return f"avdops.sessionhost {stem}", f"avd-{stem}"
