"""Remediation plans: what to read, what to change, and whether it worked, as pure functions.

Every remediation module works the same way (see ``_change.py``):

1. ``probe`` - the runtime reads it needs (one WinRM command);
2. ``plan_*`` - from what it read and what is wanted, the list of
   :class:`Change` (each one runtime write operation with its before and
   after for the diff) and the reads that verify the result;
3. when there is something to change and the task is not in check mode,
   the changes and the verifying reads run in one more WinRM command, in
   order, and ``verify_*`` says from their answers whether the fix held.

A plan with no changes sends nothing: a second run changes nothing, and
check mode never sends a write operation to the host at all. The
registration token only ever travels inside a write operation on the
runtime's stdin; diffs, results and errors show ``(secret)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _known as k
from ._parsers import ParseError, listener_summary, parse_qwinsta, registry_int, registry_str, values_by_name
from ._runtime import Operation, OperationResult

SECRET = "(secret)"  # noqa: S105 - the placeholder shown instead of a secret
# Value names whose data is a secret: never shown in a diff, a result or an error.
SECRET_VALUE_NAMES = frozenset({"registrationtoken"})
# The article: "start the service, wait 10 seconds, then refresh".
ARTICLE_SETTLE_SECONDS = 10


class PlanError(ValueError):
    """What is wanted cannot be planned on this host (the message says why); nothing was changed."""


@dataclass(frozen=True)
class Change:
    """One runtime write operation and what it changes, for the diff."""

    operation: Operation
    target: str  # what changes, e.g. 'HKLM\\...\\RDInfraAgent\\IsRegistered' or 'service RDAgentBootLoader'
    before: Any
    after: Any
    disruptive: bool = False  # restarts a service, or needs a reboot


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    verify: list[Operation] = field(default_factory=list)  # reads sent after the changes, in the same command
    facts: dict[str, Any] = field(default_factory=dict)  # what the probe found, for the result
    notes: list[str] = field(default_factory=list)  # what was decided and why (no secrets)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def disruptive(self) -> bool:
        return any(change.disruptive for change in self.changes)

    def operations(self) -> list[Operation]:
        return [change.operation for change in self.changes] + self.verify

    def diff(self) -> dict[str, dict[str, Any]]:
        return {
            "before": {c.target: c.before for c in self.changes},
            "after": {c.target: c.after for c in self.changes},
        }

    def summary(self) -> list[dict[str, Any]]:
        return [{"target": c.target, "before": c.before, "after": c.after} for c in self.changes]


# --- building blocks ----------------------------------------------------------------
def short_path(path: str) -> str:
    return path.replace("HKEY_LOCAL_MACHINE\\", "HKLM\\").replace("HKEY_USERS\\", "HKU\\")


def shown(name: str, data: Any) -> Any:
    """Registry data as a diff may show it: secrets never."""
    if name.lower() in SECRET_VALUE_NAMES and data not in (None, ""):
        return SECRET
    return data


def read_registry(
    op_id: str, path: str, names: list[str] | None = None, subkey_pattern: str | None = None
) -> Operation:
    args: dict[str, Any] = {"path": path}
    if names is not None:
        args["names"] = names
    if subkey_pattern is not None:
        args["subkey_pattern"] = subkey_pattern
    return Operation(op_id, "registry_read", args)


def current_value(read: Mapping[str, Any] | None, name: str) -> Any:
    """A value's data from a registry_read answer (None when absent); a secret as ``{set, length}``."""
    entry = values_by_name(dict(read) if read else None).get(name.lower())
    if entry is None:
        return None
    if name.lower() in SECRET_VALUE_NAMES:
        return SECRET if entry.get("set") else ""
    if entry.get("type") in ("REG_DWORD", "REG_QWORD"):
        return registry_int(entry)
    return registry_str(entry)


def set_value(op_id: str, path: str, name: str, value_type: str, data: Any, before: Any) -> Change | None:
    """A registry_write when the value differs (None when it is already as wanted)."""
    if name.lower() not in SECRET_VALUE_NAMES and before == data:
        return None
    return Change(
        Operation(op_id, "registry_write", {"path": path, "name": name, "type": value_type, "data": data}),
        f"{short_path(path)}\\{name}",
        shown(name, before),
        shown(name, data),
    )


def delete_value(op_id: str, path: str, name: str, before: Any) -> Change | None:
    if before is None:
        return None
    return Change(
        Operation(op_id, "registry_delete", {"path": path, "name": name}),
        f"{short_path(path)}\\{name}",
        shown(name, before),
        None,
    )


