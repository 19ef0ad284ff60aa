"""session_host_facts: what to ask a session host (one runtime call) and how to read the answers.

``plan`` lists the operations for the requested subsets; ``assemble`` turns
their results into the ``avd_session_host`` facts. Both are pure: the action
plugin runs the one call between them.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from . import _known as k
from . import _parsers as p
from ._runtime import Operation, OperationResult

SUBSETS = (
    "agent",
    "services",
    "stack",
    "components",
    "os",
    "dotnet",
    "disk",
    "events",
    "policies",
    "network",
    "sessions",
    "installer",
    "reboot",
)
FACTS_SCHEMA_VERSION = 1

ARGUMENT_SPEC: dict[str, Any] = {
    "gather_subset": {"type": "list", "elements": "str", "default": ["all"]},
    "events_max_age": {"type": "int", "default": 120},
    "events_max_count": {"type": "int", "default": 50},
    "probe_timeout": {"type": "int", "default": 10},
    "probe_urls": {"type": "list", "elements": "str", "default": []},
}


class SubsetError(ValueError):
    pass


def resolve_subsets(requested: Iterable[str]) -> frozenset[str]:
    """``all``, names, and ``!name`` exclusions, as Ansible's gather_subset does."""
    chosen: set[str] = set()
    excluded: set[str] = set()
    for raw in requested:
        name = raw.strip().lower()
        negate = name.startswith("!")
        name = name.lstrip("!")
        if name == "all":
            (excluded if negate else chosen).update(SUBSETS)
        elif name in SUBSETS:
            (excluded if negate else chosen).add(name)
        else:
            raise SubsetError(f"gather_subset: unknown subset {raw!r}; choose from all, {', '.join(SUBSETS)}")
    if not chosen and excluded:
        chosen = set(SUBSETS)
    return frozenset(chosen - excluded)


def _reg(op_id: str, path: str, names: list[str] | None = None, subkey_pattern: str | None = None) -> Operation:
    args: dict[str, Any] = {"path": path}
    if names is not None:
        args["names"] = names
    if subkey_pattern:
        args["subkey_pattern"] = subkey_pattern
    return Operation(op_id, "registry_read", args)


