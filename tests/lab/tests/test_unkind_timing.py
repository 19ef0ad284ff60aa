"""The lab as slow as Windows where slowness matters: registration that takes minutes (registration_seconds).

Sources: the troubleshooting article (NAME_ALREADY_REGISTERED and the reinstall: "Wait for 5-10 minutes for the
session host status to say Available"); an agent that has not registered yet keeps IsRegistered=0 and its key.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

import pytest
from labworld import Arm, registry, world

from avdlab.auth import Account
from avdlab.host import LabHost
from avdlab.model import HostSpec, ScenarioError, parse_scenario
from avdlab.runtime_handler import CollectionRuntime, RuntimeScripts, runtime_dir
from avdlab.windows import known as k
from avdlab.windows import operations as ops
from avdlab.windows.agent import settle_registration
from avdlab.windows.packages import lab_installers, package_bytes

HOST = "sh-01"


def reregister(model, state, arm, now: float) -> None:
    token = arm.new_token()
    ops.registry_write(state, k.RDINFRA_AGENT, "IsRegistered", "REG_DWORD", 0)
    ops.registry_write(state, k.RDINFRA_AGENT, "RegistrationToken", "REG_SZ", token)
    ops.service_stop(state, k.BOOTLOADER_SERVICE)
    ops.service_start(state, model.avd, k.BOOTLOADER_SERVICE)


def test_registration_takes_the_scenarios_seconds_then_the_host_is_available():
    model = world(HostSpec(HOST, registration_seconds=180))
    state = model.host(HOST)
    arm = Arm(model)
    start = time.time()
    reregister(model, state, arm, start)
    # Minutes into it: the agent runs, not registered yet, its key still set, the pool does not list it Available.
    settle_registration(state, model.avd, start + 120)
    assert ops.service_query(state, k.BOOTLOADER_SERVICE)["state"] == "Running"
    assert registry(state, "IsRegistered") == 0 and registry(state, "RegistrationToken")
    assert arm.status(state) == "Unavailable"
    settle_registration(state, model.avd, start + 181)
    assert registry(state, "IsRegistered") == 1 and registry(state, "RegistrationToken") == ""
    assert arm.status(state) == "Available"


def test_a_boot_loader_stopped_before_the_registration_completes_abandons_it():
    model = world(HostSpec(HOST, registration_seconds=60))
    state = model.host(HOST)
    arm = Arm(model)
    start = time.time()
    reregister(model, state, arm, start)
    ops.service_stop(state, k.BOOTLOADER_SERVICE)
    settle_registration(state, model.avd, start + 61)
    assert registry(state, "IsRegistered") == 0 and state.registration_due is None


def test_a_restart_of_the_boot_loader_starts_the_wait_over():
    model = world(HostSpec(HOST, registration_seconds=60))
    state = model.host(HOST)
    arm = Arm(model)
    reregister(model, state, arm, time.time())
    first = state.registration_due
    assert first is not None
    ops.service_stop(state, k.BOOTLOADER_SERVICE)
    ops.service_start(state, model.avd, k.BOOTLOADER_SERVICE)
    assert state.registration_due is not None and state.registration_due >= first


def test_registration_is_at_once_unless_the_scenario_asks_for_minutes():
    model = world(HostSpec(HOST))
    state = model.host(HOST)
    arm = Arm(model)
    reregister(model, state, arm, time.time())
    assert registry(state, "IsRegistered") == 1 and arm.status(state) == "Available"


def test_registration_seconds_in_a_scenario():
    scenario = parse_scenario("hosts: [{name: sh-01, registration_seconds: 150}, {name: sh-02}]")
    assert [h.registration_seconds for h in scenario.hosts] == [150.0, 0.0]


# --- Service Control Manager pending states (service_delays, service_hang) ---------------------------------------
# Sources: learn.microsoft.com/windows/win32/services/service-status-transitions (a service reports
# SERVICE_START_PENDING / SERVICE_STOP_PENDING until it is running or stopped; a service that does not finish
# stopping stays STOP_PENDING, and only a restart of Windows ends it) and ServiceController.WaitForStatus (.NET:
# waits for a status, throws System.ServiceProcess.TimeoutException after the given time).
def test_a_delayed_service_is_stop_pending_then_stopped():
    model = world(HostSpec(HOST, faults=["disk_full"], service_delays={"wuauserv": 30}))
    state = model.host(HOST)
    start = time.time()
    assert ops.service_query(state, "wuauserv")["state"] == "Running"
    ops.service_stop(state, "wuauserv")
    assert ops.service_query(state, "wuauserv")["state"] == "StopPending"
    state.settle(start + 31)
    assert ops.service_query(state, "wuauserv")["state"] == "Stopped"
    ops.service_start(state, model.avd, "wuauserv")
    assert ops.service_query(state, "wuauserv")["state"] == "StartPending"
    state.settle(time.time() + 31)
    assert ops.service_query(state, "wuauserv")["state"] == "Running"


def test_a_hung_service_stays_stop_pending_until_the_host_restarts():
    model = world(HostSpec(HOST, faults=["disk_full"], service_hang=["wuauserv"]))
    state = model.host(HOST)
    ops.service_stop(state, "wuauserv")
    state.settle(time.time() + 86400)
    assert ops.service_query(state, "wuauserv")["state"] == "StopPending"
    with pytest.raises(ops.OperationError, match="Cannot start service wuauserv"):
        ops.service_start(state, model.avd, "wuauserv")
    model.reboot(state)
    assert ops.service_query(state, "wuauserv")["state"] == "Stopped"  # Manual: not started at boot


def test_service_keys_in_a_scenario_and_their_errors():
    scenario = parse_scenario(
        "hosts: [{name: sh-01, service_delays: {wuauserv: 20, BITS: 5}, service_hang: [wuauserv]}, {name: sh-02}]"
    )
    assert scenario.hosts[0].service_delays == {"wuauserv": 20.0, "BITS": 5.0}
    assert scenario.hosts[0].service_hang == ["wuauserv"] and scenario.hosts[1].service_hang == []
    with pytest.raises(ScenarioError, match="service_delays"):
        parse_scenario("hosts: [{name: sh-01, service_delays: {wuauserv: -1}}]")
    with pytest.raises(ScenarioError, match="service_hang"):
        parse_scenario("hosts: [{name: sh-01, service_hang: wuauserv}]")
    with pytest.raises(ScenarioError, match="registration_seconds"):
        parse_scenario("hosts: [{name: sh-01, registration_seconds: -5}]")


# --- service_control through the runtime: bounded waits, pending states named, after_ok ----------------------------
def lab_host(spec: HostSpec) -> LabHost:
    return LabHost(name=spec.name, address="127.0.0.1", account=Account("avdadmin", "p"), model=world(spec))


def run(host: LabHost, *operations: dict[str, Any]) -> dict[str, dict[str, Any]]:
    scripts = RuntimeScripts(runtime_dir())
    request = {"version": scripts.version, "operations": [{"id": str(i), **op} for i, op in enumerate(operations)]}
    text = json.dumps({"runtime": scripts.runtime, "request": request})
    result = asyncio.run(CollectionRuntime(scripts).answer(host, scripts.bootstrap, text))
    assert result.rc == 0
    return {entry["id"]: entry for entry in json.loads(result.stdout)["results"]}


def test_a_stop_waits_for_a_slow_service_within_the_bound():
    host = lab_host(HostSpec(HOST, faults=["disk_full"], service_delays={"wuauserv": 1}))
    answer = run(host, {"op": "service_control", "name": "wuauserv", "state": "stopped", "wait_seconds": 5})
    assert answer["0"]["ok"] and answer["0"]["result"]["state"] == "Stopped"


def test_a_hung_stop_is_an_error_naming_the_pending_state_after_the_bound_and_later_operations_wait_on_it():
    host = lab_host(HostSpec(HOST, faults=["disk_full"], service_hang=["wuauserv"]))
    started = time.monotonic()
    answer = run(
        host,
        {"op": "service_control", "name": "wuauserv", "state": "stopped", "wait_seconds": 1},
        {"op": "service_control", "name": "BITS", "state": "stopped", "wait_seconds": 1},
        {"op": "service_query", "name": "BITS", "after_ok": ["0", "1"]},
        {"op": "service_control", "name": "BITS", "state": "started", "after_ok": ["1"]},
    )
    assert 1 <= time.monotonic() - started < 10
    assert not answer["0"]["ok"]
    assert answer["0"]["error"] == (
        "service_control: wuauserv is StopPending, not Stopped, 1 s after the stop request "
        "(a service that hangs stopping stays so until Windows restarts)."
    )
    assert answer["1"]["ok"] and answer["1"]["result"]["state"] == "Stopped"
    assert answer["2"] == {"id": "2", "op": "service_query", "ok": False, "error": "not run: 0 did not succeed."}
    assert answer["3"]["ok"] and answer["3"]["result"]["state"] == "Running"
    # Starting the hung service waits for it to stop first, and says so.
    again = run(host, {"op": "service_control", "name": "wuauserv", "state": "started", "wait_seconds": 1})
    assert "wuauserv is StopPending, not Stopped" in again["0"]["error"]


def test_a_slow_start_beyond_the_bound_names_start_pending():
    host = lab_host(HostSpec(HOST, service_delays={"wuauserv": 30}))
    answer = run(host, {"op": "service_control", "name": "wuauserv", "state": "started", "wait_seconds": 1})
    assert (
        answer["0"]["error"] == "service_control: wuauserv is StartPending, not Running, 1 s after the start request."
    )


# --- Restart Manager under a silent MSI that replaces the side-by-side stack ---------------------------------------
# Sources: the article (uninstalling the stack asks to close Remote Desktop Services and its UserMode Port Redirector,
# "otherwise your RDP connection will be closed"); Using Windows Installer with Restart Manager and
# MSIRESTARTMANAGERCONTROL ("Disable": no interaction with Restart Manager); DisableAutomaticApplicationShutdown.
def scm_events(state) -> list[str]:
    return [e["message"] for e in ops.events(state, log="System", sources=["Service Control Manager"])]


def reinstall_stack(model, state, properties: dict[str, str]) -> None:
    for program in ops.installed_programs(state, k.SXS_PRODUCT):
        assert ops.msiexec_uninstall(state, program["product_code"], properties) == 0
    newest = ops.list_files(state, k.RDINFRA_DIR, "SxSStack*.msi")[0]
    assert ops.msiexec_install(state, model.avd, newest["path"], properties) == 3010


def test_a_silent_stack_msi_lets_restart_manager_restart_remote_desktop_services_and_cut_the_users():
    model = world(HostSpec(HOST, sessions=2))
    state = model.host(HOST)
    reinstall_stack(model, state, {})
    assert state.sessions == []
    assert "The Remote Desktop Services service entered the stopped state." in scm_events(state)
    assert ops.service_query(state, k.TERMSERVICE)["state"] == "Running"  # restarted at the end


@pytest.mark.parametrize("value", ["Disable", "DisableShutdown"])
def test_msirestartmanagercontrol_keeps_the_users_connected(value):
    model = world(HostSpec(HOST, sessions=2))
    state = model.host(HOST)
    reinstall_stack(model, state, {"MSIRESTARTMANAGERCONTROL": value})
    assert len(state.sessions) == 2 and scm_events(state) == []


def test_the_disable_automatic_application_shutdown_policy_keeps_them_too():
    model = world(HostSpec(HOST, sessions=1))
    state = model.host(HOST)
    ops.registry_write(state, k.INSTALLER_POLICY, "DisableAutomaticApplicationShutdown", "REG_DWORD", 1)
    reinstall_stack(model, state, {})
    assert len(state.sessions) == 1


# --- Network logon limits (network_logon_denied) ---------------------------------------------------------------------
# Sources: Ansible's WinRM limitations (calls to the Windows Update API are blocked in a WinRM logon; become or a
# scheduled task runs as a local logon) and KB2773898 (the Windows Update Standalone Installer returns 5, access
# denied, from a remote session).
DOTNET_PATH = "C:\\ProgramData\\avdops\\installers\\dotnet48\\4.8\\ndp48-x86-x64-allos-enu.exe"


def dotnet_host(**keys: Any) -> tuple[LabHost, str, str]:
    """A host with .NET 4.7 and the lab's 4.8 offline installer copied to it (as installer_cache does)."""
    host = lab_host(HostSpec(HOST, faults=["dotnet_outdated"], **keys))
    _file, info = lab_installers()["dotnet48"]
    data = package_bytes(info)
    ops.make_directories(host.state, [DOTNET_PATH.rsplit("\\", 1)[0]])
    ops.write_file(host.state, DOTNET_PATH, data)
    host.model.save(host.state)
    return host, DOTNET_PATH, hashlib.sha256(data).hexdigest()