def control_service(op_id: str, name: str, state: str, before: str | None, settle_seconds: int) -> Change:
    return Change(
        Operation(op_id, "service_control", {"name": name, "state": state, "settle_seconds": settle_seconds}),
        f"service {name}",
        before,
        "Running" if state in ("started", "restarted") else "Stopped",
        disruptive=True,
    )


def answer(results: Mapping[str, OperationResult], op_id: str) -> Any:
    """An operation's result, or PlanError with the host's message when it failed."""
    entry = results.get(op_id)
    if entry is None:
        raise PlanError(f"the host returned no answer for {op_id}")
    if not entry.ok:
        raise PlanError(f"{op_id} failed on the host: {entry.error}")
    return entry.result


# --- the boot loader (article: RDAgentBootLoader has stopped running) -----------------------
def probe_boot_loader() -> list[Operation]:
    return [
        Operation("probe.bootloader", "service_query", {"name": k.BOOTLOADER_SERVICE}),
        read_registry("probe.agent", k.RDINFRA_AGENT, ["IsRegistered", "RegistrationToken"]),
    ]


def plan_boot_loader(
    results: Mapping[str, OperationResult], state: str = "started", settle_seconds: int = ARTICLE_SETTLE_SECONDS
) -> Plan:
    """Start the boot loader (or restart it), wait, then look again: the article's 10 seconds."""
    service = answer(results, "probe.bootloader")
    if not service.get("exists"):
        raise PlanError(
            f"the {k.BOOTLOADER_SERVICE} service does not exist: the agent is not installed (AGENT_NOT_INSTALLED); "
            "reinstall the agent and boot loader"
        )
    plan = Plan(facts={"state_before": service.get("state"), "start_type": service.get("start_type")})
    if service.get("start_type") == "Disabled":
        raise PlanError(f"the {k.BOOTLOADER_SERVICE} service is disabled; set it to Automatic before starting it")
    if state == "restarted" or service.get("state") != "Running":
        plan.changes.append(
            control_service("apply.bootloader", k.BOOTLOADER_SERVICE, state, service.get("state"), settle_seconds)
        )
        plan.verify = [
            Operation("verify.bootloader", "service_query", {"name": k.BOOTLOADER_SERVICE}),
            read_registry("verify.agent", k.RDINFRA_AGENT, ["IsRegistered", "RegistrationToken"]),
        ]
    return plan


def verify_boot_loader(results: Mapping[str, OperationResult]) -> dict[str, Any]:
    service = answer(results, "verify.bootloader")
    agent = answer(results, "verify.agent")
    running = service.get("state") == "Running"
    return {
        "running": running,
        "state": service.get("state"),
        "stopped_again": not running,
        "is_registered": current_value(agent, "IsRegistered"),
    }


# --- registration (INVALID/EXPIRED_REGISTRATION_TOKEN, ENDPOINT_NOT_FOUND) -------------------
def probe_registration() -> list[Operation]:
    return [
        read_registry("probe.agent", k.RDINFRA_AGENT, ["IsRegistered", "RegistrationToken"]),
        Operation("probe.bootloader", "service_query", {"name": k.BOOTLOADER_SERVICE}),
    ]


def plan_registration(
    results: Mapping[str, OperationResult],
    token: str | None,
    reregister: bool = False,
    settle_seconds: int = ARTICLE_SETTLE_SECONDS,
    check_mode: bool = False,
) -> Plan:
    """The article's re-registration: IsRegistered=0, RegistrationToken=<key>, restart RDAgentBootLoader.

    Needed when the host is not registered (IsRegistered is not 1) or when
    ``reregister`` says its registration is gone from the host pool
    (ENDPOINT_NOT_FOUND after the session host was removed).
    """
    agent = answer(results, "probe.agent")
    service = answer(results, "probe.bootloader")
    if not agent.get("exists") or not service.get("exists"):
        raise PlanError(
            "the agent is not installed (no RDInfraAgent key or RDAgentBootLoader service): re-registering needs "
            "the agent; reinstall it with the registration key"
        )
    is_registered = current_value(agent, "IsRegistered")
    token_before = current_value(agent, "RegistrationToken")
    plan = Plan(facts={"is_registered_before": is_registered, "token_set_before": token_before == SECRET})
    if is_registered == 1 and not reregister:
        plan.notes.append("IsRegistered=1: the agent is registered; nothing to do")
        return plan
    if not token and not check_mode:
        raise PlanError("registration_token is required to re-register the host (a key from registration_token)")
    for change in (
        set_value("apply.is_registered", k.RDINFRA_AGENT, "IsRegistered", "REG_DWORD", 0, is_registered),
        set_value("apply.token", k.RDINFRA_AGENT, "RegistrationToken", "REG_SZ", token or "", token_before),
    ):
        if change is not None:
            plan.changes.append(change)
    plan.changes.append(
        control_service("apply.bootloader", k.BOOTLOADER_SERVICE, "restarted", service.get("state"), settle_seconds)
    )
    plan.verify = [
        read_registry("verify.agent", k.RDINFRA_AGENT, ["IsRegistered", "RegistrationToken"]),
        Operation("verify.bootloader", "service_query", {"name": k.BOOTLOADER_SERVICE}),
    ]
    return plan


