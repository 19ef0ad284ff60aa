"""What Windows does when asked: the primitives the collection's runtime binds to.

Each function takes the host's state (and the AVD service where the agent
or the network is involved), applies Windows semantics, and returns plain
data or raises :class:`OperationError` with the message PowerShell would
give. Nothing here knows which module asks.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import time
from typing import TYPE_CHECKING, Any

from . import known as k
from .agent import bootloader_started, msi_policy_blocks
from .image import install_product, uninstall_product
from .listeners import qwinsta
from .packages import read_package
from .paths import full_path
from .registry import RegistryError, normalize_path
from .state import AUTOMATIC, DISABLED, MANUAL, RUNNING, START_PENDING, STOP_PENDING, STOPPED, FileEntry, HostState

if TYPE_CHECKING:
    from ..avd import AvdService

START_TYPES = (AUTOMATIC, MANUAL, DISABLED)


class OperationError(Exception):
    """An operation failed the way the Windows call would."""


# --- registry -----------------------------------------------------------------
def registry_read(state: HostState, path: str, names: list[str] | None = None) -> dict[str, Any]:
    """A key's values (all, or the named ones) and subkey names; ``exists`` False for a missing key."""
    registry = state.registry
    full = normalize_path(path)
    if not registry.key_exists(full):
        return {"path": full, "exists": False, "values": [], "subkeys": []}
    values = registry.values(full)
    if names is not None:
        wanted = {name.lower() for name in names}
        values = [value for value in values if value.name.lower() in wanted]
    return {
        "path": registry.key(full).path,
        "exists": True,
        "values": [value.to_json() for value in values],
        "subkeys": registry.subkeys(full),
    }


def registry_write(state: HostState, path: str, name: str, value_type: str, data: Any) -> dict[str, Any]:
    registry = state.registry
    try:
        before = registry.get(path, name)
    except RegistryError:
        before = None
    try:
        value = registry.set(path, name, value_type, data)
    except RegistryError as exc:
        raise OperationError(str(exc)) from exc
    changed = before is None or before.type != value.type or before.data != value.data
    return {"changed": changed}


def registry_delete_value(state: HostState, path: str, name: str) -> dict[str, Any]:
    try:
        state.registry.delete_value(path, name)
    except RegistryError:
        return {"changed": False}
    return {"changed": True}


def registry_delete_key(state: HostState, path: str) -> dict[str, Any]:
    if not state.registry.key_exists(path):
        return {"changed": False}
    state.registry.delete_key(path)
    return {"changed": True}


# --- services -----------------------------------------------------------------
def service_query(state: HostState, name: str) -> dict[str, Any]:
    state.settle()
    service = state.service(name)
    if service is None:
        return {"name": name, "exists": False}
    return {
        "name": service.name,
        "exists": True,
        "display_name": service.display_name,
        "state": service.state,
        "start_type": service.start_type,
    }


def _require_service(state: HostState, name: str) -> Any:
    service = state.service(name)
    if service is None:
        raise OperationError(f"Cannot find any service with service name '{name}'.")
    return service


def service_start(state: HostState, avd: AvdService, name: str) -> dict[str, Any]:
    state.settle()
    service = _require_service(state, name)
    if service.start_type == DISABLED:
        raise OperationError(
            f"Service '{service.display_name} ({service.name})' cannot be started due to the following error: "
            f"Cannot start service {service.name} on computer '.'."
        )
    if service.state in (RUNNING, START_PENDING):
        return {"changed": False, **service_query(state, name)}
    if service.state == STOP_PENDING:
        # StartService: ERROR_SERVICE_ALREADY_RUNNING while the instance that is stopping still runs.
        raise OperationError(f"Cannot start service {service.name} on computer '.'.")
    now = time.time()
    delay = state.service_delays.get(service.name.lower(), 0.0)
    service.state = START_PENDING if delay > 0 else RUNNING
    service.pending_until = now + delay if delay > 0 else None
    service.stop_at = None
    if service.name.lower() == k.BOOTLOADER_SERVICE.lower():
        bootloader_started(state, avd, now)  # the agent's work begins with the start request
    return {"changed": True, **service_query(state, name)}


