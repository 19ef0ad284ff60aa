"""The fault catalog: each documented failure as the causes that produce it.

A fault changes causes only (a policy value, a blocked host name, a
registry flag, a missing product, an old .NET, a full disk, an edition, a
duplicate name, a bad token, a full host). The symptoms the article
describes (events, service states, qwinsta rows, pool status) then follow
from the model when the host boots and its agent runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .avd import AvdService, HostPool, SessionHostRecord, fqdn
from .windows import known as k
from .windows.image import install_product, msi_products, uninstall_product
from .windows.operations import service_stop
from .windows.registry import REG_DWORD, REG_MULTI_SZ, REG_SZ
from .windows.state import RUNNING, FileEntry, HostState, UserSession

# The other installation of the installer_busy fault: an MSI a software deployment pushes to session hosts.
OTHER_MSI_PRODUCT = "Microsoft Teams Meeting Add-in for Microsoft Office"

Change = Callable[[HostState, AvdService], None]


@dataclass(frozen=True)
class Fault:
    name: str
    section: str  # the article's section heading
    changes: str  # what it changes, in words
    before_boot: Change | None = None
    after_boot: Change | None = None


def _agent_update_due(state: HostState, avd: AvdService) -> None:
    """The host still runs the previous agent, so the service's newer agent is due."""
    for program in state.programs_named(k.AGENT_PRODUCT):
        uninstall_product(state, program)
    path = k.agent_msi_path(k.AGENT_PREVIOUS_VERSION)
    install_product(state, path, msi_products()[path], time.time() - 86400 * 30)


def _active_sxs_key(state: HostState) -> str:
    name = state.registry.get_data(k.WINSTATIONS, "ReverseConnectionListener")
    return rf"{k.WINSTATIONS}\{name}"


def _uninstall_agent(state: HostState, avd: AvdService) -> None:
    for display_name in (k.BOOTLOADER_PRODUCT, k.AGENT_PRODUCT, k.GENEVA_PRODUCT, k.SXS_PRODUCT):
        for program in state.programs_named(display_name):
            uninstall_product(state, program)


def _invalid_token(state: HostState, avd: AvdService) -> None:
    other_pool = HostPool(name="hp-someone-else")  # signed by a pool this host does not belong to
    state.registry.set(k.RDINFRA_AGENT, "IsRegistered", REG_DWORD, 0)
    state.registry.set(k.RDINFRA_AGENT, "RegistrationToken", REG_SZ, other_pool.sign_token(time.time() + 86400))


def _expired_token(state: HostState, avd: AvdService) -> None:
    now = time.time()
    token = avd.pool_for(state).sign_token(expiry=now - 3600, issued=now - 2 * 86400)
    state.registry.set(k.RDINFRA_AGENT, "IsRegistered", REG_DWORD, 0)
    state.registry.set(k.RDINFRA_AGENT, "RegistrationToken", REG_SZ, token)


def _block(*patterns: str) -> Change:
    def change(state: HostState, avd: AvdService) -> None:
        state.blocked_hosts.extend(patterns)

    return change


def _toggle_enable_winstation(state: HostState, avd: AvdService) -> None:
    _agent_update_due(state, avd)
    state.registry.set(_active_sxs_key(state), "fEnableWinStation", REG_DWORD, 0)


def _remove_from_pool(state: HostState, avd: AvdService) -> None:
    avd.pool_for(state).records.pop(fqdn(state.name).lower(), None)


def _msi_policy(state: HostState, avd: AvdService) -> None:
    _agent_update_due(state, avd)
    state.registry.set(k.INSTALLER_POLICY, "DisableMSI", REG_DWORD, 1)


def _installer_busy(state: HostState, avd: AvdService) -> None:
    _agent_update_due(state, avd)
    # A software deployment's msiexec holds the installer while the update is due; like any real installation it
    # finishes, after the host's installation_seconds (the scenario's, 60 by default).
    state.installer_busy = True
    state.installer_busy_until = time.time() + state.installation_seconds
    state.installer_busy_product = OTHER_MSI_PRODUCT