def plan(subsets: frozenset[str], options: Mapping[str, Any]) -> list[Operation]:
    """The operations for these subsets, each once, in a stable order."""
    ops: dict[str, Operation] = {}

    def add(*items: Operation) -> None:
        for item in items:
            ops.setdefault(item.id, item)

    add(Operation("boot_time", "boot_time"))
    if "agent" in subsets:
        add(
            _reg("agent.rdinfra", k.RDINFRA_AGENT),
            _reg("agent.sxs", k.SXS_STACK),
            _reg("agent.health", k.HEALTH_CHECK_REPORT, ["AgentHealthCheckReport"]),
            _reg("agent.bootloader", k.BOOTLOADER),
            _reg("agent.monitoring", k.MONITORING_AGENT, ["CurrentVersion"]),
        )
    if "services" in subsets:
        add(*(Operation(f"services.{name}", "service_query", {"name": name}) for name in k.SERVICES))
    if "stack" in subsets or "sessions" in subsets:
        add(Operation("stack.qwinsta", "qwinsta"))
    if "stack" in subsets:
        add(
            _reg("stack.winstations", k.WINSTATIONS, ["ReverseConnectionListener"], subkey_pattern="rdp-sxs*"),
            _reg("stack.cluster", k.CLUSTER_SETTINGS, ["SessionDirectoryListener"]),
        )
    if "components" in subsets or "agent" in subsets:
        add(Operation("components.programs", "programs", {"name_pattern": "Remote Desktop*"}))
    if "components" in subsets:
        add(Operation("components.sxs_msi", "files", {"folder": k.RDINFRA_DIR, "pattern": k.SXS_MSI_PATTERN}))
    if "os" in subsets or "stack" in subsets:
        add(
            _reg(
                "os.version",
                k.WINDOWS_NT,
                ["EditionID", "ProductName", "CurrentBuild", "DisplayVersion", "InstallationType"],
            )
        )
    if "dotnet" in subsets:
        add(_reg("dotnet.ndp", k.NDP_V4_FULL, ["Release", "Version"]))
    if "disk" in subsets:
        add(Operation("disk.system", "disk", {"drive": "C:"}))
    if "events" in subsets:
        add(
            Operation(
                "events.application",
                "events",
                {
                    "log": "Application",
                    "sources": list(k.EVENT_SOURCES),
                    "ids": list(k.EVENT_IDS),
                    "max_age_seconds": int(options["events_max_age"]) * 3600,
                    "max_count": int(options["events_max_count"]),
                },
            )
        )
    if "policies" in subsets:
        add(
            _reg("policies.installer", k.INSTALLER_POLICY, ["DisableMSI"]),
            _reg("policies.system", k.MACHINE_SYSTEM_POLICY, ["DisableCMD"]),
            Operation(
                "policies.user_hives",
                "registry_read_user_hives",
                {"subpath": k.SYSTEM_POLICY_SUBPATH, "names": ["DisableCMD"]},
            ),
        )
    if "network" in subsets:
        timeout = int(options["probe_timeout"])
        for op_id, name in (("network.broker", "BrokerURI"), ("network.broker_global", "BrokerURIGlobal")):
            add(
                Operation(
                    op_id,
                    "probe_url",
                    {
                        "registry_path": k.RDINFRA_AGENT,
                        "registry_name": name,
                        "suffix": k.BROKER_HEALTH_SUFFIX,
                        "timeout_seconds": timeout,
                    },
                )
            )
        for index, url in enumerate(options.get("probe_urls") or []):
            add(Operation(f"network.probe.{index}", "probe_url", {"url": url, "timeout_seconds": timeout}))
    if "installer" in subsets:
        add(
            Operation("installer.mutex", "installer_busy"),
            Operation("installer.processes", "processes", {"names": ["msiexec"]}),
        )
    if "reboot" in subsets:
        add(
            _reg("reboot.cbs", k.CBS_REBOOT_PENDING, []),
            _reg("reboot.windows_update", k.WU_REBOOT_REQUIRED, []),
            _reg("reboot.session_manager", k.SESSION_MANAGER, ["PendingFileRenameOperations"]),
        )
    return list(ops.values())


# --- assembling ---------------------------------------------------------------------
class _Answers:
    """Results by operation id; failed operations are collected as errors, not raised."""

    def __init__(self, results: Mapping[str, OperationResult]) -> None:
        self.results = results
        self.errors: list[dict[str, str]] = []

    def get(self, op_id: str) -> Any:
        result = self.results.get(op_id)
        if result is None:
            return None
        if not result.ok:
            self.errors.append({"operation": op_id, "message": result.error or "failed"})
            return None
        return result.result