def service_stop(state: HostState, name: str) -> dict[str, Any]:
    state.settle()
    service = _require_service(state, name)
    if service.state in (STOPPED, STOP_PENDING):
        return {"changed": False, **service_query(state, name)}
    # A service reports StopPending while it shuts down: for its delay, or - hung - until the host restarts.
    key = service.name.lower()
    delay = state.service_delays.get(key, 0.0)
    if key in state.service_hang:
        service.state, service.pending_until = STOP_PENDING, None
    elif delay > 0:
        service.state, service.pending_until = STOP_PENDING, time.time() + delay
    else:
        service.state, service.pending_until = STOPPED, None
    service.stop_at = None
    if service.name.lower() == k.BOOTLOADER_SERVICE.lower():
        agent = state.service(k.AGENT_SERVICE)
        if agent is not None:
            agent.state = STOPPED
        state.last_heartbeat = time.time()
    return {"changed": True, **service_query(state, name)}


def service_set_start_type(state: HostState, name: str, start_type: str) -> dict[str, Any]:
    service = _require_service(state, name)
    wanted = next((t for t in START_TYPES if t.lower() == start_type.lower()), None)
    if wanted is None:
        raise OperationError(f"Invalid start type '{start_type}'; expected one of {', '.join(START_TYPES)}.")
    changed = service.start_type != wanted
    service.start_type = wanted
    return {"changed": changed}


# --- what an administrator looks at -----------------------------------------------
def run_qwinsta(state: HostState) -> dict[str, Any]:
    state.settle()
    return {"text": qwinsta(state), "stderr": "", "exit_code": 0}


def disk(state: HostState, drive: str = "C:") -> dict[str, Any]:
    if drive.rstrip("\\").upper() != state.disk.drive.upper():
        raise OperationError(f"Cannot find drive. A drive with the name '{drive.rstrip(':')}' does not exist.")
    return {"drive": state.disk.drive, "size": state.disk.total, "free": state.disk.free}


def events(
    state: HostState,
    log: str = "Application",
    sources: list[str] | None = None,
    ids: list[int] | None = None,
    max_age_seconds: float | None = None,
    max_count: int = 100,
) -> list[dict[str, Any]]:
    """Get-WinEvent with a filter: newest first."""
    now = time.time()
    wanted_sources = {s.lower() for s in sources} if sources else None
    selected = [
        event
        for event in state.events
        if event.log.lower() == log.lower()
        and (wanted_sources is None or event.source.lower() in wanted_sources)
        and (ids is None or event.event_id in ids)
        and (max_age_seconds is None or event.time >= now - max_age_seconds)
    ]
    selected.sort(key=lambda e: (e.time, e.record_id), reverse=True)
    return [
        {
            "record_id": e.record_id,
            "log": e.log,
            "source": e.source,
            "id": e.event_id,
            "level": e.level,
            "time": e.time,
            "message": e.message,
        }
        for e in selected[:max_count]
    ]


def installed_programs(state: HostState, name_pattern: str = "*") -> list[dict[str, Any]]:
    return [
        {
            "display_name": p.display_name,
            "display_version": p.display_version,
            "product_code": p.product_code,
            "publisher": p.publisher,
            "install_date": p.install_date,
        }
        for p in state.programs
        if fnmatch.fnmatch(p.display_name.lower(), name_pattern.lower())
    ]


def list_files(state: HostState, folder: str, pattern: str = "*") -> list[dict[str, Any]]:
    prefix = folder.rstrip("\\").lower() + "\\"
    found: list[dict[str, Any]] = []
    for lowered, entry in state.files.items():
        if not lowered.startswith(prefix):
            continue
        rest = entry.path[len(prefix) :]
        if "\\" in rest or not fnmatch.fnmatch(rest.lower(), pattern.lower()):
            continue
        found.append({"name": rest, "path": entry.path, "size": entry.size, "created": entry.created})
    found.sort(key=lambda f: f["created"], reverse=True)
    return found


_ABSOLUTE_PATH = re.compile(r"^[A-Za-z]:\\[^*?\"<>|]*[^\\*?\"<>|]$")
# Folders every session host has (the lab keeps no directory tree of the image, only these and what was created).
BASE_FOLDERS = (
    "c:",
    "c:\\windows",
    "c:\\windows\\temp",
    "c:\\program files",
    "c:\\programdata",
    "c:\\users",
)


