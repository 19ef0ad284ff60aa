"""The lab's world: its host pools, their AVD service, and every session host's state.

Built from a scenario (``avdlab up --scenario FILE`` or ``--hosts N``):
each host starts from a healthy image, gets its faults' causes, boots,
and the agent runs. Host states are saved under ``DIR/hosts/``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import faults as fault_catalog
from .avd import RESOURCE_GROUP, SUBSCRIPTION, AvdService, HostPool, SessionHostRecord, fqdn
from .windows import known as k
from .windows.agent import settle_registration
from .windows.boot import boot
from .windows.image import healthy_host, image_build_host
from .windows.paths import full_path
from .windows.state import FileEntry, HostState, UserSession

NETWORK_LOGON_INSTALLERS = ("dotnet",)  # installers the lab can make fail in a WinRM logon
RUNTIME_OPERATION = re.compile(r"^[a-z_]{1,40}$")  # a runtime operation's name (service_control, cleanup_delete)
SERVICE_NAME = re.compile(r"^[A-Za-z0-9_.$-]{1,256}$")  # a service's short name (not its display name)
HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")  # a NetBIOS computer name
LOCALES = ("en-US", "de-DE", "ja-JP", "zh-CN", "ru-RU")
MSI_LOGGING_MODES = re.compile(r"^[voicewarmupx+!*]*$", re.I)  # msiexec /L's letters, as the Logging policy takes them
KINDS = ("session_host", "image")  # image: a VM that builds a golden image, in no host pool and not registered


class ScenarioError(ValueError):
    """The scenario file is not valid; the message names what is wrong."""


@dataclass
class HostSpec:
    name: str
    faults: list[str] = field(default_factory=list)
    sessions: int = 0
    locale: str = "en-US"
    kind: str = "session_host"
    pool: str = ""  # the host pool it is registered with (the scenario's first when empty)
    installation_seconds: float = 60.0  # how long another installation (the installer_busy fault) runs
    # Windows Installer machine policies (HKLM\SOFTWARE\Policies\Microsoft\Windows\Installer): Logging's mode
    # letters (e.g. voicewarmupx; empty: not set) and Debug (0: not set; 7 logs the command line as given).
    msi_logging_policy: str = ""
    msi_debug_policy: int = 0
    user_owned_cache: bool = False  # C:\ProgramData\avdops created beforehand by a standard user, who owns it
    # A folder (e.g. C:\Windows\System32\config): a standard user's week-old junction to it in C:\Windows\Temp, and
    # the user's own week-old folder there, which it may swap for a junction to it during a delete.
    temp_junction: str = ""
    registration_seconds: float = 0.0  # how long the agent takes to register (0: at once)
    service_delays: dict[str, float] = field(default_factory=dict)  # service -> seconds in StartPending/StopPending
    service_hang: list[str] = field(default_factory=list)  # services that hang in StopPending until a restart
    network_logon_denied: list[str] = field(default_factory=list)  # installers refused in a WinRM logon: dotnet
    # The client's connection to the host is cut once, when the runtime begins this operation ({"operation": OP}
    # and, for service_control, the service's "name"): the network between controller and host fails mid-command.
    connection_drop: dict[str, str] = field(default_factory=dict)


@dataclass
class PoolSpec:
    name: str = "hp-lab"
    max_session_limit: int = 4
    resource_group: str = RESOURCE_GROUP  # where the host pool resource is: a pool of another team, region...
    subscription: str = SUBSCRIPTION


@dataclass
class Scenario:
    host_pool: str = "hp-lab"  # the first host pool (the default one)
    max_session_limit: int = 4
    hosts: list[HostSpec] = field(default_factory=list)
    host_pools: list[PoolSpec] = field(default_factory=list)  # every host pool; empty: just host_pool

    @property
    def pools(self) -> list[PoolSpec]:
        return self.host_pools or [PoolSpec(self.host_pool, self.max_session_limit)]

    def pool_of(self, spec: HostSpec) -> PoolSpec:
        return next((p for p in self.pools if p.name.lower() == spec.pool.lower()), self.pools[0])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Scenario:
        return cls(
            host_pool=raw["host_pool"],
            max_session_limit=raw["max_session_limit"],
            hosts=[HostSpec(**h) for h in raw["hosts"]],
            host_pools=[PoolSpec(**p) for p in raw.get("host_pools") or []],
        )


def default_scenario(count: int, names: list[str]) -> Scenario:
    return Scenario(hosts=[HostSpec(name=name) for name in names[:count]])


def parse_scenario(text: str, source: str = "scenario") -> Scenario:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{source}: expected a mapping with host_pool (or host_pools) and hosts")
    unknown = set(raw) - {"host_pool", "host_pools", "hosts"}
    if unknown:
        raise ScenarioError(f"{source}: unknown top-level keys: {', '.join(sorted(unknown))}")
    if "host_pool" in raw and "host_pools" in raw:
        raise ScenarioError(f"{source}: give either host_pool or host_pools, not both")
    several = "host_pools" in raw
    if several and (not isinstance(raw["host_pools"], list) or not raw["host_pools"]):
        raise ScenarioError(f"{source}: host_pools must be a non-empty list of host pools (name, max_session_limit)")
    pools = [
        _parse_pool(entry, f"{source}: host_pools[{index}]" if several else f"{source}: host_pool")
        for index, entry in enumerate(raw["host_pools"] if several else [raw.get("host_pool") or {}], 1)
    ]
    names = [p.name.lower() for p in pools]
    if len(set(names)) != len(names):
        raise ScenarioError(f"{source}: host_pools lists a host pool name twice")
    hosts_raw = raw.get("hosts")
    if not isinstance(hosts_raw, list) or not hosts_raw:
        raise ScenarioError(f"{source}: hosts must be a non-empty list")
    hosts: list[HostSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(hosts_raw, 1):
        where = f"{source}: hosts[{index}]"
        if not isinstance(entry, dict) or "name" not in entry:
            raise ScenarioError(f"{where}: each host needs a name")
        extra = set(entry) - {
            "name",
            "faults",
            "sessions",
            "locale",
            "kind",
            "pool",
            "installation_seconds",
            "msi_logging_policy",
            "msi_debug_policy",
            "user_owned_cache",
            "temp_junction",
            "registration_seconds",
            "service_delays",
            "service_hang",
            "network_logon_denied",
            "connection_drop",
        }
        if extra:
            raise ScenarioError(f"{where}: unknown keys: {', '.join(sorted(extra))}")
        name = str(entry["name"])
        if not HOST_NAME.match(name):
            raise ScenarioError(f"{where}: {name!r} is not a valid computer name (1-15 letters, digits, hyphens)")
        if name.lower() in seen:
            raise ScenarioError(f"{where}: host {name!r} is listed twice")
        seen.add(name.lower())
        faults = entry.get("faults") or []
        if not isinstance(faults, list):
            raise ScenarioError(f"{where}: faults must be a list")
        for fault in faults:
            if fault not in fault_catalog.CATALOG:
                raise ScenarioError(f"{where}: unknown fault {fault!r} (see avdlab faults)")
        pool_name = str(entry.get("pool") or pools[0].name)
        pool = next((p for p in pools if p.name.lower() == pool_name.lower()), None)
        if pool is None:
            raise ScenarioError(
                f"{where}: pool {pool_name!r} is not one of the scenario's host pools ({', '.join(p.name for p in pools)})"
            )
        limit = pool.max_session_limit
        sessions = entry.get("sessions", 0)
        if not isinstance(sessions, int) or isinstance(sessions, bool) or not 0 <= sessions <= limit:
            raise ScenarioError(f"{where}: sessions must be a whole number from 0 to the max session limit ({limit})")
        locale = entry.get("locale", "en-US")
        if locale not in LOCALES:
            raise ScenarioError(f"{where}: locale must be one of {', '.join(LOCALES)}")
        installation = entry.get("installation_seconds", 60)
        if isinstance(installation, bool) or not isinstance(installation, int | float) or not 0 < installation <= 86400:
            raise ScenarioError(f"{where}: installation_seconds must be a number of seconds from 1 to 86400")
        logging = entry.get("msi_logging_policy", "")
        if not isinstance(logging, str) or not MSI_LOGGING_MODES.match(logging):
            raise ScenarioError(
                f"{where}: msi_logging_policy must be Windows Installer logging modes (e.g. voicewarmupx)"
            )
        debug = entry.get("msi_debug_policy", 0)
        if isinstance(debug, bool) or not isinstance(debug, int) or not 0 <= debug <= 7:
            raise ScenarioError(f"{where}: msi_debug_policy must be a whole number from 0 to 7")
        user_owned_cache = entry.get("user_owned_cache", False)
        if not isinstance(user_owned_cache, bool):
            raise ScenarioError(f"{where}: user_owned_cache must be true or false")
        junction = entry.get("temp_junction", "")
        if not isinstance(junction, str) or (junction and not re.match(r"^[A-Za-z]:\\[^*?\"<>|]+$", junction)):
            raise ScenarioError(f"{where}: temp_junction must be a folder path like C:\\Windows\\System32\\config")
        if junction and full_path(junction).lower().startswith(k.WINDOWS_TEMP.lower()):
            raise ScenarioError(f"{where}: temp_junction must be a folder outside {k.WINDOWS_TEMP}")
        registration = entry.get("registration_seconds", 0)
        if isinstance(registration, bool) or not isinstance(registration, int | float) or not 0 <= registration <= 3600:
            raise ScenarioError(f"{where}: registration_seconds must be a number of seconds from 0 to 3600")
        delays = entry.get("service_delays") or {}
        if not isinstance(delays, dict) or not all(
            isinstance(service, str)
            and SERVICE_NAME.match(service)
            and not isinstance(seconds, bool)
            and isinstance(seconds, int | float)
            and 0 < seconds <= 600
            for service, seconds in delays.items()
        ):
            raise ScenarioError(f"{where}: service_delays must map service names to seconds from 1 to 600")
        hang = entry.get("service_hang") or []
        if not isinstance(hang, list) or not all(
            isinstance(service, str) and SERVICE_NAME.match(service) for service in hang
        ):
            raise ScenarioError(f"{where}: service_hang must be a list of service names")
        denied = entry.get("network_logon_denied") or []
        if not isinstance(denied, list) or not set(denied) <= set(NETWORK_LOGON_INSTALLERS):
            raise ScenarioError(
                f"{where}: network_logon_denied must be a list of installers from {', '.join(NETWORK_LOGON_INSTALLERS)}"
            )
        drop = entry.get("connection_drop") or {}
        if drop and (
            not isinstance(drop, dict)
            or not set(drop) <= {"operation", "name"}
            or not isinstance(drop.get("operation"), str)
            or not RUNTIME_OPERATION.match(drop["operation"])
            or not isinstance(drop.get("name", ""), str)
        ):
            raise ScenarioError(
                f"{where}: connection_drop must be {{operation: OPERATION}} (a runtime operation such as cleanup_delete) "
                "with, for service_control, the service's name"
            )
        kind = entry.get("kind", "session_host")
        if kind not in KINDS:
            raise ScenarioError(f"{where}: kind must be one of {', '.join(KINDS)}")
        if kind == "image" and sessions:
            raise ScenarioError(f"{where}: an image host has no user sessions")
        if kind == "image" and "pool" in entry:
            raise ScenarioError(f"{where}: an image host is in no host pool")
        hosts.append(
            HostSpec(
                name=name,
                faults=list(faults),
                sessions=sessions,
                locale=locale,
                kind=kind,
                pool=pool.name if kind == "session_host" else "",
                installation_seconds=float(installation),
                msi_logging_policy=logging,
                msi_debug_policy=debug,
                user_owned_cache=user_owned_cache,
                temp_junction=full_path(junction) if junction else "",
                registration_seconds=float(registration),
                service_delays={service: float(seconds) for service, seconds in delays.items()},
                service_hang=list(hang),
                network_logon_denied=list(denied),
                connection_drop={key: str(value) for key, value in drop.items()},
            )
        )
    return Scenario(
        host_pool=pools[0].name,
        max_session_limit=pools[0].max_session_limit,
        hosts=hosts,
        host_pools=pools if several else [],
    )


def _parse_pool(pool: Any, where: str) -> PoolSpec:
    if not isinstance(pool, dict) or set(pool) - {"name", "max_session_limit", "resource_group", "subscription"}:
        raise ScenarioError(f"{where}: a host pool takes name, max_session_limit, resource_group and subscription")
    group = str(pool.get("resource_group", RESOURCE_GROUP))
    # ARM: 1 to 90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period
    if not re.match(r"^[-\w._()]{1,90}$", group) or group.endswith("."):
        raise ScenarioError(f"{where}.resource_group {group!r} is not a valid resource group name")
    subscription = str(pool.get("subscription", SUBSCRIPTION)).lower()
    if not re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", subscription):
        raise ScenarioError(f"{where}.subscription {subscription!r} is not a subscription id (a GUID)")
    limit = pool.get("max_session_limit", 4)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 999999:
        raise ScenarioError(f"{where}.max_session_limit must be a whole number from 1 to 999999")
    name = str(pool.get("name", "hp-lab"))
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$", name):
        raise ScenarioError(f"{where}.name {name!r} is not a valid host pool name")
    return PoolSpec(name=name, max_session_limit=limit, resource_group=group, subscription=subscription)


def set_installer_policies(state: HostState, spec: HostSpec) -> None:
    """The scenario's Windows Installer Logging and Debug machine policies, as Group Policy writes them."""
    if spec.msi_logging_policy:
        state.registry.set(k.INSTALLER_POLICY, "Logging", "REG_SZ", spec.msi_logging_policy)
    if spec.msi_debug_policy:
        state.registry.set(k.INSTALLER_POLICY, "Debug", "REG_DWORD", spec.msi_debug_policy)


