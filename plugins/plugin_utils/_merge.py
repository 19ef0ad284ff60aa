"""One pool report from the reports of several slices (AWX/AAP job slicing: each slice writes its own).

Each slice's ``diagnosis.json`` holds its hosts' entries. Merging takes their union (a host in two
slices is refused: slices partition the inventory), drops the drift findings each slice computed over
its own hosts and computes them again over the whole pool, then ``diagnosis_report`` builds and writes
the pool's JSON, HTML and JUnit with the same functions as for one run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._pool import DRIFT, add_drift
from ._reports import ReportError
from ._verdicts import STATES

DRIFT_IDS = frozenset(finding_id for finding_id, _key, _label in DRIFT)


def _entry(source: str, name: str, raw: Any) -> dict[str, Any]:
    """A slice's host entry, checked for what the merged report needs; drift findings left out."""
    where = f"{source}: hosts[{name!r}]"
    if not isinstance(raw, Mapping):
        raise ReportError(f"{where} is not a host entry (a mapping)")
    if raw.get("state") not in STATES:
        raise ReportError(f"{where}.state is {raw.get('state')!r}, not one of {', '.join(STATES)}")
    findings = raw.get("findings")
    if not isinstance(findings, list) or not all(isinstance(f, Mapping) and "id" in f for f in findings):
        raise ReportError(f"{where}.findings is not a list of findings")
    entry = {**raw}
    kept = [dict(f) for f in findings if f["id"] not in DRIFT_IDS]
    for finding in kept:
        if finding.get("explains"):
            finding["explains"] = [i for i in finding["explains"] if i not in DRIFT_IDS]
    entry["findings"] = kept
    entry["unchecked"] = list(raw.get("unchecked") or [])
    return entry


def merge_entries(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The hosts of every slice report (source name, parsed diagnosis.json), drift computed over all of them."""
    if not reports:
        raise ReportError("no slice report to merge")
    entries: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    for source, report in reports:
        hosts = report.get("hosts") if isinstance(report, Mapping) else None
        if not isinstance(hosts, Mapping):
            raise ReportError(f"{source}: not a diagnosis report (no 'hosts' mapping)")
        if "checks" in next(iter(hosts.values()), {}):
            raise ReportError(f"{source}: an image validation report, not a diagnosis report")
        for name, raw in hosts.items():
            if name in entries:
                raise ReportError(f"host {name!r} is in two slice reports ({origin[name]} and {source})")
            entries[name] = _entry(source, name, raw)
            origin[name] = source
    return add_drift(entries)


def merged_run(reports: Sequence[tuple[str, Mapping[str, Any]]], fail_on: str) -> dict[str, Any]:
    """The merged report's ``run``: the slices it came from, with each slice's target and generation time."""
    targets = sorted(
        {str((r.get("run") or {}).get("target")) for _s, r in reports if (r.get("run") or {}).get("target")}
    )
    return {
        "target": ", ".join(targets) if targets else None,
        "fail_on": fail_on,
        "slices": [
            {"source": source, "generated": report.get("generated"), "hosts": len(report.get("hosts") or {})}
            for source, report in reports
        ],
    }