def folder_exists(state: HostState, folder: str) -> bool:
    wanted = full_path(folder).lower()
    if wanted in BASE_FOLDERS or wanted in state.directories:
        return True
    return any(path.startswith(wanted + "\\") for path in [*state.files, *state.directories, *state.links])


def _create_folder(state: HostState, folder: str) -> None:
    parts = full_path(folder).split("\\")
    for depth in range(2, len(parts) + 1):
        parent = "\\".join(parts[:depth]).lower()
        if not folder_exists(state, parent):
            state.directories.append(parent)


def untrusted_owner(state: HostState, path: str, tree: bool = False) -> str | None:
    """Why a path is not under administrators' control (None when it is): it or a folder above it is owned by
    another account, or (``tree``) something below it is."""
    parts = full_path(path).split("\\")
    for depth in range(len(parts), 0, -1):
        above = "\\".join(parts[:depth]).lower()
        owner = state.owners.get(above)
        if owner and (above in state.files or folder_exists(state, above)):
            shown = "\\".join(parts[:depth])
            return f"'{shown}' is owned by {owner}, not by an administrator"
    if tree:
        prefix = full_path(path).lower() + "\\"
        for below, owner in sorted(state.owners.items()):
            if below.startswith(prefix):
                return f"'{below}' is owned by {owner}, not by an administrator"
    return None


def make_directories(
    state: HostState, folders: list[str], check_mode: bool = False, secure_root: str | None = None
) -> dict[str, Any]:
    """[IO.Directory]::CreateDirectory for each folder (with its parents); which ones did not exist.

    ``secure_root`` (the installer cache): refused when it, a folder above it or anything in it is owned by
    someone other than an administrator; created (or reset) with admin-only permissions.
    """
    for folder in folders:
        if not _ABSOLUTE_PATH.match(folder.rstrip("\\") + "\\x"):
            raise OperationError(f"make_directory: '{folder}' is not an absolute folder path like C:\\folder.")
    secured = False
    if secure_root is not None:
        why = untrusted_owner(state, secure_root, tree=True)
        if why:
            raise OperationError(
                f"make_directory: {why}, who could replace what the cache holds; nothing was created. Delete "
                f"'{secure_root}' and what a standard user created above it (or take ownership and reset its "
                "permissions), then run again."
            )
        secured = secure_root.lower() not in state.admin_only or not folder_exists(state, secure_root)
        if secured and not check_mode:
            _create_folder(state, secure_root)
            state.admin_only.append(secure_root.lower())
    created = [folder for folder in folders if not folder_exists(state, folder)]
    if not check_mode:
        for folder in created:
            _create_folder(state, folder)
    return {"changed": bool(created) or secured, "created": created, "secured": secured}