def _cmd_policy(state: HostState, avd: AvdService) -> None:
    _agent_update_due(state, avd)
    registry = state.registry
    user_hives = [
        name
        for name in registry.subkeys("HKEY_USERS")
        if name.startswith("S-1-5-21-") and not name.endswith("_Classes")
    ]
    for hive in [*(rf"HKEY_USERS\{sid}" for sid in user_hives), k.DEFAULT_PROFILE_HIVE]:
        registry.set(rf"{hive}\{k.USER_SYSTEM_POLICY}", "DisableCMD", REG_DWORD, 1)


def _reverse_connect_off(state: HostState, avd: AvdService) -> None:
    state.registry.set(_active_sxs_key(state), "fReverseConnectMode", REG_DWORD, 0)


GIB = 1024**3
MIB = 1024**2
DAY = 86400.0
# What fills a session host's system drive that nobody cleans: Windows Update's downloaded cumulative update
# (express .psf and .cab payloads in one folder per update), servicing's extracted packages and logs in the
# Windows temp folder, and an agent folder from two updates back. (path, size, age in days)
DISK_FULL_FILES = (
    (rf"{k.WU_DOWNLOAD}\3c1b3f8d0a8e4a4f9c2e5d7b1a6f0e21\windows11.0-kb5046633-x64.psf", 3_100 * MIB, 12.0),
    (rf"{k.WU_DOWNLOAD}\3c1b3f8d0a8e4a4f9c2e5d7b1a6f0e21\windows11.0-kb5046633-x64.cab", 1_600 * MIB, 12.0),
    (rf"{k.WU_DOWNLOAD}\a57d0c9e61b24f0d8e3c2b1a09f8e7d6\windows11.0-kb5045935-x64-ndp481.cab", 96 * MIB, 30.0),
    (rf"{k.WINDOWS_TEMP}\2E4C7A1B-9F3D-4E8A-B6C5-D1F0A9E8B7C6\Windows11.0-KB5046633-x64.cab", 1_900 * MIB, 20.0),
    (rf"{k.WINDOWS_TEMP}\MpSigStub.log", 1 * MIB, 9.0),
    (rf"{k.WINDOWS_TEMP}\MSI5f3e2.LOG", 300 * MIB, 0.1),  # written two hours ago: still in use, kept
    (
        rf"{k.RDINFRA_DIR}\RDAgent_{k.AGENT_OLDER_VERSION}\RDAgentBootLoader\Microsoft.RDInfra.RDAgent.Service.exe",
        2 * MIB,
        90.0,
    ),
    (rf"{k.RDINFRA_DIR}\RDAgent_{k.AGENT_OLDER_VERSION}\Microsoft.RDInfra.RDAgent.Installer-x64.msi", 158 * MIB, 90.0),
)


def _disk_full(state: HostState, avd: AvdService) -> None:
    _agent_update_due(state, avd)
    now = time.time()
    for path, size, age_days in DISK_FULL_FILES:
        state.files[path.lower()] = FileEntry(path=path, size=size, created=now - age_days * DAY)
    state.disk.free = 40 * MIB


def _windows_update_downloading(state: HostState, avd: AvdService) -> None:
    for name in (k.WUAUSERV, k.BITS):
        service = state.service(name)
        if service is not None:
            service.state = RUNNING


def _old_dotnet(state: HostState, avd: AvdService) -> None:
    _agent_update_due(state, avd)
    state.registry.set(k.NDP_V4_FULL, "Release", REG_DWORD, k.DOTNET_47_RELEASE)
    state.registry.set(k.NDP_V4_FULL, "Version", REG_SZ, "4.7.02558")


