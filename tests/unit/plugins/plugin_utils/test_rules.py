"""Each rule on facts shaped as session_host_facts returns them, cause linking, staleness, pool data."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _rules as r

BOOT = "2026-11-25T10:00:00.000Z"


def healthy() -> dict:
    return {
        "schema_version": 1,
        "boot_time": BOOT,
        "agent": {
            "installed": True,
            "bootloader_installed": True,
            "default_agent": "RDAgent_1.0.10004.1300",
            "is_registered": 1,
            "registration_token_set": False,
            "registration_token_length": 0,
            "vm_id": "vm-1",
            "health_last_checked": "2026-11-25T10:00:05Z",
        },
        "services": {
            "RDAgentBootLoader": {"exists": True, "state": "Running", "start_type": "Automatic"},
            "RDAgent": {"exists": True, "state": "Running"},
            "TermService": {"exists": True, "state": "Running"},
        },
        "stack": {
            "qwinsta": {
                "both_listening": True,
                "rdp_tcp": {"session_name": "rdp-tcp", "state": "Listen"},
                "rdp_sxs": {"session_name": "rdp-sxs240705700", "state": "Listen"},
            },
            "winstations": [
                {"name": "rdp-sxs240705700", "fReverseConnectMode": 1, "fEnableWinStation": 1, "active": True}
            ],
            "winstations_key_present": True,
            "reverse_connection_listener": "rdp-sxs240705700",
            "reverse_connection_listener_present": True,
            "session_directory_listener": "rdp-sxs240705700",
            "session_directory_matches": True,
        },
        "components": {
            "programs": {"Remote Desktop Services SxS Network Stack": [{"display_version": "1.0.2407.05700"}]}
        },
        "os": {
            "edition": "EnterpriseMultiSession",
            "product_name": "Windows 10 Enterprise multi-session",
            "supports_sxs_stack": True,
        },
        "dotnet": {"release": 528372, "version": "4.8", "meets_472": True},
        "disk": {"drive": "C:", "size_bytes": 128 * 1024**3, "free_bytes": 80 * 1024**3, "percent_free": 62.5},
        "events": [],
        "policies": {
            "disable_msi": None,
            "disable_cmd": {"machine": None, "user_hives": {".DEFAULT": None}, "any": False},
        },
        "network": {
            "broker": {"url": "https://b/api/health", "reachable": True, "status": 200, "healthy": True},
            "broker_global": {"url": "https://g/api/health", "reachable": True, "status": 200, "healthy": True},
        },
        "sessions": {"total": 1, "by_state": {"Active": 1}},
        "installer": {"busy": False, "processes": []},
        "errors": [],
    }


def event(kind: str, event_id: int = 3277, time: str = "2026-11-25T10:00:01.000Z", message: str = "", **extra) -> dict:
    return {
        "id": event_id,
        "source": "WVD-Agent",
        "level": "Error",
        "time": time,
        "kind": kind,
        "message": message or f"... {kind} ...",
        "win32_exception": False,
        **extra,
    }


def ids(facts, pool=None) -> list[str]:
    return [f["id"] for f in r.diagnose(facts, pool)["findings"]]


def test_healthy_host_has_no_finding():
    result = r.diagnose(healthy(), {"max_session_limit": 4, "sessions": 1})
    assert result == {
        "state": "healthy",
        "findings": [],
        "unchecked": [],
        "stale_events": [],
        "versions": {"agent": None, "sxs_stack": None, "os_build": None, "dotnet_release": 528372},
    }


def test_every_finding_names_its_section_and_fix():
    article = [c for c in r.CHECKS.values() if c.page == r.ARTICLE]
    # the article's 19, the stack and .NET drift that point at its sections, and REGISTRATION_INCOMPLETE (the
    # INVALID_REGISTRATION_TOKEN section's closing check: IsRegistered=1 and an empty RegistrationToken)
    assert len(article) == 22
    for check in article:
        assert check.doc.startswith(r.ARTICLE + "#") and check.remediation and check.title
    signals = {c.id: c.doc for c in r.CHECKS.values() if c.page != r.ARTICLE}
    assert signals == {
        "DOMAIN_TRUST_LOST": r.STATUSES_ARTICLE + "#health-check",
        "FSLOGIX_UNHEALTHY": r.STATUSES_ARTICLE + "#health-check",
        "HEALTH_CHECK_FAILED": r.STATUSES_ARTICLE + "#health-check",
        "AGENT_VERSION_DRIFT": r.STATUSES_ARTICLE + "#health-check",
        "OS_BUILD_DRIFT": r.STATUSES_ARTICLE,
        "HEARTBEAT_LOST": r.HEARTBEAT_REPORT,
    }
    for rule in r.RULES:
        doc = rule.__doc__ or ""
        assert "Error:" in doc or "isn't listed" in doc or "health check" in doc or "field report" in doc, rule.__name__


def test_registration_failure_explains_the_stopped_bootloader():
    facts = healthy()
    facts["services"]["RDAgentBootLoader"]["state"] = "Stopped"
    facts["agent"].update(is_registered=0, registration_token_set=True, registration_token_length=509)
    facts["events"] = [event("INVALID_REGISTRATION_TOKEN")]
    findings = r.diagnose(facts)["findings"]
    assert [(f["id"], f["explained_by"]) for f in findings] == [
        ("INVALID_REGISTRATION_TOKEN", None),
        ("BOOTLOADER_NOT_RUNNING", "INVALID_REGISTRATION_TOKEN"),
    ]
    assert findings[0]["explains"] == ["BOOTLOADER_NOT_RUNNING"]
    assert "IsRegistered=0, RegistrationToken set (509 characters)" in findings[0]["evidence"][1]
    assert "event 3277 from WVD-Agent at 2026-11-25T10:00:01.000Z" in findings[0]["evidence"][0]


def test_token_findings_say_what_the_pools_key_looks_like():
    facts = healthy()
    facts["agent"].update(is_registered=0, registration_token_set=True, registration_token_length=509)
    facts["events"] = [event("EXPIRED_REGISTRATION_TOKEN")]
    without = r.diagnose(facts)["findings"][0]["evidence"]
    assert "was not checked (no host pool data)" in " ".join(without)
    expired = r.diagnose(facts, {"registration_expiration_time": "2020-01-01T00:00:00Z"})["findings"][0]["evidence"]
    assert "the host pool's registration key expired at 2020-01-01T00:00:00Z" in expired
    none = r.diagnose(facts, {"registration_expiration_time": None})["findings"][0]["evidence"]
    assert "the host pool has no registration key: generate one" in none


def test_bootloader_alone():
    facts = healthy()
    facts["services"]["RDAgentBootLoader"]["state"] = "Stopped"
    assert ids(facts) == ["BOOTLOADER_NOT_RUNNING"]


def test_events_before_the_last_boot_are_stale():
    facts = healthy()
    facts["events"] = [event("INVALID_REGISTRATION_TOKEN", time="2026-11-25T09:00:00.000Z")]
    result = r.diagnose(facts)
    assert result["findings"] == [] and len(result["stale_events"]) == 1


def test_registration_errors_before_a_later_successful_registration_are_stale():
    facts = healthy()
    facts["boot_time"] = "2026-11-24T00:00:00.000Z"
    facts["events"] = [
        event("EXPIRED_REGISTRATION_TOKEN", time="2026-11-25T09:59:00.000Z"),
        event("DownloadMsiException", time="2026-11-25T09:59:00.000Z"),
    ]
    facts["disk"]["free_bytes"] = 10 * 1024**2
    facts["disk"]["percent_free"] = 0.01
    # Registered since (health checks ran after the event): the token error is stale, the disk one is not.
    assert ids(facts) == ["DISK_SPACE_LOW"]
    facts["agent"]["is_registered"] = 0
    assert "EXPIRED_REGISTRATION_TOKEN" in ids(facts)


@pytest.mark.parametrize(
    ("kind", "finding"),
    [
        ("EXPIRED_REGISTRATION_TOKEN", "EXPIRED_REGISTRATION_TOKEN"),
        ("NAME_ALREADY_REGISTERED", "NAME_ALREADY_REGISTERED"),
        ("ENDPOINT_NOT_FOUND", "ENDPOINT_NOT_FOUND"),
        ("INVALID_FORM", "INVALID_FORM"),
    ],
)
def test_registration_kinds(kind, finding):
    facts = healthy()
    facts["events"] = [event(kind)]
    facts["agent"]["health_last_checked"] = None
    assert ids(facts)[0] == finding


def test_name_already_registered_uses_the_pool_vm_id():
    facts = healthy()
    facts["agent"]["health_last_checked"] = None
    facts["events"] = [event("NAME_ALREADY_REGISTERED")]
    finding = r.diagnose(facts, {"vm_id": "other-vm", "max_session_limit": 4})["findings"][0]
    assert any("belongs to VM other-vm" in line for line in finding["evidence"])


def test_invalid_form_from_the_probe_alone():
    facts = healthy()
    facts["network"]["broker"] = {
        "url": "https://b/api/health",
        "reachable": False,
        "status": None,
        "healthy": False,
        "error": "Unable to connect",
    }
    (finding,) = r.diagnose(facts)["findings"]
    assert (finding["id"], finding["severity"]) == ("INVALID_FORM", "warning")
    assert "not reachable (Unable to connect)" in finding["evidence"][0]


@pytest.mark.parametrize(
    ("kind", "event_id", "finding"),
    [
        ("GATEWAY_UNREACHABLE", 3703, "GATEWAY_UNREACHABLE"),
        ("WEBSOCKET_UNREACHABLE", 3019, "WEBSOCKET_UNREACHABLE"),
    ],
)
def test_url_events(kind, event_id, finding):
    facts = healthy()
    facts["events"] = [event(kind, event_id)]
    assert ids(facts) == [finding]


def test_install_msi_causes_are_told_apart_by_evidence():
    base = healthy()
    base["events"] = [event("InstallMsiException", message="InstallMsiException: msiexec exited with code 1625")]
    policy = copy.deepcopy(base)
    policy["policies"]["disable_msi"] = 1
    assert ids(policy) == ["INSTALL_MSI_BLOCKED"]
    busy = copy.deepcopy(base)
    busy["installer"] = {"busy": True, "mutex": "Global\\_MSIExecute", "processes": [{"name": "msiexec", "id": 4}]}
    (finding,) = r.diagnose(busy)["findings"]
    assert finding["id"] == "INSTALLER_BUSY"
    assert "holds Global\\_MSIExecute (msiexec processes: msiexec (pid 4))" in finding["evidence"][-1]
    idle = copy.deepcopy(base)
    idle["installer"] = {"busy": False, "mutex": "Global\\_MSIExecute", "processes": [{"name": "msiexec", "id": 4}]}
    assert ids(idle) == ["INSTALL_MSI_BLOCKED"]
    cmd = copy.deepcopy(base)
    cmd["events"][0]["win32_exception"] = True
    cmd["policies"]["disable_cmd"]["user_hives"][".DEFAULT"] = 1
    (finding,) = r.diagnose(cmd)["findings"]
    assert (finding["id"], finding["severity"]) == ("CMD_BLOCKED", "critical")
    assert ".DEFAULT: DisableCMD=1" in finding["evidence"][-1]
    unknown = copy.deepcopy(base)
    (finding,) = r.diagnose(unknown)["findings"]
    assert finding["severity"] == "warning" and "check rsop.msc" in finding["evidence"][-1]


def test_policies_without_an_event_are_warnings_for_image_validation():
    facts = healthy()
    facts["policies"]["disable_msi"] = 2
    facts["dotnet"] = {"release": 460805, "version": "4.7", "meets_472": False}
    result = r.diagnose(facts)
    assert {(f["id"], f["severity"]) for f in result["findings"]} == {
        ("INSTALL_MSI_BLOCKED", "warning"),
        ("DOTNET_OUTDATED", "warning"),
    }


def test_listener_rules_and_their_root_causes():
    facts = healthy()
    facts["stack"]["qwinsta"]["both_listening"] = False
    facts["stack"]["qwinsta"]["rdp_sxs"] = {"session_name": "rdp-sxs240705700", "state": "Down"}
    facts["stack"]["winstations"][0]["fReverseConnectMode"] = 0
    (finding,) = r.diagnose(facts)["findings"]
    assert finding["id"] == "STACK_LISTENER_NOT_LISTENING"
    assert "WinStations\\rdp-sxs240705700: fReverseConnectMode=0, fEnableWinStation=1" in finding["evidence"]
    pro = copy.deepcopy(facts)
    pro["os"].update(edition="Professional", supports_sxs_stack=False)
    assert [(f["id"], f["explained_by"]) for f in r.diagnose(pro)["findings"]] == [
        ("UNSUPPORTED_OS", None),
        ("STACK_LISTENER_NOT_LISTENING", "UNSUPPORTED_OS"),
    ]
    missing = copy.deepcopy(facts)
    missing["stack"]["winstations"] = []
    missing["stack"]["reverse_connection_listener_present"] = False
    assert ids(missing) == ["SXS_STACK_NOT_INSTALLED", "STACK_LISTENER_NOT_LISTENING"]
    health = copy.deepcopy(facts)
    health["events"] = [event("InstallationHealthCheckFailedException")]
    assert [(f["id"], f["explained_by"]) for f in r.diagnose(health)["findings"]] == [
        ("STACK_LISTENER_NOT_LISTENING", None),
        ("INSTALLATION_HEALTH_CHECK_FAILED", "STACK_LISTENER_NOT_LISTENING"),
    ]


def test_agent_not_installed_is_the_root_of_everything_else():
    facts = healthy()
    facts["services"]["RDAgentBootLoader"] = {"exists": False}
    facts["agent"].update(installed=False, bootloader_installed=False, default_agent=None)
    facts["components"]["programs"] = {}
    facts["stack"]["qwinsta"]["both_listening"] = False
    facts["stack"]["qwinsta"]["rdp_sxs"] = None
    facts["stack"]["reverse_connection_listener_present"] = False
    findings = r.diagnose(facts)["findings"]
    assert findings[0]["id"] == "AGENT_NOT_INSTALLED"
    assert all(f["explained_by"] == "AGENT_NOT_INSTALLED" for f in findings[1:]) and len(findings) == 3


def test_disk_and_dotnet():
    facts = healthy()
    facts["disk"].update(free_bytes=40 * 1024**2, percent_free=0.03)
    facts["events"] = [event("DownloadMsiException")]
    (finding,) = r.diagnose(facts)["findings"]
    assert (finding["id"], finding["severity"]) == ("DISK_SPACE_LOW", "critical") and "40 MB free" in finding[
        "evidence"
    ][1]
    facts = healthy()
    facts["dotnet"] = {"release": 460805, "version": "4.7", "meets_472": False}
    facts["events"] = [event("MissingMethodException", 3389)]
    (finding,) = r.diagnose(facts)["findings"]
    assert (finding["id"], finding["severity"]) == ("DOTNET_OUTDATED", "critical")


def test_session_limit_needs_pool_data_and_says_so():
    facts = healthy()
    facts["sessions"]["total"] = 4
    result = r.diagnose(facts)
    assert result["findings"] == [] and "max session limit is unknown" in result["unchecked"][0]
    assert ids(facts, {"max_session_limit": 4}) == ["SESSION_LIMIT_REACHED"]
    assert ids(facts, {"max_session_limit": 4, "sessions": 2}) == []  # the pool's count wins


def test_pool_status_is_evidence_and_pool_vars_are_read():
    assert r.pool_from_hostvars({"inventory_hostname": "x"}) is None
    pool = r.pool_from_hostvars({"avd_status": "Unavailable", "avd_sessions": 0, "avd_max_session_limit": 4})
    assert pool == {"status": "Unavailable", "sessions": 0, "max_session_limit": 4}
    facts = healthy()
    facts["services"]["RDAgentBootLoader"]["state"] = "Stopped"
    (finding,) = r.diagnose(facts, pool)["findings"]
    assert "host pool reports status=Unavailable" in finding["evidence"]


def test_gather_errors_become_unchecked():
    facts = healthy()
    facts["errors"] = [{"operation": "policies.user_hives", "message": "Access is denied"}]
    result = r.diagnose(facts, {"max_session_limit": 4})
    assert result["unchecked"] == [
        "INSTALL_MSI_BLOCKED: operation policies.user_hives failed: Access is denied",
        "CMD_BLOCKED: operation policies.user_hives failed: Access is denied",
    ]
    assert result["state"] == "incomplete"


def test_partial_facts_do_not_crash():
    minimal = {"schema_version": 1, "boot_time": BOOT, "errors": []}
    result = r.diagnose(minimal)
    per_host = [c for c in r.CHECKS if not c.endswith("_DRIFT")]  # drift compares hosts, in the report
    assert result["state"] == "incomplete" and len(result["unchecked"]) == len(per_host)  # nothing was checked


# --- the service's and the agent's own health checks --------------------------------------
def pool_check(name: str, result: str = "HealthCheckFailed", message: str = "failed") -> dict:
    return {
        "name": name,
        "result": result,
        "message": message,
        "error_code": -2147467259,
        "last_checked": "2026-11-25T10:05:00Z",
    }


def agent_check(name: str, result: int = 2, message: str = "failed", when: str = "2026-11-25T10:05:00Z") -> dict:
    return {
        "name": name,
        "passed": result == 1,
        "failed": result == 2,
        "result": result,
        "message": message,
        "error_code": 0 if result == 1 else -2147467259,
        "last_checked": when,
    }


TRUST = "The trust relationship between this workstation and the primary domain failed."


def test_domain_trust_lost_from_the_pool_and_the_agent():
    facts = healthy()
    facts["agent"]["health_checks"] = [
        agent_check("DomainTrustCheck", message=TRUST),
        agent_check("SxSStackListenerCheck", 1),
    ]
    pool = {"status": "Unavailable", "health_checks": [pool_check("DomainTrustCheck", message=TRUST)]}
    (finding,) = r.diagnose(facts, pool)["findings"]
    assert (finding["id"], finding["severity"]) == ("DOMAIN_TRUST_LOST", "critical")
    assert (
        f"host pool reports DomainTrustCheck HealthCheckFailed at 2026-11-25T10:05:00Z, error -2147467259: {TRUST}"
        in (finding["evidence"])
    )
    assert any(
        e.startswith("agent's AgentHealthCheckReport: DomainTrustCheck HealthCheckResult=2")
        for e in finding["evidence"]
    )
    assert "host pool reports status=Unavailable" in finding["evidence"]
    assert finding["doc"].endswith("troubleshoot-statuses-checks#health-check")


def test_fslogix_unhealthy_from_the_agent_report_alone():
    facts = healthy()
    facts["agent"]["health_checks"] = [agent_check("FSLogixHealthCheck", message="share not accessible")]
    (finding,) = r.diagnose(facts)["findings"]
    assert finding["id"] == "FSLOGIX_UNHEALTHY" and "share not accessible" in finding["evidence"][0]


def test_other_failed_checks_are_named_in_one_generic_finding():
    pool = {
        "status": "NeedsAssistance",
        "health_checks": [
            pool_check("MetaDataServiceCheck"),
            pool_check("WebRTCRedirectorCheck"),
            pool_check("AppAttachHealthCheck", "HealthCheckSucceeded"),
            pool_check("SupportedEncryptionCheck", "Unknown"),
        ],
    }
    (finding,) = r.diagnose(healthy(), pool)["findings"]
    assert (finding["id"], finding["severity"]) == ("HEALTH_CHECK_FAILED", "warning")
    assert finding["evidence"][0] == "failed health checks: MetaDataServiceCheck, WebRTCRedirectorCheck"
    pool["health_checks"].append(pool_check("DomainJoinedCheck"))
    (finding,) = r.diagnose(healthy(), pool)["findings"]
    assert finding["severity"] == "critical"  # DomainJoinedCheck keeps users out


def test_a_shut_down_host_or_a_passing_report_is_no_finding():
    shut = [pool_check(name, "SessionHostShutdown") for name in ("DomainTrustCheck", "SxSStackListenerCheck")]
    assert ids(healthy(), {"status": "Shutdown", "health_checks": shut}) == []
    facts = healthy()
    facts["agent"]["health_checks"] = [agent_check("FSLogixHealthCheck", 1), agent_check("AppAttachHealthCheck", 0)]
    assert ids(facts) == []


def test_an_agent_failure_from_before_the_last_boot_is_stale():
    facts = healthy()
    facts["agent"]["health_checks"] = [agent_check("DomainTrustCheck", when="2026-11-24T09:00:00Z")]
    assert ids(facts) == []


def test_a_failed_check_an_article_rule_explains_is_not_a_second_root_cause():
    facts = healthy()
    facts["stack"]["qwinsta"]["both_listening"] = False
    facts["stack"]["qwinsta"]["rdp_sxs"]["state"] = "Down"
    facts["agent"]["health_checks"] = [agent_check("SxSStackListenerCheck", message="SxsStack listener is not ready")]
    pool = {
        "status": "Unavailable",
        "health_checks": [pool_check("SxSStackListenerCheck"), pool_check("MetaDataServiceCheck")],
    }
    findings = {f["id"]: f for f in r.diagnose(facts, pool)["findings"]}
    assert set(findings) == {"STACK_LISTENER_NOT_LISTENING", "HEALTH_CHECK_FAILED"}
    listener = findings["STACK_LISTENER_NOT_LISTENING"]["evidence"]
    assert any("SxsStack listener is not ready" in e for e in listener)
    assert any(e.startswith("host pool reports SxSStackListenerCheck HealthCheckFailed") for e in listener)
    assert findings["HEALTH_CHECK_FAILED"]["evidence"][0] == "failed health checks: MetaDataServiceCheck"
    assert all("SxSStackListenerCheck" not in e for e in findings["HEALTH_CHECK_FAILED"]["evidence"])
    # alone, the covered check leaves no generic finding at all
    pool["health_checks"].pop()
    assert ids(facts, pool) == ["STACK_LISTENER_NOT_LISTENING"]


def test_heartbeat_lost_while_the_bootloader_runs():
    facts = healthy()
    facts["gathered_at"] = "2026-11-25T13:00:00Z"
    pool = {"status": "Available", "last_heartbeat": "2026-11-25T10:00:00Z"}
    (finding,) = r.diagnose(facts, pool)["findings"]
    assert (finding["id"], finding["severity"]) == ("HEARTBEAT_LOST", "critical")
    assert finding["evidence"][0].startswith("host pool's lastHeartBeat is 2026-11-25T10:00:00Z, 180 minutes")
    assert "RDAgentBootLoader" in finding["remediation"] and "host pool reports status=Available" in finding["evidence"]
    assert ids(facts, {**pool, "last_heartbeat": "2026-11-25T12:55:00Z"}) == []  # five minutes: still beating
    assert ids(facts, {**pool, "status": "Shutdown"}) == []  # a VM that is off sends no heartbeat
    stopped = copy.deepcopy(facts)
    stopped["services"]["RDAgentBootLoader"]["state"] = "Stopped"
    assert "HEARTBEAT_LOST" not in ids(stopped, pool)  # that is BOOTLOADER_NOT_RUNNING
    assert ids({k: v for k, v in facts.items() if k != "gathered_at"}, pool) == []


def test_heartbeat_is_judged_against_when_the_pool_was_read_not_a_cached_inventory():
    facts = healthy()
    facts["gathered_at"] = "2026-11-25T13:00:00Z"
    cached = {"status": "Available", "last_heartbeat": "2026-11-25T10:00:00Z", "read_at": "2026-11-25T10:00:20Z"}
    assert ids(facts, cached) == []  # beating when read three hours ago: no false restart of the boot loader
    (finding,) = r.diagnose(facts, {**cached, "read_at": "2026-11-25T10:30:00Z"})["findings"]
    assert finding["id"] == "HEARTBEAT_LOST"
    assert finding["evidence"][0].startswith("host pool's lastHeartBeat is 2026-11-25T10:00:00Z, 30 minutes before")
    assert r.pool_from_hostvars({"avd_status": "Available", "avd_pool_read_at": "2026-11-25T10:00:20Z"}) == {
        "status": "Available",
        "read_at": "2026-11-25T10:00:20Z",
    }


def test_pool_from_hostvars_carries_health_checks_and_heartbeat():
    pool = r.pool_from_hostvars(
        {
            "avd_status": "Available",
            "avd_last_heartbeat": "2026-11-25T10:00:00Z",
            "avd_health_checks": [pool_check("X")],
        }
    )
    assert pool == {"status": "Available", "last_heartbeat": "2026-11-25T10:00:00Z", "health_checks": [pool_check("X")]}


def test_pool_from_hostvars_keeps_whether_the_key_was_checked():
    checked = r.pool_from_hostvars(
        {"avd_status": "Available", "avd_registration_expiration_time": None, "avd_registration_key_checked": True}
    )
    assert checked == {"status": "Available", "registration_expiration_time": None, "registration_key_checked": True}
    refused = r.pool_from_hostvars(
        {
            "avd_status": "Available",
            "avd_registration_expiration_time": None,
            "avd_registration_key_checked": False,
            "avd_registration_key_error": "HTTP 403",
        }
    )
    assert refused is not None and refused["registration_key_checked"] is False
    facts = healthy()
    facts["agent"].update(is_registered=0, registration_token_set=True, registration_token_length=509)
    facts["events"] = [event("EXPIRED_REGISTRATION_TOKEN")]
    evidence = " ".join(r.diagnose(facts, refused)["findings"][0]["evidence"])
    assert "registration key could not be checked: HTTP 403" in evidence and "no registration key" not in evidence
    assert "has no registration key" in " ".join(r.diagnose(facts, checked)["findings"][0]["evidence"])