def user_owned_cache(state: HostState) -> None:
    """``C:\\ProgramData\\avdops`` made by a standard user before the collection's first run: ProgramData lets
    users create folders, and the creator owns what it creates (CREATOR OWNER)."""
    folder = r"c:\programdata\avdops"
    if folder not in state.directories:
        state.directories.append(folder)
    state.owners[folder] = f"{state.name.upper()}\\{k.STANDARD_USER}"


TEMP_LINK = "UserLink"  # the standard user's junction in C:\Windows\Temp
TEMP_USER_FOLDER = "UserScratch"  # the standard user's own folder there, which it may swap for a junction


def temp_junction(state: HostState, target: str, now: float) -> None:
    """A standard user's week-old junction in ``C:\\Windows\\Temp`` to ``target`` (which holds files), and the
    user's own week-old folder there: Users may create folders in Windows' temp folder and own what they create
    (a junction needs no privilege: ``mklink /J``)."""
    user = f"{state.name.upper()}\\{k.STANDARD_USER}"
    week_ago = now - 8 * 86400
    if not any(path.startswith(target.lower() + "\\") for path in state.files):
        for index in range(1, 4):
            path = f"{target}\\data-{index}.bin"
            state.files[path.lower()] = FileEntry(path=path, size=1024**2, created=now - 30 * 86400)
    link = f"{k.WINDOWS_TEMP}\\{TEMP_LINK}"
    state.links[link.lower()] = {"path": link, "target": target, "owner": user, "created": week_ago}
    state.owners[link.lower()] = user
    folder = f"{k.WINDOWS_TEMP}\\{TEMP_USER_FOLDER}"
    scratch = f"{folder}\\cache\\blob.bin"
    state.files[scratch.lower()] = FileEntry(path=scratch, size=4 * 1024**2, created=week_ago - 86400)
    for owned in (folder, f"{folder}\\cache"):
        state.directories.append(owned.lower())
        state.owners[owned.lower()] = user
    state.owners[scratch.lower()] = user
    state.junction_target = target


