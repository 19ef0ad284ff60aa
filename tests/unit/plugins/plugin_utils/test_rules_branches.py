"""Each rule's branches, and the evidence each finding must show: what was observed, not how it is worded.

The design says evidence is what was observed (event id and time, registry value,
qwinsta row, service state). These tests check that the observed values are
there, so that a rule reading the wrong key shows up, without pinning sentences.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
from chainlab import healthy_facts

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _known as k
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _rules as r

BOOT = "2026-11-25T10:00:00.000Z"
POOL = {"max_session_limit": 4}


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    facts = healthy_facts()
    facts["boot_time"] = BOOT
    facts["agent"]["health_last_checked"] = None
    return facts


@pytest.fixture
def facts(base) -> dict[str, Any]:
    return copy.deepcopy(base)


def event(kind: str, event_id: int = 3277, time: str = "2026-11-25T10:00:01.000Z", message: str = "", **extra: Any):
    return {
        "id": event_id,
        "source": "WVD-Agent",
        "level": "Error",
        "time": time,
        "record_id": 7,
        "kind": kind,
        "win32_exception": False,
        "message": message or f"Agent error: {kind} happened",
        **extra,
    }


KEEP = object()  # the default: the host pool's view POOL (None means no pool data)


def findings(facts: dict[str, Any], pool: Any = KEEP) -> dict[str, dict[str, Any]]:
    return {x["id"]: x for x in r.diagnose(facts, POOL if pool is KEEP else pool)["findings"]}


def evidence(facts: dict[str, Any], wanted: str, pool: Any = KEEP) -> str:
    found = findings(facts, pool)
    assert wanted in found, list(found)
    return "\n".join(found[wanted]["evidence"])


# --- agent and boot loader --------------------------------------------------------------
def test_agent_not_installed_from_the_missing_service_alone(facts):
    del facts["agent"]
    facts["services"]["RDAgentBootLoader"] = {"exists": False, "state": None, "start_type": None}
    assert "RDAgentBootLoader" in evidence(facts, "AGENT_NOT_INSTALLED")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"installed": False}, k.PROGRAM_AGENT),
        ({"bootloader_installed": False}, k.PROGRAM_BOOTLOADER),
        ({"default_agent": None}, "DefaultAgent"),
    ],
)
def test_agent_not_installed_from_each_missing_part(facts, change, named):
    del facts["services"]
    facts["agent"].update(change)
    found = findings(facts)
    assert list(found) == ["AGENT_NOT_INSTALLED"]
    assert named in "\n".join(found["AGENT_NOT_INSTALLED"]["evidence"])
    assert len(found["AGENT_NOT_INSTALLED"]["evidence"]) == 1


def test_no_default_agent_is_not_evidence_when_the_agent_is_not_installed_at_all(facts):
    facts["agent"].update(installed=False, default_agent=None)
    assert "DefaultAgent" not in evidence(facts, "AGENT_NOT_INSTALLED")


def test_agent_load_errors_are_evidence_of_a_missing_agent(facts):
    facts["events"] = [event("AgentLoadException", message="AgentLoadException: Unable to retrieve DefaultAgent")]
    assert "Unable to retrieve DefaultAgent" in evidence(facts, "AGENT_NOT_INSTALLED")


def test_a_load_error_alone_with_the_agent_present_now_is_a_warning(facts):
    # an agent update logs it too: never the critical that starts the full reinstall
    facts["events"] = [event("AgentLoadException", message="AgentLoadException: Unable to retrieve DefaultAgent")]
    assert findings(facts)["AGENT_NOT_INSTALLED"]["severity"] == "warning"
    facts["agent"].update(default_agent=None)
    found = findings(facts)["AGENT_NOT_INSTALLED"]
    assert found["severity"] == "critical"
    assert "Unable to retrieve DefaultAgent" in "\n".join(found["evidence"])


def test_a_boot_loader_query_that_failed_says_nothing(facts):
    facts["services"]["RDAgentBootLoader"] = None
    assert findings(facts) == {}
    del facts["services"]
    del facts["agent"]
    assert findings(facts) == {}


@pytest.mark.parametrize("state", ["Stopped", "StopPending", "Paused"])
def test_a_boot_loader_not_running_shows_its_state_and_start_type(facts, state):
    facts["services"]["RDAgentBootLoader"].update(state=state, start_type="Disabled")
    pool = {**POOL, "status": "Unavailable", "update_state": "Failed"}
    shown = evidence(facts, "BOOTLOADER_NOT_RUNNING", pool)
    assert state in shown and "Disabled" in shown and "Unavailable" in shown and "Failed" in shown


def test_pool_evidence_leaves_out_what_the_pool_did_not_say(facts):
    facts["services"]["RDAgentBootLoader"]["state"] = "Stopped"
    assert len(findings(facts, {**POOL, "status": "", "update_state": None})["BOOTLOADER_NOT_RUNNING"]["evidence"]) == 1
    only_update = evidence(facts, "BOOTLOADER_NOT_RUNNING", {**POOL, "update_state": "Started"})
    assert "Started" in only_update and "status=" not in only_update


# --- registration --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind",
    ["INVALID_REGISTRATION_TOKEN", "EXPIRED_REGISTRATION_TOKEN", "NAME_ALREADY_REGISTERED", "ENDPOINT_NOT_FOUND"],
)
def test_a_registration_error_shows_its_event_the_count_and_the_registry(facts, kind):
    facts["agent"].update(is_registered=0, registration_token_set=True, registration_token_length=1071)
    facts["events"] = [event(kind, time="2026-11-25T10:05:00.000Z"), event(kind)]
    found = findings(facts)[kind]
    shown = "\n".join(found["evidence"])
    assert found["severity"] == "critical"
    assert "3277" in found["evidence"][0] and "2026-11-25T10:05:00.000Z" in found["evidence"][0]
    assert "2 " in found["evidence"][1]  # how many such events since the boot
    assert "IsRegistered=0" in shown and "1071" in shown
    facts["events"] = [event(kind)]
    assert not any(line.startswith("1 ") for line in findings(facts)[kind]["evidence"])


def test_token_errors_show_the_pools_registration_key(facts):
    facts["events"] = [event("INVALID_REGISTRATION_TOKEN")]
    future = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)).replace(microsecond=0)
    shown = evidence(facts, "INVALID_REGISTRATION_TOKEN", {**POOL, "registration_expiration_time": future.isoformat()})
    assert future.strftime("%Y-%m-%dT%H:%M:%SZ") in shown and "expires" in shown and "expired" not in shown
    shown = evidence(
        facts, "INVALID_REGISTRATION_TOKEN", {**POOL, "registration_expiration_time": "2026-01-01T00:00:00Z"}
    )
    assert "2026-01-01T00:00:00Z" in shown and "expired" in shown
    facts["events"] = [event("NAME_ALREADY_REGISTERED")]
    assert "registration key" not in evidence(
        facts, "NAME_ALREADY_REGISTERED", {**POOL, "registration_expiration_time": None}
    )


def test_endpoint_not_found_says_when_the_pool_does_not_list_the_host(facts):
    facts["events"] = [event("ENDPOINT_NOT_FOUND")]
    plain = findings(facts, {**POOL, "in_pool": True})["ENDPOINT_NOT_FOUND"]["evidence"]
    missing = findings(facts, {**POOL, "in_pool": False})["ENDPOINT_NOT_FOUND"]["evidence"]
    assert len(missing) == len(plain) + 1
    assert len(findings(facts, POOL)["ENDPOINT_NOT_FOUND"]["evidence"]) == len(plain)  # unknown: not said


def test_name_already_registered_compares_vm_ids_without_case(facts):
    facts["events"] = [event("NAME_ALREADY_REGISTERED")]
    facts["agent"]["vm_id"] = "9D6CF0E5-6A0B-4B49-A5A3-4F0B7D1C0E2A"
    same = findings(facts, {**POOL, "vm_id": "9d6cf0e5-6a0b-4b49-a5a3-4f0b7d1c0e2a"})["NAME_ALREADY_REGISTERED"]
    other = findings(facts, {**POOL, "vm_id": "0f0e0d0c-6a0b-4b49-a5a3-4f0b7d1c0e2a"})["NAME_ALREADY_REGISTERED"]
    assert len(other["evidence"]) == len(same["evidence"]) + 1
    assert "0f0e0d0c-6a0b-4b49-a5a3-4f0b7d1c0e2a" in other["evidence"][-1]
    assert "9D6CF0E5" in other["evidence"][-1]


# --- network ---------------------------------------------------------------------------------
def test_invalid_form_shows_the_failing_probe_and_its_status(facts):
    facts["network"]["broker_global"] = {
        "url": "https://g/api/health",
        "reachable": True,
        "status": 403,
        "healthy": False,
    }
    shown = evidence(facts, "INVALID_FORM")
    assert "BrokerURIGlobal" in shown and "https://g/api/health" in shown and "403" in shown
    assert "BrokerURI " not in shown.replace("BrokerURIGlobal", "")


def test_invalid_form_event_evidence_comes_first(facts):
    facts["events"] = [event("INVALID_FORM", time="2026-11-25T10:09:00.000Z"), event("INVALID_FORM")]
    facts["network"]["broker"] = {"url": "https://b/api/health", "reachable": False, "healthy": False, "error": "DNS"}
    found = findings(facts)["INVALID_FORM"]
    assert len(found["evidence"]) == 2
    assert "2026-11-25T10:09:00.000Z" in found["evidence"][0] and "DNS" in found["evidence"][1]


def test_gateway_and_websocket_events_each_give_their_finding(facts):
    facts["events"] = [event("GATEWAY_UNREACHABLE", 3703), event("WEBSOCKET_UNREACHABLE", 3019)]
    found = findings(facts, {**POOL, "status": "Unavailable"})
    assert set(found) == {"GATEWAY_UNREACHABLE", "WEBSOCKET_UNREACHABLE"}
    assert "3703" in found["GATEWAY_UNREACHABLE"]["evidence"][0]
    assert "3019" in found["WEBSOCKET_UNREACHABLE"]["evidence"][0]
    assert all("Unavailable" in x["evidence"][-1] for x in found.values())


def test_installation_health_check_shows_its_event(facts):
    facts["events"] = [event("InstallationHealthCheckFailedException", time="2026-11-25T10:07:00.000Z")]
    found = findings(facts)["INSTALLATION_HEALTH_CHECK_FAILED"]
    assert found["severity"] == "critical" and "2026-11-25T10:07:00.000Z" in found["evidence"][0]


# --- installer policies ---------------------------------------------------------------------
@pytest.mark.parametrize("value", [1, 2])
def test_the_windows_installer_policy(facts, value):
    facts["policies"]["disable_msi"] = value
    found = findings(facts)["INSTALL_MSI_BLOCKED"]
    assert found["severity"] == "warning" and f"DisableMSI={value}" in found["evidence"][-1]
    facts["events"] = [event("InstallMsiException")]
    found = findings(facts)["INSTALL_MSI_BLOCKED"]
    assert found["severity"] == "critical" and "3277" in found["evidence"][0]


@pytest.mark.parametrize("value", [0, 3, None])
def test_other_installer_policy_values_block_nothing(facts, value):
    facts["policies"]["disable_msi"] = value
    assert findings(facts) == {}


@pytest.mark.parametrize(("machine", "hive"), [(1, None), (2, None), (None, 1), (None, 2)])
def test_the_command_prompt_policy_machine_or_user_hive(facts, machine, hive):
    facts["policies"]["disable_cmd"]["machine"] = machine
    facts["policies"]["disable_cmd"]["user_hives"][".DEFAULT"] = hive
    found = findings(facts)["CMD_BLOCKED"]
    assert found["severity"] == "warning"
    shown = found["evidence"][-1]
    assert (f"HKLM: DisableCMD={machine}" in shown) == (machine is not None)
    assert (f".DEFAULT: DisableCMD={hive}" in shown) == (hive is not None)


def test_the_command_prompt_policy_ignores_other_values(facts):
    facts["policies"]["disable_cmd"]["machine"] = 0
    facts["policies"]["disable_cmd"]["user_hives"][".DEFAULT"] = 3
    assert findings(facts) == {}


def test_machine_policy_is_listed_before_the_hives(facts):
    facts["policies"]["disable_cmd"]["machine"] = 1
    facts["policies"]["disable_cmd"]["user_hives"][".DEFAULT"] = 2
    shown = findings(facts)["CMD_BLOCKED"]["evidence"][-1]
    assert shown.index("HKLM: DisableCMD=1") < shown.index(".DEFAULT: DisableCMD=2")


def test_with_both_policies_the_win32_exception_says_which_broke_the_update(facts):
    facts["policies"]["disable_msi"] = 1
    facts["policies"]["disable_cmd"]["machine"] = 1
    facts["events"] = [event("InstallMsiException")]
    found = findings(facts)
    assert found["CMD_BLOCKED"]["severity"] == "warning" and found["INSTALL_MSI_BLOCKED"]["severity"] == "critical"
    facts["events"] = [event("InstallMsiException", win32_exception=True)]
    assert findings(facts)["CMD_BLOCKED"]["severity"] == "critical"


def test_the_cmd_policy_alone_with_an_installer_error_is_critical(facts):
    facts["policies"]["disable_cmd"]["machine"] = 1
    facts["events"] = [event("InstallMsiException")]
    found = findings(facts)
    assert set(found) == {"CMD_BLOCKED"} and found["CMD_BLOCKED"]["severity"] == "critical"


def test_a_running_installer_is_named_with_its_process(facts):
    facts["installer"] = {"busy": True, "processes": [{"name": "msiexec", "id": 4242}, {"name": "msiexec", "id": 77}]}
    assert findings(facts) == {}  # busy with no installer error: nothing to say
    facts["events"] = [event("InstallMsiException")]
    found = findings(facts)
    assert set(found) == {"INSTALLER_BUSY"} and found["INSTALLER_BUSY"]["severity"] == "warning"
    shown = found["INSTALLER_BUSY"]["evidence"][-1]
    assert "msiexec" in shown and "4242" in shown and "77" in shown


def test_an_installer_error_1618_without_a_running_installer(facts):
    facts["events"] = [event("InstallMsiException", message="InstallMsiException: msiexec exited with 1618")]
    found = findings(facts)
    assert set(found) == {"INSTALLER_BUSY"} and "1618" in found["INSTALLER_BUSY"]["evidence"][-1]


def test_an_installer_error_with_no_policy_and_no_installer(facts):
    facts["events"] = [event("InstallMsiException", message="InstallMsiException: msiexec exited with 1603")]
    found = findings(facts)
    assert set(found) == {"INSTALL_MSI_BLOCKED"} and found["INSTALL_MSI_BLOCKED"]["severity"] == "warning"
    assert "1603" in found["INSTALL_MSI_BLOCKED"]["evidence"][0]
    del facts["installer"]
    assert set(findings(facts)) == {"INSTALL_MSI_BLOCKED"}


# --- stack -------------------------------------------------------------------------------------
def not_listening(facts: dict[str, Any], sxs_state: str | None = "Down") -> None:
    qwinsta = facts["stack"]["qwinsta"]
    qwinsta["both_listening"] = False
    if sxs_state is None:
        qwinsta["rdp_sxs"] = None
    else:
        qwinsta["rdp_sxs"] = dict(qwinsta["rdp_sxs"], state=sxs_state, state_normalized="Down")


def test_a_listener_that_does_not_listen_shows_the_rows_and_the_active_winstation(facts):
    not_listening(facts)
    active = facts["stack"]["winstations"][0]["name"]
    facts["stack"]["winstations"].append(
        {"name": "rdp-sxs240404760", "fReverseConnectMode": 1, "fEnableWinStation": 0, "active": False}
    )
    facts["stack"]["winstations"][0]["fReverseConnectMode"] = 0
    shown = evidence(facts, "STACK_LISTENER_NOT_LISTENING")
    assert "rdp-tcp is Listen" in shown.replace("  ", " ") or ("rdp-tcp" in shown and "Listen" in shown)
    assert f"{active} is Down" in shown
    assert f"WinStations\\{active}: fReverseConnectMode=0, fEnableWinStation=1" in shown
    assert "rdp-sxs240404760" not in shown  # an inactive WinStation is not evidence when several exist


def test_a_single_winstation_is_evidence_even_when_not_marked_active(facts):
    not_listening(facts, None)
    facts["stack"]["winstations"][0]["active"] = False
    shown = evidence(facts, "STACK_LISTENER_NOT_LISTENING")
    assert "no rdp-sxs" in shown and facts["stack"]["winstations"][0]["name"] in shown


def test_a_missing_tcp_listener(facts):
    facts["stack"]["qwinsta"].update(both_listening=False, rdp_tcp=None)
    shown = evidence(facts, "STACK_LISTENER_NOT_LISTENING")
    assert "no rdp-tcp" in shown


def test_the_session_directory_listener_must_match(facts):
    not_listening(facts)
    facts["stack"].update(session_directory_listener="rdp-sxs240404760", session_directory_matches=False)
    shown = evidence(facts, "STACK_LISTENER_NOT_LISTENING")
    assert "rdp-sxs240404760" in shown and facts["stack"]["reverse_connection_listener"] in shown
    facts["stack"]["reverse_connection_listener"] = None
    assert "SessionDirectoryListener" not in evidence(facts, "STACK_LISTENER_NOT_LISTENING")


def test_no_qwinsta_no_listener_verdict(facts):
    facts["stack"]["qwinsta"] = None
    assert findings(facts) == {}
    facts["stack"]["qwinsta"] = {}
    assert findings(facts) == {}


def test_a_stack_program_that_is_not_installed(facts):
    facts["components"]["programs"][k.PROGRAM_SXS] = []
    found = findings(facts, {**POOL, "status": "Upgrading"})
    assert set(found) == {"SXS_STACK_NOT_INSTALLED"}
    shown = found["SXS_STACK_NOT_INSTALLED"]["evidence"]
    assert k.PROGRAM_SXS in shown[0] and "Upgrading" in shown[-1]


@pytest.mark.parametrize("status", ["Upgrading", "Unavailable", "UpgradeFailed"])
def test_the_pools_stuck_states_are_evidence_of_the_stack(facts, status):
    facts["components"]["programs"][k.PROGRAM_SXS] = []
    assert status in evidence(facts, "SXS_STACK_NOT_INSTALLED", {**POOL, "status": status})


def test_other_pool_states_are_not_stack_evidence(facts):
    facts["components"]["programs"][k.PROGRAM_SXS] = []
    assert len(findings(facts, {**POOL, "status": "Available"})["SXS_STACK_NOT_INSTALLED"]["evidence"]) == 1


def test_a_named_listener_whose_key_is_missing(facts):
    facts["stack"].update(reverse_connection_listener_present=False, winstations=[])
    shown = evidence(facts, "SXS_STACK_NOT_INSTALLED")
    assert facts["stack"]["reverse_connection_listener"] in shown


def test_no_stack_winstation_at_all(facts):
    facts["stack"].update(reverse_connection_listener=None, reverse_connection_listener_present=False, winstations=[])
    assert "rdp-sxs" in evidence(facts, "SXS_STACK_NOT_INSTALLED")
    facts["stack"]["winstations_key_present"] = False  # the WinStations key was not read: nothing to say
    assert "SXS_STACK_NOT_INSTALLED" not in findings(facts)


def test_a_stack_with_winstations_but_no_named_listener_is_not_missing(facts):
    facts["stack"].update(reverse_connection_listener=None, reverse_connection_listener_present=False)
    assert "SXS_STACK_NOT_INSTALLED" not in findings(facts)


# --- disk, .NET, OS --------------------------------------------------------------------
def test_low_disk_evidence_shows_the_drive_the_megabytes_and_the_share(facts):
    facts["disk"] = {"drive": "C:", "size_bytes": 64 * 1024**3, "free_bytes": 150 * 1024**2, "percent_free": 0.23}
    shown = evidence(facts, "DISK_SPACE_LOW")
    assert "C:" in shown and "150 MB" in shown and "0.23%" in shown


def test_a_download_error_shows_its_event_then_the_disk(facts):
    facts["events"] = [event("DownloadMsiException", time="2026-11-25T10:08:00.000Z")]
    found = findings(facts)["DISK_SPACE_LOW"]["evidence"]
    assert "2026-11-25T10:08:00.000Z" in found[0] and "C:" in found[1]
    facts["disk"] = None
    assert len(findings(facts)["DISK_SPACE_LOW"]["evidence"]) == 1


def test_dotnet_evidence_shows_release_and_version(facts):
    facts["dotnet"] = {"installed": True, "release": 394802, "version": "4.6.2", "meets_472": False}
    shown = evidence(facts, "DOTNET_OUTDATED")
    assert "394802" in shown and "4.6.2" in shown and str(k.DOTNET_472_MINIMUM) in shown
    facts["dotnet"] = {"installed": False, "release": None, "version": None, "meets_472": False}
    assert "None" in evidence(facts, "DOTNET_OUTDATED")


def test_a_missing_method_error_with_dotnet_not_gathered_is_unchecked(facts):
    del facts["dotnet"]
    before = r.diagnose(facts, POOL)["unchecked"]
    facts["events"] = [event("MissingMethodException", 3389)]
    after = r.diagnose(facts, POOL)
    assert after["findings"] == [] and len(after["unchecked"]) >= len(before)
    assert any("MissingMethodException" in line or "DOTNET_OUTDATED" in line for line in after["unchecked"])


def test_an_unsupported_edition_shows_the_edition_and_product(facts):
    facts["os"].update(edition="Professional", product_name="Windows 11 Pro", supports_sxs_stack=False)
    shown = evidence(facts, "UNSUPPORTED_OS")
    assert "Professional" in shown and "Windows 11 Pro" in shown
    facts["os"]["edition"] = None  # the edition could not be read: no verdict
    assert "UNSUPPORTED_OS" not in findings(facts)


def test_session_limit_evidence(facts):
    facts["sessions"]["total"] = 6
    shown = evidence(facts, "SESSION_LIMIT_REACHED", {"max_session_limit": 5})
    assert "6" in shown and "5" in shown
    del facts["sessions"]
    assert r.diagnose(facts, {"max_session_limit": 5})["findings"] == []


# --- helpers ----------------------------------------------------------------------------------
def test_event_descriptions_are_one_line_and_bounded():
    short = r.describe_event({"id": 3277, "source": "WVD-Agent", "time": "T", "message": "a\r\n  b\tc"})
    assert "3277" in short and "WVD-Agent" in short and "T" in short and short.endswith("a b c")
    long = r.describe_event({"id": 1, "source": "s", "time": "t", "message": "w " * 200})
    message = long.split(": ", 1)[1]
    assert len(message) == 240 and message.endswith("...")
    exact = r.describe_event({"id": 1, "source": "s", "time": "t", "message": "x" * 240})
    assert exact.endswith("x" * 240)
    assert r.describe_event({"id": 1, "source": "s", "time": "t", "message": None}).endswith(": ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("", None),
        ("yesterday", None),
        ("2026-11-25T10:00:00Z", datetime.datetime(2026, 11, 25, 10, tzinfo=datetime.UTC)),
        ("2026-11-25T12:00:00+02:00", datetime.datetime(2026, 11, 25, 10, tzinfo=datetime.UTC)),
        ("2026-11-25T10:00:00", datetime.datetime(2026, 11, 25, 10, tzinfo=datetime.UTC)),
    ],
)
def test_parse_time(text, expected):
    parsed = r.parse_time(text)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is not None


def test_diagnose_lists_gather_errors_and_all_stale_events(facts):
    facts["errors"] = [{"operation": "disk.system", "message": "Access is denied"}]
    facts["events"] = [
        event("GATEWAY_UNREACHABLE", 3703, time="2026-11-25T09:00:00.000Z"),
        event("MissingMethodException", 3389, time="2026-11-25T09:30:00.000Z"),
    ]
    result = r.diagnose(facts, POOL)
    assert [line for line in result["unchecked"] if "disk.system" in line and "Access is denied" in line]
    assert len(result["stale_events"]) == 2 and result["findings"] == []


def test_info_only_is_healthy_and_warning_unhealthy(facts):
    facts["sessions"]["total"] = 4
    assert r.diagnose(facts, POOL)["state"] == "unhealthy"  # SESSION_LIMIT_REACHED is a warning


def test_link_causes_never_links_a_finding_to_itself_or_loops():
    one = r.link_causes([r.Finding("STACK_LISTENER_NOT_LISTENING", "critical", ["x"])])
    assert one[0].explained_by is None and one[0].explains == []
    pair = r.link_causes(
        [r.Finding("ENDPOINT_NOT_FOUND", "critical", ["x"]), r.Finding("BOOTLOADER_NOT_RUNNING", "critical", ["x"])]
    )
    assert [(x.id, x.explained_by) for x in pair] == [
        ("ENDPOINT_NOT_FOUND", None),
        ("BOOTLOADER_NOT_RUNNING", "ENDPOINT_NOT_FOUND"),
    ]


def test_pool_from_hostvars_reads_every_variable():
    variables = {
        "avd_status": "Available",
        "avd_sessions": 3,
        "avd_allow_new_session": False,
        "avd_agent_version": "1.0.10004.1300",
        "avd_update_state": "Succeeded",
        "avd_max_session_limit": 8,
        "avd_vm_id": "vm-9",
        "avd_in_pool": True,
        "avd_registration_expiration_time": "2026-12-01T00:00:00Z",
        "avd_host_pool": "hp-prod",
        "avd_sxs_stack_version": "rdp-sxs240705700",
        "avd_last_heartbeat": "2026-11-25T09:59:30Z",
        "avd_power_state": "VM running",
        "avd_health_checks": [{"name": "DomainTrustCheck", "result": "HealthCheckSucceeded"}],
        "ansible_host": "10.0.0.4",
    }
    assert r.pool_from_hostvars(variables) == {
        "status": "Available",
        "sessions": 3,
        "allow_new_session": False,
        "agent_version": "1.0.10004.1300",
        "update_state": "Succeeded",
        "max_session_limit": 8,
        "vm_id": "vm-9",
        "in_pool": True,
        "registration_expiration_time": "2026-12-01T00:00:00Z",
        "host_pool": "hp-prod",
        "sxs_stack_version": "rdp-sxs240705700",
        "last_heartbeat": "2026-11-25T09:59:30Z",
        "power_state": "VM running",
        "health_checks": [{"name": "DomainTrustCheck", "result": "HealthCheckSucceeded"}],
    }
    no_key = r.pool_from_hostvars({"avd_status": "Available", "avd_registration_expiration_time": None})
    assert no_key == {"status": "Available", "registration_expiration_time": None}  # known: the pool has no key
    assert r.pool_from_hostvars({"avd_registration_expiration_time": None}) is None
    assert r.pool_from_hostvars({"avd_status": None}) is None