def test_the_dotnet_installer_in_a_network_logon_is_denied_and_as_system_installs():
    host, path, sha = dotnet_host(network_logon_denied=["dotnet"])
    denied = run(host, {"op": "dotnet_install", "path": path, "sha256": sha})["0"]
    assert denied["result"] == {"exit_code": 5, "ran_as": "SH-01\\avdadmin"}
    assert host.state.pending_dotnet_release is None  # nothing installed
    system = run(host, {"op": "dotnet_install", "path": path, "sha256": sha, "as_system": True})["0"]
    assert system["result"] == {"exit_code": 3010, "ran_as": "NT AUTHORITY\\SYSTEM"}
    bad = run(host, {"op": "dotnet_install", "path": path, "sha256": sha, "as_system": "yes"})["0"]
    assert bad["error"] == "dotnet_install: argument 'as_system' must be true or false."


def test_without_the_key_the_network_logon_installs_as_before():
    host, path, sha = dotnet_host()
    assert run(host, {"op": "dotnet_install", "path": path, "sha256": sha})["0"]["result"]["exit_code"] == 3010


def test_network_logon_denied_in_a_scenario():
    assert parse_scenario("hosts: [{name: sh-01, network_logon_denied: [dotnet]}]").hosts[0].network_logon_denied == [
        "dotnet"
    ]
    with pytest.raises(ScenarioError, match="network_logon_denied"):
        parse_scenario("hosts: [{name: sh-01, network_logon_denied: [sqlserver]}]")
