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
from ._validate import InputError, validate_result
from ._verdicts import (
    DIAGNOSED_STATES,
    STATES,
    UNREACHABLE_LABELS,
    failure_hint,
    host_state,
    incomplete_reason,
    short_reason,
    stopped_reason,
    unreachable_class,
)

TEMPLATES = Path(__file__).parent / "templates"
STATE_ORDER = {state: rank for rank, state in enumerate(STATES)}
FAIL_ON = ("none", "warning", "critical")


class ReportError(ValueError):
    """diagnosis_report's input is not what diagnose registers."""


def _details(facts: Mapping[str, Any] | None, pool: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the triage grid shows of a host: the host's own answers first, the host pool's view otherwise."""
    agent = (facts or {}).get("agent") if isinstance((facts or {}).get("agent"), Mapping) else None
    sessions = (facts or {}).get("sessions") if isinstance((facts or {}).get("sessions"), Mapping) else None
    pool = pool or {}
    allow = pool.get("allow_new_session")
    return {
        "host_pool": pool.get("host_pool"),
        "status": pool.get("status"),
        "sessions": pool.get("sessions") if pool.get("sessions") is not None else (sessions or {}).get("total"),
        "drain_mode": None if allow is None else not allow,
        "agent_version": (agent or {}).get("version") or pool.get("agent_version"),
        "sxs_stack_version": (agent or {}).get("sxs_stack_version") or pool.get("sxs_stack_version"),
        "last_heartbeat": pool.get("last_heartbeat"),
    }


def host_entry(result: Mapping[str, Any] | None, pool: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One host's registered diagnose result as its report entry (``pool``: its host pool data, if known)."""
    empty: dict[str, Any] = {"findings": [], "unchecked": [], "host_pool": pool, "details": _details(None, pool)}
    stopped = stopped_reason(pool)
    if not result:
        if stopped:
            return {"state": "stopped", "reason": stopped, **empty}
        return {"state": "failed", "reason": "no diagnosis result (the host was not run)", **empty}
    if result.get("unreachable") or (result.get("failed") and "diagnosis" not in result and stopped):
        message = " ".join(str(result.get("msg") or "unreachable").split())
        if stopped:
            return {"state": "stopped", "reason": f"{stopped}; connecting failed: {message}", **empty}
        kind = unreachable_class(message)
        return {
            "state": "unreachable",
            "reason_class": kind,
            "reason": f"{UNREACHABLE_LABELS[kind]}: {message}",
            **empty,
        }
    diagnosis = result.get("diagnosis")
    if result.get("failed") or not isinstance(diagnosis, Mapping):
        reason = " ".join(str(result.get("msg") or "the diagnosis failed").split())
        hint = failure_hint(reason)
        return {"state": "failed", "reason": f"{reason}: {hint}" if hint else reason, **empty}
    facts = (result.get("ansible_facts") or {}).get("avd_session_host")
    used_pool = diagnosis.get("host_pool") or pool
    unchecked = list(diagnosis.get("unchecked") or [])
    findings = list(diagnosis.get("findings") or [])
    state = str(diagnosis.get("state") or "")
    if state not in ("stopped",):  # healthy only when nothing was found and everything was checked
        state = host_state(findings, unchecked)
    entry: dict[str, Any] = {
        "state": state,
        "findings": findings,
        "unchecked": unchecked,
        "stale_events": list(diagnosis.get("stale_events") or []),
        "host_pool": used_pool,
        "details": _details(facts if isinstance(facts, Mapping) else None, used_pool),
    }
    if isinstance(diagnosis.get("versions"), Mapping):  # what pool drift compares (README: per host)
        entry["versions"] = dict(diagnosis["versions"])
    if state == "incomplete":
        entry["reason"] = incomplete_reason(unchecked)
    elif diagnosis.get("reason"):
        entry["reason"] = str(diagnosis["reason"])
    return entry


def entries_from(
    results: Mapping[str, Any], pools: Mapping[str, Mapping[str, Any] | None] | None = None
) -> dict[str, dict[str, Any]]:
    """Every host's entry; refuses (ReportError naming the host and field) a result diagnose cannot have made."""
    entries = {}
    for name, result in results.items():
        try:
            validate_result(str(name), result, SEVERITY_RANK)
        except InputError as exc:
            raise ReportError(str(exc)) from None
        entries[str(name)] = host_entry(result, (pools or {}).get(name))
    return entries


def _finding_info(entries: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    info: dict[str, dict[str, str]] = {}
    for entry in entries.values():
        for finding in entry["findings"]:
            info.setdefault(
                finding["id"],
                {"title": str(finding.get("title") or finding["id"]), "doc": str(finding.get("doc") or "")},
            )
    return info


def build_report(
    entries: Mapping[str, dict[str, Any]],
    generated: datetime.datetime,
    run: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    by_state = {state: 0 for state in STATES}
    by_finding: dict[str, int] = {}
    by_root_cause: dict[str, int] = {}
    by_severity = {severity: 0 for severity in SEVERITY_RANK}
    by_reason: dict[str, int] = {}
    for entry in entries.values():
        by_state[entry["state"]] = by_state.get(entry["state"], 0) + 1
        if entry.get("reason_class"):
            by_reason[entry["reason_class"]] = by_reason.get(entry["reason_class"], 0) + 1
        for finding in entry["findings"]:
            by_finding[finding["id"]] = by_finding.get(finding["id"], 0) + 1
            if not finding.get("explained_by"):
                by_root_cause[finding["id"]] = by_root_cause.get(finding["id"], 0) + 1
            by_severity[finding["severity"]] += 1
    return {
        "generated": generated.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run": dict(run or {}),
        "hosts": dict(sorted(entries.items())),
        "summary": {
            "hosts": len(entries),
            "diagnosed": sum(by_state[state] for state in DIAGNOSED_STATES),
            **by_state,
            "by_finding": dict(sorted(by_finding.items(), key=lambda item: (-item[1], item[0]))),
            "by_root_cause": dict(sorted(by_root_cause.items(), key=lambda item: (-item[1], item[0]))),
            "by_severity": by_severity,
            "unreachable_by_reason": {UNREACHABLE_LABELS[k]: v for k, v in sorted(by_reason.items())},
        },
        "findings": _finding_info(entries),
    }


def ordered_hosts(report: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Problems first: unreachable, failed, unhealthy (by worst finding), incomplete, stopped, healthy; then by name."""

    def key(item: tuple[str, dict[str, Any]]) -> tuple[int, int, str]:
        name, entry = item
        worst = min((SEVERITY_RANK[f["severity"]] for f in entry["findings"]), default=9)
        return STATE_ORDER.get(entry["state"], 9), worst, name

    return sorted(report["hosts"].items(), key=key)


def hosts_at_or_above(
    report: Mapping[str, Any], fail_on: str, *, fail_on_stopped: bool = False, fail_on_incomplete: bool = True
) -> list[str]:
    """Hosts that make the run fail: a finding at or above ``fail_on``, or a host that was not (fully) checked.

    Stopped hosts count only with ``fail_on_stopped``; incomplete ones unless ``fail_on_incomplete`` is false.
    """
    if fail_on == "none":
        return []
    threshold = SEVERITY_RANK[fail_on]
    failing_states = {"unreachable", "failed"}
    if fail_on_stopped:
        failing_states.add("stopped")
    if fail_on_incomplete:
        failing_states.add("incomplete")
    return [
        name
        for name, entry in report["hosts"].items()
        if entry["state"] in failing_states or any(SEVERITY_RANK[f["severity"]] <= threshold for f in entry["findings"])
    ]


def run_failure(report: Mapping[str, Any], fail_on: str) -> str | None:
    """Why the run as a whole fails, whatever the findings: nothing diagnosed (with fail_on), or every host failed."""
    summary = report["summary"]
    if summary["diagnosed"]:
        return None
    could_not = summary["unreachable"] + summary["failed"]
    if could_not:
        reasons = sorted(
            {short_reason(str(e.get("reason", "")), 200) for e in report["hosts"].values() if e.get("reason")}
        )
        return (
            f"no host was diagnosed: {summary['unreachable']} unreachable, {summary['failed']} failed, "
            f"{summary['stopped']} stopped of {summary['hosts']} ({'; '.join(reasons[:3])})"
        )
    if fail_on != "none":
        if summary["hosts"]:
            return f"no host was diagnosed: all {summary['hosts']} are stopped; with avd_fail_on a run must check hosts"
        return (
            "no host was diagnosed: the run had no hosts (an empty inventory, a target that matches nothing, or an "
            "inventory source that failed to parse); with avd_fail_on a run must check hosts"
        )
    return None


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # its one template is HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def root_causes(entry: Mapping[str, Any]) -> list[str]:
    """Every root-cause finding of a host (a symptom another finding explains and information are not), in order."""
    roots = [str(f["id"]) for f in entry["findings"] if not f.get("explained_by") and f["severity"] != "info"]
    return list(dict.fromkeys(roots))


def _root_cause(entry: Mapping[str, Any]) -> tuple[str, bool]:
    """What the grid shows as a host's cause: every root-cause finding, or why it was not (fully) checked."""
    roots = root_causes(entry)
    if roots:
        return ", ".join(roots), True
    state = entry["state"]
    if state == "unreachable":
        return UNREACHABLE_LABELS.get(str(entry.get("reason_class")), "could not connect"), False
    if state in ("failed", "stopped"):
        return short_reason(str(entry.get("reason") or state), limit=70), False
    if state == "incomplete":
        return f"not checked: {len(entry.get('unchecked') or [])}", False
    return "", False


def grid_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row a host for the HTML report's triage grid, problems first."""
    rows = []
    for name, entry in ordered_hosts(report):
        details = entry.get("details") or {}
        cause, is_finding = _root_cause(entry)
        drain = details.get("drain_mode")
        rows.append(
            {
                "name": name,
                "state": entry["state"],
                "state_rank": STATE_ORDER.get(entry["state"], 9),
                "root_cause": cause,
                "root_is_finding": is_finding,
                "root_causes": root_causes(entry),
                "findings": sorted({f["id"] for f in entry["findings"]}),
                "pool": details.get("host_pool") or "",
                "status": details.get("status") or "",
                "sessions": "" if details.get("sessions") is None else details["sessions"],
                "drain_mode": "" if drain is None else ("on" if drain else "off"),
                "agent_version": details.get("agent_version") or "",
                "sxs_stack_version": details.get("sxs_stack_version") or "",
                "last_heartbeat": details.get("last_heartbeat") or "",
            }
        )
    return rows


def hosts_by_finding(report: Mapping[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, entry in sorted(report["hosts"].items()):
        for finding_id in sorted({f["id"] for f in entry["findings"]}):
            found.setdefault(finding_id, []).append(name)
    return found


def render_html(report: Mapping[str, Any]) -> str:
    rows = grid_rows(report)
    return (
        _environment()
        .get_template("diagnosis.html.j2")
        .render(
            report=report,
            hosts=ordered_hosts(report),
            checks=CHECKS,
            rows=rows,
            states=STATES,
            pools=sorted({row["pool"] for row in rows if row["pool"]}),
            finding_hosts=hosts_by_finding(report),
            finding_info=report.get("findings") or {},
        )
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
    failure = (report.get("run") or {}).get("failure")
    if failure:  # a run that checked nothing must not look green in CI
        case = ET.SubElement(suite, "testcase", classname="run", name="hosts diagnosed")
        ET.SubElement(case, "error", message=str(failure)[:500], type="run").text = str(failure)
        counts["tests"] += 1
        counts["errors"] += 1
    for name, entry in sorted(report["hosts"].items()):
        if entry["state"] == "stopped":
            case = ET.SubElement(suite, "testcase", classname=name, name="connect and gather")
            ET.SubElement(case, "skipped", message=f"stopped: {entry.get('reason', '')}"[:500])
            counts["tests"] += 1
            counts["skipped"] += 1
            continue
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
        unchecked = {line.partition(":")[0]: line for line in entry.get("unchecked") or []}
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
                ET.SubElement(case, "skipped", message=unchecked[check_id])
                counts["skipped"] += 1
            elif passed.get(check_id):
                ET.SubElement(case, "system-out").text = "\n".join(passed[check_id])
    for key, value in counts.items():
        suite.set(key, str(value))
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


# validate_image.yml's summary speaks of an image and its checks, not of a session host's diagnosis.
IMAGE_STATE_WORDS = {
    "healthy": "passed",
    "unhealthy": "failed",
    "incomplete": "incomplete",
    "stopped": "stopped",
    "unreachable": "unreachable",
    "failed": "not checked",
}


def summary_lines(report: Mapping[str, Any], report_dir: str, files: str = "", image: bool = False) -> list[str]:
    """A short table for the end of the run (``image``: validate_image.yml's, in an image's words)."""
    if image:
        lines = [f"{'IMAGE VM':<24} {'RESULT':<12} FAILED CHECKS"]
    else:
        lines = [f"{'HOST':<24} {'STATE':<12} FINDINGS (root cause first)"]
    for name, entry in ordered_hosts(report):
        if entry["state"] == "unreachable":
            kind = entry.get("reason_class", "other")
            detail = f"{UNREACHABLE_LABELS[kind]}: {short_reason(str(entry.get('reason', '')).split(': ', 1)[-1])}"
        elif entry["state"] in ("failed", "stopped"):
            detail = short_reason(str(entry.get("reason", "")), limit=120)
        else:
            detail = (
                ", ".join(
                    f["id"] + ("" if not f.get("explained_by") else f" (<- {f['explained_by']})")
                    for f in entry["findings"]
                )
                or "-"
            )
            if entry["state"] == "incomplete":
                detail = f"{detail}; not checked: " + ", ".join(
                    line.partition(":")[0] for line in entry.get("unchecked", [])
                )
        state = IMAGE_STATE_WORDS.get(entry["state"], entry["state"]) if image else entry["state"]
        lines.append(f"{name:<24} {state:<12} {detail}")
    summary = report["summary"]
    if image:
        lines.append(
            f"{summary['hosts']} image VM(s), {summary['diagnosed']} checked: {summary['healthy']} passed, "
            f"{summary['unhealthy']} failed a check, {summary['incomplete']} incomplete, {summary['stopped']} "
            f"stopped, {summary['unreachable']} unreachable, {summary['failed']} not checked (an error)"
        )
        lines.append(f"Reports: {report_dir}/{files}")
        return lines
    lines.append(
        f"{summary['hosts']} hosts, {summary['diagnosed']} diagnosed: {summary['healthy']} healthy, "
        f"{summary['unhealthy']} unhealthy, {summary['incomplete']} incomplete, {summary['stopped']} stopped, "
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
    files["json"].write_bytes((json.dumps(report, indent=2) + "\n").encode())  # UTF-8, whatever the locale
    if html:
        files["html"] = directory / f"{stem}.html"
        files["html"].write_bytes(render_html(report).encode())
    files["junit"] = directory / f"junit-{stem}.xml"
    files["junit"].write_bytes(render_junit(report, checks, *_junit_names(stem)).encode())
    return {key: str(path) for key, path in files.items()}


def _junit_names(stem: str) -> tuple[str, str]:
    if stem == "diagnosis":
        return "avdops.sessionhost diagnosis", "avd-session-hosts"
    return f"avdops.sessionhost {stem}", f"avd-{stem}"