def verify_registration(results: Mapping[str, OperationResult]) -> dict[str, Any]:
    """Registered when the agent set IsRegistered=1 and emptied RegistrationToken, its boot loader running."""
    agent = answer(results, "verify.agent")
    service = answer(results, "verify.bootloader")
    is_registered = current_value(agent, "IsRegistered")
    token_left = current_value(agent, "RegistrationToken") == SECRET
    running = service.get("state") == "Running"
    return {
        "registered": is_registered == 1 and not token_left and running,
        "is_registered": is_registered,
        "token_emptied": not token_left,
        "bootloader": service.get("state"),
    }


def registration_seen(verification: Mapping[str, Any]) -> str:
    return (
        f"IsRegistered={verification['is_registered']}, "
        f"RegistrationToken {'emptied' if verification['token_emptied'] else 'still set'}, "
        f"RDAgentBootLoader {verification['bootloader']}"
    )


def registration_under_way(verification: Mapping[str, Any]) -> str | None:
    """What a registration still under way shows (the agent running, not registered yet), or None when it is
    done or has failed (the boot loader stops after a failed registration, the article says)."""
    if verification["registered"] or verification["bootloader"] != "Running":
        return None
    return f"the agent has not registered yet ({registration_seen(verification)})"


def registration_problem(verification: Mapping[str, Any], settle_seconds: int) -> str | None:
    """Why the re-registration did not hold, in words, or None when it did."""
    if verification["registered"]:
        return None
    if verification["bootloader"] != "Running":
        why = "the boot loader stopped: the agent's event 3277 in the Application log says why (run diagnose)"
    else:
        why = (
            "the agent is still trying (Azure can take 5-10 minutes): run again later, or give it longer "
            "(wait_seconds; -e avd_registration_wait_seconds=N in the roles)"
        )
    seen = registration_seen(verification)
    return f"the agent did not register {settle_seconds} s after the boot loader restart: {seen}; {why}"


# --- the stack listener (article: Stack listener isn't working) ------------------------------
def probe_stack_listener() -> list[Operation]:
    return [
        read_registry("probe.winstations", k.WINSTATIONS, ["ReverseConnectionListener"], subkey_pattern="rdp-sxs*"),
        read_registry("probe.cluster", k.CLUSTER_SETTINGS, ["SessionDirectoryListener"]),
        Operation("probe.qwinsta", "qwinsta", {}),
    ]


def listening(qwinsta_text: str) -> dict[str, Any]:
    try:
        return listener_summary(parse_qwinsta(qwinsta_text))
    except ParseError:
        return listener_summary([])


def stack_winstation(qwinsta_sxs: str | None, listener: str | None, winstations: list[str]) -> tuple[str, str]:
    """The rdp-sxs WinStation to fix, and how it was chosen (the article: the one qwinsta names).

    PlanError when there is none to fix: the stack itself is missing.
    """
    by_lower = {name.lower(): name for name in winstations}
    if qwinsta_sxs and qwinsta_sxs.lower() in by_lower:
        return by_lower[qwinsta_sxs.lower()], "named by qwinsta"
    if listener and listener.lower() in by_lower:
        # Not listed by qwinsta (fEnableWinStation=0 hides it): the one Terminal Server says is active.
        return by_lower[listener.lower()], "named by WinStations\\ReverseConnectionListener (qwinsta does not list it)"
    if len(winstations) == 1:
        return winstations[0], "the only rdp-sxs WinStation"
    raise PlanError(
        "no rdp-sxs WinStation to fix: the side-by-side stack is not installed properly "
        "(SXS_STACK_NOT_INSTALLED); reinstall the stack"
    )


STACK_FLAGS = ("fReverseConnectMode", "fEnableWinStation")


