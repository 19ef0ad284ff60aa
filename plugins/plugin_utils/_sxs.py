"""The side-by-side stack reinstall as pure functions: what to read, what to change, whether it worked.

Article: "Session host VMs are stuck in Unavailable or Upgrading state" (also
the fix "InstallationHealthCheckFailedException" sends to when the listener
is not working): stop RDAgentBootLoader, uninstall the Remote Desktop
Services SxS Network Stack, install the newest ``SxSStack-*.msi`` of
``C:\\Program Files\\Microsoft RDInfra`` (by CreationTime, as the article's
``Sort-Object CreationTime -Descending``), restart the VM, and see the
rdp-sxs listener in state Listen. Every installed instance is removed (by
product code), not only the newest. The restart is the role's (win_reboot).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from . import _known as k
from ._plans import Change, Plan, PlanError, answer, current_value, listening, read_registry
from ._reinstall import ABSENT, BUSY, FAILED, classify_exit_code, exit_code_text
from ._runtime import Operation, OperationResult

_VERSION = re.compile(r"^SxSStack-(?P<version>.+)\.msi$", re.I)


def probe_sxs_stack() -> list[Operation]:
    return [
        Operation("probe.programs", "programs", {"name_pattern": k.PROGRAM_SXS}),
        Operation("probe.msis", "files", {"folder": k.RDINFRA_DIR, "pattern": k.SXS_MSI_PATTERN}),
        Operation("probe.bootloader", "service_query", {"name": k.BOOTLOADER_SERVICE}),
        read_registry("probe.winstations", k.WINSTATIONS, ["ReverseConnectionListener"], subkey_pattern="rdp-sxs*"),
        Operation("probe.qwinsta", "qwinsta"),
        Operation("probe.installer", "installer_busy"),
    ]


def msi_version(name: str) -> str | None:
    """``SxSStack-1.0.2407.05700.msi`` -> ``1.0.2407.05700`` (the facts page: the text after ``-``)."""
    match = _VERSION.match(name)
    return match.group("version") if match else None


def stack_programs(programs: list[Mapping[str, Any]] | None) -> list[dict[str, str]]:
    """Every installed instance of the stack (Add/Remove Programs may list several versions)."""
    return [
        {"version": str(p.get("display_version") or ""), "product_code": str(p.get("product_code") or "")}
        for p in programs or []
        if str(p.get("display_name")).lower() == k.PROGRAM_SXS.lower()
    ]


def stack_problems(results: Mapping[str, OperationResult]) -> tuple[list[str], dict[str, Any]]:
    """What is wrong with the installed stack (empty when it is installed and listening), and what was seen."""
    programs = stack_programs(answer(results, "probe.programs"))
    winstations = answer(results, "probe.winstations")
    listener = current_value(winstations, "ReverseConnectionListener")
    keys = sorted(winstations.get("subkey_values") or {})
    sxs_row = listening(str((answer(results, "probe.qwinsta") or {}).get("text") or "")).get("rdp_sxs") or {}
    problems = []
    if not programs:
        problems.append(f"program '{k.PROGRAM_SXS}' is not installed")
    if listener and str(listener).lower() not in {name.lower() for name in keys}:
        problems.append(f"ReverseConnectionListener={listener} names a WinStation that does not exist")
    if not keys:
        problems.append("no rdp-sxs WinStation exists")
    if sxs_row.get("state_normalized") != "Listen":
        row = f"{sxs_row.get('session_name')} is {sxs_row.get('state')}" if sxs_row else "no rdp-sxs row"
        problems.append(f"qwinsta: {row}")
    seen = {
        "programs": programs,
        "reverse_connection_listener": listener,
        "winstations": keys,
        "listening": sxs_row.get("state_normalized") == "Listen",
    }
    return problems, seen


def plan_sxs_stack(
    results: Mapping[str, OperationResult], reinstall: bool = False, allow_sessions: bool = False
) -> Plan:
    """Uninstall every instance and install the newest installer, when the stack is broken or ``reinstall``.

    ``reinstall`` forces it on a stack that looks right now (InstallationHealthCheckFailedException: the agent's
    own check of the stack failed after an update, the article's fix is this reinstall). Uninstalling the stack
    drops the connections that ride on it: refused while qwinsta lists user sessions unless ``allow_sessions``.
    """
    problems, seen = stack_problems(results)
    msis = list(answer(results, "probe.msis") or [])
    service = answer(results, "probe.bootloader")
    busy = bool((answer(results, "probe.installer") or {}).get("busy"))
    newest = msis[0] if msis else None
    plan = Plan(
        facts={
            **seen,
            "problems": problems,
            "installer": newest.get("path") if newest else None,
            "installer_version": msi_version(str(newest.get("name"))) if newest else None,
            "installers": [m.get("name") for m in msis],
            "bootloader": service.get("state") if service.get("exists") else None,
            "installer_busy": False,
        }
    )
    if not problems and not reinstall:
        plan.notes.append("the side-by-side stack is installed and its rdp-sxs listener listens: nothing to do")
        return plan
    if newest is None:
        raise PlanError(
            f"no {k.SXS_MSI_PATTERN} in {k.RDINFRA_DIR} to reinstall the side-by-side stack from: the agent brings "
            "it; reinstall the agent and boot loader (the article's 'Your issue isn't listed here')"
        )
    if busy:
        plan.facts["installer_busy"] = True
        plan.notes.append("another installation is in progress (Windows Installer holds Global\\_MSIExecute)")
        return plan
    sessions = sum(
        (
            listening(str((answer(results, "probe.qwinsta") or {}).get("text") or "")).get("sessions_by_state") or {}
        ).values()
    )
    plan.facts["sessions"] = sessions
    if sessions and not allow_sessions:
        raise PlanError(
            f"{sessions} user session(s) on the host: uninstalling the side-by-side stack drops them; drain the host "
            "and let them end (playbooks/remediate.yml does), or give consent (allow_sessions, -e avd_force=true)"
        )
    plan.notes.append(
        "reinstalling the side-by-side stack: " + ("; ".join(problems) or "asked to (the stack's health check failed)")
    )
    if service.get("exists") and service.get("state") != "Stopped":
        plan.changes.append(
            Change(
                Operation("apply.bootloader", "service_control", {"name": k.BOOTLOADER_SERVICE, "state": "stopped"}),
                f"service {k.BOOTLOADER_SERVICE}",
                service.get("state"),
                "Stopped",
                disruptive=True,
            )
        )
    for index, program in enumerate(seen["programs"]):
        plan.changes.append(
            Change(
                Operation(
                    f"apply.uninstall{index}",
                    "msiexec",
                    {
                        "action": "uninstall",
                        "product_code": program["product_code"],
                        "properties": dict(k.MSI_NO_RESTART_MANAGER),  # no Restart Manager: the VM restarts after
                    },
                ),
                f"program {k.PROGRAM_SXS} {program['version']} {program['product_code']}",
                "installed",
                "absent",
                disruptive=True,  # uninstalling the stack drops the RDP connections that ride on it
            )
        )
    plan.changes.append(
        Change(
            Operation(
                "apply.install",
                "msiexec",
                {
                    "action": "install",
                    "package": newest["path"],
                    "log": k.SXS_INSTALL_LOG,
                    "properties": dict(k.MSI_NO_RESTART_MANAGER),
                },
            ),
            f"program {k.PROGRAM_SXS}",
            "absent",
            f"installed from {newest.get('name')} (listens after a restart)",
            disruptive=True,
        )
    )
    plan.verify += [
        Operation("verify.programs", "programs", {"name_pattern": k.PROGRAM_SXS}),
        read_registry("verify.winstations", k.WINSTATIONS, ["ReverseConnectionListener"], subkey_pattern="rdp-sxs*"),
    ]
    return plan


def verify_sxs_stack(results: Mapping[str, OperationResult]) -> tuple[dict[str, Any], str | None]:
    """Each msiexec exit code judged, and the stack's program and WinStation there; the problem when not."""
    codes = {
        op_id: int((entry.result or {}).get("exit_code", -1))
        for op_id, entry in results.items()
        if entry.op == "msiexec" and entry.ok
    }
    # Windows Installer's codes as the full reinstall reads them: 1605 on an uninstall is "already absent",
    # on the install a failure; 3010/1641 success with a restart due; 1618 another installation running.
    kinds = {op_id: classify_exit_code(code) for op_id, code in codes.items()}
    busy = BUSY in kinds.values()
    failures = [
        f"{op_id} exited with {codes[op_id]} ({exit_code_text(codes[op_id])})"
        for op_id, kind in sorted(kinds.items())
        if kind == FAILED or (op_id == "apply.install" and kind == ABSENT)
    ]
    programs = stack_programs(answer(results, "verify.programs"))
    winstations = answer(results, "verify.winstations")
    listener = current_value(winstations, "ReverseConnectionListener")
    keys = {name.lower() for name in winstations.get("subkey_values") or {}}
    verification = {
        "exit_codes": codes,
        "installer_busy": busy,
        "programs": programs,
        "reverse_connection_listener": listener,
        "winstation_created": bool(listener) and str(listener).lower() in keys,
        "reboot_required": True,  # a new stack's listener starts with the next boot
    }
    if busy:
        return verification, "another installation is in progress (msiexec exit code 1618); retry when it ends"
    if failures:
        return verification, "the side-by-side stack reinstall failed: " + "; ".join(failures)
    if not programs or not verification["winstation_created"]:
        return verification, (
            "the side-by-side stack installer ran but the stack is not there "
            f"(programs: {len(programs)}, ReverseConnectionListener={listener}); see {k.SXS_INSTALL_LOG}"
        )
    return verification, None
