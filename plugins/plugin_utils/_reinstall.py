"""The article's last resort as pure functions: uninstall the four programs, check nothing is left, reinstall.

"Your issue isn't listed here or wasn't resolved", steps 1 and 4:

- step 1 uninstalls the Remote Desktop Agent Boot Loader, the Remote Desktop
  Services Infrastructure Agent, its Geneva Agent and the SxS Network Stack,
  every instance ("You may see multiple instances of these programs. Make
  sure to remove all of them"), then restarts the VM;
- step 4 installs the agent with the registration key, then the boot loader
  (the agent brings the side-by-side stack and the Geneva agent along), and
  restarts the VM. The key is not handed to Windows Installer: the agent is
  installed without it and the key written where the agent reads it
  (``RDInfraAgent\\RegistrationToken`` with ``IsRegistered=0``, the article's own
  re-registration), because a machine ``Logging`` or ``Debug`` policy makes the
  installer write its command line and properties into ``MSI*.LOG`` files and
  ``MsiHiddenProperties``, a private property, cannot be set on a command line.

Each program is removed by its product code (Windows Installer's
``MsiConfigureProductEx``, what ``msiexec /x {ProductCode}`` does) and each
exit code is read the way Microsoft's own deployment script reads it:
1605 (the product is not installed) is already done, 1618 (another
installation is in progress) is retried after a wait, 3010 and 1641 are
success with a restart due. What the uninstallers leave behind (the
``RDInfraAgent`` and ``RDAgentBootLoader`` keys, whose values the agent and
boot loader write while they run, not the MSIs) is deleted once no program
is left, so the next registration starts from nothing.

The plans follow ``_plans.py``: one probe command, one apply-and-verify
command, nothing sent in check mode; the registration key only travels in
a ``registry_write`` on the runtime's stdin, which the runtime writes with
``Registry.SetValue`` (no cmdlet parameter, no command line, no installer log).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import _known as k
from ._parsers import program_is
from ._plans import Change, Plan, PlanError, answer, read_registry, set_value
from ._runtime import Operation, OperationResult

# The article's order (step 1): boot loader first, so nothing starts the agent while it goes.
UNINSTALL_ORDER = (k.PROGRAM_BOOTLOADER, k.PROGRAM_AGENT, k.PROGRAM_GENEVA, k.PROGRAM_SXS)
# Keys the uninstallers leave: values the agent and boot loader write at run time are no MSI component.
LEFTOVER_KEYS = (k.RDINFRA_AGENT, k.BOOTLOADER)
PRODUCT_CODE = re.compile(r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$")
PROGRAMS_PATTERN = "Remote Desktop*"

# Windows Installer exit codes (learn.microsoft.com/windows/win32/msi/error-codes) and what each means here.
MSI_SUCCESS = 0
MSI_UNKNOWN_PRODUCT = 1605
MSI_ANOTHER_INSTALL = 1618
MSI_REBOOT_INITIATED = 1641
MSI_REBOOT_REQUIRED = 3010
DONE, ABSENT, REBOOT, BUSY, FAILED = "done", "absent", "reboot", "busy", "failed"
MSI_FAILURES = {
    1603: "a fatal error during installation (the MsiInstaller events in the Application log say which action failed)",
    1619: "the installation package could not be opened (missing, or not a Windows Installer package)",
    1620: "the installation package could not be opened (not a valid Windows Installer package)",
    1625: "the installation is forbidden by system policy (Turn off Windows Installer, INSTALL_MSI_BLOCKED)",
    1633: "the package is not for this processor type",
    1638: "another version of this product is already installed",
}
INSTALLER_PACKAGE = re.compile(r"^(?:[A-Za-z]:\\|\\\\)[^*?\"<>|]+\.msi$", re.IGNORECASE)


@dataclass(frozen=True)
class Product:
    """One installed instance of one of the four programs."""

    program: str  # which of the four (UNINSTALL_ORDER)
    display_name: str
    version: str
    product_code: str

    @property
    def label(self) -> str:
        return f"{self.display_name} {self.version} {self.product_code}".replace("  ", " ")


def which_program(display_name: str | None) -> str | None:
    """The one of the four programs an Add/Remove Programs name is (the Geneva agent's carries its version)."""
    return next((program for program in UNINSTALL_ORDER if program_is(display_name, program)), None)


def products_to_uninstall(programs: list[Mapping[str, Any]]) -> tuple[list[Product], list[str]]:
    """Every instance of the four programs in the ``programs`` read, in the article's order, and the entries that
    cannot be removed by product code (an Add/Remove Programs entry whose key is not a product code: no MSI)."""
    found: list[Product] = []
    not_msi: list[str] = []
    seen: set[str] = set()
    for entry in programs:
        program = which_program(entry.get("display_name"))
        if program is None:
            continue
        code = str(entry.get("product_code") or "")
        if not PRODUCT_CODE.match(code):
            not_msi.append(f"{entry.get('display_name')} ({code or 'no product code'})")
            continue
        if code.upper() in seen:  # listed under both registry views
            continue
        seen.add(code.upper())
        found.append(Product(program, str(entry.get("display_name")), str(entry.get("display_version") or ""), code))
    found.sort(key=lambda product: (UNINSTALL_ORDER.index(product.program), product.version))
    return found, not_msi


def classify_exit_code(code: int) -> str:
    """What a Windows Installer exit code means for an install or uninstall."""
    if code == MSI_SUCCESS:
        return DONE
    if code == MSI_UNKNOWN_PRODUCT:
        return ABSENT
    if code in (MSI_REBOOT_REQUIRED, MSI_REBOOT_INITIATED):
        return REBOOT
    if code == MSI_ANOTHER_INSTALL:
        return BUSY
    return FAILED


def exit_code_text(code: int) -> str:
    return MSI_FAILURES.get(code, f"Windows Installer error {code}")


def outcome(codes: Mapping[str, int]) -> dict[str, Any]:
    """The exit codes of a batch of installs or uninstalls (label -> code), summed up."""
    kinds = {label: classify_exit_code(code) for label, code in codes.items()}
    return {
        "exit_codes": dict(codes),
        "reboot_required": any(kind == REBOOT for kind in kinds.values()),
        "busy": sorted(label for label, kind in kinds.items() if kind == BUSY),
        "failed": [
            f"{label}: exit code {codes[label]}, {exit_code_text(codes[label])}"
            for label, kind in kinds.items()
            if kind == FAILED
        ],
    }


def leftovers(
    programs: list[Mapping[str, Any]], bootloader: Mapping[str, Any], keys: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """What is still on the host of the four programs: their Add/Remove Programs entries, the boot loader
    service, the keys the installers and the agent write."""
    left = [
        f"program {entry.get('display_name')} {entry.get('display_version') or ''}".rstrip()
        for entry in programs
        if which_program(entry.get("display_name"))
    ]
    if bootloader.get("exists"):
        left.append(f"service {k.BOOTLOADER_SERVICE}")
    left += [f"key {short(path)}" for path, read in keys.items() if read.get("exists")]
    return left


def short(path: str) -> str:
    return path.replace("HKEY_LOCAL_MACHINE\\", "HKLM\\")


# --- uninstall (step 1, and the check that nothing is left) -------------------------------------
def probe_uninstall(prefix: str = "probe") -> list[Operation]:
    return [
        Operation(f"{prefix}.programs", "programs", {"name_pattern": PROGRAMS_PATTERN}),
        Operation(f"{prefix}.bootloader", "service_query", {"name": k.BOOTLOADER_SERVICE}),
        read_registry(f"{prefix}.agent_key", k.RDINFRA_AGENT, []),
        read_registry(f"{prefix}.bootloader_key", k.BOOTLOADER, []),
    ]


def _state(results: Mapping[str, OperationResult], prefix: str) -> tuple[list[Any], Any, dict[str, Any]]:
    programs = list(answer(results, f"{prefix}.programs") or [])
    bootloader = answer(results, f"{prefix}.bootloader") or {}
    keys = {
        k.RDINFRA_AGENT: answer(results, f"{prefix}.agent_key") or {},
        k.BOOTLOADER: answer(results, f"{prefix}.bootloader_key") or {},
    }
    return programs, bootloader, keys


def plan_uninstall(results: Mapping[str, OperationResult]) -> Plan:
    """Uninstall every instance of the four programs; once none is left, delete the keys they leave.

    Two passes on purpose (the article restarts the VM in between): the keys
    go only when no program is left to write them again, so an uninstall
    that another installation held up (1618) never leaves an agent without
    its registry.
    """
    programs, bootloader, keys = _state(results, "probe")
    products, not_msi = products_to_uninstall(programs)
    if not_msi:
        raise PlanError("cannot uninstall by product code (not a Windows Installer product): " + "; ".join(not_msi))
    plan = Plan(
        facts={
            "products": [
                {"name": p.display_name, "version": p.version, "product_code": p.product_code} for p in products
            ],
            "left": leftovers(programs, bootloader, keys),
        }
    )
    for index, product in enumerate(products):
        plan.changes.append(
            Change(
                Operation(
                    f"apply.uninstall{index}",
                    "msiexec",
                    {
                        "action": "uninstall",
                        "product_code": product.product_code,
                        "properties": dict(k.MSI_NO_RESTART_MANAGER),
                    },
                ),
                f"program {product.label}",
                "installed",
                "uninstalled",
                disruptive=True,
            )
        )
    if not products:
        for name, path in (("agent_key", k.RDINFRA_AGENT), ("bootloader_key", k.BOOTLOADER)):
            if keys[path].get("exists"):
                plan.changes.append(
                    Change(
                        Operation(f"apply.{name}", "registry_delete", {"path": path}),
                        f"key {short(path)}",
                        "present",
                        "absent",
                    )
                )
    if plan.changes:
        plan.verify = probe_uninstall("verify")
        plan.notes.append(
            f"uninstalling {len(products)} program instance(s) by product code"
            if products
            else "no program left: deleting the keys the uninstallers leave"
        )
    return plan


def verify_uninstall(
    results: Mapping[str, OperationResult], labels: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], str | None]:
    """The exit codes (by what each uninstall removed, ``labels``: op id -> the plan's target) and what is left;
    the failure message when an uninstall failed."""
    codes = {
        (labels or {}).get(entry.id, entry.id): int((entry.result or {}).get("exit_code", -1))
        for entry in results.values()
        if entry.id.startswith("apply.uninstall")
    }
    summary = outcome(codes)
    programs, bootloader, keys = _state(results, "verify")
    summary["left"] = leftovers(programs, bootloader, keys)
    problem = "uninstall failed: " + "; ".join(summary["failed"]) if summary["failed"] else None
    return summary, problem


# --- install (step 4) --------------------------------------------------------------------------
def check_package(name: str, path: str | None) -> None:
    if not path or not INSTALLER_PACKAGE.match(path):
        raise PlanError(
            f"{name} must be the path of an .msi file on the host (C:\\... or \\\\server\\...), got {path!r}"
        )


def check_sha256(name: str, value: str | None) -> None:
    if value is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise PlanError(f"{name} must be a SHA-256 checksum (64 hexadecimal digits), got {value!r}")


def check_token(token: str | None) -> None:
    if token is not None and (not token.strip() or any(c.isspace() for c in token.strip())):
        raise PlanError("registration_token is empty or has spaces inside: pass the key registration_token returns")


def probe_install(prefix: str = "probe", packages: list[str] | None = None) -> list[Operation]:
    """What is installed (and, with ``packages``, whether those files are on the host and their SHA-256)."""
    operations = [
        Operation(f"{prefix}.programs", "programs", {"name_pattern": PROGRAMS_PATTERN}),
        Operation(f"{prefix}.bootloader", "service_query", {"name": k.BOOTLOADER_SERVICE}),
        read_registry(f"{prefix}.agent_key", k.RDINFRA_AGENT, ["IsRegistered", "RegistrationToken"]),
    ]
    if packages:
        operations.append(Operation(f"{prefix}.packages", "file_hash", {"paths": list(packages)}))
    return operations


def package_problems(
    results: Mapping[str, OperationResult], packages: Mapping[str, tuple[str, str | None]]
) -> list[str]:
    """Each package (name -> (path on the host, SHA-256 or None)) that is not on the host, or not the file expected.

    Checked before anything is uninstalled: msiexec would answer 1619 for a missing package only after the old
    agent is gone. [] when the probe did not read the files (a capture from before this check).
    """
    if "probe.packages" not in results:
        return []
    found = {str(item.get("path")).lower(): item for item in answer(results, "probe.packages") or []}
    problems = []
    for name, (path, sha256) in packages.items():
        item = found.get(path.lower()) or {}
        if not item.get("exists"):
            problems.append(f"{name} {path} is not on the host")
        elif sha256 and str(item.get("sha256")).lower() != sha256.lower():
            problems.append(f"{name} {path} has SHA-256 {item.get('sha256')}, not {sha256.lower()}")
    return problems


def _msi_install(op_id: str, package: str, sha256: str | None) -> Operation:
    """An install with the Restart Manager off and no other property: the registration key is never one."""
    args: dict[str, Any] = {"action": "install", "package": package}
    if sha256:
        args["sha256"] = sha256.lower()
    args["properties"] = dict(k.MSI_NO_RESTART_MANAGER)
    return Operation(op_id, "msiexec", args)


def plan_install(
    results: Mapping[str, OperationResult],
    agent_package: str,
    boot_loader_package: str,
    token: str | None,
    agent_sha256: str | None = None,
    boot_loader_sha256: str | None = None,
    check_mode: bool = False,
    packages_only: bool = False,
) -> Plan:
    """The agent with the registration key, then the boot loader: each only when not installed.

    A package to install that the probe found missing (or with another SHA-256) fails the plan before anything
    runs; ``packages_only`` checks both packages that way and plans nothing (reinstall.yml's preflight).
    """
    programs = list(answer(results, "probe.programs") or [])
    installed = {which_program(entry.get("display_name")) for entry in programs}
    plan = Plan(
        facts={
            "agent_installed": k.PROGRAM_AGENT in installed,
            "bootloader_installed": k.PROGRAM_BOOTLOADER in installed,
        }
    )
    if packages_only:
        wanted = {
            "agent_package": (agent_package, agent_sha256),
            "boot_loader_package": (boot_loader_package, boot_loader_sha256),
        }
    else:
        wanted = {}
        if k.PROGRAM_AGENT not in installed:
            wanted["agent_package"] = (agent_package, agent_sha256)
        if k.PROGRAM_BOOTLOADER not in installed:
            wanted["boot_loader_package"] = (boot_loader_package, boot_loader_sha256)
    missing = package_problems(results, wanted)
    if missing:
        raise PlanError("; ".join(missing) + ": nothing was changed; give the right path (and SHA-256), then run again")
    if packages_only:
        plan.notes.append(
            "the agent and boot loader packages are on the host"
            + (" with their SHA-256" if agent_sha256 and boot_loader_sha256 else "")
        )
        return plan
    if k.PROGRAM_AGENT not in installed:
        if not token and not check_mode:
            raise PlanError("registration_token is required to install the agent (a key from registration_token)")
        plan.changes.append(
            Change(
                _msi_install("apply.agent", agent_package, agent_sha256),
                f"program {k.PROGRAM_AGENT}",
                "not installed",
                f"installed from {agent_package}",
                disruptive=True,
            )
        )
        # The registration key where the agent reads it, never through Windows Installer (see above).
        for change in (
            set_value("apply.agent_is_registered", k.RDINFRA_AGENT, "IsRegistered", "REG_DWORD", 0, None),
            set_value("apply.agent_token", k.RDINFRA_AGENT, "RegistrationToken", "REG_SZ", token or "", None),
        ):
            if change is not None:
                plan.changes.append(change)
    if k.PROGRAM_BOOTLOADER not in installed:
        plan.changes.append(
            Change(
                _msi_install("apply.boot_loader", boot_loader_package, boot_loader_sha256),
                f"program {k.PROGRAM_BOOTLOADER}",
                "not installed",
                f"installed from {boot_loader_package}",
                disruptive=True,
            )
        )
    if plan.changes:
        plan.verify = probe_install("verify")
    else:
        plan.notes.append("the agent and the boot loader are installed; nothing to install")
    return plan


def verify_install(results: Mapping[str, OperationResult]) -> tuple[dict[str, Any], str | None]:
    """Exit codes, and whether the agent, its key and the boot loader service are there now."""
    codes = {
        entry.id.removeprefix("apply."): int((entry.result or {}).get("exit_code", -1))
        for entry in results.values()
        if entry.id in ("apply.agent", "apply.boot_loader")
    }
    summary = outcome(codes)
    programs = list(answer(results, "verify.programs") or [])
    installed = {which_program(entry.get("display_name")) for entry in programs}
    service = answer(results, "verify.bootloader") or {}
    summary.update(
        agent_installed=k.PROGRAM_AGENT in installed,
        bootloader_installed=k.PROGRAM_BOOTLOADER in installed,
        bootloader_service=bool(service.get("exists")),
        agent_key=bool((answer(results, "verify.agent_key") or {}).get("exists")),
    )
    if summary["failed"]:
        return summary, "install failed: " + "; ".join(summary["failed"])
    if summary["busy"]:
        return summary, None  # another installation: the caller waits and runs again
    missing = [
        name
        for name, there in (
            (k.PROGRAM_AGENT, summary["agent_installed"]),
            (k.PROGRAM_BOOTLOADER, summary["bootloader_installed"]),
            (f"service {k.BOOTLOADER_SERVICE}", summary["bootloader_service"]),
        )
        if not there
    ]
    if missing:
        return summary, "the installers reported success but these are missing: " + ", ".join(missing)
    return summary, None