def _iso_now(now: datetime.datetime) -> str:
    return now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _agent(answers: _Answers, programs: list[dict[str, Any]]) -> dict[str, Any]:
    rdinfra = p.values_by_name(answers.get("agent.rdinfra"))
    bootloader = p.values_by_name(answers.get("agent.bootloader"))
    sxs = p.values_by_name(answers.get("agent.sxs"))
    health = p.values_by_name(answers.get("agent.health"))
    monitoring = p.values_by_name(answers.get("agent.monitoring"))
    token = rdinfra.get("registrationtoken")
    default_agent = p.registry_str(bootloader.get("defaultagent"))
    try:
        checks = p.parse_health_report(p.registry_str(health.get("agenthealthcheckreport")))
        report_error = None
    except p.ParseError as exc:
        checks, report_error = [], str(exc)
    return {
        "installed": any(p.program_is(prog.get("display_name"), k.PROGRAM_AGENT) for prog in programs),
        "bootloader_installed": any(p.program_is(prog.get("display_name"), k.PROGRAM_BOOTLOADER) for prog in programs),
        "version": default_agent.removeprefix("RDAgent_") if default_agent else None,
        "default_agent": default_agent,
        "previous_agent": p.registry_str(bootloader.get("previousagent")),
        "bootloader_version": p.registry_str(bootloader.get("currentbootloaderversion")),
        "sxs_stack_version": p.sxs_version_from_msi(p.sxs_stack_msi(sxs, "CurrentVersion")),
        "sxs_stack_previous_version": p.sxs_version_from_msi(p.sxs_stack_msi(sxs, "PreviousVersion")),
        "geneva_version": p.registry_str(monitoring.get("currentversion")),
        "registry_present": bool(rdinfra),
        "is_registered": p.registry_int(rdinfra.get("isregistered")),
        "is_registered_type": (rdinfra.get("isregistered") or {}).get("type"),
        "registration_token_set": bool(token and token.get("set")),
        "registration_token_length": int(token.get("length") or 0) if token else 0,
        "broker_uri": p.registry_str(rdinfra.get("brokeruri")),
        "broker_uri_global": p.registry_str(rdinfra.get("brokeruriglobal")),
        "host_pool_arm_path": p.registry_str(rdinfra.get("hostpoolarmpath")),
        "vm_id": p.registry_str(rdinfra.get("azurevmid")),
        "guid": p.registry_str(rdinfra.get("guid")),
        "health_checks": checks,
        "health_report_error": report_error,
        "health_last_checked": max((c["last_checked"] for c in checks if c["last_checked"]), default=None),
    }


def _services(answers: _Answers) -> dict[str, Any]:
    services = {}
    for name in k.SERVICES:
        entry = answers.get(f"services.{name}")
        services[name] = (
            {
                "exists": bool(entry.get("exists")),
                "state": entry.get("state"),
                "start_type": entry.get("start_type"),
                "display_name": entry.get("display_name"),
            }
            if entry
            else None
        )
    return services


def _qwinsta(answers: _Answers) -> dict[str, Any] | None:
    answer = answers.get("stack.qwinsta")
    if answer is None:
        return None
    text = str(answer.get("text") or "")
    stderr = " ".join(str(answer.get("stderr") or "").split())
    failed = f"qwinsta exited with {answer.get('exit_code')}" + (f": {stderr}" if stderr else "")
    exited_badly = answer.get("exit_code") not in (0, None) or bool(stderr)
    try:
        rows = p.parse_qwinsta(text)
        lines = [line for line in text.splitlines() if line.strip()]
        language = p.qwinsta_language(lines[0])
    except p.ParseError as exc:
        message = f"{exc} ({failed})" if exited_badly else str(exc)
        answers.errors.append({"operation": "stack.qwinsta", "message": message})
        return {"raw": text, "rows": [], "language": None, **p.listener_summary([])}
    if exited_badly:  # one error per operation: the rows were read, the exit still says something went wrong
        answers.errors.append({"operation": "stack.qwinsta", "message": failed})
    return {"raw": text, "rows": [r.as_dict() for r in rows], "language": language, **p.listener_summary(rows)}


def _stack(answers: _Answers, qwinsta: dict[str, Any] | None, os_facts: dict[str, Any] | None) -> dict[str, Any]:
    winstations_read = answers.get("stack.winstations") or {}
    cluster = p.values_by_name(answers.get("stack.cluster"))
    listener = p.registry_str(p.values_by_name(winstations_read).get("reverseconnectionlistener"))
    winstations = []
    for name, values in (winstations_read.get("subkey_values") or {}).items():
        by_name = {entry["name"].lower(): entry for entry in values}
        winstations.append(
            {
                "name": name,
                "fReverseConnectMode": p.registry_int(by_name.get("freverseconnectmode")),
                "fEnableWinStation": p.registry_int(by_name.get("fenablewinstation")),
                "active": bool(listener) and name.lower() == (listener or "").lower(),
            }
        )
    session_directory = p.registry_str(cluster.get("sessiondirectorylistener"))
    return {
        "qwinsta": qwinsta,
        "winstations": winstations,
        "winstations_key_present": bool(winstations_read.get("exists")),
        "reverse_connection_listener": listener,
        "reverse_connection_listener_present": any(w["active"] for w in winstations),
        "session_directory_listener": session_directory,
        "session_directory_matches": bool(
            listener and session_directory and listener.lower() == session_directory.lower()
        ),
        "edition_supports_sxs": bool((os_facts or {}).get("supports_sxs_stack")),
    }


