"""The diagnosis: one rule per documented failure of the AVD agent troubleshooting article.

Each rule is a small pure function over a host's ``avd_session_host`` facts
(and the host pool's view of the host, when the inventory has it) that
returns findings with the evidence it saw. ``diagnose`` runs them all, links
symptoms to the root cause that explains them, and orders root causes first.
Events older than the last boot, registration errors older than a
successful registration since, and update errors older than a successful
installation of the agent since, are stale and raise nothing on their own.
"""

from __future__ import annotations

import datetime
import re
from collections import ChainMap
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, cast

from . import _known as k
from ._inventory import pool_host_variables
from ._parsers import EVENT_KINDS, REGISTRATION_KINDS, SUCCESS_KINDS
from ._pool_host import find_pool_host
from ._verdicts import broken_subsets, coverage, host_state, unchecked_list

ARTICLE = "https://learn.microsoft.com/azure/virtual-desktop/troubleshoot-agent"
STATUSES_ARTICLE = "https://learn.microsoft.com/azure/virtual-desktop/troubleshoot-statuses-checks"
HEARTBEAT_REPORT = "https://learn.microsoft.com/answers/questions/5793701/avd-rdagent-stops-sending-heartbeats"
CRITICAL, WARNING, INFO = "critical", "warning", "info"
# Errors of an agent update that never installed (Error: InstallMsiException, Win32Exception, DownloadMsiException):
# a later installation of the agent by Windows Installer (MsiInstaller 11707) shows the blocker is gone. Not
# InstallationHealthCheckFailedException or MissingMethodException: those updates installed, then rolled back.
UPDATE_BLOCKED_KINDS = frozenset({"InstallMsiException", "Win32Exception", "DownloadMsiException"})
SEVERITY_RANK = {CRITICAL: 0, WARNING: 1, INFO: 2}


@dataclass(frozen=True)
class Check:
    """One row of the catalog: a finding id, its article section, and what fixes it."""

    id: str
    title: str
    anchor: str
    remediation: str
    page: str = ARTICLE  # the troubleshooting article, unless the finding comes from another source

    @property
    def doc(self) -> str:
        return f"{self.page}#{self.anchor}" if self.anchor else self.page


