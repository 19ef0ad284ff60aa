"""Pool drift: hosts whose versions differ from their pool's majority, as info findings."""

from __future__ import annotations

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _pool as pool


def entry(agent="1.0.10004.1300", stack="rdp-sxs240705700", build="22631", dotnet=528372, hp="hp-a") -> dict:
    return {
        "state": "healthy",
        "findings": [],
        "unchecked": [],
        "host_pool": {"host_pool": hp},
        "versions": {"agent": agent, "sxs_stack": stack, "os_build": build, "dotnet_release": dotnet},
    }


def test_the_hosts_that_differ_from_the_majority_get_info_findings():
    entries = {f"sh-{i}": entry() for i in range(1, 5)}
    entries["sh-5"] = entry(agent="1.0.9742.1500", dotnet=461808)
    found = pool.drift_findings(entries)
    assert set(found) == {"sh-5"}
    by_id = {f["id"]: f for f in found["sh-5"]}
    assert set(by_id) == {"AGENT_VERSION_DRIFT", "DOTNET_DRIFT"}
    assert all(f["severity"] == "info" and f["remediation"] and f["doc"] for f in by_id.values())
    assert by_id["AGENT_VERSION_DRIFT"]["evidence"] == [
        "AVD agent version 1.0.9742.1500; 4 of 5 hosts in host pool hp-a run 1.0.10004.1300"
    ]


def test_no_majority_no_drift_and_pools_are_compared_apart():
    assert pool.drift_findings({"a": entry(build="1"), "b": entry(build="2")}) == {}
    assert pool.drift_findings({n: entry(build=n) for n in ("1", "2", "3", "4")}) == {}  # no value over half
    entries = {f"a{i}": entry() for i in range(3)} | {f"b{i}": entry(build="26100", hp="hp-b") for i in range(3)}
    assert pool.drift_findings(entries) == {}  # each pool agrees with itself


def test_hosts_without_a_value_or_a_diagnosis_are_left_out():
    entries = {f"sh-{i}": entry() for i in range(3)}
    entries["sh-x"] = entry(agent=None)
    entries["down"] = {"state": "unreachable", "findings": [], "unchecked": []}
    assert pool.drift_findings(entries) == {}
    entries["sh-y"] = entry(build="20348")
    result = pool.add_drift(entries)
    assert [f["id"] for f in result["sh-y"]["findings"]] == ["OS_BUILD_DRIFT"]
    assert result["sh-y"]["state"] == "healthy" and result["down"]["findings"] == []


def test_drift_a_root_cause_explains_is_linked_not_a_second_root():
    entries = {f"sh-{i}": entry() for i in range(1, 4)}
    entries["old"] = entry(agent="1.0.9742.1500", dotnet=460805)
    entries["old"]["findings"] = [
        {"id": "DOTNET_OUTDATED", "severity": "critical", "explained_by": None, "explains": []}
    ]
    findings = {f["id"]: f for f in pool.add_drift(entries)["old"]["findings"]}
    assert (
        findings["AGENT_VERSION_DRIFT"]["explained_by"] == findings["DOTNET_DRIFT"]["explained_by"] == "DOTNET_OUTDATED"
    )
    assert findings["DOTNET_OUTDATED"]["explains"] == ["AGENT_VERSION_DRIFT", "DOTNET_DRIFT"]


def test_drift_links_to_the_root_of_an_explained_cause():
    entries = {f"sh-{i}": entry() for i in range(1, 4)}
    entries["x"] = entry(agent="1.0.9742.1500")
    entries["x"]["findings"] = [
        {"id": "STACK_LISTENER_NOT_LISTENING", "severity": "critical", "explained_by": None},
        {
            "id": "INSTALLATION_HEALTH_CHECK_FAILED",
            "severity": "critical",
            "explained_by": "STACK_LISTENER_NOT_LISTENING",
        },
    ]
    (drift,) = [f for f in pool.add_drift(entries)["x"]["findings"] if f["id"] == "AGENT_VERSION_DRIFT"]
    assert drift["explained_by"] == "STACK_LISTENER_NOT_LISTENING"
