"""Pool-level findings: what only shows when all hosts' diagnoses are read together.

Per-host rules stay pure functions of one host's facts (``_rules``); drift
needs the whole pool, so ``diagnosis_report`` runs it over every host's
``versions`` summary before it writes the reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from ._rules import INFO, Finding

# finding id, key in a diagnosis' versions, what it is called in the evidence
DRIFT = (
    ("AGENT_VERSION_DRIFT", "agent", "AVD agent version"),
    ("STACK_VERSION_DRIFT", "sxs_stack", "SxS stack version"),
    ("OS_BUILD_DRIFT", "os_build", "Windows build"),
    ("DOTNET_DRIFT", "dotnet_release", ".NET Framework release"),
)


# A root cause on the same host that explains its drift: the agent update failed for that reason.
UPDATE_FAILURES = (
    "DOTNET_OUTDATED",
    "INSTALL_MSI_BLOCKED",
    "INSTALLER_BUSY",
    "CMD_BLOCKED",
    "DISK_SPACE_LOW",
    "INSTALLATION_HEALTH_CHECK_FAILED",
)
DRIFT_EXPLAINED_BY = {
    "AGENT_VERSION_DRIFT": UPDATE_FAILURES,
    "STACK_VERSION_DRIFT": ("SXS_STACK_NOT_INSTALLED", *UPDATE_FAILURES),
    "DOTNET_DRIFT": ("DOTNET_OUTDATED",),
}


def _pool_of(entry: Mapping[str, Any]) -> str:
    pool = entry.get("host_pool")
    name = pool.get("host_pool") if isinstance(pool, Mapping) else None
    return str(name) if name else ""


def drift_findings(entries: Mapping[str, Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Info findings for hosts whose versions differ from their pool's majority (more than half of the hosts
    that reported the value). Hosts are grouped by host pool (hosts of a static inventory form one group)."""
    pools: dict[str, list[str]] = {}
    for name, entry in entries.items():
        if isinstance(entry.get("versions"), Mapping):
            pools.setdefault(_pool_of(entry), []).append(name)
    found: dict[str, list[dict[str, Any]]] = {}
    for pool, names in pools.items():
        for finding_id, key, label in DRIFT:
            values = {n: entries[n]["versions"].get(key) for n in names}
            values = {n: v for n, v in values.items() if v not in (None, "")}
            if len(values) < 3:
                continue  # two hosts that differ have no majority to drift from
            majority, count = Counter(values.values()).most_common(1)[0]
            if count * 2 <= len(values):
                continue
            where = f"host pool {pool}" if pool else "the inventory"
            for name, value in sorted(values.items()):
                if value != majority:
                    evidence = [f"{label} {value}; {count} of {len(values)} hosts in {where} run {majority}"]
                    found.setdefault(name, []).append(Finding(finding_id, INFO, evidence).as_dict())
    return found


def add_drift(entries: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The report entries with each host's drift findings appended (info: they change no host's state),
    linked to the host's root cause when one explains them (so they are not counted as root causes)."""
    for name, drift in drift_findings(entries).items():
        existing = [dict(f) for f in entries[name]["findings"]]
        by_id = {f["id"]: f for f in existing}
        for finding in drift:
            root = next((by_id[i] for i in DRIFT_EXPLAINED_BY.get(finding["id"], ()) if i in by_id), None)
            seen: set[str] = set()
            while root is not None and root.get("explained_by") in by_id and root["id"] not in seen:
                seen.add(root["id"])  # link to the root cause itself, as the per-host linking does
                root = by_id[root["explained_by"]]
            if root is not None:
                finding["explained_by"] = root["id"]
                root["explains"] = sorted({*(root.get("explains") or []), finding["id"]})
        entries[name]["findings"] = [*existing, *drift]
    return entries