def _components(answers: _Answers, programs: list[dict[str, Any]]) -> dict[str, Any]:
    msi_files = answers.get("components.sxs_msi") or []
    instances = {
        name: [prog for prog in programs if p.program_is(prog.get("display_name"), name)] for name in k.PROGRAMS
    }
    return {
        "programs": instances,
        "sxs_msi_files": [{**entry, "version": p.sxs_version_from_msi(entry.get("name"))} for entry in msi_files],
    }


def _os(answers: _Answers) -> dict[str, Any]:
    values = p.values_by_name(answers.get("os.version"))
    edition = p.registry_str(values.get("editionid"))
    product_name = p.registry_str(values.get("productname"))
    build = p.registry_str(values.get("currentbuild"))
    installation_type = p.registry_str(values.get("installationtype"))
    supported, reason = p.edition_support(edition, product_name, installation_type)
    return {
        "edition": edition,
        "product_name": product_name,
        "product": p.windows_product(product_name, build),
        "build": build,
        "display_version": p.registry_str(values.get("displayversion")),
        "installation_type": installation_type,
        "supports_sxs_stack": supported,
        "unsupported_reason": reason or None,
    }


def _dotnet(answers: _Answers) -> dict[str, Any]:
    read = answers.get("dotnet.ndp")
    values = p.values_by_name(read)
    release = p.registry_int(values.get("release"))
    return {
        "installed": bool(read and read.get("exists")),
        "release": release,
        "version": p.dotnet_version(release),
        "version_string": p.registry_str(values.get("version")),
        "meets_472": release is not None and release >= k.DOTNET_472_MINIMUM,
    }


def _disk(answers: _Answers) -> dict[str, Any] | None:
    disk = answers.get("disk.system")
    if not disk:
        return None
    size, free = int(disk.get("size") or 0), int(disk.get("free") or 0)
    return {
        "drive": disk.get("drive"),
        "size_bytes": size,
        "free_bytes": free,
        "percent_free": round(free * 100 / size, 2) if size else None,
    }


def _events(answers: _Answers) -> list[dict[str, Any]]:
    events = []
    for event in answers.get("events.application") or []:
        message = str(event.get("message") or "")
        events.append(
            {
                "id": event.get("id"),
                "source": event.get("source"),
                "level": event.get("level"),
                "time": event.get("time"),
                "record_id": event.get("record_id"),
                "kind": p.classify_event(int(event.get("id") or 0), message),
                "win32_exception": p.mentions_win32_exception(message),
                "message": message if len(message) <= 600 else message[:597] + "...",
            }
        )
    return events


def _policies(answers: _Answers) -> dict[str, Any]:
    installer = p.values_by_name(answers.get("policies.installer"))
    machine = p.values_by_name(answers.get("policies.system"))
    hives = {}
    for hive in answers.get("policies.user_hives") or []:
        values = {entry["name"].lower(): entry for entry in hive.get("values") or []}
        hives[hive["hive"]] = p.registry_int(values.get("disablecmd"))
    return {
        "disable_msi": p.registry_int(installer.get("disablemsi")),
        "disable_cmd": {
            "machine": p.registry_int(machine.get("disablecmd")),
            "user_hives": hives,
            "any": any(v in (1, 2) for v in [p.registry_int(machine.get("disablecmd")), *hives.values()]),
        },
    }


