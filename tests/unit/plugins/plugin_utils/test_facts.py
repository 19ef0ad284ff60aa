"""Planning and assembling session_host_facts from runtime results, without a host."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _facts as f
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import OperationResult

OPTIONS = {
    "gather_subset": ["all"],
    "events_max_age": 120,
    "events_max_count": 50,
    "probe_timeout": 10,
    "probe_urls": ["https://rdgateway-g-us-r1.wvd.microsoft.com/"],
}
NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)


def test_subsets():
    assert f.resolve_subsets(["all"]) == frozenset(f.SUBSETS)
    assert f.resolve_subsets(["all", "!events", "!network"]) == frozenset(f.SUBSETS) - {"events", "network"}
    assert f.resolve_subsets(["!events"]) == frozenset(f.SUBSETS) - {"events"}
    assert f.resolve_subsets(["agent", "stack"]) == {"agent", "stack"}
    with pytest.raises(f.SubsetError, match="unknown subset 'agnet'"):
        f.resolve_subsets(["agnet"])


def test_plan_is_one_list_of_unique_operations():
    ops = f.plan(f.resolve_subsets(["all"]), OPTIONS)
    ids = [op.id for op in ops]
    assert len(ids) == len(set(ids)) and ids[0] == "boot_time"
    assert "network.probe.0" in ids and "events.application" in ids
    events = next(op for op in ops if op.id == "events.application")
    assert events.args["ids"] == [3277, 3703, 3019, 3389, 11707] and events.args["max_age_seconds"] == 120 * 3600
    only_disk = f.plan(frozenset({"disk"}), OPTIONS)
    assert [op.id for op in only_disk] == ["boot_time", "disk.system"]


def ok(op_id, result):
    return op_id, OperationResult(op_id, "x", True, result)


def reg(*values, exists=True, **extra):
    return {
        "exists": exists,
        "values": [{"name": n, "type": t, "data": d} for n, t, d in values],
        "subkeys": [],
        **extra,
    }


QWINSTA = """\
 SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE
>services                                    0  Disc
 rdp-tcp                                 65536  Listen
 rdp-sxs240705700                        65537  Down
 rdp-sxs240705700#0user01                    2  Active
