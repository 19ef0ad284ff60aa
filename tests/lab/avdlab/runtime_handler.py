"""The collection's runtime, recognised exactly and run on the host model.

The lab does not interpret PowerShell. It knows the collection's two files by
their exact text and version: ``avd_bootstrap.ps1`` arrives as the script of
``PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted
-EncodedCommand <base64 of its UTF-16-LE text>`` (the line the collection builds;
over winrm it is the command line, over psrp the plugin decodes it and runs the
script in its runspace), ``avd_runtime.ps1`` inside the one JSON line of input
(stdin over winrm, pipeline input over psrp). It performs each requested
operation with the Windows semantics of ``windows/operations.py`` and answers in
the runtime's output shape. A bootstrap or runtime that differs by one character
is refused with an error that says so, so a change to the PowerShell can't pass
the tests without the lab knowing it.

:func:`CollectionRuntime.answer` takes (script text, input text): the one entry
both transports call.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import fnmatch
import json
import os
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .commandline import Invocation
from .handlers import CommandContext
from .host import LabHost
from .shells import CommandResult
from .windows import operations as ops
from .windows.agent import settle_registration
from .windows.paths import full_path
from .windows.registry import RegistryError
from .windows.state import HostState

DEFAULT_RUNTIME_DIR = Path(__file__).resolve().parents[3] / "plugins" / "plugin_utils"
SECRET_VALUE_NAMES = {"registrationtoken"}
# ansible-core's PowerShell shell plugin's common arguments, then -EncodedCommand: the only form accepted.
RUNTIME_COMMAND_PREFIX = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand"
BOOTSTRAP_MARKER = "# avdops.sessionhost bootstrap"


def runtime_dir() -> Path:
    return Path(os.environ.get("AVDLAB_RUNTIME_DIR") or DEFAULT_RUNTIME_DIR)


def iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n")


def _encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


class NotTheRuntime(Exception):
    """What arrived is not exactly this collection's bootstrap and runtime; the message says which part differs."""


class UnreadableInput(Exception):
    """The bootstrap's JSON parse fails, as JavaScriptSerializer.DeserializeObject would."""


def deserialize_error(detail: str) -> str:
    return f'Exception calling "DeserializeObject" with "1" argument(s): "Invalid JSON primitive: {detail}"'


class RuntimeScripts:
    def __init__(self, directory: Path) -> None:
        self.bootstrap = (directory / "avd_bootstrap.ps1").read_text(encoding="utf-8-sig")
        self.runtime = (directory / "avd_runtime.ps1").read_text(encoding="utf-8-sig")
        match = re.search(r"^\$RuntimeVersion = '([^']+)'", self.runtime, re.M)
        if match is None:
            raise ValueError("avd_runtime.ps1 declares no $RuntimeVersion")
        self.version = match.group(1)
        self.command_line = f"{RUNTIME_COMMAND_PREFIX} {_encoded(self.bootstrap)}"

    def is_bootstrap(self, script: str) -> bool:
        return _lines(script) == _lines(self.bootstrap)

    def looks_like_bootstrap(self, script: str) -> bool:
        """Another version of the bootstrap (a stale or edited collection): refused with a clear error."""
        return script.lstrip().startswith(BOOTSTRAP_MARKER)

    def bootstrap_mismatch(self) -> str:
        return (
            "avdlab: the script is not this collection's avd_bootstrap.ps1 "
            f"(runtime {self.version}); the lab runs only that exact file."
        )

    def request(self, script: str, input_text: str) -> dict[str, Any]:
        """The request the runtime would run, or :class:`NotTheRuntime` saying what differs."""
        if not self.is_bootstrap(script):
            raise NotTheRuntime(self.bootstrap_mismatch())
        try:
            payload = json.loads(input_text)
        except ValueError as exc:
            raise UnreadableInput(deserialize_error(str(exc))) from exc
        if not isinstance(payload, dict):
            raise NotTheRuntime("avdlab: the input is not the bootstrap's {runtime, request} JSON object.")
        if _lines(str(payload.get("runtime") or "")) != _lines(self.runtime):
            raise NotTheRuntime(
                "avdlab: the runtime in the input is not this collection's avd_runtime.ps1 "
                f"(version {self.version}); the lab runs only that exact file."
            )
        request = payload.get("request")
        return request if isinstance(request, dict) else {}