def write_file(state: HostState, path: str, data: bytes) -> None:
    """[System.IO.File]::Create and write: a new file, or an existing one replaced (whatever it was goes with it).

    An installer is recognised from its bytes (``packages.read_package``), as Windows Installer opens a package.
    """
    if not _ABSOLUTE_PATH.match(path) or not folder_exists(state, path.rsplit("\\", 1)[0]):
        raise OperationError(f"Could not find a part of the path '{path}'.")
    kind, info = read_package(data)
    state.files[path.lower()] = FileEntry(
        path=path,
        size=len(data),
        created=time.time(),
        product=info if kind == "package" else None,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def file_hashes(state: HostState, paths: list[str]) -> list[dict[str, Any]]:
    """Get-FileHash -Algorithm SHA256 of each path (``exists`` False for a missing file).

    Files the lab made up itself (the image's) have no bytes in the model: their hash is a stable value
    derived from path, size and creation time, which no real installer matches.
    """
    answers: list[dict[str, Any]] = []
    for path in paths:
        entry = state.files.get(path.lower())
        if entry is None:
            answers.append({"path": path, "exists": False, "size": None, "sha256": None})
            continue
        digest = entry.sha256 or hashlib.sha256(f"{entry.path}|{entry.size}|{entry.created}".encode()).hexdigest()
        answers.append({"path": path, "exists": True, "size": entry.size, "sha256": digest})
    return answers


# --- files and folders (Get-ChildItem, Remove-Item) ----------------------------------------
def folder_items(state: HostState, folder: str) -> list[dict[str, Any]]:
    """The children of a folder, each a file, a folder with the size of everything in it and when it last
    changed (a folder: its newest file), or a link (a junction: not followed, size 0), as ``Get-ChildItem -Force``
    and a recursive sum that skips reparse points would find them."""
    prefix = full_path(folder).lower() + "\\"
    items: dict[str, dict[str, Any]] = {}
    for lowered, entry in state.files.items():
        if not lowered.startswith(prefix):
            continue
        rest = entry.path[len(prefix) :]
        name, _sep, inner = rest.partition("\\")
        item = items.setdefault(
            name.lower(),
            {
                "name": name,
                "path": entry.path[: len(prefix)] + name,
                "kind": "folder" if inner else "file",
                "size": 0,
                "modified": entry.created,
            },
        )
        item["size"] += entry.size
        item["modified"] = max(item["modified"], entry.created)
    for lowered, link in state.links.items():
        if lowered.startswith(prefix) and "\\" not in lowered[len(prefix) :]:
            name = link["path"][len(prefix) :]
            items[name.lower()] = {
                "name": name,
                "path": link["path"],
                "kind": "link",
                "size": 0,
                "modified": link["created"],
            }
    return sorted(items.values(), key=lambda item: item["name"].lower())


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top + "\\")


def _remove_files(state: HostState, keys: list[str]) -> int:
    freed = 0
    for key in keys:
        freed += state.files.pop(key).size
    state.disk.free = min(state.disk.total, state.disk.free + freed)
    return freed


def delete_item(state: HostState, path: str) -> int:
    """``[IO.Directory]::Delete(path, $true)`` (or ``Remove-Item -Recurse``): a file, or a folder with everything
    in it; the bytes freed on the disk. A missing path is an error. The path is the one Windows opens
    (``paths.full_path``): ``C:\\Windows\\Temp\\ `` is the temp folder itself, everything in it.

    A link found inside is removed without being followed; but the recursive delete reopens each subfolder by
    its path, so when a folder in the tree belongs to a standard user who swaps it for a junction meanwhile
    (``junction_target``, the temp_junction scenario), the delete goes through the junction and the target's
    files go too.
    """
    lowered = full_path(path).lower()
    inside = [key for key in state.files if _under(key, lowered)]
    folders = [d for d in state.directories if _under(d, lowered)]
    links = [key for key in state.links if _under(key, lowered)]
    if not inside and not folders and not links:
        raise OperationError(f"Cannot find path '{path}' because it does not exist.")
    target = state.junction_target.lower()
    if target and any(_under(owned, lowered) and owned in state.directories for owned in state.owners):
        inside += [key for key in state.files if _under(key, target) and key not in inside]
    state.directories = [d for d in state.directories if d not in folders]
    for key in links:
        del state.links[key]
    return _remove_files(state, inside)


def delete_without_links(state: HostState, path: str) -> tuple[int, list[dict[str, str]]]:
    """The runtime's cleanup delete of one item (docs/runtime.md): walked item by item, never through a link (a
    link an administrator owns is removed itself); an item a standard user owns is kept with everything in it,
    so a swap for a junction meanwhile reaches nothing. The bytes freed, and what was kept and why."""
    top = full_path(path).lower()
    owned = sorted(key for key in state.owners if _under(key, top))
    user_links = sorted(key for key, link in state.links.items() if _under(key, top) and link.get("owner"))
    kept_roots: list[str] = []
    for key in sorted([*owned, *user_links]):
        if not any(_under(key, root) for root in kept_roots):
            kept_roots.append(key)
    kept = [
        {
            "path": state.links[key]["path"] if key in state.links else key,
            "error": f"owned by {state.links[key]['owner'] if key in state.links else state.owners[key]}, "
            "not an administrator: kept (its owner could swap it for a link)",
        }
        for key in kept_roots
    ]

    def keeps(key: str) -> bool:
        return any(_under(key, root) or _under(root, key) for root in kept_roots)

    freed = _remove_files(state, [key for key in state.files if _under(key, top) and not keeps(key)])
    state.directories = [d for d in state.directories if not _under(d, top) or keeps(d)]
    for key in [key for key in state.links if _under(key, top) and not keeps(key)]:
        del state.links[key]
    return freed, kept


