"""The lab's hold, a test control (not Windows behaviour): the next runtime operation matching its fields waits
until the test releases it, then runs (run=1) or fails unrun (run=0); other operations pass."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from labworld import world

from avdlab.auth import Account
from avdlab.host import Hold, LabHost
from avdlab.model import HostSpec
from avdlab.runtime_handler import CollectionRuntime, RuntimeScripts, runtime_dir

HOST = "sh-01"


def request(*operations: dict[str, Any]) -> tuple[RuntimeScripts, str]:
    scripts = RuntimeScripts(runtime_dir())
    body = {"version": scripts.version, "operations": [{"id": str(i), **op} for i, op in enumerate(operations)]}
    return scripts, json.dumps({"runtime": scripts.runtime, "request": body})


async def answer_with_hold(host: LabHost, run: bool, *operations: dict[str, Any]) -> tuple[bool, dict[str, dict]]:
    """Run the operations with a hold on the service_control; release it once it waits. Whether it waited, and
    the answers."""
    scripts, text = request(*operations)
    host.hold = Hold({"op": "service_control", "name": "RDAgentBootLoader"})
    hold = host.hold
    task = asyncio.create_task(CollectionRuntime(scripts).answer(host, scripts.bootstrap, text))
    for _attempt in range(100):
        if hold.waiting:
            break
        await asyncio.sleep(0.01)
    waited = hold.waiting and not task.done()
    host.hold = None
    hold.run = run
    hold.released.set()
    result = await task
    return waited, {entry["id"]: entry for entry in json.loads(result.stdout)["results"]}


def lab_host() -> LabHost:
    return LabHost(name=HOST, address="127.0.0.1", account=Account("avdadmin", "p"), model=world(HostSpec(HOST)))


STOP = {"op": "service_control", "name": "RDAgentBootLoader", "state": "stopped"}
QUERY = {"op": "service_query", "name": "RDAgentBootLoader"}


def test_a_held_operation_waits_then_fails_unrun_and_changes_nothing():
    host = lab_host()
    waited, answers = asyncio.run(answer_with_hold(host, False, QUERY, STOP, QUERY))
    assert waited
    assert answers["0"]["ok"] and answers["0"]["result"]["state"] == "Running"
    assert answers["1"] == {
        "id": "1",
        "op": "service_control",
        "ok": False,
        "error": "not run: the lab's test control released the held operation without running it.",
    }
    assert answers["2"]["ok"] and answers["2"]["result"]["state"] == "Running"  # the stop never ran


def test_a_held_operation_released_to_run_runs():
    host = lab_host()
    waited, answers = asyncio.run(answer_with_hold(host, True, STOP, QUERY))
    assert waited
    assert answers["0"]["ok"] and answers["1"]["result"]["state"] == "Stopped"


def test_a_hold_catches_only_matching_operations():
    assert Hold({"op": "msiexec", "action": "install"}).matches({"op": "msiexec", "action": "install", "package": "x"})
    assert not Hold({"op": "msiexec", "action": "install"}).matches({"op": "msiexec", "action": "uninstall"})
    assert not Hold({"op": "registry_write"}).matches({"op": "registry_read"})
    assert Hold({"op": "*"}).matches({"op": "qwinsta"}) and Hold({"op": "*"}).matches({"op": "msiexec"})
    assert Hold({"op": "msiexec", "package": "*BootLoader*"}).matches(
        {"op": "msiexec", "package": r"C:\\x\\BootLoader.msi"}
    )
    assert not Hold({"op": "msiexec", "package": "*BootLoader*"}).matches({"op": "msiexec", "package": "agent.msi"})