def plan_stack_listener(results: Mapping[str, OperationResult]) -> Plan:
    """fReverseConnectMode=1 and fEnableWinStation=1 on the rdp-sxs WinStation, then a restart.

    ClusterSettings\\SessionDirectoryListener is checked against it, not
    written: the article sends a mismatch to the full reinstall.
    """
    read = answer(results, "probe.winstations")
    cluster = answer(results, "probe.cluster")
    summary = listening(str((answer(results, "probe.qwinsta") or {}).get("text") or ""))
    sxs_row = summary.get("rdp_sxs") or {}
    listener = current_value(read, "ReverseConnectionListener")
    subkey_values = read.get("subkey_values") or {}
    name, reason = stack_winstation(sxs_row.get("session_name"), listener, sorted(subkey_values))
    session_directory = current_value(cluster, "SessionDirectoryListener")
    plan = Plan(
        facts={
            "winstation": name,
            "chosen": reason,
            "listening": bool(summary.get("both_listening")),
            "sessions": sum((summary.get("sessions_by_state") or {}).values()),
            "reverse_connection_listener": listener,
            "session_directory_listener": session_directory,
            "session_directory_matches": bool(session_directory and str(session_directory).lower() == name.lower()),
        }
    )
    path = rf"{k.WINSTATIONS}\{name}"
    values = {"values": subkey_values[name], "exists": True}
    for flag in STACK_FLAGS:
        change = set_value(f"apply.{flag}", path, flag, "REG_DWORD", 1, current_value(values, flag))
        if change is not None:
            plan.changes.append(Change(change.operation, change.target, change.before, change.after, disruptive=True))
    if plan.changes:
        plan.verify = [read_registry("verify.winstation", path, list(STACK_FLAGS))]
    return plan


def verify_stack_listener(results: Mapping[str, OperationResult]) -> tuple[dict[str, Any], str | None]:
    """The two flags read back from the WinStation right after the writes (the listener itself listens only
    after the restart that follows); the problem when either is not 1."""
    read = answer(results, "verify.winstation")
    verification = {flag: current_value(read, flag) for flag in STACK_FLAGS}
    wrong = [f"{flag}={value}" for flag, value in verification.items() if value != 1]
    if wrong:
        return verification, (
            f"the rdp-sxs WinStation's flags read {', '.join(wrong)} right after they were set to 1: something "
            "resets them (a Group Policy or a configuration tool); find it, or reinstall the side-by-side stack"
        )
    return verification, None


# --- local policies (InstallMsiException, Win32Exception) -------------------------------------
POLICIES = ("installer", "cmd")


def probe_policies() -> list[Operation]:
    return [
        read_registry("probe.installer", k.INSTALLER_POLICY, ["DisableMSI"]),
        read_registry("probe.system", k.MACHINE_SYSTEM_POLICY, ["DisableCMD"]),
        Operation(
            "probe.user_hives",
            "registry_read_user_hives",
            {"subpath": k.SYSTEM_POLICY_SUBPATH, "names": ["DisableCMD"]},
        ),
    ]


def plan_policies(results: Mapping[str, OperationResult], remove: list[str]) -> Plan:
    """Remove the local 'Turn off Windows Installer' / 'Prevent access to the command prompt' values asked for."""
    unknown = sorted(set(remove) - set(POLICIES))
    if unknown:
        raise PlanError(f"unknown policy {', '.join(unknown)}; use {', '.join(POLICIES)}")
    installer = current_value(answer(results, "probe.installer"), "DisableMSI")
    machine_cmd = current_value(answer(results, "probe.system"), "DisableCMD")
    hives = {
        hive["hive"]: current_value({"exists": hive.get("exists"), "values": hive.get("values") or []}, "DisableCMD")
        for hive in answer(results, "probe.user_hives") or []
    }
    plan = Plan(
        facts={
            "disable_msi": installer,
            "disable_cmd": {"machine": machine_cmd, "user_hives": hives},
        }
    )
    deletions: list[Change | None] = []
    if "installer" in remove:
        deletions.append(delete_value("apply.installer", k.INSTALLER_POLICY, "DisableMSI", installer))
    if "cmd" in remove:
        deletions.append(delete_value("apply.system", k.MACHINE_SYSTEM_POLICY, "DisableCMD", machine_cmd))
        for index, (hive, value) in enumerate(sorted(hives.items())):
            deletions.append(
                delete_value(f"apply.hive{index}", rf"HKEY_USERS\{hive}\{k.SYSTEM_POLICY_SUBPATH}", "DisableCMD", value)
            )
    plan.changes = [change for change in deletions if change is not None]
    if plan.changes:
        plan.verify = probe_policies_verify()
    return plan


def probe_policies_verify() -> list[Operation]:
    return [Operation(op.id.replace("probe.", "verify."), op.op, op.args) for op in probe_policies()]


def verify_policies(results: Mapping[str, OperationResult], remove: list[str]) -> dict[str, Any]:
    renamed = {key.replace("verify.", "probe."): value for key, value in results.items()}
    left = plan_policies(renamed, remove)
    return {"removed": not left.changes, "left": [c.target for c in left.changes]}


Verifier = Callable[[Mapping[str, OperationResult]], dict[str, Any]]