REINSTALL = (
    "Re-register the VM and reinstall the agent (the article's 'Your issue isn't listed' steps): uninstall the "
    "boot loader, agent, Geneva agent and SxS stack, remove the session host from the host pool, generate a new "
    "registration key, reinstall the agent with the key and the boot loader, restart. Disruptive: drain the host "
    "and sign users out first. playbooks/reinstall.yml does all of it (role reinstall; remediate.yml uses it for "
    "AGENT_NOT_INSTALLED)."
)
CHECKS: dict[str, Check] = {
    check.id: check
    for check in (
        Check(
            "BOOTLOADER_NOT_RUNNING",
            "The Remote Desktop Agent Loader (RDAgentBootLoader) is not running",
            "error-the-rdagentbootloader-andor-remote-desktop-agent-loader-has-stopped-running",
            "Start the RDAgentBootLoader service, wait 10 seconds and check it again; if it stops again, "
            "look for a registration failure (event 3277).",
        ),
        Check(
            "AGENT_NOT_INSTALLED",
            "The AVD agent or its boot loader is not installed",
            "your-issue-isnt-listed-here-or-wasnt-resolved",
            REINSTALL,
        ),
        Check(
            "INVALID_REGISTRATION_TOKEN",
            "The agent's registration token is not recognised",
            "error-invalid_registration_token",
            "Generate a new registration key for the host pool, set IsRegistered=0 and RegistrationToken=<key> "
            "under HKLM\\SOFTWARE\\Microsoft\\RDInfraAgent, restart RDAgentBootLoader, and check that "
            "IsRegistered becomes 1 and the token is emptied.",
        ),
        Check(
            "REGISTRATION_INCOMPLETE",
            "The agent's registration never completed (IsRegistered and RegistrationToken disagree)",
            "error-invalid_registration_token",
            "Re-register the VM: generate a new registration key for the host pool, set IsRegistered=0 and "
            "RegistrationToken=<key> under HKLM\\SOFTWARE\\Microsoft\\RDInfraAgent, restart RDAgentBootLoader, and "
            "check that IsRegistered becomes 1 and the token is emptied (role registration).",
        ),
        Check(
            "EXPIRED_REGISTRATION_TOKEN",
            "The agent's registration token has expired",
            "your-issue-isnt-listed-here-or-wasnt-resolved",
            "Generate a new registration key (1 hour to 27 days) and re-register the VM with it (set "
            "IsRegistered=0 and RegistrationToken, restart RDAgentBootLoader), or reinstall the agent with it.",
        ),
        Check(
            "INVALID_FORM",
            "The agent cannot reach the broker (INVALID_FORM)",
            "error-agent-cannot-connect-to-broker-with-invalid_form",
            "Needs the network team: unblock BrokerURI and BrokerURIGlobal (the Required URL list) in firewall, "
            "proxy and DNS, and check that no group policy restricts the TLS 1.2 cipher suites the agent needs.",
        ),
        Check(
            "GATEWAY_UNREACHABLE",
            "The agent cannot reach the RD Gateway URLs (event 3703)",
            "error-3703",
            "Needs the network team: allow the Required URL list through the firewall or proxy (Azure Firewall "
            "and its DNS settings, if used).",
        ),
        Check(
            "WEBSOCKET_UNREACHABLE",
            "The agent cannot reach the web socket transport URLs (event 3019)",
            "error-3019",
            "Needs the network team: unblock the Required URL list in firewall, proxy and DNS; attach network "
            "traces if you open a support case.",
        ),
        Check(
            "INSTALLATION_HEALTH_CHECK_FAILED",
            "An agent installation's health check failed (InstallationHealthCheckFailedException)",
            "error-installationhealthcheckfailedexception",
            "Check the stack listener (qwinsta); if it is not working, fix its WinStations flags or reinstall "
            "the side-by-side stack, then restart the VM.",
        ),
        Check(
            "ENDPOINT_NOT_FOUND",
            "The broker found no endpoint for this session host (ENDPOINT_NOT_FOUND)",
            "error-endpoint_not_found",
            "Make sure the VM is on and still in the host pool, below the session limit, with the agent running "
            "and the listener working; re-register it with a new registration key if it was removed.",
        ),
        Check(
            "INSTALL_MSI_BLOCKED",
            "Group policy blocks Windows Installer (InstallMsiException)",
            "error-installmsiexception",
            "Needs the Active Directory team: set 'Turn off Windows Installer' (DisableMSI) to not configured "
            "for session hosts, then restart RDAgentBootLoader so the agent update can install.",
        ),
        Check(
            "INSTALLER_BUSY",
            "Another installation was running when the agent installed (InstallMsiException)",
            "error-installmsiexception",
            "Let the other installation finish (or end it), then restart RDAgentBootLoader so the agent retries.",
        ),
        Check(
            "CMD_BLOCKED",
            "Group policy blocks the command prompt the agent needs (Win32Exception)",
            "error-win32exception",
            "Needs the Active Directory team: set 'Prevent access to the command prompt' (DisableCMD) to not "
            "configured for session hosts, then restart RDAgentBootLoader.",
        ),
        Check(
            "STACK_LISTENER_NOT_LISTENING",
            "The RDP listeners (rdp-tcp, rdp-sxs) are not listening",
            "error-stack-listener-isnt-working-on-a-windows-10-2004-session-host-vm",
            "Set fReverseConnectMode=1 and fEnableWinStation=1 on the rdp-sxs WinStation that qwinsta names, "
            "check ClusterSettings\\SessionDirectoryListener matches it, and restart the VM (drain it first).",
        ),
        Check(
            "DISK_SPACE_LOW",
            "Not enough disk space for the agent (DownloadMsiException)",
            "error-downloadmsiexception",
            "Free space on the system drive (delete files no longer in use) or enlarge the VM's disk.",
        ),
        Check(
            "DOTNET_OUTDATED",
            ".NET Framework is older than 4.7.2 (MissingMethodException)",
            "error-agent-fails-to-update-with-missingmethodexception",
            "Install .NET Framework 4.7.2 or later (4.8 recommended) and restart the VM; the agent then updates.",
        ),
        Check(
            "SXS_STACK_NOT_INSTALLED",
            "The side-by-side stack is not installed properly",
            "error-session-host-vms-are-stuck-in-unavailable-or-upgrading-state",
            "Stop RDAgentBootLoader, uninstall the Remote Desktop Services SxS Network Stack, install the newest "
            "SxSStack-*.msi from C:\\Program Files\\Microsoft RDInfra, restart the VM (drain it first); if the "
            "listener still does not listen, re-register and reinstall the agent.",
        ),
        Check(
            "SESSION_LIMIT_REACHED",
            "The session host is at the host pool's session limit",
            "error-connection-not-found-rdagent-does-not-have-an-active-connection-to-the-broker",
            "Needs a capacity decision: lower the max session limit to spread users, or give the session hosts "
            "more resources (and a limit that matches), or add session hosts.",
        ),
        Check(
            "UNSUPPORTED_OS",
            "The OS edition cannot run the side-by-side stack",
            "error-operating-a-pro-vm-or-other-unsupported-os",
            "Needs a new VM: replace it with a Windows Enterprise (multi-session) or Windows Server session host; "
            "the stack installs on this edition but never activates.",
        ),
        Check(
            "NAME_ALREADY_REGISTERED",
            "Another VM already registered this session host name",
            "error-name_already_registered",
            "Remove the session host from the host pool, create the VM again with a unique name, and register it.",
        ),
        # --- the service's and the agent's own signals (beyond the article's sections)
        Check(
            "DOMAIN_TRUST_LOST",
            "The session host lost its trust relationship with the domain (DomainTrustCheck)",
            "health-check",
            "Needs a domain administrator: repair the VM's secure channel (Test-ComputerSecureChannel -Repair "
            "with domain credentials, or rejoin the domain), then restart the VM (drain it first). Users cannot "
            "sign in until it is fixed.",
            STATUSES_ARTICLE,
        ),
        Check(
            "FSLOGIX_UNHEALTHY",
            "FSLogix profile containers are not healthy (FSLogixHealthCheck)",
            "health-check",
            "Check the FSLogix service and that the VHDLocations share is reachable from the VM (firewall, DNS, "
            "storage account permissions); users get temporary or no profiles meanwhile.",
            STATUSES_ARTICLE,
        ),
        Check(
            "HEALTH_CHECK_FAILED",
            "A health check of the AVD agent failed",
            "health-check",
            "Look up each failed check in the session host health check table and fix what it names; a failed "
            "DomainJoinedCheck or SxSStackListenerCheck keeps users out, the others degrade their sessions.",
            STATUSES_ARTICLE,
        ),
        Check(
            "HEARTBEAT_LOST",
            "The AVD agent stopped sending heartbeats while its boot loader runs",
            "",
            "Restart the RDAgentBootLoader service (it starts a fresh agent, heartbeats resume); if it happens "
            "again, check the domain secure channel (NETLOGON 5719) and collect agent traces for a support case. "
            "Users get error 0x204 meanwhile, though the portal may still say Available.",
            HEARTBEAT_REPORT,
        ),
        Check(
            "AGENT_VERSION_DRIFT",
            "The AVD agent version differs from the rest of the host pool",
            "health-check",
            "Usually an agent update that did not apply: look for update errors on this host (or let the "
            "scheduled agent update run); no action if the pool is mid-rollout.",
            STATUSES_ARTICLE,
        ),
        Check(
            "STACK_VERSION_DRIFT",
            "The side-by-side stack version differs from the rest of the host pool",
            "error-session-host-vms-are-stuck-in-unavailable-or-upgrading-state",
            "The stack updates with the agent: check this host's agent updates; reinstall the newest SxS stack if "
            "it stays behind.",
        ),
        Check(
            "OS_BUILD_DRIFT",
            "The Windows build differs from the rest of the host pool",
            "",
            "Patch the host to the pool's build (or rebuild it from the current image) so every host behaves the "
            "same for users.",
            STATUSES_ARTICLE,
        ),
        Check(
            "DOTNET_DRIFT",
            "The .NET Framework release differs from the rest of the host pool",
            "error-agent-fails-to-update-with-missingmethodexception",
            "Install the .NET Framework release the rest of the pool runs (4.8 recommended) and restart the VM.",
        ),
    )
}


@dataclass
class Finding:
    id: str
    severity: str
    evidence: list[str]
    explained_by: str | None = None
    explains: list[str] = field(default_factory=list)
    checks: dict[str, list[str]] = field(default_factory=dict)  # health check name -> its evidence

    def as_dict(self) -> dict[str, Any]:
        check = CHECKS[self.id]
        return {
            "id": self.id,
            "severity": self.severity,
            "title": check.title,
            "evidence": list(self.evidence),
            "remediation": check.remediation,
            "doc": check.doc,
            "explained_by": self.explained_by,
            "explains": list(self.explains),
        }