def path_exists(state: HostState, path: str) -> bool:
    """Test-Path: a file, a folder or a link."""
    lowered = full_path(path).lower()
    return lowered in state.files or lowered in state.links or folder_exists(state, lowered)


def boot_time(state: HostState) -> float:
    return state.boot_time


def processes(state: HostState, names: list[str]) -> list[dict[str, Any]]:
    state.settle()
    running = []
    bootloader = state.service(k.BOOTLOADER_SERVICE)
    if bootloader is not None and bootloader.state == RUNNING:
        running.append("RDAgentBootLoader")
    agent = state.service(k.AGENT_SERVICE)
    if agent is not None and agent.state == RUNNING:
        running.append("RDAgent")
    if state.installer_busy or time.time() < state.installer_service_until:
        running.append("msiexec")  # an installation, or the Windows Installer service idling (msiexec /V)
    wanted = {name.lower().removesuffix(".exe") for name in names}
    # Stable made-up process ids, as Get-Process would show them.
    return [{"name": name, "id": 1000 + 4 * index} for index, name in enumerate(running) if name.lower() in wanted]


def probe_url(state: HostState, avd: AvdService, url: str, runs_as: str | None = None) -> dict[str, Any]:
    """An HTTP GET from the host without following redirects, as the WinRM user (``runs_as``), no proxy.

    Reachable per the host's network, answered by the AVD service; a 3xx comes back with its Location,
    4xx/5xx with the status and WebException's message.
    """
    if not re.match(r"^https?://", url, re.I):
        raise OperationError(f"The URI prefix is not recognized: {url}")
    answer: dict[str, Any] = {
        "url": url,
        "reachable": False,
        "status": None,
        "location": None,
        "body": None,
        "error": None,
        "runs_as": runs_as,
        "proxy": None,
    }
    if not state.can_reach(url):
        return {**answer, "error": "Unable to connect to the remote server"}
    status, text = avd.broker_health(url) if "rdbroker" in url.lower() else (200, "")
    error = None if status < 400 else f"The remote server returned an error: ({status})."
    return {**answer, "reachable": True, "status": status, "body": text[:512], "error": error}


def installer_mutex(state: HostState) -> dict[str, Any]:
    """Whether Windows Installer holds ``Global\\_MSIExecute``: an installation is running."""
    state.settle()
    return {"busy": state.installer_busy, "mutex": k.MSI_EXECUTE_MUTEX}


# --- Windows Installer ------------------------------------------------------------
def restart_manager_shuts_down(state: HostState, properties: dict[str, str]) -> bool:
    """Whether Windows Installer lets Restart Manager shut down what holds the files it replaces: yes in a silent
    installation unless MSIRESTARTMANAGERCONTROL is Disable/DisableShutdown or the DisableAutomaticApplicationShutdown
    policy is 1 or 2 (then files in use wait for a restart)."""
    control = next((str(v) for n, v in properties.items() if n.upper() == "MSIRESTARTMANAGERCONTROL"), "")
    if control.lower() in ("disable", "disableshutdown"):
        return False
    return (state.registry.get_data(k.INSTALLER_POLICY, "DisableAutomaticApplicationShutdown") or 0) not in (1, 2)


def _restart_stack_holders(state: HostState, now: float) -> None:
    """Restart Manager under a silent MSI that replaces the side-by-side stack's files: it shuts down Remote Desktop
    Services and its UserMode Port Redirector, which hold them, and restarts them at the end; the users'
    connections are cut and their sessions end."""
    held = [s for name in k.STACK_FILE_HOLDERS if (s := state.service(name)) is not None and s.state == RUNNING]
    if not held:
        return
    for service in held:
        state.log_event(
            k.SOURCE_SCM,
            k.EVENT_SERVICE_STATE,
            "Information",
            f"The {service.display_name} service entered the stopped state.",
            now,
            log="System",
        )
    state.sessions = []
    for service in held:
        state.log_event(
            k.SOURCE_SCM,
            k.EVENT_SERVICE_STATE,
            "Information",
            f"The {service.display_name} service entered the running state.",
            now,
            log="System",
        )


