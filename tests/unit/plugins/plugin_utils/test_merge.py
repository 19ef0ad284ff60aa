"""Merging slice reports: the union of hosts, drift over the whole pool, refusals that name the problem."""

from __future__ import annotations

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _merge as m
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._reports import ReportError


def host(state="healthy", agent="1.0.10004.1300", findings=None, pool="hp-1"):
    return {
        "state": state,
        "findings": findings or [],
        "unchecked": [],
        "versions": {"agent": agent, "sxs_stack": "1.0.2407.05700", "os_build": "22631", "dotnet_release": 528449},
        "host_pool": {"host_pool": pool},
    }


def drift(host_name="x"):
    return {
        "id": "AGENT_VERSION_DRIFT",
        "severity": "info",
        "title": "t",
        "evidence": [
            f"AVD agent version 1.0.9742.1500; 2 of 3 hosts in host pool hp-1 run 1.0.10004.1300 ({host_name})"
        ],
        "remediation": "r",
        "doc": "d",
        "explained_by": None,
        "explains": [],
    }


def report(hosts, target="all"):
    return {"generated": "2026-11-26T00:00:00Z", "run": {"target": target}, "hosts": hosts, "summary": {}}


def test_union_of_slices_with_drift_recomputed_over_the_pool():
    # Each slice alone has too few hosts (or no majority) for drift; together sh-4 runs an old agent.
    a = report({"sh-1": host(), "sh-2": host()}, "avd_session_hosts[0:2]")
    b = report({"sh-3": host(), "sh-4": host(agent="1.0.9742.1500")}, "avd_session_hosts[2:4]")
    entries = m.merge_entries([("a/diagnosis.json", a), ("b/diagnosis.json", b)])
    assert sorted(entries) == ["sh-1", "sh-2", "sh-3", "sh-4"]
    assert [f["id"] for f in entries["sh-4"]["findings"]] == ["AGENT_VERSION_DRIFT"]
    assert "3 of 4 hosts in host pool hp-1" in entries["sh-4"]["findings"][0]["evidence"][0]
    run = m.merged_run([("a/diagnosis.json", a), ("b/diagnosis.json", b)], "critical")
    assert run["fail_on"] == "critical" and [s["hosts"] for s in run["slices"]] == [2, 2]


def test_a_slices_own_drift_is_dropped_when_the_pool_has_none():
    a = report({"sh-1": host(agent="1.0.9742.1500", findings=[drift()]), "sh-2": host()})
    b = report({"sh-3": host(agent="1.0.9742.1500"), "sh-4": host(agent="1.0.9742.1500")})
    entries = m.merge_entries([("a", a), ("b", b)])
    assert entries["sh-1"]["findings"] == []  # three of four run 1.0.9742.1500: sh-2 drifts, not sh-1
    assert [f["id"] for f in entries["sh-2"]["findings"]] == ["AGENT_VERSION_DRIFT"]


def test_non_drift_findings_and_states_are_kept():
    finding = {"id": "BOOTLOADER_NOT_RUNNING", "severity": "critical", "explains": ["AGENT_VERSION_DRIFT"]}
    a = report({"sh-1": host(state="unhealthy", findings=[finding])})
    b = report({"sh-2": {"state": "unreachable", "reason": "timed out", "findings": [], "unchecked": []}})
    entries = m.merge_entries([("a", a), ("b", b)])
    assert entries["sh-1"]["state"] == "unhealthy" and entries["sh-1"]["findings"][0]["explains"] == []
    assert entries["sh-2"] == {"state": "unreachable", "reason": "timed out", "findings": [], "unchecked": []}


@pytest.mark.parametrize(
    ("reports", "message"),
    [
        ([], "no slice report to merge"),
        ([("a", {"hosts": []})], "a: not a diagnosis report"),
        (
            [("a", report({"sh-1": host()})), ("b", report({"sh-1": host()}))],
            "host 'sh-1' is in two slice reports (a and b)",
        ),
        ([("a", report({"sh-1": {**host(), "state": "fine"}}))], "a: hosts['sh-1'].state is 'fine'"),
        ([("a", report({"sh-1": {**host(), "findings": "none"}}))], "a: hosts['sh-1'].findings is not a list"),
        ([("a", report({"img-1": {**host(), "checks": []}}))], "an image validation report"),
    ],
)
def test_bad_slices_are_refused_by_name(reports, message):
    with pytest.raises(ReportError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        m.merge_entries(reports)