def parse_time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


@dataclass
class Host:
    """A host's facts, with the questions the rules ask of them."""

    facts: Mapping[str, Any]
    pool: Mapping[str, Any] | None
    unchecked: list[str] = field(default_factory=list)
    broken: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        # A subset one of whose reads failed is not believed: the rules see it as not gathered, and the checks
        # that need it are listed unchecked. An unreadable key or program list is not a missing agent, an
        # unreadable .NET key not an old .NET.
        self.broken = frozenset(broken_subsets(self.facts))

    def section(self, name: str) -> Mapping[str, Any] | None:
        value = self.facts.get(name)
        return value if isinstance(value, Mapping) and name not in self.broken else None

    @property
    def agent(self) -> Mapping[str, Any]:
        return self.section("agent") or {}

    def service(self, name: str) -> Mapping[str, Any] | None:
        services = self.section("services") or {}
        value = services.get(name)
        return value if isinstance(value, Mapping) else None

    @property
    def registered_now(self) -> bool:
        return self.agent.get("is_registered") == 1 and not self.agent.get("registration_token_set")

    @property
    def agent_installed_at(self) -> datetime.datetime | None:
        """When Windows Installer last logged the agent installed (an update that went through, a reinstall)."""
        times = [parse_time(e.get("time")) for e in self.facts.get("events") or [] if e.get("kind") == "AgentInstalled"]
        return max((t for t in times if t is not None), default=None)

    def is_stale(self, event: Mapping[str, Any]) -> bool:
        when = parse_time(event.get("time"))
        boot = parse_time(self.facts.get("boot_time"))
        if when is None:
            return False
        if boot is not None and when < boot:
            return True  # the agent retries at start; an error from before the last boot says nothing now
        installed = self.agent_installed_at
        if event.get("kind") in UPDATE_BLOCKED_KINDS and installed is not None and when < installed:
            # The update these errors stopped has installed since: what blocked it (a policy, another
            # installation, a full disk) is gone, though Windows keeps the error in the log.
            return True
        last_check = parse_time(self.agent.get("health_last_checked"))
        return bool(
            event.get("kind") in REGISTRATION_KINDS and self.registered_now and last_check and when < last_check
        )

    def events(self, *kinds: str) -> list[Mapping[str, Any]]:
        return [e for e in self.facts.get("events") or [] if e.get("kind") in kinds and not self.is_stale(e)]

    def stale_events(self, *kinds: str) -> list[Mapping[str, Any]]:
        return [
            e
            for e in self.facts.get("events") or []
            if e.get("kind") in kinds and e.get("kind") not in SUCCESS_KINDS and self.is_stale(e)
        ]


def describe_event(event: Mapping[str, Any]) -> str:
    message = " ".join(str(event.get("message") or "").split())
    if len(message) > 240:
        message = message[:237] + "..."
    return f"event {event.get('id')} from {event.get('source')} at {event.get('time')}: {message}"


def pool_evidence(host: Host) -> list[str]:
    if not host.pool:
        return []
    parts = [
        f"{name}={host.pool[key]}"
        for key, name in (("status", "status"), ("update_state", "updateState"))
        if host.pool.get(key) not in (None, "")
    ]
    return [f"host pool reports {', '.join(parts)}"] if parts else []


def registry_evidence(host: Host) -> str:
    agent = host.agent
    token = (
        f"set ({agent.get('registration_token_length')} characters)" if agent.get("registration_token_set") else "empty"
    )
    return (
        f"HKLM\\SOFTWARE\\Microsoft\\RDInfraAgent: IsRegistered={agent.get('is_registered')}, RegistrationToken {token}"
    )


def registration_key_evidence(host: Host) -> str:
    """What the host pool's own registration key looks like, when the inventory says."""
    if not host.pool or "registration_expiration_time" not in host.pool:
        return "the host pool's registration key was not checked (no host pool data)"
    if host.pool.get("registration_key_checked") is False:
        reason = host.pool.get("registration_key_error") or "Azure was not asked"
        return f"the host pool's registration key could not be checked: {reason}"
    expiry = parse_time(host.pool.get("registration_expiration_time"))
    if expiry is None:
        return "the host pool has no registration key: generate one"
    now = datetime.datetime.now(datetime.UTC)
    state = "expired" if expiry <= now else "expires"
    return f"the host pool's registration key {state} at {expiry.strftime('%Y-%m-%dT%H:%M:%SZ')}"


Rule = Callable[[Host], list[Finding]]


# --- rules ----------------------------------------------------------------------------
def agent_not_installed(host: Host) -> list[Finding]:
    """Your issue isn't listed here: no Remote Desktop Agent Loader service, or no agent to load."""
    if host.section("services") is None and host.section("agent") is None:
        return []
    evidence = []
    bootloader = host.service(k.BOOTLOADER_SERVICE)
    if bootloader is not None and not bootloader.get("exists"):
        evidence.append("service RDAgentBootLoader (Remote Desktop Agent Loader) does not exist")
    agent = host.agent
    if host.section("agent") is not None:
        if not agent.get("installed"):
            evidence.append(f"program '{k.PROGRAM_AGENT}' is not installed")
        if not agent.get("bootloader_installed"):
            evidence.append(f"program '{k.PROGRAM_BOOTLOADER}' is not installed")
        if agent.get("installed") and not agent.get("default_agent"):
            evidence.append("HKLM\\SOFTWARE\\Microsoft\\RDAgentBootLoader has no DefaultAgent")
    loads = [describe_event(e) for e in host.events("AgentLoadException")]
    if evidence:
        return [Finding("AGENT_NOT_INSTALLED", CRITICAL, evidence + loads)]
    # A load error alone, with the agent, its boot loader and DefaultAgent all present now, is what an agent
    # update in progress logs too: a warning to look at, never grounds for the full reinstall (critical only).
    return [Finding("AGENT_NOT_INSTALLED", WARNING, loads)] if loads else []


def bootloader_not_running(host: Host) -> list[Finding]:
    """Error: The RDAgentBootLoader and/or Remote Desktop Agent Loader has stopped running."""
    service = host.service(k.BOOTLOADER_SERVICE)
    if not service or not service.get("exists") or service.get("state") == "Running":
        return []
    return [
        Finding(
            "BOOTLOADER_NOT_RUNNING",
            CRITICAL,
            [
                f"service RDAgentBootLoader (Remote Desktop Agent Loader) is {service.get('state')}, "
                f"start type {service.get('start_type')}",
                *pool_evidence(host),
            ],
        )
    ]


