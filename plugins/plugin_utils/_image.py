"""Golden-image validation: would VMs made from this image become working session hosts?

Each check is a small pure function over the ``avd_session_host`` facts of
the image-build VM (gathered in the same one runtime call as a diagnosis)
and returns a ``CheckResult``: passed or failed, with the evidence it saw and
the article section (or the reason) behind it. A check whose facts could not
be gathered is an error, never a pass: an image pipeline must not go green on
what it did not look at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _known as k
from ._rules import ARTICLE

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
AGENT_MODES = ("absent", "present", "any")
PREREQUISITES = "https://learn.microsoft.com/azure/virtual-desktop/prerequisites#operating-systems-and-licenses"
REQUIRED_URL_LIST = "https://learn.microsoft.com/azure/virtual-desktop/required-fqdn-endpoint"
PENDING_REBOOT_SOURCE = (
    "https://devblogs.microsoft.com/scripting/determine-pending-reboot-statuspowershell-style-part-1/ "
    "(Component Based Servicing\\RebootPending, WindowsUpdate\\Auto Update\\RebootRequired) and "
    "https://learn.microsoft.com/sysinternals/downloads/pendmoves (Session Manager\\PendingFileRenameOperations)"
)


@dataclass(frozen=True)
class ImageCheck:
    """One check of the catalog: its id, what it asks, and the section or reason behind it."""

    id: str
    title: str
    doc: str
    subsets: tuple[str, ...]
    unused: tuple[str, ...] = ()  # operations of those subsets the check does not read


def _article(anchor: str) -> str:
    return f"{ARTICLE}#{anchor}"


IMAGE_CHECKS: dict[str, ImageCheck] = {
    check.id: check
    for check in (
        ImageCheck(
            "IMAGE_EDITION_SUPPORTED",
            "The Windows edition runs AVD session hosts (Enterprise or Server; not Pro, LTSC/LTSB or N)",
            _article("error-operating-a-pro-vm-or-other-unsupported-os") + " and " + PREREQUISITES,
            ("os",),
        ),
        ImageCheck(
            "IMAGE_DOTNET_472",
            ".NET Framework 4.7.2 or later (Release 461808) for the agent",
            _article("error-agent-fails-to-update-with-missingmethodexception"),
            ("dotnet",),
        ),
        ImageCheck(
            "IMAGE_DISK_HEADROOM",
            "Free space on the system drive for agent downloads and updates",
            _article("error-downloadmsiexception"),
            ("disk",),
        ),
        ImageCheck(
            "IMAGE_NO_MSI_POLICY",
            "No 'Turn off Windows Installer' policy (DisableMSI)",
            _article("error-installmsiexception"),
            ("policies",),
        ),
        ImageCheck(
            "IMAGE_NO_CMD_POLICY",
            "No 'Prevent access to the command prompt' policy (DisableCMD)",
            _article("error-win32exception"),
            ("policies",),
        ),
        ImageCheck(
            "IMAGE_NO_REGISTRATION",
            "No agent registration captured in the image (IsRegistered, RegistrationToken, agent GUID)",
            _article("error-name_already_registered")
            + " (every VM made from a registered image claims the same registration)",
            ("agent",),
        ),
        ImageCheck(
            "IMAGE_AGENT_COMPONENTS",
            "AVD agent components all absent, or all present and consistent",
            _article("step-1-uninstall-all-agent-boot-loader-and-stack-component-programs"),
            ("agent", "services", "components"),
        ),
        ImageCheck(
            "IMAGE_STACK_LISTENER_KEYS",
            "Side-by-side stack WinStation flags and listener keys consistent",
            _article("error-stack-listener-isnt-working-on-a-windows-10-2004-session-host-vm"),
            ("stack", "components"),
            # the registry decides on an image (its listener waits for registration)
            ("stack.qwinsta", "components.sxs_msi"),
        ),
        ImageCheck(
            "IMAGE_NO_PENDING_REBOOT",
            "No reboot pending before capture",
            "a pending reboot is captured into every VM, which then restarts at first boot while the agent "
            "installs; markers per " + PENDING_REBOOT_SOURCE,
            ("reboot",),
        ),
        ImageCheck(
            "IMAGE_REQUIRED_URLS",
            "The Required URL list is reachable from the build VM",
            _article("error-3703") + " and " + REQUIRED_URL_LIST,
            ("network",),
        ),
    )
}


@dataclass
class CheckResult:
    id: str
    status: str
    evidence: list[str] = field(default_factory=list)
    reason: str = ""  # why it failed, errored or was skipped, in one line

    def as_dict(self) -> dict[str, Any]:
        check = IMAGE_CHECKS[self.id]
        return {
            "id": self.id,
            "title": check.title,
            "status": self.status,
            "reason": self.reason,
            "evidence": list(self.evidence),
            "doc": check.doc,
        }


@dataclass(frozen=True)
class Options:
    agent: str = "any"
    check_urls: bool = False
    urls: tuple[str, ...] = k.REQUIRED_URLS
    disk_min_free_mb: int = k.DISK_MSI_BYTES // 1024**2
    disk_min_free_percent: float = k.DISK_LOW_PERCENT


def subsets_for(options: Options) -> list[str]:
    """The gather subsets the checks need (network only when URLs are checked)."""
    needed = {subset for check in IMAGE_CHECKS.values() for subset in check.subsets}
    if not options.check_urls:
        needed.discard("network")
    return sorted(needed)


# --- the checks ----------------------------------------------------------------------
def _section(facts: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    value = facts.get(name)
    return value if isinstance(value, Mapping) else None


def _missing(check_id: str, facts: Mapping[str, Any]) -> CheckResult | None:
    """An error result when a subset the check needs was not gathered or its reads failed."""
    check = IMAGE_CHECKS[check_id]
    absent = [name for name in check.subsets if _section(facts, name) is None]
    failed = [
        f"{error.get('operation')}: {error.get('message')}"
        for error in facts.get("errors") or []
        if str(error.get("operation", "")).split(".", 1)[0] in check.subsets
        and error.get("operation") not in check.unused
    ]
    if not absent and not failed:
        return None
    reason = "could not check: " + "; ".join([*(f"the {name} facts were not gathered" for name in absent), *failed])
    return CheckResult(check_id, ERROR, failed, reason)


def edition_problem(edition: str | None, product_name: str | None) -> str | None:
    """Why this edition cannot run AVD session hosts, or None when it can."""
    if not edition:
        return "EditionID is not set"
    lowered = edition.lower()
    product = product_name or ""
    if lowered in k.LTSC_EDITIONS or re.search(r"\bLTS[BC]\b", product):
        return "an LTSC/LTSB edition"
    if lowered in k.N_EDITIONS or re.search(r"\sN\b", product):
        return "an N edition"
    if not lowered.startswith(k.SXS_SUPPORTED_EDITION_PREFIXES):
        return "not an Enterprise or Server edition (the side-by-side stack installs but is never activated)"
    return None


def edition(facts: Mapping[str, Any], options: Options) -> CheckResult:
    """Error: Operating a Pro VM or other unsupported OS."""
    os_facts = _section(facts, "os") or {}
    evidence = [
        f"EditionID={os_facts.get('edition')}, ProductName={os_facts.get('product_name')}, "
        f"CurrentBuild={os_facts.get('build')}, InstallationType={os_facts.get('installation_type')}"
    ]
    problem = edition_problem(os_facts.get("edition"), os_facts.get("product_name"))
    if problem:
        return CheckResult(
            "IMAGE_EDITION_SUPPORTED", FAILED, evidence, f"EditionID {os_facts.get('edition')}: {problem}"
        )
    return CheckResult("IMAGE_EDITION_SUPPORTED", PASSED, evidence)


def dotnet(facts: Mapping[str, Any], options: Options) -> CheckResult:
    """Error: Agent fails to update with MissingMethodException (.NET older than 4.7.2)."""
    facts_dotnet = _section(facts, "dotnet") or {}
    release = facts_dotnet.get("release")
    evidence = [
        f"NDP\\v4\\Full Release={release} (.NET {facts_dotnet.get('version') or 'not installed'})",
    ]
    if isinstance(release, int) and release >= k.DOTNET_472_MINIMUM:
        return CheckResult("IMAGE_DOTNET_472", PASSED, evidence)
    return CheckResult(
        "IMAGE_DOTNET_472", FAILED, evidence, f"the agent needs Release {k.DOTNET_472_MINIMUM} (4.7.2) or later"
    )


def disk(facts: Mapping[str, Any], options: Options) -> CheckResult:
    """Error: DownloadMsiException (no room for the agent's downloads)."""
    facts_disk = _section(facts, "disk") or {}
    size, free = int(facts_disk.get("size_bytes") or 0), int(facts_disk.get("free_bytes") or 0)
    if not size:
        return CheckResult("IMAGE_DISK_HEADROOM", ERROR, [], "could not check: the system drive reported no size")
    percent = round(free * 100 / size, 2)
    evidence = [f"{facts_disk.get('drive')} has {free / 1024**2:.0f} MB free of {size / 1024**3:.1f} GB ({percent}%)"]
    short = []
    if free < options.disk_min_free_mb * 1024**2:
        short.append(f"less than {options.disk_min_free_mb} MB free")
    if percent < options.disk_min_free_percent:
        short.append(f"less than {options.disk_min_free_percent:g}% free")
    if short:
        return CheckResult("IMAGE_DISK_HEADROOM", FAILED, evidence, " and ".join(short))
    return CheckResult("IMAGE_DISK_HEADROOM", PASSED, evidence)


def msi_policy(facts: Mapping[str, Any], options: Options) -> CheckResult:
    """Error: InstallMsiException (Turn off Windows Installer)."""
    value = (_section(facts, "policies") or {}).get("disable_msi")
    evidence = [f"{k.INSTALLER_POLICY}: DisableMSI={value if value is not None else 'not set'}"]
    if value in (1, 2):
        return CheckResult(
            "IMAGE_NO_MSI_POLICY", FAILED, evidence, "Windows Installer is turned off; the agent cannot install"
        )
    return CheckResult("IMAGE_NO_MSI_POLICY", PASSED, evidence)


def cmd_policy(facts: Mapping[str, Any], options: Options) -> CheckResult:
    """Error: Win32Exception (Prevent access to the command prompt)."""
    disable_cmd = (_section(facts, "policies") or {}).get("disable_cmd") or {}
    machine = disable_cmd.get("machine")
    hives = disable_cmd.get("user_hives") or {}
    set_in = [f"HKU\\{hive}" for hive, value in sorted(hives.items()) if value in (1, 2)]
    if machine in (1, 2):
        set_in.insert(0, "HKLM")
    evidence = [f"DisableCMD machine={machine if machine is not None else 'not set'}"]
    evidence += [f"DisableCMD in HKU\\{hive}={value}" for hive, value in sorted(hives.items()) if value is not None]
    if set_in:
        return CheckResult(
            "IMAGE_NO_CMD_POLICY",
            FAILED,
            evidence,
            f"the command prompt is disabled ({', '.join(set_in)}); the agent restarts its service through cmd.exe",
        )
    return CheckResult("IMAGE_NO_CMD_POLICY", PASSED, evidence)


def registration(facts: Mapping[str, Any], options: Options) -> CheckResult:
    """No registration baked in: every VM from the image would claim it (NAME_ALREADY_REGISTERED)."""
    agent = _section(facts, "agent") or {}
    token = (
        f"set ({agent.get('registration_token_length')} characters)" if agent.get("registration_token_set") else "empty"
    )
    evidence = [
        f"RDInfraAgent: IsRegistered={agent.get('is_registered')}, RegistrationToken {token}, "
        f"GUID={agent.get('guid') or 'not set'}, HostPoolArmPath={agent.get('host_pool_arm_path') or 'not set'}"
    ]
    baked = []
    if agent.get("is_registered") == 1:
        baked.append("IsRegistered=1")
    if agent.get("registration_token_set"):
        baked.append("a RegistrationToken is set")
    if agent.get("guid"):
        baked.append("the agent's GUID is set")
    if baked:
        return CheckResult(
            "IMAGE_NO_REGISTRATION",
            FAILED,
            evidence,
            f"{', '.join(baked)}: remove the registration (or the agent) before sysprep and capture",
        )
    return CheckResult("IMAGE_NO_REGISTRATION", PASSED, evidence)


def _version(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    parts = re.findall(r"\d+", text)
    return tuple(int(part) for part in parts) if parts else None


def agent_components(facts: Mapping[str, Any], options: Options) -> CheckResult:
    """Agent, boot loader, Geneva agent and SxS stack: absent (installed at deployment) or all present and matching."""
    agent = _section(facts, "agent") or {}
    services = _section(facts, "services") or {}
    programs: Mapping[str, Any] = (_section(facts, "components") or {}).get("programs") or {}
    instances = {name: list(programs.get(name) or []) for name in k.PROGRAMS}
    bootloader_service = services.get(k.BOOTLOADER_SERVICE) or {}
    evidence = [
        f"{name}: " + (", ".join(str(p.get("display_version")) for p in found) if found else "not installed")
        for name, found in instances.items()
    ]
    evidence.append(f"service {k.BOOTLOADER_SERVICE}: {'exists' if bootloader_service.get('exists') else 'absent'}")
    evidence.append(
        f"DefaultAgent={agent.get('default_agent') or 'not set'}, SxsStack CurrentVersion="
        f"{agent.get('sxs_stack_version') or 'not set'}"
    )
    installed = [name for name, found in instances.items() if found]
    absent_problems = [f"{name} is installed" for name in installed]
    if bootloader_service.get("exists"):
        absent_problems.append(f"the {k.BOOTLOADER_SERVICE} service exists")
    present_problems = [f"{name} is not installed" for name, found in instances.items() if not found]
    present_problems += [
        f"{name} is installed {len(found)} times" for name, found in instances.items() if len(found) > 1
    ]
    if not bootloader_service.get("exists"):
        present_problems.append(f"the {k.BOOTLOADER_SERVICE} service does not exist")
    agent_programs = instances[k.PROGRAM_AGENT]
    if agent_programs and _version(agent.get("version")) not in {
        _version(p.get("display_version")) for p in agent_programs
    }:
        present_problems.append(
            f"DefaultAgent={agent.get('default_agent') or 'not set'} names no installed agent version"
        )
    sxs_programs = instances[k.PROGRAM_SXS]
    if sxs_programs and _version(agent.get("sxs_stack_version")) not in {
        _version(p.get("display_version")) for p in sxs_programs
    }:
        present_problems.append(
            f"SxsStack CurrentVersion={agent.get('sxs_stack_version') or 'not set'} is not the installed stack"
        )
    if options.agent == "absent":
        problems = absent_problems
    elif options.agent == "present":
        problems = present_problems
    else:
        problems = [] if not absent_problems or not present_problems else present_problems
    if problems:
        return CheckResult(
            "IMAGE_AGENT_COMPONENTS", FAILED, evidence, f"agent mode '{options.agent}': " + "; ".join(problems)
        )
    mode = "absent" if not absent_problems else "present and consistent"
    return CheckResult("IMAGE_AGENT_COMPONENTS", PASSED, [*evidence, f"agent components {mode}"])


def stack_keys(facts: Mapping[str, Any], options: Options) -> CheckResult:
    """Stack listener isn't working: the active rdp-sxs WinStation's flags and the listener names agree."""
    stack = _section(facts, "stack") or {}
    winstations = list(stack.get("winstations") or [])
    listener = stack.get("reverse_connection_listener")
    session_directory = stack.get("session_directory_listener")
    evidence = [
        f"WinStations\\{w.get('name')}: fReverseConnectMode={w.get('fReverseConnectMode')}, "
        f"fEnableWinStation={w.get('fEnableWinStation')}"
        for w in winstations
    ]
    evidence.append(
        f"ReverseConnectionListener={listener or 'not set'}, "
        f"ClusterSettings\\SessionDirectoryListener={session_directory or 'not set'}"
    )
    programs: Mapping[str, Any] = (_section(facts, "components") or {}).get("programs") or {}
    if not winstations and not programs.get(k.PROGRAM_SXS):
        # No stack: the agent installs it at deployment and writes the listener names then; names left
        # behind by an uninstalled stack are only evidence.
        return CheckResult("IMAGE_STACK_LISTENER_KEYS", PASSED, [*evidence, "no side-by-side stack installed"])
    problems = []
    active = next((w for w in winstations if listener and str(w.get("name")).lower() == listener.lower()), None)
    if not listener:
        problems.append("rdp-sxs WinStations exist but ReverseConnectionListener is not set")
    elif active is None:
        problems.append(f"ReverseConnectionListener names {listener}, which has no WinStation key")
    else:
        for flag in ("fReverseConnectMode", "fEnableWinStation"):
            if active.get(flag) != 1:
                problems.append(f"{active.get('name')}: {flag}={active.get(flag)} (must be 1)")
    if listener and (session_directory or "").lower() != listener.lower():
        problems.append(f"SessionDirectoryListener={session_directory or 'not set'} does not match {listener}")
    if problems:
        return CheckResult("IMAGE_STACK_LISTENER_KEYS", FAILED, evidence, "; ".join(problems))
    return CheckResult("IMAGE_STACK_LISTENER_KEYS", PASSED, evidence)


def pending_reboot(facts: Mapping[str, Any], options: Options) -> CheckResult:
    """A reboot pending at capture: Windows servicing's three markers."""
    reboot = _section(facts, "reboot") or {}
    renames = int(reboot.get("pending_file_renames") or 0)
    evidence = [
        f"Component Based Servicing\\RebootPending: {'present' if reboot.get('cbs_reboot_pending') else 'absent'}",
        f"WindowsUpdate\\Auto Update\\RebootRequired: "
        f"{'present' if reboot.get('windows_update_reboot_required') else 'absent'}",
        f"Session Manager\\PendingFileRenameOperations: {renames} entries",
        *(f"  {entry}" for entry in reboot.get("pending_file_renames_sample") or []),
    ]
    pending = [
        name
        for name, flag in (
            ("Component Based Servicing", reboot.get("cbs_reboot_pending")),
            ("Windows Update", reboot.get("windows_update_reboot_required")),
            ("pending file renames", renames > 0),
        )
        if flag
    ]
    if pending:
        return CheckResult(
            "IMAGE_NO_PENDING_REBOOT",
            FAILED,
            evidence,
            f"a reboot is pending ({', '.join(pending)}): restart the build VM before sysprep and capture",
        )
    return CheckResult("IMAGE_NO_PENDING_REBOOT", PASSED, evidence)


def required_urls(facts: Mapping[str, Any], options: Options) -> CheckResult:
    """Required URL list, probed from the build VM (off by default: build networks often differ)."""
    probes = {str(p.get("url")): p for p in (_section(facts, "network") or {}).get("probes") or []}
    evidence, unreachable = [], []
    for url in options.urls:
        probe = probes.get(url)
        if probe is None:
            evidence.append(f"{url}: not probed")
            unreachable.append(url)
        elif probe.get("reachable"):
            evidence.append(f"{url}: reachable (HTTP {probe.get('status')})")
        else:
            evidence.append(f"{url}: unreachable ({probe.get('error')})")
            unreachable.append(url)
    if unreachable:
        return CheckResult("IMAGE_REQUIRED_URLS", FAILED, evidence, f"unreachable: {', '.join(unreachable)}")
    return CheckResult("IMAGE_REQUIRED_URLS", PASSED, evidence)


CheckFunction = Callable[[Mapping[str, Any], Options], CheckResult]
CHECK_FUNCTIONS: dict[str, CheckFunction] = {
    "IMAGE_EDITION_SUPPORTED": edition,
    "IMAGE_DOTNET_472": dotnet,
    "IMAGE_DISK_HEADROOM": disk,
    "IMAGE_NO_MSI_POLICY": msi_policy,
    "IMAGE_NO_CMD_POLICY": cmd_policy,
    "IMAGE_NO_REGISTRATION": registration,
    "IMAGE_AGENT_COMPONENTS": agent_components,
    "IMAGE_STACK_LISTENER_KEYS": stack_keys,
    "IMAGE_NO_PENDING_REBOOT": pending_reboot,
    "IMAGE_REQUIRED_URLS": required_urls,
}


def validate(facts: Mapping[str, Any], options: Options) -> dict[str, Any]:
    """Every check on one image-build VM: ``{state: passed|failed, checks: [...]}``."""
    results: list[CheckResult] = []
    for check_id, function in CHECK_FUNCTIONS.items():
        if check_id == "IMAGE_REQUIRED_URLS" and not options.check_urls:
            results.append(CheckResult(check_id, SKIPPED, [], "not requested (check_urls is false)"))
            continue
        results.append(_missing(check_id, facts) or function(facts, options))
    failed = [r for r in results if r.status in (FAILED, ERROR)]
    return {"state": FAILED if failed else PASSED, "checks": [r.as_dict() for r in results]}


def options_from_args(args: Mapping[str, Any]) -> Options:
    """Options from the module's validated arguments; a clear ValueError for values out of range."""
    agent = str(args.get("agent") or "any")
    if agent not in AGENT_MODES:
        raise ValueError(f"agent must be one of {', '.join(AGENT_MODES)}, got {agent!r}")
    min_mb = int(args.get("disk_min_free_mb", Options.disk_min_free_mb))
    min_percent = float(args.get("disk_min_free_percent", Options.disk_min_free_percent))
    if min_mb < 0:
        raise ValueError(f"disk_min_free_mb must be 0 or more, got {min_mb}")
    if not 0 <= min_percent < 100:
        raise ValueError(f"disk_min_free_percent must be from 0 to less than 100, got {min_percent}")
    urls: Sequence[str] = args.get("urls") or k.REQUIRED_URLS
    for url in urls:
        if not re.match(r"^https?://[^/\s]+", str(url)):
            raise ValueError(f"urls: {url!r} is not an http(s) URL")
    return Options(
        agent=agent,
        check_urls=bool(args.get("check_urls")),
        urls=tuple(str(url) for url in urls),
        disk_min_free_mb=min_mb,
        disk_min_free_percent=min_percent,
    )


# --- reports (written by diagnosis_report's kind=image, with the diagnosis' report functions) ---------
REPORT_STEM = "image-validation"


def report_entry(result: Mapping[str, Any] | None) -> dict[str, Any]:
    """One host's registered image_check result as a report entry (the diagnosis report's shape).

    A host that passed every check is ``healthy``; a failed or uncheckable check is a critical
    finding (``unhealthy``); skipped checks are ``unchecked``; the evidence of passed checks goes
    under ``passed``, so the JUnit cases show what each check saw.
    """
    if not result:
        return {
            "state": "failed",
            "reason": "no validation result (the host was not run)",
            "findings": [],
            "unchecked": [],
        }
    if result.get("unreachable"):
        return {
            "state": "unreachable",
            "reason": str(result.get("msg") or "unreachable"),
            "findings": [],
            "unchecked": [],
        }
    validation = result.get("validation")
    if result.get("failed") or not isinstance(validation, Mapping):
        reason = str(result.get("msg") or "the validation failed")
        return {"state": "failed", "reason": reason, "findings": [], "unchecked": []}
    checks = list(validation.get("checks") or [])
    findings = [
        {
            "id": c["id"],
            "severity": "critical",
            "title": c["title"],
            "evidence": list(c.get("evidence") or []),
            "remediation": (f"{c['status']}: " if c["status"] == ERROR else "") + str(c.get("reason") or ""),
            "doc": c["doc"],
            "explained_by": None,
            "explains": [],
        }
        for c in checks
        if c.get("status") in (FAILED, ERROR)
    ]
    return {
        "state": "unhealthy" if findings or validation.get("state") != PASSED else "healthy",
        "findings": findings,
        "unchecked": [f"{c['id']}: {c.get('reason')}" for c in checks if c.get("status") == SKIPPED],
        "passed": {c["id"]: list(c.get("evidence") or []) for c in checks if c.get("status") == PASSED},
        "checks": checks,
    }
