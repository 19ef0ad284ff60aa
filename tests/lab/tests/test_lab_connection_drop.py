"""A connection that drops mid-command (connection_drop): the network between the controller and the host fails
while the runtime works. Windows runs the command on (the shell outlives its client until its idle timeout:
WSMAN_SHELL_DISCONNECT_INFO); the client that lost its Receive terminates the command (Ansible's winrm plugin sends
Signal terminate in _winrm_exec's finally; WSManSignalShell's TERMINATE), and WinRS ends its process there, so what
the script had not done yet is never done (MS-WSMV 3.1.4.4.1: commands in progress are terminated)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from labworld import world

from avdlab.auth import Account
from avdlab.host import LabHost
from avdlab.model import HostSpec, ScenarioError, parse_scenario
from avdlab.runtime_handler import CollectionRuntime, RuntimeScripts, runtime_dir
from avdlab.windows import operations as ops

HOST = "sh-01"


class Network:
    """The host's power as the lab process gives it: here it records each drop (and, as a client does, may
    terminate the command when its connection drops)."""

    def __init__(self) -> None:
        self.drops = 0
        self.on_drop: Any = None

    def schedule_restart(self, delay: float) -> None:
        raise AssertionError("no restart expected")

    def abort_restart(self) -> bool:
        return False

    def drop_connections(self) -> None:
        self.drops += 1
        if self.on_drop is not None:
            self.on_drop()


def lab_host(spec: HostSpec) -> tuple[LabHost, Network]:
    network = Network()
    host = LabHost(name=spec.name, address="127.0.0.1", account=Account("avdadmin", "p"), model=world(spec))
    host.power = network
    return host, network


CLEANUP = (
    {"op": "service_control", "name": "wuauserv", "state": "stopped", "wait_seconds": 5},
    {"op": "service_control", "name": "BITS", "state": "stopped", "wait_seconds": 5},
    {"op": "service_control", "name": "wuauserv", "state": "started", "wait_seconds": 5},
    {"op": "service_control", "name": "BITS", "state": "started", "wait_seconds": 5},
)


def request(*operations: dict[str, Any]) -> tuple[RuntimeScripts, str]:
    scripts = RuntimeScripts(runtime_dir())
    body = {"version": scripts.version, "operations": [{"id": str(i), **op} for i, op in enumerate(operations)]}
    return scripts, json.dumps({"runtime": scripts.runtime, "request": body})


def test_the_scenario_key_and_its_errors():
    scenario = parse_scenario(
        "hosts: [{name: sh-01, connection_drop: {operation: service_control, name: BITS}}, {name: sh-02}]"
    )
    assert scenario.hosts[0].connection_drop == {"operation": "service_control", "name": "BITS"}
    assert scenario.hosts[1].connection_drop == {}
    model = world(*scenario.hosts)
    assert model.host("sh-01").connection_drop == {"operation": "service_control", "name": "BITS"}
    for bad in ("cleanup_delete", "{name: BITS}", "{operation: Stop-Service}", "{operation: cleanup_delete, at: 3}"):
        with pytest.raises(ScenarioError, match="connection_drop"):
            parse_scenario(f"hosts: [{{name: sh-01, connection_drop: {bad}}}]")


def test_a_drop_the_client_does_not_follow_up_leaves_the_command_running_to_its_end_once():
    host, network = lab_host(
        HostSpec(
            HOST,
            faults=["disk_full"],
            service_delays={"BITS": 2},
            connection_drop={"operation": "service_control", "name": "BITS"},
        )
    )
    scripts, text = request(*CLEANUP)
    result = asyncio.run(CollectionRuntime(scripts).answer(host, scripts.bootstrap, text))
    answers = json.loads(result.stdout)["results"]
    assert network.drops == 1 and all(a["ok"] for a in answers)
    assert ops.service_query(host.state, "BITS")["state"] == "Running"
    assert host.state.connection_drop == {}  # once: the next command runs undisturbed
    asyncio.run(CollectionRuntime(scripts).answer(host, scripts.bootstrap, text))
    assert network.drops == 1


def test_a_command_its_client_terminates_after_the_drop_does_nothing_more_and_what_it_did_stays_done():
    host, network = lab_host(
        HostSpec(
            HOST,
            faults=["disk_full"],
            service_delays={"BITS": 2},
            connection_drop={"operation": "service_control", "name": "BITS"},
        )
    )
    scripts, text = request(*CLEANUP)

    async def cut_off() -> None:
        task = asyncio.create_task(CollectionRuntime(scripts).answer(host, scripts.bootstrap, text))
        # The client's Signal terminate arrives while BITS is still StopPending (the command's task is cancelled).
        network.on_drop = lambda: asyncio.get_running_loop().call_later(0.3, task.cancel)
        with pytest.raises(asyncio.CancelledError):
            await task

    started = time.monotonic()
    asyncio.run(cut_off())
    # The connection dropped a second into the stop of BITS (the client waits in its Receive by then).
    assert network.drops == 1 and 1.0 <= time.monotonic() - started < 2
    state = host.state
    state.settle(time.time() + 10)
    # The stop requests reached the Service Control Manager; the starts never ran.
    assert ops.service_query(state, "wuauserv")["state"] == "Stopped"
    assert ops.service_query(state, "BITS")["state"] == "Stopped"