class LabModel:
    def __init__(self, scenario: Scenario, state_dir: Path | None = None, now: float | None = None) -> None:
        start = time.time() if now is None else now
        self.scenario = scenario
        self.state_dir = state_dir
        self.pools = [
            HostPool(
                name=p.name,
                max_session_limit=p.max_session_limit,
                resource_group=p.resource_group,
                subscription=p.subscription,
            )
            for p in scenario.pools
        ]
        self.pool = self.pools[0]  # the default host pool
        self.avd = AvdService(self.pools)
        self.hosts: dict[str, HostState] = {}
        for spec in scenario.hosts:
            if spec.kind == "image":
                state = image_build_host(spec.name, image_time=start - 86400)
                state.locale = spec.locale
                self.hosts[spec.name.lower()] = state
                continue
            pool = self.avd.find_pool(scenario.pool_of(spec).name) or self.pool
            state = healthy_host(spec.name, pool.arm_id, image_time=start - 7 * 86400)
            state.locale = spec.locale
            state.installation_seconds = spec.installation_seconds
            state.registration_seconds = spec.registration_seconds
            state.service_delays = {service.lower(): seconds for service, seconds in spec.service_delays.items()}
            state.service_hang = [service.lower() for service in spec.service_hang]
            state.network_logon_denied = list(spec.network_logon_denied)
            state.connection_drop = dict(spec.connection_drop)
            pool.records[fqdn(spec.name).lower()] = SessionHostRecord(
                name=fqdn(spec.name),
                vm_id=state.vm_id,
                resource_id=str(state.registry.get_data(k.RDINFRA_AGENT, "AzureResourceId")),
                registered_at=start - 7 * 86400,
            )
            self.hosts[spec.name.lower()] = state
        for spec in scenario.hosts:
            state = self.hosts[spec.name.lower()]
            set_installer_policies(state, spec)
            if spec.user_owned_cache:
                user_owned_cache(state)
            if spec.temp_junction:
                temp_junction(state, spec.temp_junction, start)
            for name in spec.faults:
                fault = fault_catalog.get(name)
                if fault.before_boot:
                    fault.before_boot(state, self.avd)
            boot(state, self.avd, start)
            for index in range(spec.sessions):
                state.sessions.append(
                    UserSession(session_id=index + 2, user=f"user{index + 1:02d}", state="Active", logon_time=start)
                )
            for name in spec.faults:
                fault = fault_catalog.get(name)
                if fault.after_boot:
                    fault.after_boot(state, self.avd)
                state.faults.append(name)
            self.save(state)

    def host(self, name: str) -> HostState:
        state = self.hosts.get(name.lower())
        if state is None:
            raise KeyError(f"no lab host named {name!r}")
        return state

    def save(self, state: HostState) -> None:
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            state.save(self.state_dir / f"{state.name}.json")

    def inject(self, name: str, fault_name: str) -> HostState:
        """Put a running host into a fault: its causes, then a restart so the symptoms follow."""
        state = self.host(name)
        if state.powered_off_at is not None:
            raise KeyError(f"{state.name} is powered off; start it first (avdlab power {state.name} on)")
        fault = fault_catalog.get(fault_name)
        if fault.before_boot:
            fault.before_boot(state, self.avd)
        self.reboot(state)
        if fault.after_boot:
            fault.after_boot(state, self.avd)
        state.faults.append(fault_name)
        self.save(state)
        return state

    def power(self, name: str, on: bool, now: float | None = None) -> HostState:
        """The VM stops (its services with it, users cut off) or starts and boots, as Azure's start/stop does."""
        state = self.host(name)
        moment = time.time() if now is None else now
        if on and state.powered_off_at is not None:
            state.powered_off_at = None
            self.reboot(state, moment)
        elif not on and state.powered_off_at is None:
            state.settle(moment)
            state.powered_off_at = moment
            state.shutdown_at = None
            state.sessions = []
            for service in state.services.values():
                service.reset()
            self.save(state)
        return state

    def reboot(self, state: HostState, now: float | None = None) -> None:
        boot(state, self.avd, time.time() if now is None else now)
        self.save(state)

    def show(self, name: str) -> dict[str, Any]:
        """The host's state as JSON, with the registration token redacted."""
        state = self.host(name)
        settle_registration(state, self.avd)
        state.settle()
        data = state.to_json()
        for value in data["registry"].get(k.RDINFRA_AGENT, []):
            if value["name"].lower() == "registrationtoken" and value["data"]:
                value["data"] = f"<redacted: {len(value['data'])} characters>"
        pool = self.avd.pool_for(state)
        record = pool.records.get(fqdn(state.name).lower())
        data["pool"] = pool.name if record else None
        data["pool_view"] = self.avd.session_host_view(record, state, time.time()) if record else None
        plain: dict[str, Any] = json.loads(json.dumps(data))
        return plain
