"""The collection's runtime, recognised exactly and run on the host model.

The lab does not interpret PowerShell. It knows the collection's two files
(``avd_bootstrap.ps1`` as the command line, ``avd_runtime.ps1`` on stdin) by
their exact text and version, and performs each requested operation with the
Windows semantics of ``windows/operations.py``, answering in the runtime's
output shape. A runtime that differs by one character is refused, so a
change to the PowerShell can't pass the tests without the lab knowing it.
"""

from __future__ import annotations

import asyncio
import datetime
import fnmatch
import json
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .commandline import Invocation
from .handlers import CommandContext
from .shells import CommandResult
from .windows import operations as ops
from .windows.registry import RegistryError
from .windows.state import HostState

DEFAULT_RUNTIME_DIR = Path(__file__).resolve().parents[3] / "plugins" / "plugin_utils"
SECRET_VALUE_NAMES = {"registrationtoken"}


def runtime_dir() -> Path:
    return Path(os.environ.get("AVDLAB_RUNTIME_DIR") or DEFAULT_RUNTIME_DIR)


def ansible_normalized(script: str) -> str:
    """What ansible-core's PowerShell shell does to a script before encoding it: lines stripped, blanks dropped."""
    return "\n".join(line.strip() for line in script.splitlines() if line.strip())


def iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class RuntimeScripts:
    def __init__(self, directory: Path) -> None:
        self.bootstrap = (directory / "avd_bootstrap.ps1").read_text(encoding="utf-8-sig")
        self.runtime = (directory / "avd_runtime.ps1").read_text(encoding="utf-8-sig")
        match = re.search(r"^\$RuntimeVersion = '([^']+)'", self.runtime, re.M)
        if match is None:
            raise ValueError("avd_runtime.ps1 declares no $RuntimeVersion")
        self.version = match.group(1)
        self._bootstrap_forms = {ansible_normalized(self.bootstrap), self.bootstrap.replace("\r\n", "\n").strip()}

    def is_bootstrap(self, script: str) -> bool:
        text = script.replace("\r\n", "\n").strip()
        return text in self._bootstrap_forms or ansible_normalized(text) in self._bootstrap_forms