"""


def results():
    return dict(
        [
            ok("boot_time", {"boot_time": "2026-11-25T10:00:00.000Z"}),
            ok(
                "agent.rdinfra",
                {
                    "exists": True,
                    "values": [
                        {"name": "IsRegistered", "type": "REG_SZ", "data": "0"},
                        {"name": "RegistrationToken", "type": "REG_SZ", "set": True, "length": 509},
                        {"name": "BrokerURI", "type": "REG_SZ", "data": "https://rdbroker-g-us-r1.wvd.microsoft.com/"},
                    ],
                    "subkeys": [],
                },
            ),
            ok(
                "agent.sxs",
                reg(("CurrentVersion", "REG_SZ", r"C:\Program Files\Microsoft RDInfra\SxSStack-1.0.2407.05700.msi")),
            ),
            ok("agent.health", reg(exists=False)),
            ok("agent.bootloader", reg(("DefaultAgent", "REG_SZ", "RDAgent_1.0.9742.1500"))),
            ok("agent.monitoring", reg(("CurrentVersion", "REG_SZ", "46.16.1"))),
            ok(
                "services.RDAgentBootLoader",
                {
                    "name": "RDAgentBootLoader",
                    "exists": True,
                    "state": "Stopped",
                    "start_type": "Automatic",
                    "display_name": "Remote Desktop Agent Loader",
                },
            ),
            (
                "services.TermService",
                OperationResult("services.TermService", "service_query", False, error="Access is denied"),
            ),
            ok("stack.qwinsta", {"text": QWINSTA, "exit_code": 0}),
            ok(
                "stack.winstations",
                reg(
                    ("ReverseConnectionListener", "REG_SZ", "rdp-sxs240705700"),
                    subkey_values={
                        "rdp-sxs240705700": [
                            {"name": "fReverseConnectMode", "type": "REG_DWORD", "data": 0},
                            {"name": "fEnableWinStation", "type": "REG_DWORD", "data": 1},
                        ]
                    },
                ),
            ),
            ok("stack.cluster", reg(("SessionDirectoryListener", "REG_SZ", "rdp-sxs240705700"))),
            ok(
                "components.programs",
                [
                    {
                        "display_name": "Remote Desktop Services SxS Network Stack",
                        "display_version": "1.0.2407.05700",
                        "product_code": "{X}",
                    },
                    {
                        "display_name": "Remote Desktop Services SxS Network Stack",
                        "display_version": "1.0.2404.16760",
                        "product_code": "{Y}",
                    },
                ],
            ),
            ok("components.sxs_msi", [{"name": "SxSStack-1.0.2407.05700.msi", "path": "p", "created": "t"}]),
            ok("os.version", reg(("EditionID", "REG_SZ", "Professional"))),
            ok("dotnet.ndp", reg(("Release", "REG_DWORD", 460805))),
            ok("disk.system", {"drive": "C:", "size": 1000, "free": 40}),
            ok(
                "events.application",
                [
                    {
                        "id": 3277,
                        "source": "WVD-Agent",
                        "level": "Error",
                        "record_id": 7,
                        "time": "2026-11-25T10:00:01.000Z",
                        "message": "InstallMsiException ---> System.ComponentModel.Win32Exception" + "x" * 900,
                    }
                ],
            ),
            ok("policies.installer", reg(("DisableMSI", "REG_DWORD", 2))),
            ok("policies.system", reg(exists=False)),
            ok(
                "policies.user_hives",
                [
                    {
                        "hive": ".DEFAULT",
                        "exists": True,
                        "values": [{"name": "DisableCMD", "type": "REG_DWORD", "data": 1}],
                    },
                    {"hive": "S-1-5-18", "exists": False, "values": []},
                ],
            ),
            ok(
                "network.broker",
                {
                    "url": "https://rdbroker-g-us-r1.wvd.microsoft.com/api/health",
                    "reachable": True,
                    "status": 200,
                    "body": "RD Broker is Healthy",
                    "error": None,
                },
            ),
            ok(
                "network.broker_global",
                {"url": None, "reachable": False, "status": None, "body": None, "error": "BrokerURIGlobal is not set"},
            ),
            ok(
                "network.probe.0",
                {
                    "url": "https://rdgateway-g-us-r1.wvd.microsoft.com/",
                    "reachable": False,
                    "status": None,
                    "error": "Unable to connect",
                },
            ),
            ok("installer.mutex", {"busy": True, "mutex": "Global\\_MSIExecute"}),
            ok("installer.processes", [{"name": "msiexec", "id": 4}]),
        ]
    )


def test_assemble_reads_every_area():
    facts = f.assemble(frozenset(f.SUBSETS), results(), OPTIONS, NOW)
    agent = facts["agent"]
    assert agent["is_registered"] == 0 and agent["is_registered_type"] == "REG_SZ"
    assert agent["registration_token_set"] is True and agent["registration_token_length"] == 509
    assert agent["version"] == "1.0.9742.1500" and agent["sxs_stack_version"] == "1.0.2407.05700"
    assert facts["services"]["RDAgentBootLoader"]["state"] == "Stopped"
    # RdAgent is the Azure VM agent's service, not the AVD agent's: not asked, not reported.
    assert set(facts["services"]) == {"RDAgentBootLoader", "TermService"} and facts["services"]["TermService"] is None
    assert facts["errors"] == [{"operation": "services.TermService", "message": "Access is denied"}]
    stack = facts["stack"]
    assert stack["qwinsta"]["rdp_sxs"]["state_normalized"] == "Down"
    assert stack["winstations"] == [
        {"name": "rdp-sxs240705700", "fReverseConnectMode": 0, "fEnableWinStation": 1, "active": True}
    ]
    assert stack["session_directory_matches"] is True and stack["edition_supports_sxs"] is False
    assert len(facts["components"]["programs"]["Remote Desktop Services SxS Network Stack"]) == 2
    assert facts["components"]["sxs_msi_files"][0]["version"] == "1.0.2407.05700"
    assert facts["os"]["supports_sxs_stack"] is False
    assert facts["dotnet"] == {
        "installed": True,
        "release": 460805,
        "version": "4.7",
        "version_string": None,
        "meets_472": False,
    }
    assert facts["disk"]["percent_free"] == 4.0
    (event,) = facts["events"]
    assert event["kind"] == "InstallMsiException" and event["win32_exception"] and len(event["message"]) == 600
    assert facts["policies"]["disable_msi"] == 2 and facts["policies"]["disable_cmd"]["any"] is True
    assert facts["network"]["broker"]["healthy"] is True and facts["network"]["broker_global"]["error"]
    assert facts["network"]["probes"][0]["reachable"] is False
    assert facts["sessions"] == {"total": 1, "by_state": {"Active": 1}}
    assert facts["installer"] == {
        "busy": True,
        "mutex": "Global\\_MSIExecute",
        "processes": [{"name": "msiexec", "id": 4}],
    }
    assert facts["boot_time"] == "2026-11-25T10:00:00.000Z"


def test_assemble_leaves_out_what_was_not_gathered():
    subsets = frozenset({"disk"})
    facts = f.assemble(subsets, results(), OPTIONS, NOW)
    assert set(facts) == {"schema_version", "gathered_at", "gather_subset", "boot_time", "disk", "errors"}


def test_unparseable_qwinsta_is_an_error_not_a_crash():
    answers = results()
    answers["stack.qwinsta"] = OperationResult("stack.qwinsta", "qwinsta", True, {"text": "No session exists for *"})
    facts = f.assemble(frozenset({"stack"}), answers, OPTIONS, NOW)
    assert facts["stack"]["qwinsta"]["rows"] == [] and facts["stack"]["qwinsta"]["raw"] == "No session exists for *"
    assert facts["errors"][0]["operation"] == "stack.qwinsta"


def test_a_running_msiexec_without_the_installer_mutex_is_not_an_installation():
    """The Windows Installer service's own msiexec.exe /V stays up between installations."""
    answers = {
        "installer.mutex": OperationResult("installer.mutex", "installer_busy", True, {"busy": False, "mutex": "m"}),
        "installer.processes": OperationResult(
            "installer.processes", "processes", True, [{"name": "msiexec", "id": 912}]
        ),
    }
    facts = f.assemble(frozenset({"installer"}), answers, OPTIONS, NOW)
    assert facts["installer"]["busy"] is False and facts["installer"]["processes"] == [{"name": "msiexec", "id": 912}]


def test_qwinsta_stderr_and_exit_code_are_reported_apart_from_its_text():
    answers = {
        "stack.qwinsta": OperationResult(
            "stack.qwinsta", "qwinsta", True, {"text": "", "stderr": "No session exists for *\r\n", "exit_code": 1}
        )
    }
    facts = f.assemble(frozenset({"sessions"}), answers, OPTIONS, NOW)
    (error,) = [e for e in facts["errors"] if e["operation"] == "stack.qwinsta"]
    assert error["message"].endswith("(qwinsta exited with 1: No session exists for *)")


def test_a_qwinsta_that_printed_its_rows_but_exited_badly_is_read_and_reported():
    answers = {
        "stack.qwinsta": OperationResult(
            "stack.qwinsta", "qwinsta", True, {"text": QWINSTA, "stderr": "", "exit_code": 5}
        )
    }
    facts = f.assemble(frozenset({"sessions"}), answers, OPTIONS, NOW)
    assert facts["errors"] == [{"operation": "stack.qwinsta", "message": "qwinsta exited with 5"}]
    assert facts["sessions"]["total"] >= 1
