"""Verdicts: which state a host is in, and what its diagnosis could not check.

A host is ``healthy`` only when every check ran and none found a problem.
A check runs on the facts of the subsets it needs (and, for some, on the
host pool's data); when those were not gathered or their operation failed,
the check is listed in ``unchecked`` with the reason, and a host with no
problem found is ``incomplete``, not healthy. A VM the host pool reports
shut down, or whose power state is off, is ``stopped``. Hosts that could
not be reached say why, by class.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ._facts import SUBSETS
from ._known import BOOTLOADER_SERVICE

STATES = ("unreachable", "failed", "unhealthy", "incomplete", "stopped", "healthy")
DIAGNOSED_STATES = ("unhealthy", "incomplete", "healthy")
PROBLEM_SEVERITIES = ("critical", "warning")

# check id -> the fact subsets its rule reads. A check missing here needs no subset.
SUBSET_NEEDS: dict[str, tuple[str, ...]] = {
    "BOOTLOADER_NOT_RUNNING": ("services",),
    "AGENT_NOT_INSTALLED": ("agent", "services"),
    "INVALID_REGISTRATION_TOKEN": ("events",),
    "EXPIRED_REGISTRATION_TOKEN": ("events",),
    "REGISTRATION_INCOMPLETE": ("agent", "events"),
    "INVALID_FORM": ("events", "network"),
    "GATEWAY_UNREACHABLE": ("events",),
    "WEBSOCKET_UNREACHABLE": ("events",),
    "INSTALLATION_HEALTH_CHECK_FAILED": ("events",),
    "ENDPOINT_NOT_FOUND": ("events",),
    "INSTALL_MSI_BLOCKED": ("events", "policies"),
    "INSTALLER_BUSY": ("events", "installer"),
    "CMD_BLOCKED": ("policies",),
    "STACK_LISTENER_NOT_LISTENING": ("stack",),
    "DISK_SPACE_LOW": ("disk",),
    "DOTNET_OUTDATED": ("dotnet",),
    "SXS_STACK_NOT_INSTALLED": ("stack", "components"),
    "SESSION_LIMIT_REACHED": (),
    "UNSUPPORTED_OS": ("os",),
    "NAME_ALREADY_REGISTERED": ("events",),
    # the service's and the agent's own health checks: the agent's report is in the agent subset
    "DOMAIN_TRUST_LOST": ("agent",),
    "FSLOGIX_UNHEALTHY": ("agent",),
    "HEALTH_CHECK_FAILED": ("agent",),
    "HEARTBEAT_LOST": ("services",),
    # pool drift compares hosts in the report: nothing per host
    "AGENT_VERSION_DRIFT": (),
    "STACK_VERSION_DRIFT": (),
    "OS_BUILD_DRIFT": (),
    "DOTNET_DRIFT": (),
}
# check id -> the host pool data its rule needs: (what, keys any of which will do, or the subset that also gives it)
POOL_NEEDS: dict[str, tuple[tuple[str, tuple[str, ...], str | None], ...]] = {
    "SESSION_LIMIT_REACHED": (
        ("the host pool's max session limit", ("max_session_limit",), None),
        ("the host's session count", ("sessions",), "sessions"),
    ),
    "HEARTBEAT_LOST": (("the host pool's last heartbeat of the agent", ("last_heartbeat",), None),),
}
# Checks that read only the service's live view of the host: a static inventory cannot give it, so they
# count as unchecked only when the run has the service's view (the host pool's status) without their field.
SERVICE_VIEW_CHECKS = frozenset({"HEARTBEAT_LOST"})
# operations whose failure leaves more subsets than their own (the id's prefix) without facts
OPERATION_SUBSETS: dict[str, tuple[str, ...]] = {
    "boot_time": ("events",),  # without the boot time, stale events cannot be told from current ones
    "components.programs": ("components", "agent"),
    "stack.qwinsta": ("stack", "sessions"),
    "os.version": ("os", "stack"),
}

STOPPED_STATUSES = frozenset({"shutdown"})
STOPPED_POWER_STATES = frozenset({"deallocated", "deallocating", "stopped", "stopping", "off"})
STOPPED_HEALTH_RESULTS = frozenset({"sessionhostshutdown"})


def _subset_problems(facts: Mapping[str, Any]) -> dict[str, str]:
    """Subset -> why its facts are missing or partial (a failed operation)."""
    problems: dict[str, str] = {}
    for error in facts.get("errors") or []:
        operation = str(error.get("operation") or "")
        message = " ".join(str(error.get("message") or "failed").split())
        for subset in OPERATION_SUBSETS.get(operation, (operation.split(".", maxsplit=1)[0],)):
            problems.setdefault(subset, f"operation {operation} failed: {message}")
    return problems


def _pool_value(pool: Mapping[str, Any] | None, keys: tuple[str, ...]) -> Any:
    return next((pool[key] for key in keys if pool and pool.get(key) is not None), None)


def broken_subsets(facts: Mapping[str, Any]) -> dict[str, str]:
    """Gathered subset -> why its facts cannot be trusted (an operation failed, or nothing came back)."""
    problems = _subset_problems(facts)
    return {
        subset: problems.get(subset) or f"no {subset} facts came back"
        for subset in SUBSETS
        if subset in facts and (subset in problems or facts[subset] is None)
    }


def coverage(facts: Mapping[str, Any], pool: Mapping[str, Any] | None, check_ids: Iterable[str]) -> dict[str, str]:
    """Check id -> why it could not run, for each of ``check_ids`` that could not."""
    gathered = {name for name, value in facts.items() if name in SUBSETS and value is not None}
    broken = broken_subsets(facts)
    unchecked: dict[str, str] = {}
    for check_id in check_ids:
        needs = SUBSET_NEEDS.get(check_id, ())
        left_out = [subset for subset in needs if subset not in facts]
        if left_out:
            unchecked[check_id] = f"gather_subset left out {', '.join(left_out)}"
            continue
        reasons = [broken[subset] for subset in needs if subset in broken]
        if reasons:
            unchecked[check_id] = "; ".join(dict.fromkeys(reasons))
            continue
        if check_id in SERVICE_VIEW_CHECKS and not (pool and pool.get("status")):
            continue
        for what, keys, subset in POOL_NEEDS.get(check_id, ()):
            if _pool_value(pool, keys) is None and not (subset and subset in gathered):
                gap = _pool_gap(check_id, what, keys, pool, facts)
                if gap:
                    unchecked[check_id] = gap
                break
    return unchecked


def _pool_gap(
    check_id: str, what: str, keys: tuple[str, ...], pool: Mapping[str, Any] | None, facts: Mapping[str, Any]
) -> str:
    """Why a check lacks the host pool value it needs ('' when, without it, the check has nothing to decide).

    With the service's live view of the host (its status: the host_pool inventory, or the pool read by a playbook)
    the data is there and Azure left the field empty; only without it is there no host pool data to speak of.
    """
    if not (pool and pool.get("status")):
        variables = ", ".join(f"avd_{key}" for key in keys)
        return f"{what} is unknown (no host pool data: use the host_pool inventory or set {variables})"
    if check_id == "HEARTBEAT_LOST":
        services = facts.get("services")
        bootloader = services.get(BOOTLOADER_SERVICE) if isinstance(services, Mapping) else None
        if not isinstance(bootloader, Mapping) or bootloader.get("state") != "Running":
            return ""  # the check is a stale heartbeat while the boot loader runs: none runs
        return (
            "the host pool lists the host without a last heartbeat (its agent has sent none to the service), so "
            "whether heartbeats stopped while RDAgentBootLoader runs cannot be told"
        )
    return f"{what} is not in the host pool's data (Azure gave none)"


def unchecked_list(coverage_gaps: Mapping[str, str], rule_notes: Iterable[str], facts: Mapping[str, Any]) -> list[str]:
    """``ID: reason`` for each check that did not run, then the rules' own notes and failed operations not yet named."""
    lines = [f"{check_id}: {reason}" for check_id, reason in coverage_gaps.items()]
    for note in rule_notes:
        if note.split(":", maxsplit=1)[0] not in coverage_gaps and note not in lines:
            lines.append(note)
    named = " ".join(lines)
    for error in facts.get("errors") or []:
        operation = str(error.get("operation") or "")
        if f"operation {operation} failed" not in named:
            lines.append(f"operation {operation} failed: {' '.join(str(error.get('message') or 'failed').split())}")
    return lines