HIDDEN_VALUE = "**********"


def installer_logging_policy(state: HostState) -> tuple[str, int]:
    """The machine policies ``Logging`` (mode letters, e.g. ``voicewarmupx``) and ``Debug`` under
    ``HKLM\\Software\\Policies\\Microsoft\\Windows\\Installer``."""
    logging = state.registry.get_data(k.INSTALLER_POLICY, "Logging")
    debug = state.registry.get_data(k.INSTALLER_POLICY, "Debug")
    return (str(logging) if logging else ""), (int(debug) if isinstance(debug, int) else 0)


def _msi_line(text: str, now: float) -> str:
    """One line of the Windows Installer service, as its log writes it: ``MSI (s) (pid:tid) [hh:mm:ss:mmm]: ...``
    (tests/fixtures/realworld/installers/msi_log_lines.yml)."""
    stamp = time.strftime("%H:%M:%S", time.gmtime(now)) + f":{int(now * 1000) % 1000:03d}"
    return f"MSI (s) (7C:48) [{stamp}]: {text}"


def msi_outcome_lines(product: dict[str, str], code: int, removal: bool = False) -> list[str]:
    """The lines Windows Installer ends an installation's (or removal's) log with, worded as real logs have them
    (tests/fixtures/realworld/installers/msi_log_lines.yml): success (0, 3010), and an installation's fatal error
    1603. No published log shows the last lines of the other exit codes (or of a failed removal): none."""
    name, version = product.get("display_name"), product.get("display_version")
    ends = (k.MSI_SUCCESS, k.MSI_REBOOT_REQUIRED) if removal else (k.MSI_SUCCESS, k.MSI_REBOOT_REQUIRED, k.MSI_FATAL)
    if not name or not version or code not in ends:
        return []
    manufacturer = str(product.get("publisher") or "Microsoft Corporation")
    what = "Removal" if removal else "Installation"
    done = "removed" if removal else "installed"
    summary = (
        f"Windows Installer {done} the product. Product Name: {name}. Product Version: {version}. "
        f"Product Language: 1033. Manufacturer: {manufacturer}. {what} success or error status: {code}."
    )
    if code == k.MSI_FATAL:
        return ["Note: 1: 1708", f"Product: {name} -- {what} failed.", summary]
    return [f"Product: {name} -- {what} completed successfully.", summary]


def _policy_log_text(
    target: str, properties: dict[str, str], hidden: set[str], outcome: list[str], debug: int, modes: str, now: float
) -> str:
    """What the Windows Installer service writes under the Logging policy (docs/lab.md).

    ``v`` (verbose): the RunEngine's command line and each property the command line adds; ``p`` (terminal
    properties, also in ``*``): every property at the end. A property named in the package's own
    MsiHiddenProperties shows ``**********`` - except on the command line when Debug is 7, which Windows
    writes as given. ``outcome``: the lines the installation ends with (``msi_outcome_lines``).
    """
    stamp = time.strftime("%m/%d/%Y  %H:%M:%S", time.gmtime(now))
    verbose = "v" in modes
    lines = [
        f"=== {'Verbose logging' if verbose else 'Logging'} started: {stamp}  Build type: SHIP UNICODE 5.00.10011.00"
        "  Calling process: C:\\Windows\\system32\\msiexec.exe ===",
        _msi_line("Resetting cached policy values", now),
        _msi_line(f"Machine policy value 'Debug' is {debug}", now),
    ]
    command_line = " ".join(
        f'{name}="{value}"' if " " in value else f"{name}={value}" for name, value in properties.items()
    )
    if verbose or debug == 7:
        shown = command_line if debug == 7 or not (hidden & set(properties)) else HIDDEN_VALUE
        lines += [
            _msi_line("******* RunEngine:", now),
            f"           ******* Product: {target}",
            "           ******* Action: ",
            f"           ******* CommandLine: {shown}",
        ]
    if verbose:
        lines += [
            _msi_line(
                f"PROPERTY CHANGE: Adding {name} property. Its value is '{HIDDEN_VALUE if name in hidden else value}'.",
                now,
            )
            for name, value in properties.items()
        ]
    lines += [_msi_line(text, now) for text in outcome]
    if "p" in modes or "*" in modes:
        lines += [
            f"Property(S): {name} = {HIDDEN_VALUE if name in hidden else value}" for name, value in properties.items()
        ]
    lines.append(f"=== Logging stopped: {stamp} ===")
    return "\r\n".join(lines) + "\r\n"


