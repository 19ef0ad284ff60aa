"""Install .NET Framework 4.8 for an agent that needs it (the article's MissingMethodException), as pure functions.

The article: "Error: Agent fails to update with MissingMethodException" - the
agent update needs .NET Framework 4.7.2 or later; install a newer one. The
fix installs 4.8 from the offline installer the admin pinned in the installer
manifest (``installer_cache`` put it on the host), quietly and without a
restart (``<installer> /q /norestart``); the runtime checks its SHA-256 right
before it runs it. The new ``Release`` value shows only after the restart the
installer asks for (3010), so the role restarts the VM and reads it again.

Exit codes: the .NET Framework deployment guide for developers ("Return codes",
learn.microsoft.com/dotnet/framework/deployment/deployment-guide-for-developers),
plus Windows Installer's 1618 while another installation runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import _known as k
from ._plans import Change, Plan, PlanError, answer, current_value, listening, read_registry
from ._runtime import Operation, OperationResult

SUCCESS = 0
REBOOT_CODES = {1641: "installed; a restart was initiated", 3010: "installed; a restart is required to finish"}
FAILURE_CODES = {
    1602: "the installation was canceled",
    1603: "a fatal error occurred during the installation (the setup's log in %TEMP% says which)",
    5: (
        "access denied: the installer refused WinRM's network logon (on Windows 10/11 and Server 2019/2022 it "
        "installs through the Windows Update Standalone Installer, which fails so from a remote session); run it as "
        "SYSTEM through a scheduled task (as_system: true, the default)"
    ),
    1618: "another installation is in progress; wait for it to end (INSTALLER_BUSY) and run again",
    5100: (
        "the computer does not meet the system requirements of .NET Framework 4.8 "
        "(4.5 GB of free disk space, a supported Windows version)"
    ),
}


def probe_dotnet() -> list[Operation]:
    return [
        read_registry("probe.ndp", k.NDP_V4_FULL, ["Release", "Version"]),
        Operation("probe.qwinsta", "qwinsta"),
    ]


def plan_dotnet(
    results: Mapping[str, OperationResult],
    installer: str,
    sha256: str,
    minimum: int = k.DOTNET_48_MINIMUM,
    as_system: bool = True,
) -> Plan:
    """Run the offline installer when the Release value is below ``minimum``; nothing when it is not.

    ``as_system``: through a scheduled task as SYSTEM, not in WinRM's network logon (where the installer cannot use
    Windows Update; Ansible's WinRM limitations)."""
    ndp = answer(results, "probe.ndp")
    release = current_value(ndp, "Release")
    summary = listening(str((answer(results, "probe.qwinsta") or {}).get("text") or ""))
    plan = Plan(
        facts={
            "release_before": release,
            "version_before": current_value(ndp, "Version"),
            "minimum_release": minimum,
            "sessions": sum((summary.get("sessions_by_state") or {}).values()),
        }
    )
    if isinstance(release, int) and release >= minimum:
        plan.notes.append(f".NET Framework Release {release} is {minimum} or later: nothing to install")
        return plan
    if not installer.lower().endswith(".exe"):
        raise PlanError(f"installer '{installer}' is not the .NET Framework offline installer (an .exe)")
    plan.changes.append(
        Change(
            Operation(
                "apply.dotnet", "dotnet_install", {"path": installer, "sha256": sha256.lower(), "as_system": as_system}
            ),
            ".NET Framework Release",
            release,
            f"{minimum} or later (after the restart)",
            disruptive=True,
        )
    )
    plan.verify.append(read_registry("verify.ndp", k.NDP_V4_FULL, ["Release", "Version"]))
    return plan


def verify_dotnet(
    results: Mapping[str, OperationResult], minimum: int = k.DOTNET_48_MINIMUM
) -> tuple[dict[str, Any], str | None]:
    """What the installer's exit code says, and the failure message when it did not install.

    A restart is due after 1641/3010, and after 0 while the Release value read right after the installer
    is still below ``minimum`` (an installation that waits for a restart from an earlier run).
    """
    code = (answer(results, "apply.dotnet") or {}).get("exit_code")
    release = current_value(answer(results, "verify.ndp"), "Release")
    verification: dict[str, Any] = {"exit_code": code, "release_after_install": release}
    if code == SUCCESS:
        current = isinstance(release, int) and release >= minimum
        outcome = "installed" if current else "installed; the new Release value shows after a restart"
        return {**verification, "outcome": outcome, "reboot_required": not current}, None
    if code in REBOOT_CODES:
        return {**verification, "outcome": REBOOT_CODES[code], "reboot_required": True}, None
    reason = FAILURE_CODES.get(code) if isinstance(code, int) else None
    message = f"the .NET Framework 4.8 installer exited with {code}: {reason or 'an undocumented exit code'}"
    return {**verification, "outcome": "failed", "reboot_required": False}, message