class CollectionRuntime:
    name = "avdops runtime"

    def __init__(self, scripts: RuntimeScripts | None = None) -> None:
        self.scripts = scripts or RuntimeScripts(runtime_dir())

    def is_runtime_script(self, script: str) -> bool:
        """Whether a script is the bootstrap, or another version of it (answered with a refusal)."""
        return self.scripts.is_bootstrap(script) or self.scripts.looks_like_bootstrap(script)

    def accepts(self, invocation: Invocation) -> bool:
        return invocation.is_powershell and invocation.script is not None and self.is_runtime_script(invocation.script)

    def reads_stdin(self, invocation: Invocation) -> bool:
        return True

    async def run(self, context: CommandContext) -> CommandResult:
        script = context.invocation.script
        assert script is not None
        if context.invocation.command_line != f"{RUNTIME_COMMAND_PREFIX} {_encoded(script)}":
            return _failure(
                "avdlab: the avdops bootstrap must arrive as exactly "
                f"'{RUNTIME_COMMAND_PREFIX} <base64 of avd_bootstrap.ps1 as UTF-16-LE>'; "
                f"received a command line starting {context.invocation.command_line[:100]!r}.",
                refused=True,
            )
        try:
            input_text = context.stdin.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _failure(deserialize_error(f"the input is not text ({exc})"))
        return await self.answer(context.host, script, input_text)

    async def answer(self, host: LabHost, script: str, input_text: str) -> CommandResult:
        """Run (script, input) as Windows would if the script is the bootstrap; refuse anything else clearly.

        ``script`` is the PowerShell text (decoded from -EncodedCommand over winrm, the pipeline's script over
        psrp); ``input_text`` the input lines joined by newlines (stdin over winrm, the pipeline input over psrp).
        """
        if not self.scripts.is_bootstrap(script):
            return _failure(self.scripts.bootstrap_mismatch(), refused=True)
        if host.state.language_mode != FULL_LANGUAGE:
            # The bootstrap's first check: one document, nothing read or changed.
            return CommandResult(
                json.dumps(constrained_language_answer(host.state.language_mode)).encode() + b"\r\n", b"", 1
            )
        try:
            request = self.scripts.request(script, input_text)
        except NotTheRuntime as exc:
            return _failure(str(exc), refused=True)
        except UnreadableInput as exc:
            return _failure(str(exc))
        if str(request.get("version")) != self.scripts.version:
            mismatch = (
                f"The controller sent a request for runtime {request.get('version')}; "
                f"this is runtime {self.scripts.version}."
            )
            body: dict[str, Any] = {"version": self.scripts.version, "error": mismatch, "results": []}
            return CommandResult(json.dumps(body).encode() + b"\r\n", b"", 1)
        state = host.state
        assert host.model is not None
        results = []
        failed_ids: set[str] = set()
        try:
            for op in request.get("operations") or []:
                entry: dict[str, Any] = {"id": op.get("id"), "op": op.get("op")}
                settle_registration(state, host.model.avd)  # time passes between operations (settle_seconds)
                # after_ok: ids of earlier operations this one runs only after.
                unmet = [str(i) for i in op.get("after_ok") or [] if i is not None and str(i) in failed_ids]
                try:
                    if unmet:
                        raise ops.OperationError(f"not run: {', '.join(unmet)} did not succeed.")
                    await held(host, op)
                    handler = OPERATIONS.get(str(op.get("op")))
                    if handler is None:
                        raise ops.OperationError(f"Unknown operation '{op.get('op')}'.")
                    if connection_drops_at(state, op) and host.power is not None:
                        # A second into the operation: the client waits in its Receive by then.
                        asyncio.get_running_loop().call_later(DROP_AFTER_SECONDS, host.power.drop_connections)
                    entry["result"] = await handler(state, host.model.avd, {**op, "_runs_as": runs_as(host)})
                    entry["ok"] = True
                except (ops.OperationError, RegistryError, ArgumentError, KeyError, TypeError, ValueError) as exc:
                    entry["ok"] = False
                    entry["error"] = str(exc) or type(exc).__name__
                    failed_ids.add(str(op.get("id")))
                results.append(entry)
        finally:
            # Also when the command is terminated mid-way (Signal terminate, Delete): what it did stays done.
            host.model.save(state)
        body = {"version": self.scripts.version, "results": results}
        return CommandResult(json.dumps(body, ensure_ascii=False).encode("utf-8") + b"\r\n", b"", 0)


