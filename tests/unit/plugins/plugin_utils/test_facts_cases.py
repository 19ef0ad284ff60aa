"""What session_host_facts asks a host and how it reads every answer, value by value.

``plan`` is the contract with the runtime (docs/runtime.md): its operation ids,
names and arguments are asserted whole. ``assemble`` is asserted section by
section on answers shaped as the runtime returns them, so a value read under a
wrong name, a wrong default or a wrong type fails here.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _facts as f
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _known as k
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import OperationResult

NOW = datetime.datetime(2026, 11, 25, 13, 0, 5, 900000, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
OPTIONS = {
    "gather_subset": ["all"],
    "events_max_age": 6,
    "events_max_count": 20,
    "probe_timeout": 7,
    "probe_urls": ["https://rdgateway-g-us-r1.wvd.microsoft.com/", "https://rdweb-g-us-r1.wvd.microsoft.com/"],
}


def reg_op(op_id: str, path: str, names: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {"id": op_id, "op": "registry_read", "path": path}
    if names is not None:
        request["names"] = names
    return {**request, **extra}


PLAN_ALL = [
    {"id": "boot_time", "op": "boot_time"},
    reg_op("agent.rdinfra", k.RDINFRA_AGENT),
    reg_op("agent.sxs", k.SXS_STACK),
    reg_op("agent.health", k.HEALTH_CHECK_REPORT, ["AgentHealthCheckReport"]),
    reg_op("agent.bootloader", k.BOOTLOADER),
    reg_op("agent.monitoring", k.MONITORING_AGENT, ["CurrentVersion"]),
    {"id": "services.RDAgentBootLoader", "op": "service_query", "name": "RDAgentBootLoader"},
    {"id": "services.TermService", "op": "service_query", "name": "TermService"},
    {"id": "stack.qwinsta", "op": "qwinsta"},
    reg_op("stack.winstations", k.WINSTATIONS, ["ReverseConnectionListener"], subkey_pattern="rdp-sxs*"),
    reg_op("stack.cluster", k.CLUSTER_SETTINGS, ["SessionDirectoryListener"]),
    {"id": "components.programs", "op": "programs", "name_pattern": "Remote Desktop*"},
    {"id": "components.sxs_msi", "op": "files", "folder": k.RDINFRA_DIR, "pattern": "SxSStack*.msi"},
    reg_op(
        "os.version", k.WINDOWS_NT, ["EditionID", "ProductName", "CurrentBuild", "DisplayVersion", "InstallationType"]
    ),
    reg_op("dotnet.ndp", k.NDP_V4_FULL, ["Release", "Version"]),
    {"id": "disk.system", "op": "disk", "drive": "C:"},
    {
        "id": "events.application",
        "op": "events",
        "log": "Application",
        "sources": ["WVD-Agent", "WVD-Agent-Updater", "RDAgentBootLoader", "MsiInstaller"],
        "ids": [3277, 3703, 3019, 3389, 11707],
        "max_age_seconds": 6 * 3600,
        "max_count": 20,
    },
    reg_op("policies.installer", k.INSTALLER_POLICY, ["DisableMSI"]),
    reg_op("policies.system", k.MACHINE_SYSTEM_POLICY, ["DisableCMD"]),
    {
        "id": "policies.user_hives",
        "op": "registry_read_user_hives",
        "subpath": k.SYSTEM_POLICY_SUBPATH,
        "names": ["DisableCMD"],
    },
    *(
        {
            "id": op_id,
            "op": "probe_url",
            "registry_path": k.RDINFRA_AGENT,
            "registry_name": name,
            "suffix": "api/health",
            "timeout_seconds": 7,
        }
        for op_id, name in (("network.broker", "BrokerURI"), ("network.broker_global", "BrokerURIGlobal"))
    ),
    {"id": "network.probe.0", "op": "probe_url", "url": OPTIONS["probe_urls"][0], "timeout_seconds": 7},
    {"id": "network.probe.1", "op": "probe_url", "url": OPTIONS["probe_urls"][1], "timeout_seconds": 7},
    {"id": "installer.mutex", "op": "installer_busy"},
    {"id": "installer.processes", "op": "processes", "names": ["msiexec"]},
    reg_op("reboot.cbs", k.CBS_REBOOT_PENDING, []),
    reg_op("reboot.windows_update", k.WU_REBOOT_REQUIRED, []),
    reg_op("reboot.session_manager", k.SESSION_MANAGER, ["PendingFileRenameOperations"]),
]


def test_the_plan_for_every_subset_is_the_runtime_contract():
    assert [op.to_request() for op in f.plan(frozenset(f.SUBSETS), OPTIONS)] == PLAN_ALL


# Which operations each subset needs on its own (boot_time always: the staleness cut).
ALONE = {
    "agent": [
        "agent.rdinfra",
        "agent.sxs",
        "agent.health",
        "agent.bootloader",
        "agent.monitoring",
        "components.programs",
    ],
    "services": ["services.RDAgentBootLoader", "services.TermService"],  # not RdAgent: the Azure VM agent
    "stack": ["stack.qwinsta", "stack.winstations", "stack.cluster", "os.version"],
    "components": ["components.programs", "components.sxs_msi"],
    "os": ["os.version"],
    "dotnet": ["dotnet.ndp"],
    "disk": ["disk.system"],
    "events": ["events.application"],
    "policies": ["policies.installer", "policies.system", "policies.user_hives"],
    "network": ["network.broker", "network.broker_global", "network.probe.0", "network.probe.1"],
    "sessions": ["stack.qwinsta"],
    "installer": ["installer.mutex", "installer.processes"],
    "reboot": ["reboot.cbs", "reboot.windows_update", "reboot.session_manager"],
}


@pytest.mark.parametrize("subset", f.SUBSETS)
def test_each_subset_plans_only_what_it_reads(subset):
    assert [op.id for op in f.plan(frozenset({subset}), OPTIONS)] == ["boot_time", *ALONE[subset]]


def test_the_plan_without_probe_urls_probes_the_brokers_only():
    options = {**OPTIONS, "probe_urls": []}
    assert [op.id for op in f.plan(frozenset({"network"}), options)] == [
        "boot_time",
        "network.broker",
        "network.broker_global",
    ]


@pytest.mark.parametrize(
    ("requested", "chosen"),
    [
        (["all"], set(f.SUBSETS)),
        ([" Agent ", "STACK"], {"agent", "stack"}),
        (["!all"], set()),
        (["all", "!all"], set()),
        (["!events", "!network"], set(f.SUBSETS) - {"events", "network"}),
        (["agent", "!agent"], set()),
        ([], set()),
    ],
)
def test_subsets_are_resolved_as_ansible_does(requested, chosen):
    assert f.resolve_subsets(requested) == frozenset(chosen)


def test_an_unknown_subset_names_itself_and_the_choices():
    with pytest.raises(f.SubsetError) as error:
        f.resolve_subsets(["agent", "!evnts"])
    assert "'!evnts'" in str(error.value) and "events" in str(error.value) and "all" in str(error.value)


# --- assemble -----------------------------------------------------------------------------
def ok(result: Any) -> OperationResult:
    return OperationResult("x", "x", True, result)


def read(*values: tuple[str, str, Any], exists: bool = True, **extra: Any) -> OperationResult:
    entries = [{"name": name, "type": kind, "data": data} for name, kind, data in values]
    return ok({"exists": exists, "values": entries, "subkeys": [], **extra})


def assemble(subsets: set[str], answers: dict[str, OperationResult]) -> dict[str, Any]:
    return f.assemble(frozenset(subsets), answers, OPTIONS, NOW)


PROGRAMS = [
    {"display_name": "Remote Desktop Agent Boot Loader", "display_version": "1.0.9023.1100", "product_code": "{A}"},
    {
        "display_name": "Remote Desktop Services Infrastructure Agent",
        "display_version": "1.0.10004.1300",
        "product_code": "{B}",
    },
    {
        "display_name": "Remote Desktop Services Infrastructure Geneva Agent",
        "display_version": "46.16.1",
        "product_code": "{C}",
    },
    {
        "display_name": "REMOTE DESKTOP SERVICES SXS NETWORK STACK",
        "display_version": "1.0.2407.05700",
        "product_code": "{D}",
    },
]
AGENT_ANSWERS = {
    "agent.rdinfra": read(
        ("IsRegistered", "REG_DWORD", 1),
        ("BrokerURI", "REG_SZ", "https://rdbroker-g-us-r1.wvd.microsoft.com/"),
        ("BrokerURIGlobal", "REG_SZ", "https://rdbroker.wvd.microsoft.com/"),
        ("HostPoolArmPath", "REG_SZ", "/subscriptions/s/resourceGroups/rg/providers/x/hostPools/hp"),
        ("AzureVmId", "REG_SZ", "9d6cf0e5-6a0b-4b49-a5a3-4f0b7d1c0e2a"),
        ("GUID", "REG_SZ", "{5b1b7a4e-0c43-4f0e-9a57-9d1e1f6f3c11}"),
    ),
    "agent.sxs": read(
        ("CurrentVersion", "REG_SZ", r"C:\Program Files\Microsoft RDInfra\SxSStack-1.0.2407.05700.msi"),
        ("PreviousVersion", "REG_SZ", r"C:\Program Files\Microsoft RDInfra\SxSStack-1.0.2404.16760.msi"),
    ),
    "agent.health": read(exists=False),
    "agent.bootloader": read(
        ("DefaultAgent", "REG_SZ", "RDAgent_1.0.10004.1300"),
        ("PreviousAgent", "REG_SZ", "RDAgent_1.0.9742.1500"),
        ("CurrentBootLoaderVersion", "REG_SZ", "1.0.9023.1100"),
    ),
    "agent.monitoring": read(("CurrentVersion", "REG_SZ", "46.16.1")),
    "components.programs": ok(PROGRAMS),
}


def test_the_agent_section_reads_each_value_under_its_name():
    agent = assemble({"agent"}, AGENT_ANSWERS)["agent"]
    health = {key: agent.pop(key) for key in ("health_checks", "health_report_error", "health_last_checked")}
    assert agent == {
        "installed": True,
        "bootloader_installed": True,
        "version": "1.0.10004.1300",
        "default_agent": "RDAgent_1.0.10004.1300",
        "previous_agent": "RDAgent_1.0.9742.1500",
        "bootloader_version": "1.0.9023.1100",
        "sxs_stack_version": "1.0.2407.05700",
        "sxs_stack_previous_version": "1.0.2404.16760",
        "geneva_version": "46.16.1",
        "registry_present": True,
        "is_registered": 1,
        "is_registered_type": "REG_DWORD",
        "registration_token_set": False,
        "registration_token_length": 0,
        "broker_uri": "https://rdbroker-g-us-r1.wvd.microsoft.com/",
        "broker_uri_global": "https://rdbroker.wvd.microsoft.com/",
        "host_pool_arm_path": "/subscriptions/s/resourceGroups/rg/providers/x/hostPools/hp",
        "vm_id": "9d6cf0e5-6a0b-4b49-a5a3-4f0b7d1c0e2a",
        "guid": "{5b1b7a4e-0c43-4f0e-9a57-9d1e1f6f3c11}",
    }
    assert health["health_report_error"] is None and health["health_last_checked"] is None


def test_an_agent_not_installed_reads_as_such():
    answers = {
        "agent.rdinfra": read(exists=False),
        "agent.sxs": read(exists=False),
        "agent.health": read(exists=False),
        "agent.bootloader": read(exists=False),
        "agent.monitoring": read(exists=False),
        "components.programs": ok([]),
    }
    agent = assemble({"agent"}, answers)["agent"]
    assert (agent["installed"], agent["bootloader_installed"], agent["registry_present"]) == (False, False, False)
    assert agent["version"] is None and agent["default_agent"] is None and agent["is_registered"] is None
    assert agent["registration_token_set"] is False and agent["registration_token_length"] == 0


def test_a_waiting_registration_token_is_seen_by_its_length_only():
    answers = dict(AGENT_ANSWERS)
    answers["agent.rdinfra"] = ok(
        {
            "exists": True,
            "values": [
                {"name": "IsRegistered", "type": "REG_DWORD", "data": 0},
                {"name": "RegistrationToken", "type": "REG_SZ", "set": True, "length": 1024},
            ],
            "subkeys": [],
        }
    )
    agent = assemble({"agent"}, answers)["agent"]
    assert (agent["is_registered"], agent["registration_token_set"], agent["registration_token_length"]) == (
        0,
        True,
        1024,
    )
    answers["agent.rdinfra"] = ok(
        {
            "exists": True,
            "values": [{"name": "RegistrationToken", "type": "REG_SZ", "set": False, "length": 0}],
            "subkeys": [],
        }
    )
    agent = assemble({"agent"}, answers)["agent"]
    assert agent["registration_token_set"] is False and agent["registration_token_length"] == 0


def test_an_unreadable_health_report_is_an_error_in_the_facts_not_a_crash():
    answers = dict(AGENT_ANSWERS)
    answers["agent.health"] = read(("AgentHealthCheckReport", "REG_SZ", "{not json"))
    agent = assemble({"agent"}, answers)["agent"]
    assert agent["health_checks"] == [] and agent["health_report_error"]
    assert "AgentHealthCheckReport" in agent["health_report_error"]


SERVICE_ANSWERS = {
    "services.RDAgentBootLoader": ok(
        {
            "name": "RDAgentBootLoader",
            "exists": True,
            "state": "Stopped",
            "start_type": "Automatic",
            "display_name": "Remote Desktop Agent Loader",
        }
    ),
    "services.TermService": OperationResult("services.TermService", "service_query", False, error=None),
}


def test_services_are_read_as_the_runtime_reports_them():
    facts = assemble({"services"}, SERVICE_ANSWERS)
    assert facts["services"] == {
        "RDAgentBootLoader": {
            "exists": True,
            "state": "Stopped",
            "start_type": "Automatic",
            "display_name": "Remote Desktop Agent Loader",
        },
        "TermService": None,
    }
    assert facts["errors"] == [{"operation": "services.TermService", "message": "failed"}]


QWINSTA = """\
 SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE
>services                                    0  Disc
 rdp-sxs240705700#0user01                    2  Active
 rdp-tcp                                 65536  Listen
 rdp-sxs240705700                        65537  Listen
"""
STACK_ANSWERS = {
    "stack.qwinsta": ok({"text": QWINSTA, "exit_code": 0}),
    "stack.winstations": read(
        ("ReverseConnectionListener", "REG_SZ", "rdp-sxs240705700"),
        subkey_values={
            "RDP-SXS240705700": [
                {"name": "fReverseConnectMode", "type": "REG_DWORD", "data": 1},
                {"name": "fEnableWinStation", "type": "REG_DWORD", "data": 1},
            ],
            "rdp-sxs240404760": [{"name": "fEnableWinStation", "type": "REG_DWORD", "data": 0}],
        },
    ),
    "stack.cluster": read(("SessionDirectoryListener", "REG_SZ", "RDP-SXS240705700")),
    "os.version": read(
        ("EditionID", "REG_SZ", "ServerRdsh"), ("ProductName", "REG_SZ", "Windows 10 Enterprise for Virtual Desktops")
    ),
}


def test_the_stack_section_reads_the_active_winstation_and_its_flags():
    stack = assemble({"stack"}, STACK_ANSWERS)["stack"]
    qwinsta = stack.pop("qwinsta")
    assert stack == {
        "winstations": [
            {"name": "RDP-SXS240705700", "fReverseConnectMode": 1, "fEnableWinStation": 1, "active": True},
            {"name": "rdp-sxs240404760", "fReverseConnectMode": None, "fEnableWinStation": 0, "active": False},
        ],
        "winstations_key_present": True,
        "reverse_connection_listener": "rdp-sxs240705700",
        "reverse_connection_listener_present": True,
        "session_directory_listener": "RDP-SXS240705700",
        "session_directory_matches": True,
        "edition_supports_sxs": True,
    }
    assert qwinsta["raw"] == QWINSTA and qwinsta["language"] == "en" and qwinsta["both_listening"] is True
    assert [row["id"] for row in qwinsta["rows"]] == [0, 2, 65536, 65537]


def test_a_stack_without_its_listener_key_or_directory_setting():
    answers = dict(STACK_ANSWERS)
    answers["stack.winstations"] = read(("ReverseConnectionListener", "REG_SZ", "rdp-sxs240705700"))
    answers["stack.cluster"] = read(exists=False)
    stack = assemble({"stack"}, answers)["stack"]
    assert stack["winstations"] == [] and stack["reverse_connection_listener_present"] is False
    assert stack["session_directory_listener"] is None and stack["session_directory_matches"] is False
    answers["stack.winstations"] = read(exists=False)
    stack = assemble({"stack"}, answers)["stack"]
    assert stack["winstations_key_present"] is False and stack["reverse_connection_listener"] is None
    assert stack["winstations"] == [] and stack["session_directory_matches"] is False


def test_sessions_come_from_qwinsta_and_need_no_stack_subset():
    facts = assemble({"sessions"}, STACK_ANSWERS)
    assert "stack" not in facts
    assert facts["sessions"] == {"total": 1, "by_state": {"Active": 1}}
    assert assemble({"sessions"}, {})["sessions"] == {"total": 0, "by_state": {}}


def test_components_list_each_program_instance_and_the_stack_installers():
    answers = {
        "components.programs": ok(PROGRAMS),
        "components.sxs_msi": ok(
            [
                {
                    "name": "SxSStack-1.0.2407.05700.msi",
                    "path": r"C:\Program Files\Microsoft RDInfra\SxSStack-1.0.2407.05700.msi",
                },
                {"name": "SxSStack.msi", "path": r"C:\Program Files\Microsoft RDInfra\SxSStack.msi"},
            ]
        ),
    }
    components = assemble({"components"}, answers)["components"]
    assert {name: [p["product_code"] for p in found] for name, found in components["programs"].items()} == {
        k.PROGRAM_BOOTLOADER: ["{A}"],
        k.PROGRAM_AGENT: ["{B}"],
        k.PROGRAM_GENEVA: ["{C}"],
        k.PROGRAM_SXS: ["{D}"],  # display names compared without case
    }
    assert [m["version"] for m in components["sxs_msi_files"]] == ["1.0.2407.05700", None]
    assert components["sxs_msi_files"][0]["path"].endswith("SxSStack-1.0.2407.05700.msi")


def test_os_values():
    answers = {
        "os.version": read(
            ("EditionID", "REG_SZ", "EnterpriseMultiSession"),
            ("ProductName", "REG_SZ", "Windows 10 Enterprise multi-session"),
            ("CurrentBuild", "REG_SZ", "22631"),
            ("DisplayVersion", "REG_SZ", "23H2"),
            ("InstallationType", "REG_SZ", "Client"),
        )
    }
    assert assemble({"os"}, answers)["os"] == {
        "edition": "EnterpriseMultiSession",
        "product_name": "Windows 10 Enterprise multi-session",
        "product": "Windows 11 Enterprise multi-session",  # CurrentBuild 22631: Windows 11 says "Windows 10"
        "build": "22631",
        "display_version": "23H2",
        "installation_type": "Client",
        "supports_sxs_stack": True,
        "unsupported_reason": None,
    }
    professional = {"os.version": read(("EditionID", "REG_SZ", "Professional"))}
    assert assemble({"os"}, professional)["os"]["supports_sxs_stack"] is False


def test_dotnet_values():
    answers = {"dotnet.ndp": read(("Release", "REG_DWORD", 533320), ("Version", "REG_SZ", "4.8.09032"))}
    assert assemble({"dotnet"}, answers)["dotnet"] == {
        "installed": True,
        "release": 533320,
        "version": "4.8.1",
        "version_string": "4.8.09032",
        "meets_472": True,
    }
    missing = assemble({"dotnet"}, {"dotnet.ndp": read(exists=False)})["dotnet"]
    assert missing == {"installed": False, "release": None, "version": None, "version_string": None, "meets_472": False}


def test_disk_values():
    answers = {"disk.system": ok({"drive": "C:", "size": 3 * 1024**3, "free": 1024**3})}
    assert assemble({"disk"}, answers)["disk"] == {
        "drive": "C:",
        "size_bytes": 3 * 1024**3,
        "free_bytes": 1024**3,
        "percent_free": 33.33,
    }
    assert assemble({"disk"}, {"disk.system": ok({})})["disk"] is None
    assert assemble({"disk"}, {})["disk"] is None


def test_events_keep_what_the_rules_and_the_report_need():
    message = "Agent registration failed.\r\nINVALID_REGISTRATION_TOKEN " + "x" * 700
    answers = {
        "events.application": ok(
            [
                {
                    "id": 3277,
                    "source": "WVD-Agent",
                    "level": "Error",
                    "time": "2026-11-25T10:00:01.000Z",
                    "record_id": 41,
                    "message": message,
                },
                {
                    "id": 3277,
                    "source": "WVD-Agent",
                    "level": "Error",
                    "time": "t",
                    "record_id": 42,
                    "message": "x" * 600,
                },
                {"id": None, "source": "MsiInstaller", "message": None},
            ]
        )
    }
    first, second, third = assemble({"events"}, answers)["events"]
    assert first == {
        "id": 3277,
        "source": "WVD-Agent",
        "level": "Error",
        "time": "2026-11-25T10:00:01.000Z",
        "record_id": 41,
        "kind": "INVALID_REGISTRATION_TOKEN",
        "win32_exception": False,
        "message": message[:597] + "...",
    }
    assert second["message"] == "x" * 600 and second["kind"] is None  # 600 characters fit
    assert third["message"] == "" and third["kind"] is None and third["id"] is None


def test_policies_per_hive():
    answers = {
        "policies.installer": read(("DisableMSI", "REG_DWORD", 1)),
        "policies.system": read(("DisableCMD", "REG_DWORD", 0)),
        "policies.user_hives": ok(
            [
                {
                    "hive": ".DEFAULT",
                    "exists": True,
                    "values": [{"name": "disablecmd", "type": "REG_DWORD", "data": 2}],
                },
                {"hive": "S-1-5-18", "exists": False, "values": []},
            ]
        ),
    }
    assert assemble({"policies"}, answers)["policies"] == {
        "disable_msi": 1,
        "disable_cmd": {"machine": 0, "user_hives": {".DEFAULT": 2, "S-1-5-18": None}, "any": True},
    }
    answers["policies.user_hives"] = ok(
        [{"hive": ".DEFAULT", "exists": True, "values": [{"name": "DisableCMD", "type": "REG_DWORD", "data": 0}]}]
    )
    assert assemble({"policies"}, answers)["policies"]["disable_cmd"]["any"] is False
    answers["policies.system"] = read(("DisableCMD", "REG_DWORD", 1))
    assert assemble({"policies"}, answers)["policies"]["disable_cmd"]["any"] is True


def probe(
    url: str, status: int | None, body: str | None, reachable: bool = True, error: str | None = None
) -> OperationResult:
    return ok({"url": url, "reachable": reachable, "status": status, "body": body, "error": error})


def test_the_broker_is_healthy_only_with_200_and_its_text():
    broker, broker_global = (
        "https://rdbroker-g-us-r1.wvd.microsoft.com/api/health",
        "https://rdbroker.wvd.microsoft.com/api/health",
    )
    gateway, web = OPTIONS["probe_urls"]
    answers = {
        "network.broker": probe(broker, 200, "RD Broker is Healthy"),
        "network.broker_global": probe(broker_global, 200, "<html>proxy login</html>"),
        "network.probe.0": probe(gateway, 503, "RD Broker is Healthy"),
        "network.probe.1": probe(web, None, None, reachable=False, error="Unable to connect"),
    }
    network = assemble({"network"}, answers)["network"]
    assert network["broker"] == {
        "url": broker,
        "reachable": True,
        "status": 200,
        "location": None,
        "runs_as": None,
        "proxy": None,
        "healthy": True,
        "health": "RD Broker is Healthy",
        "error": None,
    }
    assert network["broker_global"]["healthy"] is False and network["broker_global"]["url"] == broker_global
    assert [(p["url"], p["healthy"], p["reachable"], p["status"], p["error"]) for p in network["probes"]] == [
        (gateway, False, True, 503, None),
        (web, False, False, None, "Unable to connect"),
    ]
    assert assemble({"network"}, {})["network"] == {
        "broker": None,
        "broker_global": None,
        "probes": [{"url": url} for url in OPTIONS["probe_urls"]],
    }


def test_installer_busy_is_the_mutex_and_the_processes_are_evidence():
    mutex = "Global\\_MSIExecute"
    running = {
        "installer.mutex": ok({"busy": True, "mutex": mutex}),
        "installer.processes": ok([{"name": "msiexec", "id": 4242}]),
    }
    assert assemble({"installer"}, running)["installer"] == {
        "busy": True,
        "mutex": mutex,
        "processes": [{"name": "msiexec", "id": 4242}],
    }
    idle_service = {**running, "installer.mutex": ok({"busy": False, "mutex": mutex})}
    assert assemble({"installer"}, idle_service)["installer"]["busy"] is False
    assert assemble({"installer"}, {"installer.processes": ok([])})["installer"] == {
        "busy": False,
        "mutex": None,
        "processes": [],
    }


def test_the_header_of_the_facts():
    facts = assemble({"disk", "os"}, {"boot_time": ok({"boot_time": "2026-11-20T08:00:00.000Z"})})
    assert facts["schema_version"] == f.FACTS_SCHEMA_VERSION == 1
    assert facts["gathered_at"] == "2026-11-25T12:00:05Z"  # UTC, whole seconds
    assert facts["gather_subset"] == ["disk", "os"]
    assert facts["boot_time"] == "2026-11-20T08:00:00.000Z"
    assert set(facts) == {"schema_version", "gathered_at", "gather_subset", "boot_time", "disk", "os", "errors"}
    assert assemble(set(), {})["boot_time"] is None


def test_a_failed_operation_is_an_error_with_its_message_and_its_section_is_empty():
    answers = {"dotnet.ndp": OperationResult("dotnet.ndp", "registry_read", False, error="Access is denied")}
    facts = assemble({"dotnet"}, answers)
    assert facts["errors"] == [{"operation": "dotnet.ndp", "message": "Access is denied"}]
    assert facts["dotnet"]["installed"] is False and facts["dotnet"]["release"] is None


def test_a_disk_answer_without_its_free_space_reads_as_none_free():
    disk = assemble({"disk"}, {"disk.system": ok({"drive": "C:", "size": 1000})})["disk"]
    assert disk["free_bytes"] == 0 and disk["percent_free"] == 0.0


def test_an_event_message_of_601_characters_is_cut_to_600():
    answers = {"events.application": ok([{"id": 3277, "source": "WVD-Agent", "time": "t", "message": "m" * 601}])}
    (event,) = assemble({"events"}, answers)["events"]
    assert len(event["message"]) == 600 and event["message"].endswith("...")


def test_gathered_at_is_utc_whatever_the_controllers_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert assemble(set(), {})["gathered_at"] == "2026-11-25T12:00:05Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_unparseable_qwinsta_is_an_error_with_its_message():
    answers = {"stack.qwinsta": ok({"text": "No session exists for *", "exit_code": 1})}
    facts = assemble({"sessions"}, answers)
    (error,) = facts["errors"]
    assert set(error) == {"operation", "message"} and error["operation"] == "stack.qwinsta"
    assert error["message"] and error["message"] != "None"
    stack = assemble({"stack"}, answers)["stack"]["qwinsta"]
    assert (stack["raw"], stack["rows"], stack["language"], stack["both_listening"]) == (
        "No session exists for *",
        [],
        None,
        False,
    )


def test_pending_file_renames_count_non_empty_entries_and_keep_a_sample():
    names = [rf"\??\C:\Windows\Temp\f{i}.tmp" for i in range(8)]
    answers = {
        "reboot.cbs": read(exists=False),
        "reboot.windows_update": read(exists=True),
        "reboot.session_manager": read(("PendingFileRenameOperations", "REG_MULTI_SZ", [names[0], "", *names[1:]])),
    }
    assert assemble({"reboot"}, answers)["reboot"] == {
        "cbs_reboot_pending": False,
        "windows_update_reboot_required": True,
        "pending_file_renames": 8,
        "pending_file_renames_sample": names[:6],
    }
    answers["reboot.session_manager"] = read(("PendingFileRenameOperations", "REG_SZ", names[0]))
    reboot = assemble({"reboot"}, answers)["reboot"]
    assert reboot["pending_file_renames"] == 1 and reboot["pending_file_renames_sample"] == [names[0]]


def test_an_unknown_subset_error_lists_the_choices():
    with pytest.raises(f.SubsetError) as error:
        f.resolve_subsets(["agnet"])
    assert ", ".join(f.SUBSETS) in str(error.value)


@pytest.mark.parametrize(("status", "healthy"), [(199, False), (200, True), (201, False), (None, False)])
def test_a_probed_url_is_healthy_at_200_alone(status, healthy):
    """The probes of probe_urls (no health text to read): 200 and nothing else, one status each side."""
    gateway, web = OPTIONS["probe_urls"]
    answers = {"network.probe.0": probe(gateway, status, None), "network.probe.1": probe(web, 200, None)}
    probes = assemble({"network"}, answers)["network"]["probes"]
    assert [(p["url"], p["healthy"], p["status"]) for p in probes] == [(gateway, healthy, status), (web, True, 200)]