class CollectionRuntime:
    name = "avdops runtime"

    def __init__(self, scripts: RuntimeScripts | None = None) -> None:
        self.scripts = scripts or RuntimeScripts(runtime_dir())

    def accepts(self, invocation: Invocation) -> bool:
        return (
            invocation.is_powershell and invocation.script is not None and self.scripts.is_bootstrap(invocation.script)
        )

    def reads_stdin(self, invocation: Invocation) -> bool:
        return True

    async def run(self, context: CommandContext) -> CommandResult:
        try:
            payload = json.loads(context.stdin.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return _failure(f"ConvertFrom-Json : Invalid JSON primitive on stdin: {exc}")
        runtime = str(payload.get("runtime") or "").replace("\r\n", "\n")
        if runtime != self.scripts.runtime.replace("\r\n", "\n"):
            return _failure(
                "avdlab: the runtime on stdin is not this collection's avd_runtime.ps1 "
                f"(version {self.scripts.version}); the lab runs only that exact file."
            )
        request = payload.get("request") or {}
        if str(request.get("version")) != self.scripts.version:
            mismatch = (
                f"The controller sent a request for runtime {request.get('version')}; "
                f"this is runtime {self.scripts.version}."
            )
            body: dict[str, Any] = {"version": self.scripts.version, "error": mismatch, "results": []}
            return CommandResult(json.dumps(body).encode() + b"\r\n", b"", 1)
        host = context.host
        state = host.state
        assert host.model is not None
        results = []
        for op in request.get("operations") or []:
            entry: dict[str, Any] = {"id": op.get("id"), "op": op.get("op")}
            try:
                handler = OPERATIONS.get(str(op.get("op")))
                if handler is None:
                    raise ops.OperationError(f"Unknown operation '{op.get('op')}'.")
                entry["result"] = await handler(state, host.model.avd, op)
                entry["ok"] = True
            except (ops.OperationError, RegistryError, KeyError, TypeError, ValueError) as exc:
                entry["ok"] = False
                entry["error"] = str(exc) or type(exc).__name__
            results.append(entry)
        host.model.save(state)
        body = {"version": self.scripts.version, "results": results}
        return CommandResult(json.dumps(body, ensure_ascii=False).encode("utf-8") + b"\r\n", b"", 0)


def _failure(message: str) -> CommandResult:
    return CommandResult(b"", message.encode() + b"\r\n", 1)


# --- the operations, in the runtime's result shapes ---------------------------------
def _value_entry(value: dict[str, Any]) -> dict[str, Any]:
    if value["name"].lower() in SECRET_VALUE_NAMES:
        text = str(value["data"] or "")
        return {"name": value["name"], "type": value["type"], "set": bool(text), "length": len(text)}
    return value


async def registry_read(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    read = ops.registry_read(state, op["path"], op.get("names"))
    result = {
        "path": op["path"],
        "exists": read["exists"],
        "values": [_value_entry(v) for v in read["values"]],
        "subkeys": read["subkeys"],
        "subkey_values": {},
    }
    pattern = op.get("subkey_pattern")
    if pattern and read["exists"]:
        for name in read["subkeys"]:
            if fnmatch.fnmatch(name.lower(), pattern.lower()):
                sub = ops.registry_read(state, f"{op['path']}\\{name}")
                result["subkey_values"][name] = [_value_entry(v) for v in sub["values"]]
    return result


async def registry_read_user_hives(state: HostState, avd: Any, op: dict[str, Any]) -> list[dict[str, Any]]:
    hives = []
    for hive in ops.registry_read(state, "HKEY_USERS")["subkeys"]:
        if hive.lower().endswith("_classes"):
            continue
        read = await registry_read(
            state, avd, {"path": f"HKEY_USERS\\{hive}\\{op['subpath']}", "names": op.get("names")}
        )
        hives.append({"hive": hive, "exists": read["exists"], "values": read["values"]})
    return hives


async def registry_write(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    data = op["data"]
    if op["type"] == "REG_BINARY":
        import base64

        data = base64.b64decode(data)
    if op.get("check_mode"):
        try:
            current = state.registry.get(op["path"], op["name"])
            return {"changed": current.type != op["type"] or current.data != data}
        except RegistryError:
            return {"changed": True}
    return {"changed": ops.registry_write(state, op["path"], op["name"], op["type"], data)["changed"]}


async def registry_delete(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    name = op.get("name")
    if op.get("check_mode"):
        if name is None:
            return {"changed": state.registry.key_exists(op["path"])}
        try:
            state.registry.get(op["path"], name)
            return {"changed": True}
        except RegistryError:
            return {"changed": False}
    if name is None:
        return ops.registry_delete_key(state, op["path"])
    return ops.registry_delete_value(state, op["path"], name)


async def service_query(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    return ops.service_query(state, op["name"])


async def service_control(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    before = ops.service_query(state, op["name"])
    if not before["exists"]:
        raise ops.OperationError(f"Cannot find any service with service name '{op['name']}'.")
    wanted_state = op.get("state")
    if wanted_state not in ("started", "stopped", "restarted"):
        raise ops.OperationError(f"Unknown service state '{wanted_state}'; use started, stopped or restarted.")
    wanted = "Stopped" if wanted_state == "stopped" else "Running"
    changed = wanted_state == "restarted" or before["state"] != wanted
    if changed and not op.get("check_mode"):
        if wanted_state == "restarted":
            ops.service_stop(state, op["name"])
            ops.service_start(state, avd, op["name"])
        elif wanted == "Running":
            ops.service_start(state, avd, op["name"])
        else:
            ops.service_stop(state, op["name"])
        settle = float(op.get("settle_seconds") or 0)
        if settle:
            await asyncio.sleep(settle)
    after = ops.service_query(state, op["name"])
    return {**after, "changed": changed, "state_before": before["state"]}


async def qwinsta(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    return ops.run_qwinsta(state)


async def disk(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    return ops.disk(state, op.get("drive") or "C:")


async def events(state: HostState, avd: Any, op: dict[str, Any]) -> list[dict[str, Any]]:
    found = ops.events(
        state,
        log=op.get("log") or "Application",
        sources=op.get("sources") or None,
        ids=[int(i) for i in op["ids"]] if op.get("ids") else None,
        max_age_seconds=float(op["max_age_seconds"]) if op.get("max_age_seconds") else None,
        max_count=int(op.get("max_count") or 100),
    )
    return [
        {k: v for k, v in {**e, "time": iso(e["time"]), "message": e["message"][:2048]}.items() if k != "log"}
        for e in found
    ]


async def programs(state: HostState, avd: Any, op: dict[str, Any]) -> list[dict[str, Any]]:
    return ops.installed_programs(state, op.get("name_pattern") or "*")


async def files(state: HostState, avd: Any, op: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**f, "created": iso(f["created"])} for f in ops.list_files(state, op["folder"], op.get("pattern") or "*")]


async def msiexec(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    if op.get("action") == "install":
        code = ops.msiexec_install(state, avd, op["package"], dict(op.get("properties") or {}))
    elif op.get("action") == "uninstall":
        code = ops.msiexec_uninstall(state, op["product_code"])
    else:
        raise ops.OperationError(f"Unknown msiexec action '{op.get('action')}'; use install or uninstall.")
    return {"exit_code": code}


async def probe_url(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    url = op.get("url")
    if op.get("registry_path"):
        base = state.registry.get_data(op["registry_path"], op["registry_name"])
        if not base:
            return {
                "url": None,
                "reachable": False,
                "status": None,
                "body": None,
                "error": f"{op['registry_name']} is not set",
            }
        url = f"{base}{op.get('suffix') or ''}"
    return ops.probe_url(state, avd, str(url))


async def processes(state: HostState, avd: Any, op: dict[str, Any]) -> list[dict[str, Any]]:
    return ops.processes(state, list(op.get("names") or []))


async def boot_time(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    return {"boot_time": iso(ops.boot_time(state))}


Operation = Callable[[HostState, Any, dict[str, Any]], Awaitable[Any]]
OPERATIONS: dict[str, Operation] = {
    "registry_read": registry_read,
    "registry_read_user_hives": registry_read_user_hives,
    "registry_write": registry_write,
    "registry_delete": registry_delete,
    "service_query": service_query,
    "service_control": service_control,
    "qwinsta": qwinsta,
    "disk": disk,
    "events": events,
    "programs": programs,
    "files": files,
    "msiexec": msiexec,
    "probe_url": probe_url,
    "processes": processes,
    "boot_time": boot_time,
}
