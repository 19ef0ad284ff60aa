"""The runtime's operations as the lab performs them: Windows semantics and the runtime's argument checks."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from labworld import world

from avdlab.auth import Account
from avdlab.host import LabHost
from avdlab.model import HostSpec
from avdlab.runtime_handler import CollectionRuntime, RuntimeScripts, runtime_dir
from avdlab.windows import known as k
from avdlab.windows import operations as ops


@pytest.fixture
def host() -> LabHost:
    return LabHost(name="sh-01", address="127.0.0.1", account=Account("avdadmin", "p"), model=world(HostSpec("sh-01")))


def run(host: LabHost, *operations: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    scripts = RuntimeScripts(runtime_dir())
    request = {"version": scripts.version, "operations": [{"id": str(i), **op} for i, op in enumerate(operations)]}
    text = json.dumps({"runtime": scripts.runtime, "request": request})
    result = asyncio.run(CollectionRuntime(scripts).answer(host, scripts.bootstrap, text))
    return result.rc, json.loads(result.stdout)


def only(host: LabHost, op: dict[str, Any]) -> dict[str, Any]:
    rc, answer = run(host, op)
    assert rc == 0
    entry: dict[str, Any] = answer["results"][0]
    return entry


def test_installer_busy_is_the_mutex_not_a_running_msiexec(host):
    state = host.state
    assert only(host, {"op": "installer_busy"})["result"] == {"busy": False, "mutex": "Global\\_MSIExecute"}
    # An installation ran a minute ago: the Windows Installer service (msiexec /V) is still up, idle.
    state.installer_service_until = time.time() + k.MSI_SERVICE_IDLE_SECONDS
    host.model.save(state)
    assert [p["name"] for p in only(host, {"op": "processes", "names": ["msiexec"]})["result"]] == ["msiexec"]
    assert only(host, {"op": "installer_busy"})["result"]["busy"] is False
    state.installer_busy = True
    host.model.save(state)
    assert only(host, {"op": "installer_busy"})["result"]["busy"] is True


def test_an_installation_leaves_the_installer_service_running(host):
    state = host.state
    assert ops.processes(state, ["msiexec"]) == []
    assert ops.msiexec_uninstall(state, "{00000000-0000-0000-0000-000000000000}") == k.MSI_UNKNOWN_PRODUCT
    assert [p["name"] for p in ops.processes(state, ["msiexec"])] == ["msiexec"]
    assert ops.installer_mutex(state)["busy"] is False


def test_probe_says_as_whom_it_ran(host):
    result = only(host, {"op": "probe_url", "url": "https://example.test/", "timeout_seconds": 5})["result"]
    assert result["runs_as"] == "SH-01\\avdadmin" and result["proxy"] is None
    assert result["status"] == 200 and result["location"] is None


def test_qwinsta_reports_stderr_apart(host):
    result = only(host, {"op": "qwinsta"})["result"]
    assert result["stderr"] == "" and result["exit_code"] == 0 and "SESSIONNAME" in result["text"].upper()


@pytest.mark.parametrize(
    ("op", "message"),
    [
        ({"op": "service_control", "name": "RDAgentBootLoader", "state": "paused"}, "state 'paused' is not one of"),
        ({"op": "service_control", "state": "started"}, "argument 'name' is required"),
        (
            {"op": "service_control", "name": "RDAgentBootLoader", "state": "started", "wait_seconds": 0},
            "argument 'wait_seconds' must be a number from 1 to 600",
        ),
        ({"op": "msiexec", "action": "repair", "product_code": "{x}"}, "action 'repair' is not one of install"),
        ({"op": "msiexec", "action": "uninstall"}, "argument 'product_code' is required"),
        ({"op": "msiexec", "action": "uninstall", "product_code": "agent"}, "is not a product code"),
        ({"op": "msiexec", "action": "install", "package": "C:\\setup.exe"}, "is not an .msi file"),
        (
            {"op": "msiexec", "action": "install", "package": "C:\\a.msi", "properties": {"A B": "1"}},
            "'A B' is not a property name",
        ),
        ({"op": "registry_write", "path": "HKLM\\SOFTWARE\\x", "name": "n", "type": "REG_SZ", "data": "d"}, "below"),
        ({"op": "registry_write", "path": "HKEY_LOCAL_MACHINE\\SOFTWARE\\x", "type": "REG_SZ", "data": "d"}, "'name'"),
        (
            {"op": "registry_write", "path": "HKEY_LOCAL_MACHINE\\SOFTWARE\\x", "name": "n", "type": "REG_X"},
            "type 'REG_X' is not one of",
        ),
        (
            {"op": "registry_write", "path": "HKEY_LOCAL_MACHINE\\SOFTWARE\\x", "name": "n", "type": "REG_DWORD"},
            "argument 'data' is required",
        ),
        (
            {
                "op": "registry_write",
                "path": "HKEY_LOCAL_MACHINE\\SOFTWARE\\x",
                "name": "n",
                "type": "REG_DWORD",
                "data": -1,
            },
            "not a valid REG_DWORD",
        ),
        ({"op": "registry_delete", "path": "HKEY_LOCAL_MACHINE\\SOFTWARE\\x", "name": ""}, "'name' must be a value"),
        ({"op": "events", "log": "Application", "sources": ["x' or '1"]}, "is not a provider name"),
    ],
)
def test_write_operations_refuse_bad_arguments_and_change_nothing(host, op, message):
    before = json.dumps(host.state.to_json(), sort_keys=True)
    entry = only(host, op)
    assert entry["ok"] is False and message in entry["error"], entry
    assert json.dumps(host.state.to_json(), sort_keys=True) == before


def test_constrained_language_mode_gets_one_clear_error_and_nothing_runs(host):
    state = host.state
    state.language_mode = "ConstrainedLanguage"
    host.model.save(state)
    rc, answer = run(
        host,
        {"op": "registry_write", "path": "HKEY_LOCAL_MACHINE\\SOFTWARE\\x", "name": "n", "type": "REG_SZ", "data": "d"},
    )
    assert rc == 1 and answer["results"] == [] and answer["version"] is None
    assert answer["error"].startswith("PowerShell runs in ConstrainedLanguage mode here")
    assert not host.state.registry.key_exists("HKEY_LOCAL_MACHINE\\SOFTWARE\\x")


def full_host() -> LabHost:
    model = world(HostSpec("sh-01", faults=["disk_full"]))
    return LabHost(name="sh-01", address="127.0.0.1", account=Account("avdadmin", "p"), model=model)


def test_cleanup_candidates_lists_each_safe_location_with_sizes_and_the_agents_in_use():
    host = full_host()
    answer = only(host, {"op": "cleanup_candidates"})["result"]
    by_location = {loc["location"]: loc for loc in answer["locations"]}
    assert list(by_location) == ["windows_temp", "windows_update_download", "agent_folders"]
    download = by_location["windows_update_download"]
    assert download["path"] == r"C:\Windows\SoftwareDistribution\Download" and download["exists"]
    assert [(i["kind"], i["size"]) for i in download["items"]] == [
        ("folder", 4_700 * 1024**2),
        ("folder", 96 * 1024**2),
    ]
    agents = [i["name"] for i in by_location["agent_folders"]["items"]]
    assert all(name.startswith("RDAgent_") for name in agents) and len(agents) == 3
    assert sorted(answer["agents_in_use"]) == sorted(
        [f"RDAgent_{k.AGENT_PREVIOUS_VERSION}", f"RDAgent_{k.AGENT_VERSION}"]
    )
    assert all(i["modified"].endswith("Z") for loc in answer["locations"] for i in loc["items"])


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (r"C:\Windows\System32\config", "is outside the locations"),
        (r"C:\Windows\Temp", "is a location itself"),  # the location itself, not its content
        (r"C:\Windows\Temp\..\System32", "parts ending in a dot or a space"),
        (r"C:\Windows\Temp\*", "not a full local path without wildcards"),
        (rf"{k.RDINFRA_DIR}\RDAgent_{k.AGENT_PREVIOUS_VERSION}", "is the agent the boot loader names"),
        (rf"{k.RDINFRA_DIR}\SxSStack-{k.SXS_VERSION}.msi", "is outside the locations"),
    ],
)
def test_cleanup_delete_refuses_a_path_outside_the_safe_locations_and_deletes_nothing(path, message):
    host = full_host()
    before = dict(host.state.files), host.state.disk.free
    entry = only(host, {"op": "cleanup_delete", "paths": [r"C:\Windows\Temp\MpSigStub.log", path]})
    assert not entry["ok"] and message in entry["error"] and "nothing was deleted" in entry["error"]
    assert (dict(host.state.files), host.state.disk.free) == before


def test_cleanup_delete_deletes_folders_with_everything_in_them_and_frees_the_disk():
    host = full_host()
    free = host.state.disk.free
    paths = [
        r"C:\Windows\SoftwareDistribution\Download\3c1b3f8d0a8e4a4f9c2e5d7b1a6f0e21",
        rf"{k.RDINFRA_DIR}\RDAgent_{k.AGENT_OLDER_VERSION}",
        r"C:\Windows\Temp\gone-already.tmp",
    ]
    result = only(host, {"op": "cleanup_delete", "paths": paths})["result"]
    assert result["freed"] == (4_700 + 160) * 1024**2 and len(result["deleted"]) == 2 and result["failed"] == []
    state = host.model.host("sh-01")
    assert state.disk.free == free + result["freed"]
    assert not any(p.startswith(paths[0].lower()) for p in state.files)


def test_cleanup_delete_needs_a_list_of_paths():
    entry = only(full_host(), {"op": "cleanup_delete", "paths": []})
    assert not entry["ok"] and "argument 'paths' is required" in entry["error"]