def registration_errors(host: Host) -> list[Finding]:
    """Error: INVALID_REGISTRATION_TOKEN; EXPIRED_REGISTRATION_TOKEN; NAME_ALREADY_REGISTERED; ENDPOINT_NOT_FOUND."""
    findings = []
    # The article's 2023 revision names the section "INVALID_REGISTRATION_TOKEN or EXPIRED_MACHINE_TOKEN":
    # both mean the host holds no valid registration, and have the same fix.
    for kind, event_kinds in (
        ("INVALID_REGISTRATION_TOKEN", ("INVALID_REGISTRATION_TOKEN", "EXPIRED_MACHINE_TOKEN")),
        ("EXPIRED_REGISTRATION_TOKEN", ("EXPIRED_REGISTRATION_TOKEN",)),
        ("NAME_ALREADY_REGISTERED", ("NAME_ALREADY_REGISTERED",)),
        ("ENDPOINT_NOT_FOUND", ("ENDPOINT_NOT_FOUND",)),
    ):
        events = host.events(*event_kinds)
        if not events:
            continue
        evidence = [describe_event(events[0])]
        if len(events) > 1:
            evidence.append(f"{len(events)} such events since the last boot")
        evidence.append(registry_evidence(host))
        if kind in ("INVALID_REGISTRATION_TOKEN", "EXPIRED_REGISTRATION_TOKEN"):
            evidence.append(registration_key_evidence(host))
        if kind == "ENDPOINT_NOT_FOUND" and host.pool is not None and host.pool.get("in_pool") is False:
            evidence.append("the host pool does not list this session host")
        pool_vm, own_vm = (host.pool or {}).get("vm_id"), host.agent.get("vm_id")
        if kind == "NAME_ALREADY_REGISTERED" and pool_vm and own_vm and str(pool_vm).lower() != str(own_vm).lower():
            evidence.append(f"the host pool's session host of this name belongs to VM {pool_vm}, this VM is {own_vm}")
        findings.append(Finding(kind, CRITICAL, evidence + pool_evidence(host)))
    return findings


def registration_incomplete(host: Host) -> list[Finding]:
    """Error: INVALID_REGISTRATION_TOKEN, the section's closing check: IsRegistered=1 and an empty
    RegistrationToken: a registered host holds no token (the agent empties it). A token with IsRegistered
    not 1 and no registration error logged since the last boot is a registration that never went through
    (Microsoft's RDS-Templates deployment script logs "RegistrationToken in RD Infra registry is not empty"
    for it); a token left beside IsRegistered=1 is a registration the agent did not finish cleaning up."""
    agent = host.section("agent")
    if agent is None or not agent.get("registration_token_set") or not agent.get("registry_present"):
        return []
    if host.events(*REGISTRATION_KINDS):
        return []  # registration_errors names the documented error itself
    registered = agent.get("is_registered") == 1
    evidence = [registry_evidence(host)]
    if registered:
        evidence.append("the agent empties RegistrationToken once it registers: this token was left behind")
    else:
        evidence.append("no registration error (event 3277) since the last boot: the registration never went through")
        evidence.append(registration_key_evidence(host))
    return [Finding("REGISTRATION_INCOMPLETE", WARNING if registered else CRITICAL, evidence + pool_evidence(host))]


def invalid_form(host: Host) -> list[Finding]:
    """Error: Agent cannot connect to broker with INVALID_FORM (and the broker health probed from the VM)."""
    events = host.events("INVALID_FORM")
    network = host.section("network") or {}
    probes = [(name, network.get(key)) for key, name in (("broker", "BrokerURI"), ("broker_global", "BrokerURIGlobal"))]
    failing = [
        f"{name} health {probe.get('url')}: {probe_outcome(probe)}"
        for name, probe in probes
        if probe and probe.get("url") and not probe.get("healthy")
    ]
    if not events and not failing:
        return []
    evidence = [describe_event(e) for e in events[:1]] + failing
    return [Finding("INVALID_FORM", CRITICAL if events or len(failing) == 2 else WARNING, evidence)]


def probe_outcome(probe: Mapping[str, Any]) -> str:
    """What a probe from the VM saw, and as whom: it runs as the WinRM user, not as LocalSystem like the agent."""
    if not probe.get("reachable"):
        seen = f"not reachable ({probe.get('error')})"
    elif probe.get("location"):
        seen = f"HTTP {probe.get('status')} redirected to {probe.get('location')}"
    else:
        seen = f"HTTP {probe.get('status')}" + (f" ({probe.get('health')})" if probe.get("health") else "")
    if probe.get("runs_as"):
        route = f"through proxy {probe['proxy']}" if probe.get("proxy") else "direct"
        seen += (
            f" (probed as {probe['runs_as']}, {route}, with that user's proxy settings;"
            " the agent runs as LocalSystem and may take another route)"
        )
    return seen


def url_events(host: Host) -> list[Finding]:
    """Error: 3703 (gateway URLs) and Error: 3019 (web socket transport URLs)."""
    findings = []
    for kind, finding in (
        ("GATEWAY_UNREACHABLE", "GATEWAY_UNREACHABLE"),
        ("WEBSOCKET_UNREACHABLE", "WEBSOCKET_UNREACHABLE"),
    ):
        events = host.events(kind)
        if events:
            findings.append(Finding(finding, CRITICAL, [describe_event(events[0]), *pool_evidence(host)]))
    return findings


def installation_health_check(host: Host) -> list[Finding]:
    """Error: InstallationHealthCheckFailedException."""
    events = host.events("InstallationHealthCheckFailedException")
    if not events:
        return []
    return [Finding("INSTALLATION_HEALTH_CHECK_FAILED", CRITICAL, [describe_event(events[0]), *pool_evidence(host)])]