def _stack_never_finished(state: HostState, avd: AvdService) -> None:
    # The stack is listed in Programs and Features, but its installation never
    # created the listener WinStation that ReverseConnectionListener names.
    key = _active_sxs_key(state)
    if state.registry.key_exists(key):
        state.registry.delete_key(key)


def _fill_sessions(state: HostState, avd: AvdService) -> None:
    now = time.time()
    existing = len(state.sessions)
    for index in range(existing, avd.pool_for(state).max_session_limit):
        state.sessions.append(
            UserSession(session_id=index + 2, user=f"user{index + 1:02d}", state="Active", logon_time=now - 600)
        )


def _professional(state: HostState, avd: AvdService) -> None:
    registry = state.registry
    registry.set(k.WINDOWS_NT, "EditionID", REG_SZ, "Professional")
    registry.set(k.WINDOWS_NT, "ProductName", REG_SZ, "Windows 10 Pro")


def _pool_key(state: HostState, avd: AvdService) -> str:
    """The host pool's registration key, generated for a day when it has none valid for another hour."""
    pool = avd.pool_for(state)
    if pool.token is None or (pool.token_expiry or 0) < time.time() + 3600:
        pool.set_token(time.time() + 86400)
    assert pool.token is not None
    return pool.token


def _duplicate_name(state: HostState, avd: AvdService) -> None:
    pool = avd.pool_for(state)
    name = fqdn(state.name)
    pool.records[name.lower()] = SessionHostRecord(
        name=name,
        vm_id="7d1e3c2a-0000-4000-8000-0000000d0b1e",  # another VM that took this name first
        resource_id=f"/subscriptions/.../virtualMachines/{state.name}-old",
        registered_at=time.time() - 86400 * 3,
        foreign=True,
    )
    state.registry.set(k.RDINFRA_AGENT, "IsRegistered", REG_DWORD, 0)
    state.registry.set(k.RDINFRA_AGENT, "RegistrationToken", REG_SZ, _pool_key(state, avd))


def _install_with_key(state: HostState, avd: AvdService) -> None:
    # The image build installed the agent with REGISTRATIONTOKEN=<a valid key of the pool>: the
    # agent registers the build VM at its next start, and sysprep keeps what it wrote.
    state.registry.set(k.RDINFRA_AGENT, "IsRegistered", REG_DWORD, 0)
    state.registry.set(k.RDINFRA_AGENT, "RegistrationToken", REG_SZ, _pool_key(state, avd))


def _updates_await_restart(state: HostState, avd: AvdService) -> None:
    # A cumulative update installed during the build, not yet restarted: servicing's markers and a
    # file replacement Session Manager will do at the next boot.
    registry = state.registry
    registry.create_key(k.CBS_REBOOT_PENDING)
    registry.create_key(k.WU_REBOOT_REQUIRED)
    registry.set(
        k.SESSION_MANAGER,
        "PendingFileRenameOperations",
        REG_MULTI_SZ,
        [r"\??\C:\Windows\WinSxS\Temp\PendingRenames\0f1e2d3c.ntdll.dll", r"\??\C:\Windows\System32\ntdll.dll"],
    )


def _stop_bootloader(state: HostState, avd: AvdService) -> None:
    service_stop(state, k.BOOTLOADER_SERVICE)


def _break_secure_channel(state: HostState, avd: AvdService) -> None:
    # The machine account password no longer matches the domain's (a restored snapshot, a reset account).
    state.domain_secure_channel = False


def _profile_share_unreachable(state: HostState, avd: AvdService) -> None:
    share_host = k.FSLOGIX_SHARE.lstrip("\\").split("\\", maxsplit=1)[0]
    state.blocked_hosts.append(share_host)


SILENT_FOR_SECONDS = 3 * 3600.0


def _registration_interrupted(state: HostState, avd: AvdService) -> None:
    # The article's re-registration stopped after its registry writes and before RDAgentBootLoader's restart: the
    # running agent read IsRegistered when it started and goes on as it was; the key waits for its next start.
    state.registry.set(k.RDINFRA_AGENT, "IsRegistered", REG_DWORD, 0)
    state.registry.set(k.RDINFRA_AGENT, "RegistrationToken", REG_SZ, _pool_key(state, avd))