DROP_AFTER_SECONDS = 1.0  # how far into the scenario's connection_drop operation the connection drops


def connection_drops_at(state: HostState, op: dict[str, Any]) -> bool:
    """Whether the scenario's connection_drop happens now, as the runtime begins ``op`` (once per host)."""
    drop = state.connection_drop
    if not drop or drop.get("operation") != op.get("op"):
        return False
    if drop.get("name") and str(drop["name"]).lower() != str(op.get("name") or "").lower():
        return False
    state.connection_drop = {}
    return True


FULL_LANGUAGE = "FullLanguage"


async def held(host: LabHost, op: dict[str, Any]) -> None:
    """The lab's test control (docs/lab.md, "Test controls"): wait while a hold catches this operation."""
    hold = host.hold
    if hold is None or hold.waiting or not hold.matches(op):
        return
    hold.waiting = True
    await hold.released.wait()  # the release takes the hold off the host
    if not hold.run:
        raise ops.OperationError("not run: the lab's test control released the held operation without running it.")


def constrained_language_answer(mode: str) -> dict[str, Any]:
    why = (
        f"PowerShell runs in {mode} mode here (AppLocker or WDAC application control); "
        "the avdops runtime needs FullLanguage mode. Nothing was read or changed."
    )
    return {"version": None, "error": why, "results": []}


def runs_as(host: LabHost) -> str:
    """WindowsIdentity.GetCurrent().Name of the WinRM user: a local account, as HOST\\user."""
    user = host.account.username.rsplit("\\", 1)[-1]
    return f"{host.computer_name.upper()}\\{user}"


class ArgumentError(Exception):
    """A write operation's argument is missing or wrong: the runtime throws before touching anything."""