def install_msi(host: Host) -> list[Finding]:
    """Error: InstallMsiException (policy or a running installer) and Error: Win32Exception (cmd.exe blocked).

    The article gives both sections the same event text; the policy values and the
    running installer tell them apart.
    """
    events = host.events("InstallMsiException")
    # Older agents logged the blocked cmd.exe as a 3277 with Win32Exception and no InstallMsiException:
    # evidence for the command prompt policy only.
    win32_events = host.events("Win32Exception")
    policies = host.section("policies")
    installer = host.section("installer")
    disable_msi = (policies or {}).get("disable_msi")
    cmd = (policies or {}).get("disable_cmd") or {}
    cmd_hives = [
        f"{hive}: DisableCMD={value}" for hive, value in (cmd.get("user_hives") or {}).items() if value in (1, 2)
    ]
    if cmd.get("machine") in (1, 2):
        cmd_hives.insert(0, f"HKLM: DisableCMD={cmd['machine']}")
    busy = bool((installer or {}).get("busy"))
    findings = []
    event_evidence = [describe_event(e) for e in events[:1]]
    severity = CRITICAL if events else WARNING
    if disable_msi in (1, 2):
        findings.append(
            Finding(
                "INSTALL_MSI_BLOCKED",
                severity,
                [
                    *event_evidence,
                    f"policy 'Turn off Windows Installer': {k.INSTALLER_POLICY} DisableMSI={disable_msi}",
                ],
            )
        )
    if cmd_hives:
        # With both policies set, the event's Win32Exception says which one broke this update.
        confirmed = bool(win32_events) or (
            bool(events) and (disable_msi not in (1, 2) or any(e.get("win32_exception") for e in events))
        )
        cmd_evidence = event_evidence or [describe_event(e) for e in win32_events[:1]]
        findings.append(
            Finding(
                "CMD_BLOCKED",
                CRITICAL if confirmed else WARNING,
                [*cmd_evidence, "policy 'Prevent access to the command prompt': " + "; ".join(cmd_hives)],
            )
        )
    if events and busy:
        installer = installer or {}
        running = ", ".join(f"{p.get('name')} (pid {p.get('id')})" for p in installer.get("processes") or [])
        findings.append(
            Finding(
                "INSTALLER_BUSY",
                WARNING,
                [
                    *event_evidence,
                    f"an installation is running now: Windows Installer holds {installer.get('mutex')}"
                    + (f" (msiexec processes: {running})" if running else ""),
                ],
            )
        )
    if events and not findings:
        if any("1618" in str(e.get("message")) for e in events):
            findings.append(
                Finding(
                    "INSTALLER_BUSY",
                    WARNING,
                    [
                        *event_evidence,
                        "msiexec exited with 1618 (another installation in progress); none is running now",
                    ],
                )
            )
        elif policies is None:
            host.unchecked.append("InstallMsiException: the policies subset was not gathered, so its cause is unknown")
        else:
            findings.append(
                Finding(
                    "INSTALL_MSI_BLOCKED",
                    WARNING,
                    [
                        *event_evidence,
                        "neither the Windows Installer nor "
                        "the command prompt policy is set and no installer is running; check rsop.msc",
                    ],
                )
            )
    return findings


def stack_listener(host: Host) -> list[Finding]:
    """Error: Stack listener isn't working on a Windows 10 2004 session host VM."""
    stack = host.section("stack")
    if stack is None or not stack.get("qwinsta"):
        return []
    qwinsta = stack["qwinsta"]
    if qwinsta.get("both_listening"):
        return []
    evidence = []
    for key, name in (("rdp_tcp", "rdp-tcp"), ("rdp_sxs", "rdp-sxs")):
        row = qwinsta.get(key)
        evidence.append(f"qwinsta: {row['session_name']} is {row['state']}" if row else f"qwinsta: no {name} row")
    for winstation in stack.get("winstations") or []:
        if winstation.get("active") or len(stack.get("winstations") or []) == 1:
            evidence.append(
                f"WinStations\\{winstation['name']}: fReverseConnectMode={winstation.get('fReverseConnectMode')}, "
                f"fEnableWinStation={winstation.get('fEnableWinStation')}"
            )
    if stack.get("reverse_connection_listener") and not stack.get("session_directory_matches"):
        evidence.append(
            f"ClusterSettings\\SessionDirectoryListener={stack.get('session_directory_listener')} does not "
            f"match ReverseConnectionListener={stack.get('reverse_connection_listener')}"
        )
    return [Finding("STACK_LISTENER_NOT_LISTENING", CRITICAL, evidence + pool_evidence(host))]


def sxs_stack(host: Host) -> list[Finding]:
    """Error: Session host VMs are stuck in Unavailable or Upgrading state (the stack did not install)."""
    stack = host.section("stack")
    components = host.section("components")
    if stack is None and components is None:
        return []
    evidence = []
    if components is not None and not (components.get("programs") or {}).get(k.PROGRAM_SXS):
        evidence.append(f"program '{k.PROGRAM_SXS}' is not installed")
    listener = (stack or {}).get("reverse_connection_listener")
    if stack is not None and listener and not stack.get("reverse_connection_listener_present"):
        evidence.append(
            f"WinStations names ReverseConnectionListener={listener}, but that WinStation key does not exist"
        )
    if stack is not None and stack.get("winstations_key_present") and not listener and not stack.get("winstations"):
        evidence.append("no rdp-sxs WinStation exists")
    if not evidence:
        return []
    if host.pool and host.pool.get("status") in ("Upgrading", "Unavailable", "UpgradeFailed"):
        evidence.append(f"host pool reports status={host.pool['status']}")
    return [Finding("SXS_STACK_NOT_INSTALLED", CRITICAL, evidence)]


def disk_space(host: Host) -> list[Finding]:
    """Error: DownloadMsiException (not enough disk space for the agent)."""
    events = host.events("DownloadMsiException")
    disk = host.section("disk")
    evidence = [describe_event(e) for e in events[:1]]
    low = False
    if disk and disk.get("size_bytes"):
        size, free, percent = int(disk["size_bytes"]), int(disk["free_bytes"]), disk.get("percent_free")
        # The exact share, not the rounded percent_free: 4.996% free is under 5% though it shows as 5.0.
        low = free < k.DISK_MSI_BYTES or free * 100 < k.DISK_LOW_PERCENT * size
        if low or events:
            evidence.append(f"{disk.get('drive')} has {free / 1024**2:.0f} MB free ({percent}%)")
    if not events and not low:
        return []
    return [Finding("DISK_SPACE_LOW", CRITICAL if events else WARNING, evidence)]


def dotnet(host: Host) -> list[Finding]:
    """Error: Agent fails to update with MissingMethodException (.NET older than 4.7.2)."""
    events = host.events("MissingMethodException")
    facts = host.section("dotnet")
    if facts is None:
        if events:
            host.unchecked.append("MissingMethodException seen but the dotnet subset was not gathered")
        return []
    if facts.get("meets_472"):
        return []
    evidence = [describe_event(e) for e in events[:1]]
    evidence.append(
        f"NDP\\v4\\Full Release={facts.get('release')} (.NET {facts.get('version') or 'not installed'}); "
        f"the agent needs {k.DOTNET_472_MINIMUM} (4.7.2) or later"
    )
    return [Finding("DOTNET_OUTDATED", CRITICAL if events else WARNING, evidence)]