def _registration_token_left(state: HostState, avd: AvdService) -> None:
    # A key written beside IsRegistered=1 after the agent had registered and emptied its own (two re-registrations
    # at once): the agent, registered, never reads it.
    state.registry.set(k.RDINFRA_AGENT, "RegistrationToken", REG_SZ, _pool_key(state, avd))


def _agent_goes_silent(state: HostState, avd: AvdService) -> None:
    # The agent's process hangs (no crash, no event) three hours ago; the boot loader keeps running.
    state.agent_silent = True
    state.last_heartbeat = time.time() - SILENT_FOR_SECONDS


CATALOG: dict[str, Fault] = {
    fault.name: fault
    for fault in (
        Fault(
            "bootloader_stopped",
            "Error: The RDAgentBootLoader and/or Remote Desktop Agent Loader has stopped running",
            "stops the RDAgentBootLoader service after boot",
            after_boot=_stop_bootloader,
        ),
        Fault(
            "agent_not_installed",
            "Your issue isn't listed here or wasn't resolved",
            "uninstalls the boot loader, agent, Geneva agent and SxS stack (their services go with them)",
            before_boot=_uninstall_agent,
        ),
        Fault(
            "invalid_registration_token",
            "Error: INVALID_REGISTRATION_TOKEN",
            "IsRegistered=0 and a RegistrationToken signed for another host pool",
            before_boot=_invalid_token,
        ),
        Fault(
            "expired_registration_token",
            "Your issue isn't listed here or wasn't resolved (EXPIRED_REGISTRATION_TOKEN)",
            "IsRegistered=0 and a RegistrationToken of this host pool that expired an hour ago",
            before_boot=_expired_token,
        ),
        Fault(
            "broker_blocked",
            "Error: Agent cannot connect to broker with INVALID_FORM",
            "the VM cannot reach rdbroker*.wvd.microsoft.com (BrokerURI and BrokerURIGlobal)",
            before_boot=_block("rdbroker*.wvd.microsoft.com"),
        ),
        Fault(
            "gateway_blocked",
            "Error: 3703",
            "the VM cannot reach rdgateway*.wvd.microsoft.com",
            before_boot=_block("rdgateway*.wvd.microsoft.com"),
        ),
        Fault(
            "websocket_blocked",
            "Error: 3019",
            "the VM cannot reach the web socket transport rdweb*.wvd.microsoft.com",
            before_boot=_block("rdweb*.wvd.microsoft.com"),
        ),
        Fault(
            "stack_health_check_failed",
            "Error: InstallationHealthCheckFailedException",
            "fEnableWinStation=0 on the active rdp-sxs WinStation (toggled by the terminal server) while an "
            "agent update is due",
            before_boot=_toggle_enable_winstation,
        ),
        Fault(
            "endpoint_not_found",
            "Error: ENDPOINT_NOT_FOUND",
            "removes the session host from the host pool while the VM still has IsRegistered=1",
            before_boot=_remove_from_pool,
        ),
        Fault(
            "msi_policy_blocked",
            "Error: InstallMsiException",
            "Turn off Windows Installer policy (DisableMSI=1) while an agent update is due",
            before_boot=_msi_policy,
        ),
        Fault(
            "installer_busy",
            "Error: InstallMsiException",
            "another msiexec installation runs (for the host's installation_seconds, 60 by default) while an agent "
            "update is due",
            before_boot=_installer_busy,
        ),
        Fault(
            "cmd_policy_blocked",
            "Error: Win32Exception",
            "Prevent access to the command prompt (DisableCMD=1) in the user hives and the default profile "
            "while an agent update is due",
            before_boot=_cmd_policy,
        ),
        Fault(
            "stack_listener_broken",
            "Error: Stack listener isn't working on a Windows 10 2004 session host VM",
            "fReverseConnectMode=0 on the active rdp-sxs WinStation",
            before_boot=_reverse_connect_off,
        ),
        Fault(
            "disk_full",
            "Error: DownloadMsiException",
            "40 MB free on C: while an agent update is due; Windows Update's download cache, the Windows temp "
            "folder and an old agent folder hold 6.8 GB; Windows Update is running",
            before_boot=_disk_full,
            after_boot=_windows_update_downloading,
        ),
        Fault(
            "dotnet_outdated",
            "Error: Agent fails to update with MissingMethodException",
            ".NET Framework 4.7 (Release 460805) while an agent update is due",
            before_boot=_old_dotnet,
        ),
        Fault(
            "sxs_stack_missing",
            "Error: Session host VMs are stuck in Unavailable or Upgrading state",
            "the SxS stack is listed as installed but its rdp-sxs WinStation was never created",
            before_boot=_stack_never_finished,
        ),
        Fault(
            "session_limit_reached",
            "Error: Connection not found: RDAgent does not have an active connection to the broker",
            "as many active user sessions as the host pool's max session limit",
            after_boot=_fill_sessions,
        ),
        Fault(
            "unsupported_os",
            "Error: Operating a Pro VM or other unsupported OS",
            "EditionID=Professional (Windows 10 Pro)",
            before_boot=_professional,
        ),
        Fault(
            "name_already_registered",
            "Error: NAME_ALREADY_REGISTERED",
            "another VM registered this name in the host pool; this VM has IsRegistered=0 and a valid token",
            before_boot=_duplicate_name,
        ),
        Fault(
            "domain_trust_lost",
            "(service health check DomainTrustCheck)",
            "the VM's secure channel with the domain is broken (its machine account password no longer matches)",
            before_boot=_break_secure_channel,
        ),
        Fault(
            "fslogix_unhealthy",
            "(service health check FSLogixHealthCheck)",
            "the VM cannot reach the FSLogix profile share in VHDLocations",
            before_boot=_profile_share_unreachable,
        ),
        Fault(
            "agent_heartbeat_lost",
            "(field failure: agent silent, users get 0x204)",
            "the agent process hung three hours ago without an event; RDAgentBootLoader and RDAgent still run",
            after_boot=_agent_goes_silent,
        ),
        Fault(
            "registration_interrupted",
            "Error: INVALID_REGISTRATION_TOKEN (a re-registration stopped before RDAgentBootLoader's restart)",
            "after boot: IsRegistered=0 and a valid RegistrationToken of the host pool; the running agent, which "
            "read IsRegistered at its start, goes on registered until its next start",
            after_boot=_registration_interrupted,
        ),
        Fault(
            "registration_token_left",
            "Error: INVALID_REGISTRATION_TOKEN (IsRegistered=1 and a RegistrationToken left behind)",
            "after boot: a valid RegistrationToken of the host pool beside IsRegistered=1 (written after the agent "
            "registered and emptied its own, as two re-registrations at once leave it)",
            after_boot=_registration_token_left,
        ),
        Fault(
            "registration_baked_in",
            "(image) Your issue isn't listed here or wasn't resolved: NAME_ALREADY_REGISTERED for every VM of the image",
            "the agent was installed with a valid registration key during the image build (IsRegistered=0, "
            "RegistrationToken set); it registers the VM at its next start",
            before_boot=_install_with_key,
        ),
        Fault(
            "pending_reboot",
            "(image) a restart pending when the image is captured",
            "Component Based Servicing\\RebootPending and WindowsUpdate\\Auto Update\\RebootRequired keys, and a "
            "PendingFileRenameOperations entry, after boot (the next restart clears them)",
            after_boot=_updates_await_restart,
        ),
    )
}


def get(name: str) -> Fault:
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown fault {name!r}; the catalog has: {', '.join(sorted(CATALOG))}") from None