def host_state(findings: Iterable[Mapping[str, Any]], unchecked: list[str]) -> str:
    if any(f.get("severity") in PROBLEM_SEVERITIES for f in findings):
        return "unhealthy"
    return "incomplete" if unchecked else "healthy"


def incomplete_reason(unchecked: list[str]) -> str:
    """One line for an incomplete host: how many checks did not run, and the distinct reasons."""
    checks = [line for line in unchecked if re.match(r"^[A-Z][A-Z0-9_]+: ", line)]
    # a check's line without its id; any other line (a rule's note, a failed operation) whole
    reasons = list(dict.fromkeys(line.split(": ", maxsplit=1)[-1] if line in checks else line for line in unchecked))
    counted = f"{len(checks)} check(s) did not run" if checks else "not everything could be read"
    return f"{counted}: {'; '.join(reasons)}"


# --- stopped VMs -----------------------------------------------------------------------
def _power_state(value: Any) -> str:
    text = str(value).strip().lower()
    for prefix in ("powerstate/", "vm "):
        text = text.removeprefix(prefix)
    return text


def stopped_reason(pool: Mapping[str, Any] | None) -> str | None:
    """Why the host pool data says this VM is off, or None when it does not."""
    if not pool:
        return None
    power = _power_state(pool.get("power_state"))
    if power in STOPPED_POWER_STATES:
        return f"the VM is {power} (power state {pool.get('power_state')})"
    status = str(pool.get("status"))
    if status.lower() in STOPPED_STATUSES:
        return f"the host pool reports status={status} (the VM is shut down or deallocated)"
    for check in pool.get("health_checks") or []:
        if isinstance(check, Mapping) and str(check.get("result")).lower() in STOPPED_HEALTH_RESULTS:
            return f"the host pool's health check {check.get('name')} reports {check.get('result')}"
    return None


