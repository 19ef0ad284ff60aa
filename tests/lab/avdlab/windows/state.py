"""Everything the lab knows about one simulated session host, and how it is saved.

Plain data: the registry, services, installed programs, files, the
Application event log, user sessions, disk, network reachability, boot
time and what changes wait for the next boot. Behaviour lives in
``agent.py`` (the AVD agent), ``operations.py`` (what Windows does when
asked) and ``boot.py``; this module only holds and persists.
"""

from __future__ import annotations

import fnmatch
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .known import MSI_SERVICE_IDLE_SECONDS, SOURCE_MSI
from .registry import Registry

RUNNING = "Running"
STOPPED = "Stopped"
# The Service Control Manager's pending states: a service reports them while it starts or stops.
START_PENDING = "StartPending"
STOP_PENDING = "StopPending"
AUTOMATIC = "Automatic"
MANUAL = "Manual"
DISABLED = "Disabled"


@dataclass
class Service:
    name: str
    display_name: str
    state: str = STOPPED
    start_type: str = AUTOMATIC
    stop_at: float | None = None  # a running service that is about to stop by itself
    # A service in StartPending/StopPending reaches Running/Stopped then (None: it hangs until the host restarts).
    pending_until: float | None = None

    def settle(self, now: float) -> None:
        if self.state == RUNNING and self.stop_at is not None and now >= self.stop_at:
            self.state = STOPPED
            self.stop_at = None
        if self.state in (START_PENDING, STOP_PENDING) and self.pending_until is not None and now >= self.pending_until:
            self.state = RUNNING if self.state == START_PENDING else STOPPED
            self.pending_until = None

    def reset(self) -> None:
        """Stopped, as at a shutdown: nothing pending any more (a hung service ends with the host)."""
        self.state = STOPPED
        self.stop_at = None
        self.pending_until = None


@dataclass
class Program:
    """An Add/Remove Programs entry of a Windows Installer product."""

    product_code: str
    display_name: str
    display_version: str
    publisher: str = "Microsoft Corporation"
    install_date: str = ""
    package: str = ""  # the MSI it came from


@dataclass
class FileEntry:
    path: str
    size: int
    created: float
    product: dict[str, str] | None = None  # for an installer: display_name, display_version, product_code, kind
    # SHA-256 of the content, for files written over the connection (put_file); the lab keeps no other bytes.
    sha256: str | None = None
    text: str | None = None  # the content of a text file Windows writes (an installer's log)


@dataclass
class Event:
    record_id: int
    log: str
    source: str
    event_id: int
    level: str  # Error, Warning, Information
    time: float
    message: str


@dataclass
class UserSession:
    session_id: int
    user: str
    state: str  # Active or Disconnected
    logon_time: float
    messages: list[dict[str, Any]] = field(default_factory=list)  # what sendMessage showed the user


@dataclass
class Disk:
    drive: str = "C:"
    total: int = 128 * 1024**3
    free: int = 80 * 1024**3