def unsupported_os(host: Host) -> list[Finding]:
    """Error: Operating a Pro VM or other unsupported OS."""
    os_facts = host.section("os")
    if os_facts is None or os_facts.get("supports_sxs_stack") or not os_facts.get("edition"):
        return []
    reason = os_facts.get("unsupported_reason") or "not an Enterprise or Server edition"
    # Windows 11 still says "Windows 10 ..." in ProductName; its CurrentBuild (22000 and up) tells.
    windows_11 = str(os_facts.get("product") or "").startswith("Windows 11")
    installation = os_facts.get("installation_type")
    server_core = str(installation or "").lower() in k.SERVER_CORE_INSTALLATION_TYPES
    return [
        Finding(
            "UNSUPPORTED_OS",
            CRITICAL,
            [
                f"EditionID={os_facts.get('edition')} (ProductName {os_facts.get('product_name')}, "
                f"CurrentBuild {os_facts.get('build')}{': Windows 11' if windows_11 else ''}"
                f"{f', InstallationType {installation}' if server_core else ''}): {reason}; "
                "AVD session hosts need Windows Enterprise (multi-session) or Windows Server"
            ],
        )
    ]


def session_limit(host: Host) -> list[Finding]:
    """Error: Connection not found: RDAgent does not have an active connection to the broker (session limit)."""
    limit = (host.pool or {}).get("max_session_limit")
    if not limit:
        host.unchecked.append("SESSION_LIMIT_REACHED: the host pool's max session limit is unknown (no host pool data)")
        return []
    sessions = (host.pool or {}).get("sessions")
    if sessions is None:
        sessions = (host.section("sessions") or {}).get("total")
    if sessions is None or int(sessions) < int(limit):
        return []
    return [
        Finding("SESSION_LIMIT_REACHED", WARNING, [f"{sessions} user sessions, host pool max session limit {limit}"])
    ]


# --- the service's and the agent's own health checks ----------------------------------------
# Failing one of these keeps users out (the service reports the host Unavailable); the rest degrade sessions.
FATAL_HEALTH_CHECKS = frozenset({"DomainJoinedCheck", "DomainTrustCheck", "SxSStackListenerCheck"})
HEALTH_CHECK_FINDINGS = {"DomainTrustCheck": "DOMAIN_TRUST_LOST", "FSLogixHealthCheck": "FSLOGIX_UNHEALTHY"}
CHECK_CLOCK_SLACK = datetime.timedelta(minutes=1)  # the agent's first checks run as the VM finishes booting
# healthCheckResult (2024-04-03): HealthCheckSucceeded, HealthCheckFailed, SessionHostShutdown, Unknown
SERVICE_CHECK_FAILED = "HealthCheckFailed"
# A failed check an article rule already explains: its evidence joins that finding instead of being counted again.
CHECK_COVERED_BY: dict[str, tuple[str, ...]] = {
    "SxSStackListenerCheck": (
        "STACK_LISTENER_NOT_LISTENING",
        "SXS_STACK_NOT_INSTALLED",
        "UNSUPPORTED_OS",
        "INSTALLATION_HEALTH_CHECK_FAILED",
        "AGENT_NOT_INSTALLED",
    ),
    "UrlsAccessibleCheck": ("GATEWAY_UNREACHABLE", "WEBSOCKET_UNREACHABLE", "INVALID_FORM"),
    "MonitoringAgentCheck": ("AGENT_NOT_INSTALLED",),
}


def _check_detail(message: Any, code: Any, when: Any) -> str:
    parts = [f"at {when}" if when else "", f"error {code}" if code not in (None, 0, "0", "") else ""]
    text = " ".join(str(message or "").split())
    return ", ".join(p for p in parts if p) + (f": {text}" if text else "")


def failed_health_checks(host: Host) -> dict[str, list[str]]:
    """Each failed health check with what said so: the host pool's results and the agent's own report."""
    failed: dict[str, list[str]] = {}
    pool = host.pool or {}
    if pool.get("status") != "Shutdown":
        for check in pool.get("health_checks") or []:
            if isinstance(check, Mapping) and check.get("result") == SERVICE_CHECK_FAILED and check.get("name"):
                name = str(check["name"])
                detail = _check_detail(check.get("message"), check.get("error_code"), check.get("last_checked"))
                failed.setdefault(name, []).append(f"host pool reports {name} HealthCheckFailed {detail}".rstrip())
    boot = parse_time(host.facts.get("boot_time"))
    for check in host.agent.get("health_checks") or []:
        if not isinstance(check, Mapping) or not check.get("failed") or not check.get("name"):
            continue
        when = parse_time(check.get("last_checked"))
        if boot is not None and when is not None and when < boot - CHECK_CLOCK_SLACK:
            continue  # the agent keeps old failures in the value; one from before the last boot says nothing now
        name = str(check["name"])
        detail = _check_detail(check.get("message"), check.get("error_code"), check.get("last_checked"))
        failed.setdefault(name, []).append(
            f"agent's AgentHealthCheckReport: {name} HealthCheckResult={check.get('result')} {detail}".rstrip()
        )
    return failed


# checks whose failure the agent's AgentHealthCheckReport can show: unchecked when the report cannot be read
AGENT_REPORT_CHECKS = ("HEALTH_CHECK_FAILED", *HEALTH_CHECK_FINDINGS.values())


def health_checks(host: Host) -> list[Finding]:
    """The service's session host health checks (troubleshoot-statuses-checks#health-check) and the agent's report."""
    report_error = host.agent.get("health_report_error")
    if report_error:  # what the agent reported cannot be read: those checks did not run (never silently passed)
        host.unchecked.extend(
            f"{check_id}: the agent's AgentHealthCheckReport could not be read ({report_error})"
            for check_id in AGENT_REPORT_CHECKS
        )
    failed = failed_health_checks(host)
    findings = []
    generic: dict[str, list[str]] = {}
    for name, evidence in sorted(failed.items()):
        finding_id = HEALTH_CHECK_FINDINGS.get(name)
        if finding_id is None:
            generic[name] = evidence
            continue
        severity = CRITICAL if name in FATAL_HEALTH_CHECKS or finding_id == "FSLOGIX_UNHEALTHY" else WARNING
        findings.append(Finding(finding_id, severity, [*evidence, *pool_evidence(host)], checks={name: evidence}))
    if generic:
        findings.append(generic_health_finding(generic, pool_evidence(host)))
    return findings