REGISTRY_ROOTS = ("HKEY_LOCAL_MACHINE", "HKEY_USERS", "HKEY_CURRENT_USER", "HKEY_CLASSES_ROOT", "HKEY_CURRENT_CONFIG")
REGISTRY_TYPES = ("REG_BINARY", "REG_DWORD", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_QWORD", "REG_SZ")
PRODUCT_CODE = re.compile(r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$")
PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def text_argument(op: dict[str, Any], name: str) -> str:
    value = op.get(name)
    if not isinstance(value, str) or not value:
        raise ArgumentError(f"{op.get('op')}: argument '{name}' is required (a non-empty string).")
    return value


def registry_path_argument(op: dict[str, Any]) -> str:
    path = text_argument(op, "path")
    if path.split("\\")[0].upper() not in REGISTRY_ROOTS or "\\" not in path:
        raise ArgumentError(f"{op.get('op')}: path '{path}' must be a key below one of {', '.join(REGISTRY_ROOTS)}.")
    return path


def number_argument(op: dict[str, Any], name: str, default: float, minimum: float, maximum: float) -> float:
    value = op.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not minimum <= value <= maximum:
        raise ArgumentError(
            f"{op.get('op')}: argument '{name}' must be a number from {minimum:g} to {maximum:g}, got '{value}'."
        )
    return float(value)


def _failure(message: str, refused: bool = False) -> CommandResult:
    return CommandResult(b"", message.encode() + b"\r\n", 1, refused=refused)


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
    registry_path_argument(op)
    text_argument(op, "name")
    if op.get("type") not in REGISTRY_TYPES:
        raise ArgumentError(f"registry_write: type '{op.get('type')}' is not one of {', '.join(REGISTRY_TYPES)}.")
    data = op.get("data")
    if data is None:
        raise ArgumentError("registry_write: argument 'data' is required.")
    try:
        if op["type"] == "REG_BINARY":
            data = base64.b64decode(data, validate=True)
        elif op["type"] in ("REG_DWORD", "REG_QWORD"):
            data = int(data)
            if not 0 <= data < (2**32 if op["type"] == "REG_DWORD" else 2**64):
                raise ValueError(data)
    except (ValueError, TypeError) as exc:
        raise ArgumentError(f"registry_write: data is not a valid {op['type']} value.") from exc
    if op.get("check_mode"):
        try:
            current = state.registry.get(op["path"], op["name"])
            return {"changed": current.type != op["type"] or current.data != data}
        except RegistryError:
            return {"changed": True}
    return {"changed": ops.registry_write(state, op["path"], op["name"], op["type"], data)["changed"]}


# The runtime's $RegistryDeletable: whole keys (name None) and values registry_delete may delete; <hive> is any
# one user hive under HKEY_USERS.
REGISTRY_DELETABLE = (
    (r"HKEY_LOCAL_MACHINE\SOFTWARE\avdops\sessionhost\StoppedServices", "wuauserv"),
    (r"HKEY_LOCAL_MACHINE\SOFTWARE\avdops\sessionhost\StoppedServices", "BITS"),
    (r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDInfraAgent", None),
    (r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDAgentBootLoader", None),
    (r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\Installer", "DisableMSI"),
    (r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\System", "DisableCMD"),
    (r"HKEY_USERS\<hive>\Software\Policies\Microsoft\Windows\System", "DisableCMD"),
)


def registry_deletable(path: str, name: str | None) -> bool:
    parts = path.split("\\")
    if any(not part.strip() for part in parts):
        return False
    if parts[0].upper() == "HKEY_USERS" and len(parts) > 2:
        parts[1] = "<hive>"
    shape = "\\".join(parts).lower()
    return any(
        shape == allowed.lower()
        and (name is None) == (allowed_name is None)
        and (name or "").lower() == (allowed_name or "").lower()
        for allowed, allowed_name in REGISTRY_DELETABLE
    )


async def registry_delete(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    registry_path_argument(op)
    name = op.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise ArgumentError("registry_delete: argument 'name' must be a value name, or absent to delete the whole key.")
    if not registry_deletable(op["path"], name):
        what = f"key '{op['path']}'" if name is None else f"value '{name}' of '{op['path']}'"
        raise ArgumentError(
            f"registry_delete: {what} is not one the collection owns (the RDInfraAgent and RDAgentBootLoader keys, "
            "DisableMSI and DisableCMD policy values, its StoppedServices note); nothing was deleted."
        )
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


async def _wait_for_status(state: HostState, name: str, wanted: str, seconds: float) -> bool:
    """ServiceController.WaitForStatus: True once the service is ``wanted``, False after ``seconds`` without it."""
    deadline = time.monotonic() + seconds
    while True:
        service = ops.service_query(state, name)  # settles pending states whose time has come
        if service["state"] == wanted:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await asyncio.sleep(min(left, 0.25))


async def service_control(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    name = text_argument(op, "name")
    wanted_state = op.get("state")
    if wanted_state not in ("started", "stopped", "restarted"):
        raise ArgumentError(f"service_control: state '{wanted_state}' is not one of started, stopped, restarted.")
    wait = number_argument(op, "wait_seconds", 30, 1, 600)
    settle = number_argument(op, "settle_seconds", 0, 0, 300)
    before = ops.service_query(state, name)
    if not before["exists"]:
        raise ops.OperationError(f"Cannot find any service with service name '{name}'.")
    wanted = "Stopped" if wanted_state == "stopped" else "Running"
    changed = wanted_state == "restarted" or before["state"] != wanted
    if changed and not op.get("check_mode"):
        if before["state"] == "StopPending" or (wanted_state != "started" and before["state"] != "Stopped"):
            ops.service_stop(state, name)  # sends the stop control (a service StopPending already is left to it)
            if not await _wait_for_status(state, name, "Stopped", wait):
                raise ops.OperationError(
                    f"service_control: {name} is {ops.service_query(state, name)['state']}, not Stopped, "
                    f"{wait:g} s after the stop request (a service that hangs stopping stays so until Windows restarts)."
                )
        if wanted == "Running":
            ops.service_start(state, avd, name)
            if not await _wait_for_status(state, name, "Running", wait):
                raise ops.OperationError(
                    f"service_control: {name} is {ops.service_query(state, name)['state']}, not Running, "
                    f"{wait:g} s after the start request."
                )
        if settle:
            await asyncio.sleep(settle)
    after = ops.service_query(state, name)
    return {**after, "changed": changed, "state_before": before["state"]}


async def qwinsta(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    return ops.run_qwinsta(state)


async def disk(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    return ops.disk(state, op.get("drive") or "C:")


async def events(state: HostState, avd: Any, op: dict[str, Any]) -> list[dict[str, Any]]:
    for source in op.get("sources") or []:
        if source and not re.match(r"^[A-Za-z0-9 ._-]+$", source):
            raise ArgumentError(f"events: source '{source}' is not a provider name.")
    found = ops.events(
        state,
        log=text_argument(op, "log"),
        sources=op.get("sources") or None,
        ids=[int(i) for i in op["ids"]] if op.get("ids") else None,
        max_age_seconds=float(op["max_age_seconds"]) if op.get("max_age_seconds") else None,
        max_count=int(number_argument(op, "max_count", 100, 1, 10000)),
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
    action = op.get("action")
    if action not in ("install", "uninstall"):
        raise ArgumentError(f"msiexec: action '{action}' is not one of install, uninstall.")
    if action == "install":
        package = text_argument(op, "package")
        if not package.lower().endswith(".msi"):
            raise ArgumentError(f"msiexec: package '{package}' is not an .msi file.")
    else:
        product_code = text_argument(op, "product_code")
        if not PRODUCT_CODE.match(product_code):
            raise ArgumentError(
                f"msiexec: product_code '{product_code}' is not a product code like "
                "{01234567-89AB-CDEF-0123-456789ABCDEF}."
            )
    properties = dict(op.get("properties") or {})
    for name in properties:
        if not PROPERTY_NAME.match(name):
            raise ArgumentError(f"msiexec: '{name}' is not a property name.")
    secrets = [name.upper() for name in properties if name.upper() in SECRET_PROPERTIES]
    if secrets:
        logging, debug = ops.installer_logging_policy(state)
        if logging or debug:
            raise ops.OperationError(
                "msiexec: the Windows Installer policies in HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\Installer "
                f"(Logging '{logging}', Debug {debug}) make the installer write its command line and properties into "
                f"MSI*.LOG files, so {', '.join(secrets)} would be logged; nothing was installed. Write the secret to "
                "the registry instead (the collection installs the agent so), or remove the policies."
            )
    # The runtime's command line: REBOOT=ReallySuppress, then the properties as given.
    command_line = {"REBOOT": "ReallySuppress", **{name: str(value) for name, value in properties.items()}}
    if action == "install":
        check_package_hash(state, "msiexec", package, op.get("sha256"))
        code = ops.msiexec_install(state, avd, package, command_line)
    else:
        code = ops.msiexec_uninstall(state, product_code, command_line)
    return {"exit_code": code}


SECRET_PROPERTIES = {"REGISTRATIONTOKEN"}


SHA256_HEX = re.compile(r"^[0-9A-Fa-f]{64}$")


def check_package_hash(state: HostState, op_name: str, path: str, expected: Any) -> None:
    """The runtime's Open-Package: a package it or a folder above which a standard user owns never runs; with
    ``expected``, it is hashed through the handle it stays open with (shared for reading only) while it runs,
    and one that differs never runs."""
    if expected is not None and (not isinstance(expected, str) or not SHA256_HEX.match(expected)):
        raise ArgumentError(f"{op_name}: argument 'sha256' must be 64 hexadecimal digits.")
    (found,) = ops.file_hashes(state, [path])
    if not found["exists"]:
        if expected is None:
            return  # Windows Installer answers 1619
        raise ops.OperationError(f"{op_name}: package '{path}' does not exist; nothing was run.")
    why = ops.untrusted_owner(state, path)
    if why:
        raise ops.OperationError(f"{op_name}: package '{path}': {why}, who could swap it; nothing was run.")
    if expected is None:
        return
    if found["sha256"] != expected.lower():
        raise ops.OperationError(
            f"{op_name}: package '{path}' has SHA-256 {found['sha256']}, not the expected {expected.lower()}; "
            "nothing was run."
        )


async def file_hash(state: HostState, avd: Any, op: dict[str, Any]) -> list[dict[str, Any]]:
    paths = op.get("paths")
    if not isinstance(paths, list) or not all(isinstance(path, str) and path for path in paths):
        raise ArgumentError("file_hash: argument 'paths' must be a list of file paths.")
    return ops.file_hashes(state, paths)


async def make_directory(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    paths = op.get("paths")
    if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
        raise ArgumentError("make_directory: argument 'paths' must be a list of folder paths.")
    for path in paths:
        if not re.match(r"^[A-Za-z]:\\", path):
            raise ArgumentError(f"make_directory: '{path}' is not an absolute folder path like C:\\folder.")
    root = op.get("secure_root")
    if root is not None:
        full = _windows_full_path(root) if isinstance(root, str) else None
        if full is None or full.lower() != root.lower() or CLEANUP_BAD_PATH.search(root):
            raise ArgumentError(
                f"make_directory: secure_root '{root}' is not a canonical absolute folder path like C:\\folder."
            )
        for path in paths:
            if not (path.lower() == root.lower() or path.lower().startswith(root.lower() + "\\")):
                raise ArgumentError(f"make_directory: '{path}' is not inside secure_root '{root}'.")
    return ops.make_directories(state, paths, bool(op.get("check_mode")), root)


async def dotnet_install(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    path = text_argument(op, "path")
    if not path.lower().endswith(".exe"):
        raise ArgumentError(f"dotnet_install: path '{path}' is not an .exe file.")
    if op.get("sha256") is None:
        raise ArgumentError("dotnet_install: argument 'sha256' is required (the installer's pinned SHA-256).")
    as_system = op.get("as_system")
    if as_system is not None and not isinstance(as_system, bool):
        raise ArgumentError("dotnet_install: argument 'as_system' must be true or false.")
    number_argument(op, "wait_seconds", 3600, 60, 7200)
    check_package_hash(state, "dotnet_install", path, op.get("sha256"))
    # As SYSTEM the installer runs from a scheduled task (a service logon); else in the WinRM user's network logon.
    code = ops.dotnet_install(state, path, network_logon=not as_system)
    return {"exit_code": code, "ran_as": "NT AUTHORITY\\SYSTEM" if as_system else op.get("_runs_as")}


async def probe_url(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    number_argument(op, "timeout_seconds", 10, 1, 300)
    url = None if op.get("registry_path") else text_argument(op, "url")
    if op.get("registry_path"):
        base = state.registry.get_data(op["registry_path"], op["registry_name"])
        if not base:
            return {
                "url": None,
                "reachable": False,
                "status": None,
                "location": None,
                "body": None,
                "error": f"{op['registry_name']} is not set",
                "runs_as": None,
                "proxy": None,
            }
        url = f"{base}{op.get('suffix') or ''}"
    return ops.probe_url(state, avd, str(url), op.get("_runs_as"))


async def processes(state: HostState, avd: Any, op: dict[str, Any]) -> list[dict[str, Any]]:
    return ops.processes(state, list(op.get("names") or []))


async def boot_time(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    return {"boot_time": iso(ops.boot_time(state))}


async def installer_busy(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    return ops.installer_mutex(state)


# The runtime's cleanup scope (Get-CleanupScope): Windows' temp folder, Windows Update's download cache, and the
# agent folders the boot loader does not name.
CLEANUP_FOLDERS = {
    "windows_temp": r"C:\Windows\Temp",
    "windows_update_download": r"C:\Windows\SoftwareDistribution\Download",
    "agent_folders": r"C:\Program Files\Microsoft RDInfra",
}
CLEANUP_BAD_PATH = re.compile(r'[*?"<>|]|[. ](\\|$)')
DRIVE_FULL_PATH = re.compile(r"^[A-Za-z]:\\")


def _agents_in_use(state: HostState) -> tuple[list[str], bool]:
    """The agents the boot loader names, and whether its DefaultAgent could be read at all."""
    bootloader = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDAgentBootLoader"
    found = [state.registry.get_data(bootloader, name) for name in ("DefaultAgent", "PreviousAgent")]
    return [str(value) for value in found if value], bool(found[0])


async def cleanup_candidates(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    locations = []
    for location, folder in CLEANUP_FOLDERS.items():
        items = ops.folder_items(state, folder)
        if location == "agent_folders":
            items = [i for i in items if i["kind"] == "folder" and fnmatch.fnmatch(i["name"].lower(), "rdagent_*")]
        locations.append(
            {
                "location": location,
                "path": folder,
                "exists": ops.folder_exists(state, folder),
                "items": [{**item, "modified": iso(item["modified"])} for item in items],
            }
        )
    in_use, known = _agents_in_use(state)
    return {"locations": locations, "agents_in_use": in_use, "agents_known": known}


def _windows_full_path(path: str) -> str | None:
    """[IO.Path]::GetFullPath of a local drive path (None for anything else: UNC, relative, a stream)."""
    if not DRIVE_FULL_PATH.match(path) or ":" in path[2:]:
        return None
    full = full_path(path)
    return full + "\\" if path.endswith("\\") and len(full) > 2 else full


def _cleanup_refusal(path: str, in_use: list[str], known: bool) -> str | None:
    full = _windows_full_path(path)
    if full is None or CLEANUP_BAD_PATH.search(path):
        return "is not a full local path without wildcards, streams or parts ending in a dot or a space"
    if full.lower() != path.lower():
        return f"is not a canonical path (Windows opens it as '{full}')"
    folders = {key: value.lower() for key, value in CLEANUP_FOLDERS.items()}
    if full.rstrip("\\").lower() in folders.values():
        return "is a location itself, not an item in it"
    parent, _sep, name = full.rpartition("\\")
    if parent.lower() in (folders["windows_temp"], folders["windows_update_download"]):
        return None
    if parent.lower() == folders["agent_folders"] and fnmatch.fnmatch(name.lower(), "rdagent_*"):
        if not known:
            return "is an agent folder, and the boot loader's DefaultAgent could not be read (unknown means keep)"
        if name.lower() in (agent.lower() for agent in in_use):
            return "is the agent the boot loader names (DefaultAgent or PreviousAgent)"
        return None
    return (
        f"is outside the locations cleanup_delete may delete from ({CLEANUP_FOLDERS['windows_temp']}, "
        f"{CLEANUP_FOLDERS['windows_update_download']}, RDAgent_* folders in {CLEANUP_FOLDERS['agent_folders']})"
    )


async def cleanup_delete(state: HostState, avd: Any, op: dict[str, Any]) -> dict[str, Any]:
    paths = op.get("paths")
    if not paths or not isinstance(paths, list) or any(not isinstance(p, str) or not p for p in paths):
        raise ArgumentError("cleanup_delete: argument 'paths' is required (a list of full paths).")
    in_use, known = _agents_in_use(state)
    for path in paths:
        refused = _cleanup_refusal(path, in_use, known)
        if refused:
            raise ArgumentError(f"cleanup_delete: '{path}' {refused}; nothing was deleted.")
    deleted: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    freed = 0
    for path in paths:
        if not ops.path_exists(state, path):
            continue  # gone already (Test-Path)
        if full_path(path).lower() in state.links:
            failed.append({"path": path, "error": "a link (reparse point): not followed, not deleted"})
            continue
        size, kept = ops.delete_without_links(state, path)
        freed += size
        if kept:
            first = kept[0]
            failed.append(
                {"path": path, "error": f"{len(kept)} item(s) kept: {first['path']}: {first['error']}", "freed": size}
            )
        else:
            deleted.append({"path": path, "size": size})
    return {"deleted": deleted, "failed": failed, "freed": freed}


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
    "installer_busy": installer_busy,
    "cleanup_candidates": cleanup_candidates,
    "cleanup_delete": cleanup_delete,
    "file_hash": file_hash,
    "make_directory": make_directory,
    "dotnet_install": dotnet_install,
}