# --- unreachable hosts ------------------------------------------------------------------
UNREACHABLE_CLASSES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "tls",
        "TLS verification failed",
        (
            "certificate verify failed",
            "certificate_verify_failed",
            "sslerror",
            "ssl:",
            "hostname mismatch",
            "self-signed certificate",
            "self signed certificate",
            "unable to get local issuer",
            "wrong version number",
        ),
    ),
    (
        "quota",
        "WinRM quota exceeded",
        # MS-WSMV 3.1.4.5.2.1 (wsman:QuotaLimit) and what PowerShell remoting shows for MaxShellsPerUser
        ("quota", "concurrent shells", "users concurrently", "maxconcurrentusers", "maxshellsperuser"),
    ),
    (
        "credentials",
        "credentials rejected",
        (
            "credentials were rejected",
            "credentials rejected",
            "unauthorized",
            "401",
            "preauthentication failed",
            "password incorrect",
            "logon failure",
            "access is denied",
            "authentication failed",
            "failed to authenticate",  # pypsrp (Ansible's psrp connection)
        ),
    ),
    ("refused", "connection refused", ("connection refused", "actively refused", "errno 111", "winerror 10061")),
    ("timeout", "timed out", ("timed out", "timeout", "errno 110")),
    (
        "dns",
        "name not resolved",
        (
            "name or service not known",
            "nodename nor servname",
            "getaddrinfo failed",
            "temporary failure in name resolution",
            "no address associated",
        ),
    ),
    ("network", "no route to host", ("no route to host", "network is unreachable", "errno 113", "errno 101")),
)
UNREACHABLE_LABELS = {name: label for name, label, _unused in UNREACHABLE_CLASSES} | {"other": "could not connect"}


def unreachable_class(message: str) -> str:
    text = message.lower()
    for name, _unused, needles in UNREACHABLE_CLASSES:
        if any(needle in text for needle in needles):
            return name
    return "other"


_TELLING = (
    r"\[Errno -?\d+\][^'\")\]]*",
    r"certificate verify failed[^'\")\]]*",
    r"[^:;,(]*credentials were rejected[^'\")\]]*",
    r"failed to authenticate[^'\")\]]*",
    r"[^.;(]*(?:concurrent shells|users concurrently)[^.;)]*",
    r"(?:Read|Connect|Connection to [^ ]+) timed out[^'\")\]]*",
)


def short_reason(message: str, limit: int = 110) -> str:
    """The telling part of a connection error (the errno, the TLS or credential complaint), on one line."""
    flat = " ".join(str(message).split())
    for pattern in _TELLING:
        match = re.search(pattern, flat, re.IGNORECASE)
        if match and match.group(0).strip():
            flat = match.group(0).strip()
            break
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# --- whole-run failures on the controller ----------------------------------------------------
CONTROLLER_HINTS = (
    ("winrm or requests is not installed", "install pywinrm on the controller (pip install pywinrm)"),
    ("pypsrp is not installed", "install pypsrp on the controller (pip install pypsrp)"),
)


def failure_hint(message: str) -> str:
    """What to do about a failure every host of the run will share (a missing Python package on the controller)."""
    lowered = message.lower()
    return next((hint for needle, hint in CONTROLLER_HINTS if needle.lower() in lowered), "")