def generic_health_finding(checks: Mapping[str, list[str]], extra: list[str]) -> Finding:
    severity = CRITICAL if set(checks) & FATAL_HEALTH_CHECKS else WARNING
    evidence = [f"failed health checks: {', '.join(sorted(checks))}"]
    evidence += [line for name in sorted(checks) for line in checks[name]]
    return Finding("HEALTH_CHECK_FAILED", severity, evidence + extra, checks=dict(checks))


def fold_covered_checks(findings: list[Finding]) -> list[Finding]:
    """A failed check an article finding explains (SxSStackListenerCheck with STACK_LISTENER_NOT_LISTENING...)
    becomes evidence of that finding, not a second root cause."""
    by_id = {f.id: f for f in findings}
    generic = by_id.get("HEALTH_CHECK_FAILED")
    if generic is None:
        return findings
    remaining: dict[str, list[str]] = {}
    for name, evidence in generic.checks.items():
        cover = next((by_id[i] for i in CHECK_COVERED_BY.get(name, ()) if i in by_id), None)
        if cover is None:
            remaining[name] = evidence
        else:
            cover.evidence.extend(line for line in evidence if line not in cover.evidence)
    rest = [f for f in findings if f is not generic]
    if not remaining:
        return rest
    extra = [line for line in generic.evidence if line.startswith("host pool reports status")]
    return [*rest, generic_health_finding(remaining, extra)]


# --- a silent agent ----------------------------------------------------------------------------
HEARTBEAT_STALE = datetime.timedelta(minutes=10)  # the agent heartbeats about every 30 seconds