def _write_policy_log(
    state: HostState, target: str, properties: dict[str, str], hidden: set[str], outcome: list[str]
) -> None:
    """An installation's log in C:\\Windows\\Temp (MSIxxxxx.LOG) when the Logging policy is set."""
    modes, debug = installer_logging_policy(state)
    if not modes:
        return
    now = time.time()
    text = _policy_log_text(target, properties, hidden, outcome, debug, modes.lower(), now)
    name = f"MSI{hashlib.sha256(f'{target}|{now}|{len(state.files)}'.encode()).hexdigest()[:5]}.LOG"
    path = f"{k.WINDOWS_TEMP}\\{name}"
    size = len(text.encode("utf-16-le"))
    state.files[path.lower()] = FileEntry(path=path, size=size, created=now, text=text)
    state.disk.free = max(0, state.disk.free - size)


def msiexec_install(state: HostState, avd: AvdService, package: str, properties: dict[str, str]) -> int:
    """``msiexec /i package PROP=value /quiet /norestart``: the exit code; with the Logging policy set, the
    installation's log in C:\\Windows\\Temp."""
    code = _msiexec_install(state, avd, package, properties)
    entry = state.files.get(package.lower())
    product = entry.product if entry is not None and entry.product else {}
    hidden = {name for name in str(product.get("hidden_properties") or "").split(";") if name}
    _write_policy_log(
        state,
        package,
        properties,
        hidden,
        msi_outcome_lines(product, code),
    )
    return code


def _msiexec_install(state: HostState, avd: AvdService, package: str, properties: dict[str, str]) -> int:
    state.settle()
    state.installer_service_until = time.time() + k.MSI_SERVICE_IDLE_SECONDS
    if state.installer_busy:
        return k.MSI_ANOTHER_INSTALL
    if msi_policy_blocks(state):
        return k.MSI_POLICY_BLOCKED
    entry = state.files.get(package.lower())
    if entry is None:
        return k.MSI_PACKAGE_OPEN_FAILED
    if entry.product is None or entry.product["kind"] == "dotnet48":
        return k.MSI_PACKAGE_INVALID  # there, but no Windows Installer package (or a damaged one)
    if state.disk.free < k.MSI_SPACE_NEEDED:
        state.log_event(
            k.SOURCE_MSI,
            11708,
            "Information",
            f"Product: {entry.product['display_name']} -- Installation failed. There is not enough space on the disk.",
        )
        return k.MSI_FATAL
    info = entry.product
    for program in state.programs_named(info["display_name"]):
        if program.display_version == info["display_version"]:
            return k.MSI_SUCCESS  # already installed: a repair, nothing changes
    now = time.time()
    touches_stack = info["kind"] == "sxs" or (info["kind"] == "agent" and not state.programs_named(k.SXS_PRODUCT))
    if touches_stack and restart_manager_shuts_down(state, properties):
        _restart_stack_holders(state, now)
    install_product(state, entry.path, info, now)
    state.log_event(
        k.SOURCE_MSI,
        11707,
        "Information",
        f"Product: {info['display_name']} -- Installation completed successfully.",
        now,
    )
    if info["kind"] == "agent":
        # The agent installer brings the side-by-side stack and the Geneva agent along.
        _install_bundled(state, "sxs", k.SXS_PRODUCT, now)
        _install_bundled(state, "geneva", k.GENEVA_PRODUCT, now)
        token = properties.get("REGISTRATIONTOKEN")
        if token is not None:
            # The agent installer writes the token for the agent to register with.
            state.registry.set(k.RDINFRA_AGENT, "RegistrationToken", "REG_SZ", token)
            state.registry.set(k.RDINFRA_AGENT, "IsRegistered", "REG_DWORD", 0)
    if info["kind"] == "sxs":
        return k.MSI_REBOOT_REQUIRED  # the new listener only starts after a restart
    return k.MSI_SUCCESS


