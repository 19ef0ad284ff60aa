"""Evidence an administrator acts on: what a broker probe saw and as whom, health-check details, versions.

Mutation testing showed these lines could be built from the wrong field without a test failing: a
redirect reported without where it went, a probe's proxy dropped, an OS build or a health check's
error code missing from the evidence.
"""

from __future__ import annotations

import copy
from typing import Any

from chainlab import POOL, healthy_facts

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _rules as r


def test_what_a_broker_probe_saw_and_as_whom() -> None:
    assert r.probe_outcome({"reachable": False, "error": "The remote name could not be resolved"}) == (
        "not reachable (The remote name could not be resolved)"
    )
    redirected = {"reachable": True, "status": 302, "location": "https://proxy.contoso.com/login"}
    assert r.probe_outcome(redirected) == "HTTP 302 redirected to https://proxy.contoso.com/login"
    assert r.probe_outcome({"reachable": True, "status": 200, "health": "RDBroker is Healthy"}) == (
        "HTTP 200 (RDBroker is Healthy)"
    )
    assert r.probe_outcome({"reachable": True, "status": 503}) == "HTTP 503"
    proxied = {"reachable": True, "status": 407, "runs_as": "CONTOSO\\ansible", "proxy": "http://10.0.0.4:3128"}
    assert r.probe_outcome(proxied) == (
        "HTTP 407 (probed as CONTOSO\\ansible, through proxy http://10.0.0.4:3128, with that user's proxy settings;"
        " the agent runs as LocalSystem and may take another route)"
    )
    assert "(probed as CONTOSO\\ansible, direct," in r.probe_outcome({**proxied, "proxy": None})


def test_health_check_details_when_code_and_text() -> None:
    assert r._check_detail("Failed to reach the storage", -2147024891, "2026-11-25T10:00:00Z") == (
        "at 2026-11-25T10:00:00Z, error -2147024891: Failed to reach the storage"
    )
    assert r._check_detail("  a   b ", 0, None) == ": a b"
    assert r._check_detail(None, "0", "") == "" and r._check_detail("", "", None) == ""
    assert r._check_detail(None, 5, None) == "error 5"


def pool_check(**extra: Any) -> dict[str, Any]:
    return {
        **POOL,
        "status": "Unavailable",
        "health_checks": [
            {
                "name": "FSLogixHealthCheck",
                "result": "HealthCheckFailed",
                "message": "Profile container unreachable",
                "error_code": 5,
                "last_checked": "2026-11-25T10:00:00Z",
            }
        ],
        **extra,
    }


def test_the_pools_failed_health_check_is_evidence_unless_the_vm_is_shut_down() -> None:
    found = {f["id"]: f for f in r.diagnose(healthy_facts(), pool_check())["findings"]}
    assert found["FSLOGIX_UNHEALTHY"]["evidence"][0] == (
        "host pool reports FSLogixHealthCheck HealthCheckFailed at 2026-11-25T10:00:00Z, error 5: "
        "Profile container unreachable"
    )
    assert found["FSLOGIX_UNHEALTHY"]["severity"] == "critical"
    shut_down = r.diagnose(healthy_facts(), pool_check(status="Shutdown"))["findings"]
    assert "FSLOGIX_UNHEALTHY" not in [f["id"] for f in shut_down]


def test_the_agents_own_failed_check_is_evidence_with_its_code_and_time() -> None:
    facts = healthy_facts()
    facts["agent"]["health_checks"] = [
        {
            "name": "DomainTrustCheck",
            "passed": False,
            "failed": True,
            "result": 2,
            "message": "The trust relationship failed",
            "error_code": -2146233087,
            "last_checked": facts["gathered_at"],
        }
    ]
    found = {f["id"]: f for f in r.diagnose(facts, POOL)["findings"]}
    assert found["DOMAIN_TRUST_LOST"]["evidence"][0] == (
        f"agent's AgentHealthCheckReport: DomainTrustCheck HealthCheckResult=2 at {facts['gathered_at']}, "
        "error -2146233087: The trust relationship failed"
    )
    assert found["DOMAIN_TRUST_LOST"]["severity"] == "critical"


def test_versions_for_pool_drift_come_from_the_hosts_own_facts() -> None:
    facts = healthy_facts()
    assert r.host_versions(facts) == {
        "agent": facts["agent"]["version"],
        "sxs_stack": facts["agent"]["sxs_stack_version"],
        "os_build": facts["os"]["build"],
        "dotnet_release": facts["dotnet"]["release"],
    }
    assert all(r.host_versions(facts).values())
    assert r.host_versions({}) == {"agent": None, "sxs_stack": None, "os_build": None, "dotnet_release": None}


def test_an_unsupported_windows_11_says_its_build() -> None:
    facts = copy.deepcopy(healthy_facts())
    facts["os"].update(
        edition="Professional",
        product_name="Windows 10 Pro",
        product="Windows 11 Pro",
        build="22631",
        supports_sxs_stack=False,
        unsupported_reason="not an Enterprise or Server edition",
    )
    (finding,) = [f for f in r.diagnose(facts, POOL)["findings"] if f["id"] == "UNSUPPORTED_OS"]
    assert finding["evidence"][0].startswith(
        "EditionID=Professional (ProductName Windows 10 Pro, CurrentBuild 22631: Windows 11): "
        "not an Enterprise or Server edition; "
    )
    facts["os"].update(product="Windows 10 Pro", build="19045")
    (finding,) = [f for f in r.diagnose(facts, POOL)["findings"] if f["id"] == "UNSUPPORTED_OS"]
    assert "(ProductName Windows 10 Pro, CurrentBuild 19045): " in finding["evidence"][0]