def heartbeat_lost(host: Host) -> list[Finding]:
    """The pool's lastHeartBeat is stale while RDAgentBootLoader runs (field report: users get 0x204)."""
    pool = host.pool or {}
    bootloader = host.service(k.BOOTLOADER_SERVICE)
    if pool.get("status") == "Shutdown" or not bootloader or bootloader.get("state") != "Running":
        return []
    # Measured against when the pool was read (a cached inventory can be hours old), else the gather time.
    read_at = parse_time(pool.get("read_at"))
    beat, now = parse_time(pool.get("last_heartbeat")), read_at or parse_time(host.facts.get("gathered_at"))
    if beat is None or now is None or now - beat < HEARTBEAT_STALE:
        return []
    minutes = int((now - beat).total_seconds() // 60)
    when = (
        f"the host pool was read ({pool.get('read_at')})"
        if read_at
        else f"the facts were gathered ({host.facts.get('gathered_at')})"
    )
    return [
        Finding(
            "HEARTBEAT_LOST",
            CRITICAL,
            [
                f"host pool's lastHeartBeat is {pool.get('last_heartbeat')}, {minutes} minutes before {when}",
                f"service RDAgentBootLoader is Running (start type {bootloader.get('start_type')})",
                *pool_evidence(host),
            ],
        )
    ]


RULES: tuple[Rule, ...] = (
    agent_not_installed,
    bootloader_not_running,
    registration_errors,
    registration_incomplete,
    invalid_form,
    url_events,
    installation_health_check,
    install_msi,
    stack_listener,
    sxs_stack,
    disk_space,
    dotnet,
    unsupported_os,
    session_limit,
    health_checks,
    heartbeat_lost,
)

# root cause -> the symptoms it explains when both are found on a host
EXPLAINS: dict[str, tuple[str, ...]] = {
    "AGENT_NOT_INSTALLED": (
        "BOOTLOADER_NOT_RUNNING",
        "SXS_STACK_NOT_INSTALLED",
        "STACK_LISTENER_NOT_LISTENING",
        "ENDPOINT_NOT_FOUND",
    ),
    "INVALID_REGISTRATION_TOKEN": ("BOOTLOADER_NOT_RUNNING",),
    "EXPIRED_REGISTRATION_TOKEN": ("BOOTLOADER_NOT_RUNNING",),
    "REGISTRATION_INCOMPLETE": ("BOOTLOADER_NOT_RUNNING",),
    "NAME_ALREADY_REGISTERED": ("BOOTLOADER_NOT_RUNNING",),
    "ENDPOINT_NOT_FOUND": ("BOOTLOADER_NOT_RUNNING",),
    "INVALID_FORM": ("BOOTLOADER_NOT_RUNNING", "ENDPOINT_NOT_FOUND"),
    "UNSUPPORTED_OS": ("STACK_LISTENER_NOT_LISTENING", "INSTALLATION_HEALTH_CHECK_FAILED"),
    "SXS_STACK_NOT_INSTALLED": ("STACK_LISTENER_NOT_LISTENING", "INSTALLATION_HEALTH_CHECK_FAILED"),
    "STACK_LISTENER_NOT_LISTENING": ("INSTALLATION_HEALTH_CHECK_FAILED",),
}


def link_causes(findings: list[Finding]) -> list[Finding]:
    """Mark symptoms explained by a root cause found on the same host; roots first, then by severity."""
    by_id = {f.id: f for f in findings}
    for finding in findings:
        for symptom in EXPLAINS.get(finding.id, ()):
            if symptom in by_id and by_id[symptom].explained_by is None and symptom != finding.id:
                by_id[symptom].explained_by = finding.id
    # A root must not itself be explained (AGENT_NOT_INSTALLED over SXS over LISTENER): follow the chain up.
    for finding in findings:
        seen = {finding.id}
        while finding.explained_by and by_id[finding.explained_by].explained_by and finding.explained_by not in seen:
            seen.add(finding.explained_by)
            finding.explained_by = by_id[finding.explained_by].explained_by
    for finding in findings:
        finding.explains = sorted(f.id for f in findings if f.explained_by == finding.id)
    return sorted(findings, key=lambda f: (f.explained_by is not None, SEVERITY_RANK[f.severity], f.id))


def diagnose(facts: Mapping[str, Any], pool: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """All findings for one host, root causes first, with what could not be checked."""
    host = Host(facts=facts, pool=pool)
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule(host))
    ordered = link_causes(fold_covered_checks(findings))
    stale = [describe_event(e) for e in host.stale_events(*{kind for _unused1, _unused2, kind in EVENT_KINDS})]
    # healthy only when every check ran: list the ones whose facts or pool data are missing
    unchecked = unchecked_list(coverage(facts, pool, CHECKS), host.unchecked, facts)
    results = [f.as_dict() for f in ordered]
    return {
        "state": host_state(results, unchecked),
        "findings": results,
        "unchecked": unchecked,
        "stale_events": stale,
        "versions": host_versions(facts),
    }


def host_versions(facts: Mapping[str, Any]) -> dict[str, Any]:
    """What pool drift compares across hosts: agent, SxS stack, OS build, .NET release (None when not gathered)."""

    def section(name: str) -> Mapping[str, Any]:
        value = facts.get(name)
        return value if isinstance(value, Mapping) else {}

    sections = {name: section(name) for name in ("agent", "os", "dotnet")}
    return {
        "agent": sections["agent"].get("version"),
        "sxs_stack": sections["agent"].get("sxs_stack_version"),
        "os_build": sections["os"].get("build"),
        "dotnet_release": sections["dotnet"].get("release"),
    }


HOST_POOL_ID = re.compile(
    r"^/subscriptions/(?P<subscription_id>[^/]+)/resourceGroups/(?P<resource_group>[^/]+)"
    r"/providers/Microsoft\.DesktopVirtualization/hostPools/(?P<host_pool>[^/]+)$",
    re.IGNORECASE,
)


def live_pool_identity(variables: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The host pool the host_pool inventory read from Azure (its ``avd_host_pool_id``), and what disagrees with it.

    Static ``host_vars``/``group_vars`` outrank what an inventory plugin sets, so after a move (or with a user's
    own static ``avd_host_pool``) the merged ``avd_host_pool`` can name another pool than the one Azure lists
    the host in: the ARM id the inventory read is the live truth, and a static value that differs is named.
    """
    match = HOST_POOL_ID.match(str(variables.get("avd_host_pool_id") or "").strip())
    if not match:
        return {}, []
    live = match.groupdict()
    notes = []
    for key in ("host_pool", "resource_group", "subscription_id"):
        static = variables.get(f"avd_{key}")
        if static not in (None, "") and str(static).strip().lower() != live[key].lower():
            notes.append(
                f"avd_{key}={static} disagrees with the host pool's live data (avd_host_pool_id names "
                f"{live[key]}): using {live[key]}; remove or correct the static value"
            )
    return live, notes


POOL_ADDRESS_KEYS = ("host_pool", "resource_group", "subscription_id")


def pool_address(variables: Mapping[str, Any]) -> dict[str, Any]:
    """Where the host's pool is, for a read or a write: ``{host_pool, resource_group, subscription_id, live,
    static_disagrees}``.

    The host_pool inventory's live data wins when it is there (``avd_host_pool_id`` beside the live
    ``avd_status``), naming each static value that disagrees; without it the static ``avd_host_pool``,
    ``avd_resource_group`` and ``avd_subscription_id`` (a static inventory's own) are the address.
    """
    live, disagreements = live_pool_identity(variables)
    if live and variables.get("avd_status") is not None:
        return {**live, "live": True, "static_disagrees": disagreements}
    static = {key: variables.get(f"avd_{key}") for key in POOL_ADDRESS_KEYS}
    return {**static, "live": False, "static_disagrees": []}


# The host pool's view of a host (diagnose's host_pool) -> the host_pool inventory's variable that carries each part.
POOL_VARIABLES = {
    "status": "avd_status",
    "sessions": "avd_sessions",
    "allow_new_session": "avd_allow_new_session",
    "agent_version": "avd_agent_version",
    "update_state": "avd_update_state",
    "max_session_limit": "avd_max_session_limit",
    "vm_id": "avd_vm_id",
    "in_pool": "avd_in_pool",
    "registration_expiration_time": "avd_registration_expiration_time",
    "host_pool": "avd_host_pool",
    "sxs_stack_version": "avd_sxs_stack_version",
    "last_heartbeat": "avd_last_heartbeat",
    "read_at": "avd_pool_read_at",
    "power_state": "avd_power_state",
    "health_checks": "avd_health_checks",
}
# The parts of that view that are the pool's, not the host's.
POOL_WIDE = ("max_session_limit", "registration_expiration_time", "host_pool")


def pool_from_hostvars(variables: Mapping[str, Any]) -> dict[str, Any] | None:
    """The host pool's view of a host, from the host_pool inventory plugin's variables (None without them)."""
    pool = {key: variables[var] for key, var in POOL_VARIABLES.items() if variables.get(var) is not None}
    address = pool_address(variables)
    if address["live"]:  # the inventory's live view of this host is there: it wins
        pool["host_pool"] = address["host_pool"]
        pool["resource_group"] = address["resource_group"]
        if address["static_disagrees"]:
            pool["static_disagrees"] = address["static_disagrees"]
    if pool and "avd_registration_expiration_time" in variables:
        # None is "no key" only when Azure was asked and said so (avd_registration_key_checked).
        pool["registration_expiration_time"] = variables["avd_registration_expiration_time"]
        if "avd_registration_key_checked" in variables:  # the host_pool inventory plugin always sets it
            pool["registration_key_checked"] = bool(variables["avd_registration_key_checked"])
        if variables.get("avd_registration_key_error"):
            pool["registration_key_error"] = variables["avd_registration_key_error"]
    return pool or None


def pool_view(read: Mapping[str, Any], variables: Mapping[str, Any], read_at: str) -> dict[str, Any] | None:
    """The host pool's view of a host from a read of its pool made now (host_pool_info's ``host_pool`` and
    ``session_hosts``, read at ``read_at``), as ``pool_from_hostvars`` gives it from the inventory's variables.

    The read's variables for the host are the inventory's own (``_inventory.pool_host_variables``), laid over the
    host's variables (``variables``: static ones, the VM's power state the inventory read); the host is found in the
    read by the collection's one lookup (``_pool_host.find_pool_host``). A host the read does not list is not in
    the pool (``in_pool`` false), whatever the inventory said before. Only the variables named are read, so a
    lazy ``hostvars[inventory_hostname]`` templates nothing else.
    """
    entry = find_pool_host(read["session_hosts"], variables).entry
    if entry is not None:
        address = pool_address(variables)
        pool = {
            "host_pool": read["host_pool"],
            "resource_group": address["resource_group"],
            "subscription_id": address["subscription_id"],
            "read_at": read_at,
        }
        fresh = pool_host_variables(pool, entry)
    else:
        # the pool's own values (its session limit, its registration key) stay the inventory's
        gone = [var for key, var in POOL_VARIABLES.items() if key not in POOL_WIDE]
        fresh = {**dict.fromkeys(gone), "avd_in_pool": False, "avd_pool_read_at": read_at}
    # ChainMap writes only to its first map: the host's variables are read, never changed
    return pool_from_hostvars(ChainMap(fresh, cast(MutableMapping[str, Any], variables)))