def _install_bundled(state: HostState, kind: str, display_name: str, now: float) -> None:
    if state.programs_named(display_name):
        return
    packages = [f for f in state.files.values() if f.product is not None and f.product["kind"] == kind]
    if packages:
        newest = max(packages, key=lambda f: f.created)
        assert newest.product is not None
        install_product(state, newest.path, newest.product, now)


def msiexec_uninstall(state: HostState, product_code: str, properties: dict[str, str] | None = None) -> int:
    """``msiexec /x {ProductCode} /quiet /norestart``: the exit code (and the policy's log, as an install's)."""
    program = next((p for p in state.programs if p.product_code.lower() == product_code.lower()), None)
    product = (
        {
            "display_name": program.display_name,
            "display_version": program.display_version,
            "publisher": program.publisher,
        }
        if program
        else {}
    )
    code = _msiexec_uninstall(state, product_code, dict(properties or {}))
    _write_policy_log(
        state, product_code, dict(properties or {}), set(), msi_outcome_lines(product, code, removal=True)
    )
    return code


def _msiexec_uninstall(state: HostState, product_code: str, properties: dict[str, str]) -> int:
    state.settle()
    state.installer_service_until = time.time() + k.MSI_SERVICE_IDLE_SECONDS
    if state.installer_busy:
        return k.MSI_ANOTHER_INSTALL
    program = next((p for p in state.programs if p.product_code.lower() == product_code.lower()), None)
    if program is None:
        return k.MSI_UNKNOWN_PRODUCT
    if program.display_name.lower() == k.SXS_PRODUCT.lower() and restart_manager_shuts_down(state, properties or {}):
        _restart_stack_holders(state, time.time())
    uninstall_product(state, program)
    state.log_event(
        k.SOURCE_MSI, 11724, "Information", f"Product: {program.display_name} -- Removal completed successfully."
    )
    return k.MSI_SUCCESS


# --- the .NET Framework offline installer ------------------------------------------------
def dotnet_install(state: HostState, path: str, network_logon: bool = False) -> int:
    """``ndp48-x86-x64-allos-enu.exe /q /norestart``: its exit code.

    ``network_logon``: run in a WinRM (network) logon; on a host whose scenario lists ``dotnet`` in
    ``network_logon_denied`` the installer then fails with 5 (ERROR_ACCESS_DENIED), as the Windows Update
    Standalone Installer it goes through does from a remote session (KB2773898), installing nothing.

    The new Release value is written for the next start of Windows (the installation finishes at the restart
    it asks for with 3010), so the registry shows the old one until then.
    """
    entry = state.files.get(path.lower())
    if entry is None:
        raise OperationError("The system cannot find the file specified")
    if entry.product is None or entry.product["kind"] != "dotnet48":
        raise OperationError("The specified executable is not a valid application for this OS platform.")
    state.installer_service_until = time.time() + k.MSI_SERVICE_IDLE_SECONDS
    if state.installer_busy:
        return k.MSI_ANOTHER_INSTALL
    if network_logon and "dotnet" in state.network_logon_denied:
        return k.ERROR_ACCESS_DENIED
    if state.disk.free < k.DOTNET48_SPACE_NEEDED:
        return k.DOTNET_REQUIREMENTS_NOT_MET
    release = int(state.registry.get_data(k.NDP_V4_FULL, "Release") or 0)
    if release >= k.DOTNET48_MINIMUM_RELEASE or state.pending_dotnet_release:
        return k.MSI_SUCCESS  # 4.8 (or later) is there already, or waits for the restart: nothing to do
    build = str(state.registry.get_data(k.WINDOWS_NT, "CurrentBuild", "") or "")
    state.pending_dotnet_release = k.dotnet48_release(int(build) if build.isdigit() else 0)
    state.log_event(
        k.SOURCE_MSI,
        1022,
        "Information",
        f"Product: {k.DOTNET48_PRODUCT} -- Installation completed successfully. A restart is required.",
    )
    return k.DOTNET_REBOOT_REQUIRED