def _probe(answer: dict[str, Any] | None, broker: bool = False) -> dict[str, Any] | None:
    """A URL probe's answer; a broker's ``api/health`` is healthy only when its answer says so."""
    if answer is None:
        return None
    status = answer.get("status")
    probed = {
        "url": answer.get("url"),
        "reachable": bool(answer.get("reachable")),
        "status": status,
        "location": answer.get("location"),
        "runs_as": answer.get("runs_as"),
        "proxy": answer.get("proxy"),
        "healthy": status == 200,
    }
    if broker:
        probed["healthy"], probed["health"] = p.broker_health(
            status if isinstance(status, int) else None, answer.get("body")
        )
    return {**probed, "error": answer.get("error")}


def _network(answers: _Answers, options: Mapping[str, Any]) -> dict[str, Any]:
    extra = []
    for index, url in enumerate(options.get("probe_urls") or []):
        probed = _probe(answers.get(f"network.probe.{index}"))
        extra.append({"url": url, **(probed or {})})
    return {
        "broker": _probe(answers.get("network.broker"), broker=True),
        "broker_global": _probe(answers.get("network.broker_global"), broker=True),
        "probes": extra,
    }


def _reboot(answers: _Answers) -> dict[str, Any]:
    """The three pending-reboot markers Windows servicing leaves until the next restart."""
    cbs = answers.get("reboot.cbs")
    windows_update = answers.get("reboot.windows_update")
    renames = p.values_by_name(answers.get("reboot.session_manager")).get("pendingfilerenameoperations")
    data = (renames or {}).get("data")
    entries = [str(item) for item in ([data] if isinstance(data, str) else data or []) if str(item)]
    return {
        "cbs_reboot_pending": None if cbs is None else bool(cbs.get("exists")),
        "windows_update_reboot_required": None if windows_update is None else bool(windows_update.get("exists")),
        "pending_file_renames": len(entries),  # non-empty entries: sources, and targets unless a delete
        "pending_file_renames_sample": entries[:6],
    }


def assemble(
    subsets: frozenset[str],
    results: Mapping[str, OperationResult],
    options: Mapping[str, Any],
    now: datetime.datetime,
) -> dict[str, Any]:
    answers = _Answers(results)
    facts: dict[str, Any] = {
        "schema_version": FACTS_SCHEMA_VERSION,
        "gathered_at": _iso_now(now),
        "gather_subset": sorted(subsets),
        "boot_time": (answers.get("boot_time") or {}).get("boot_time"),
    }
    programs = answers.get("components.programs") or []
    qwinsta = _qwinsta(answers) if {"stack", "sessions"} & subsets else None
    os_facts = _os(answers) if {"os", "stack"} & subsets else None
    if "agent" in subsets:
        facts["agent"] = _agent(answers, programs)
    if "services" in subsets:
        facts["services"] = _services(answers)
    if "stack" in subsets:
        facts["stack"] = _stack(answers, qwinsta, os_facts)
    if "components" in subsets:
        facts["components"] = _components(answers, programs)
    if "os" in subsets:
        facts["os"] = os_facts
    if "dotnet" in subsets:
        facts["dotnet"] = _dotnet(answers)
    if "disk" in subsets:
        facts["disk"] = _disk(answers)
    if "events" in subsets:
        facts["events"] = _events(answers)
    if "policies" in subsets:
        facts["policies"] = _policies(answers)
    if "network" in subsets:
        facts["network"] = _network(answers, options)
    if "sessions" in subsets:
        by_state = (qwinsta or {}).get("sessions_by_state") or {}
        facts["sessions"] = {"total": sum(by_state.values()), "by_state": by_state}
    if "installer" in subsets:
        mutex = answers.get("installer.mutex")
        processes = answers.get("installer.processes")
        facts["installer"] = {
            "busy": bool(mutex and mutex.get("busy")),
            "mutex": (mutex or {}).get("mutex"),
            "processes": processes or [],
        }
    if "reboot" in subsets:
        facts["reboot"] = _reboot(answers)
    facts["errors"] = answers.errors
    return facts