@dataclass
class HostState:
    name: str
    vm_id: str
    registry: Registry
    services: dict[str, Service] = field(default_factory=dict)  # lower-case name -> service
    programs: list[Program] = field(default_factory=list)
    files: dict[str, FileEntry] = field(default_factory=dict)  # lower-case path -> file
    directories: list[str] = field(default_factory=list)  # folders created since the image (lower-case)
    events: list[Event] = field(default_factory=list)
    sessions: list[UserSession] = field(default_factory=list)
    disk: Disk = field(default_factory=Disk)
    blocked_hosts: list[str] = field(default_factory=list)  # fnmatch patterns this VM cannot reach
    installer_busy: bool = False  # another msiexec installation is running (holds Global\_MSIExecute)
    # When that installation finishes (None: it runs until the lab is told otherwise), and which product it is.
    installer_busy_until: float | None = None
    installer_busy_product: str = ""
    installation_seconds: float = 60.0  # how long another installation started on this host runs (the scenario's)
    # The Windows Installer service (msiexec.exe /V) runs on after an installation until it idles out.
    installer_service_until: float = 0.0
    language_mode: str = "FullLanguage"  # PowerShell's; ConstrainedLanguage under AppLocker/WDAC script policy
    boot_time: float = 0.0
    active_listeners: list[str] = field(default_factory=list)  # WinStations listening since boot
    shutdown_at: float | None = None
    locale: str = "en-US"
    faults: list[str] = field(default_factory=list)
    next_record_id: int = 1
    # What the agent reports to the service (not stored on the VM):
    update_state: str = "Succeeded"  # Initial, Pending, Started, Succeeded, Failed
    update_error: str = ""
    last_heartbeat: float = 0.0
    # Causes outside the VM's registry: the machine account's secure channel with the domain, an agent
    # that hangs without heartbeats (the boot loader still Running), the VM's power.
    domain_secure_channel: bool = True
    agent_silent: bool = False
    powered_off_at: float | None = None
    # The .NET Framework Release an installation wrote; it takes effect at the next restart.
    pending_dotnet_release: int | None = None
    # How long the agent takes from the boot loader starting with a key until it has registered (the scenario's
    # registration_seconds; 0: at once), and when a registration under way completes.
    registration_seconds: float = 0.0
    registration_due: float | None = None
    # Services that take this long to start or stop (the scenario's service_delays), and services that hang in
    # StopPending when asked to stop (service_hang); lower-case names.
    service_delays: dict[str, float] = field(default_factory=dict)
    service_hang: list[str] = field(default_factory=list)
    # Installers that fail in a network (WinRM) logon: "dotnet" (the scenario's network_logon_denied).
    network_logon_denied: list[str] = field(default_factory=list)
    # The client's connection is cut once when the runtime begins this operation (the scenario's connection_drop:
    # "operation" and, for service_control, the service's "name"); emptied once it happened.
    connection_drop: dict[str, str] = field(default_factory=dict)
    # Owners of files and folders that are not an administrator's (lower-case path -> account, e.g. a standard
    # user's DOMAIN\user); everything else belongs to Administrators, SYSTEM or TrustedInstaller.
    owners: dict[str, str] = field(default_factory=dict)
    # Folders whose permissions are admin-only (owner Administrators, SYSTEM and Administrators full control,
    # nothing inherited), as make_directory's secure_root sets them (lower-case paths).
    admin_only: list[str] = field(default_factory=list)
    # Directory junctions (reparse points): lower-case path -> {path, target, owner, created}. Deleting one removes
    # the link; following it reaches the target's files.
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The folder a standard user points a junction at when it swaps a folder it owns during a delete
    # (the temp_junction scenario key; empty: nobody does).
    junction_target: str = ""

    # --- small queries ------------------------------------------------------
    def service(self, name: str) -> Service | None:
        return self.services.get(name.lower())

    def settle(self, now: float | None = None) -> None:
        """Let time pass: services that were about to stop have stopped, an installation that was due to end has
        ended (Windows Installer releases its mutex, logs the product installed and idles on)."""
        moment = time.time() if now is None else now
        for service in self.services.values():
            service.settle(moment)
        until = self.installer_busy_until
        if self.installer_busy and until is not None and moment >= until:
            self.installer_busy = False
            self.installer_busy_until = None
            self.installer_service_until = until + MSI_SERVICE_IDLE_SECONDS
            product = self.installer_busy_product or "the other product"
            self.log_event(
                SOURCE_MSI, 11707, "Information", f"Product: {product} -- Installation completed successfully.", until
            )

    def programs_named(self, product: str) -> list[Program]:
        """A product's Add/Remove Programs entries: its name, or its name and version (the Geneva agent)."""
        wanted = product.lower()
        return [p for p in self.programs if p.display_name.lower() in (wanted, f"{wanted} {p.display_version}".lower())]

    def can_reach(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return not any(fnmatch.fnmatch(host, pattern.lower()) for pattern in self.blocked_hosts)

    def log_event(
        self, source: str, event_id: int, level: str, message: str, when: float | None = None, log: str = "Application"
    ) -> Event:
        event = Event(
            record_id=self.next_record_id,
            log=log,
            source=source,
            event_id=event_id,
            level=level,
            time=time.time() if when is None else when,
            message=message,
        )
        self.next_record_id += 1
        self.events.append(event)
        return event

    # --- persistence ----------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "registry"}
        plain: dict[str, Any] = json.loads(json.dumps(data, default=_plain))
        plain["registry"] = self.registry.to_json()
        return plain

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> HostState:
        return cls(
            name=raw["name"],
            vm_id=raw["vm_id"],
            registry=Registry.from_json(raw["registry"]),
            services={k: Service(**v) for k, v in raw["services"].items()},
            programs=[Program(**p) for p in raw["programs"]],
            files={k: FileEntry(**f) for k, f in raw["files"].items()},
            directories=list(raw.get("directories") or []),
            events=[Event(**e) for e in raw["events"]],
            sessions=[UserSession(**s) for s in raw["sessions"]],
            disk=Disk(**raw["disk"]),
            blocked_hosts=list(raw["blocked_hosts"]),
            installer_busy=raw["installer_busy"],
            installer_service_until=raw.get("installer_service_until", 0.0),
            installer_busy_until=raw.get("installer_busy_until"),
            installer_busy_product=raw.get("installer_busy_product", ""),
            installation_seconds=raw.get("installation_seconds", 60.0),
            language_mode=raw.get("language_mode", "FullLanguage"),
            boot_time=raw["boot_time"],
            active_listeners=list(raw["active_listeners"]),
            shutdown_at=raw["shutdown_at"],
            locale=raw["locale"],
            faults=list(raw["faults"]),
            next_record_id=raw["next_record_id"],
            update_state=raw["update_state"],
            update_error=raw["update_error"],
            last_heartbeat=raw["last_heartbeat"],
            domain_secure_channel=raw.get("domain_secure_channel", True),
            agent_silent=raw.get("agent_silent", False),
            powered_off_at=raw.get("powered_off_at"),
            pending_dotnet_release=raw.get("pending_dotnet_release"),
            registration_seconds=raw.get("registration_seconds", 0.0),
            registration_due=raw.get("registration_due"),
            service_delays=dict(raw.get("service_delays") or {}),
            service_hang=list(raw.get("service_hang") or []),
            network_logon_denied=list(raw.get("network_logon_denied") or []),
            connection_drop=dict(raw.get("connection_drop") or {}),
            owners=dict(raw.get("owners") or {}),
            admin_only=list(raw.get("admin_only") or []),
            links=dict(raw.get("links") or {}),
            junction_target=raw.get("junction_target", ""),
        )

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> HostState:
        return cls.from_json(json.loads(path.read_text()))


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"cannot save {type(value).__name__}")
