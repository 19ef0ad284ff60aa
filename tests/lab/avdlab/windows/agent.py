"""The AVD agent and its boot loader, as the article describes them.

When the Remote Desktop Agent Loader (RDAgentBootLoader) starts, it loads
the agent named by ``DefaultAgent``. The agent connects to the broker,
registers when ``IsRegistered`` is 0 (emptying ``RegistrationToken`` once it
has), applies a pending agent update, runs its health checks and writes
``HealthCheckReport``. A failure to reach or register with the broker is
logged as event 3277 with the article's text, and the boot loader stops a
moment later ("If the service stops after you started and refreshed it,
you may have a registration failure"). Update failures are logged (3277,
3389) and leave the previous agent running.
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING

from . import known as k
from .image import install_product, msi_products, set_agent_registry, uninstall_product
from .listeners import sxs_listening
from .registry import REG_DWORD, REG_SZ
from .state import RUNNING, START_PENDING, STOPPED, HostState

if TYPE_CHECKING:
    from ..avd import AvdService

# How long a failing agent's boot loader keeps running before it stops.
FAILURE_STOP_SECONDS = 2.0
ERROR = "Error"
INFORMATION = "Information"


def _agent_version(state: HostState) -> str:
    default = str(state.registry.get_data(k.BOOTLOADER, "DefaultAgent", "") or "")
    return default.removeprefix("RDAgent_")


def agent_binaries_present(state: HostState) -> bool:
    version = _agent_version(state)
    if not version:
        return False
    folder = (k.RDINFRA_DIR + "\\RDAgent_" + version + "\\").lower()
    return any(path.startswith(folder) for path in state.files) and bool(state.programs_named(k.AGENT_PRODUCT))


def _stop_after_failure(state: HostState, now: float) -> None:
    bootloader = state.service(k.BOOTLOADER_SERVICE)
    if bootloader is not None:
        bootloader.stop_at = now + FAILURE_STOP_SECONDS
    agent = state.service(k.AGENT_SERVICE)
    if agent is not None:
        agent.state = STOPPED
    state.last_heartbeat = now


def cmd_blocked_for_agent(state: HostState) -> bool:
    """DisableCMD in the profile the agent's service runs under (LocalSystem: HKU\\.DEFAULT, HKU\\S-1-5-18)."""
    registry = state.registry
    for hive in (k.DEFAULT_PROFILE_HIVE, r"HKEY_USERS\S-1-5-18"):
        if (registry.get_data(rf"{hive}\{k.USER_SYSTEM_POLICY}", "DisableCMD") or 0) in (1, 2):
            return True
    return False


def msi_policy_blocks(state: HostState) -> bool:
    """Turn off Windows Installer: 1 = for non-managed apps (the agent is one), 2 = always."""
    return (state.registry.get_data(k.INSTALLER_POLICY, "DisableMSI") or 0) in (1, 2)


def bootloader_started(state: HostState, avd: AvdService, now: float | None = None) -> None:
    """Everything that follows the boot loader entering Running."""
    moment = time.time() if now is None else now
    registry = state.registry
    if not agent_binaries_present(state):
        state.log_event(
            k.SOURCE_BOOTLOADER,
            k.EVENT_AGENT_ERROR,
            ERROR,
            "AgentLoadException: Unable to retrieve DefaultAgent from registry, "
            "or the agent it names is not installed.",
            moment,
        )
        _stop_after_failure(state, moment)
        return
    agent = state.service(k.AGENT_SERVICE)
    if agent is not None:
        agent.state = RUNNING
    version = _agent_version(state)
    state.log_event(k.SOURCE_AGENT, k.EVENT_AGENT_STARTED, INFORMATION, f"RDAgent {version} started.", moment)

    if registry.get_data(k.RDINFRA_AGENT, "IsRegistered") != 1 and not registry.get_data(k.RDINFRA_AGENT, "BrokerURI"):
        _first_start(state)
    broker = str(registry.get_data(k.RDINFRA_AGENT, "BrokerURI", "") or "")
    broker_global = str(registry.get_data(k.RDINFRA_AGENT, "BrokerURIGlobal", "") or "")
    unreachable = [uri for uri in (broker, broker_global) if not uri or not state.can_reach(uri)]
    if unreachable:
        state.log_event(
            k.SOURCE_AGENT,
            k.EVENT_AGENT_ERROR,
            ERROR,
            f"Unable to connect to the broker. INVALID_FORM: the request to {unreachable[0] or 'the broker'} "
            "failed: The remote name could not be resolved or the connection was blocked.",
            moment,
        )
        _stop_after_failure(state, moment)
        return

    if registry.get_data(k.RDINFRA_AGENT, "IsRegistered") != 1 and state.registration_seconds > 0:
        # Registering takes minutes on Azure (the article: wait 5-10 minutes for Available): the agent runs,
        # IsRegistered stays 0 and the key stays set until the broker has answered (settle_registration).
        state.registration_due = moment + state.registration_seconds
        return
    _register(state, avd, moment)


def settle_registration(state: HostState, avd: AvdService, now: float | None = None) -> None:
    """Let time pass for a registration under way: once its time has come the agent has registered (or failed,
    as it would have at once), if its boot loader still runs; a stopped boot loader abandons it."""
    due = state.registration_due
    if due is None:
        return
    moment = time.time() if now is None else now
    bootloader = state.service(k.BOOTLOADER_SERVICE)
    if bootloader is None or bootloader.state not in (RUNNING, START_PENDING):
        state.registration_due = None
    elif moment >= due:
        state.registration_due = None
        _register(state, avd, due)


def _register(state: HostState, avd: AvdService, moment: float) -> None:
    """The agent meets the broker: registers (or connects), applies a pending update, runs its health checks."""
    from ..avd import RegistrationError

    registry = state.registry
    try:
        if registry.get_data(k.RDINFRA_AGENT, "IsRegistered") != 1:
            token = str(registry.get_data(k.RDINFRA_AGENT, "RegistrationToken", "") or "")
            pool = avd.register(state, token, moment)
            registry.set(k.RDINFRA_AGENT, "IsRegistered", REG_DWORD, 1)
            registry.set(k.RDINFRA_AGENT, "HostPoolArmPath", REG_SZ, pool.arm_id)  # the pool the key belongs to
            registry.set(k.RDINFRA_AGENT, "RegistrationToken", REG_SZ, "")
            state.log_event(
                k.SOURCE_AGENT,
                k.EVENT_AGENT_REGISTERED,
                INFORMATION,
                f"RDAgent registered session host {state.name} with the broker.",
                moment,
            )
        else:
            avd.connect(state)
    except RegistrationError as exc:
        state.log_event(
            k.SOURCE_AGENT,
            k.EVENT_AGENT_ERROR,
            ERROR,
            f"Agent registration with the broker failed. {exc.code}: {exc.detail}",
            moment,
        )
        _stop_after_failure(state, moment)
        return

    _apply_pending_update(state, avd, moment)
    _health_checks(state, moment)
    state.agent_silent = False  # a fresh agent process heartbeats again (the field report's workaround)
    state.last_heartbeat = moment


def _first_start(state: HostState) -> None:
    """A freshly installed agent: it learns the VM from the instance metadata service and its broker from the
    registration key's claims (the key is a JWT naming the broker), and writes them before it registers."""
    registry = state.registry
    token = str(registry.get_data(k.RDINFRA_AGENT, "RegistrationToken", "") or "")
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return  # no key, or not a JWT: the broker stays unknown and the agent cannot reach it
    broker = claims.get("BrokerURI") if isinstance(claims, dict) else None
    if not isinstance(broker, str) or not broker:
        return
    set_agent_registry(registry, state.name, state.vm_id, "")
    registry.set(k.RDINFRA_AGENT, "BrokerURI", REG_SZ, broker)


def _fail_update(state: HostState, message: str, moment: float, event_id: int = k.EVENT_AGENT_ERROR) -> None:
    source = k.SOURCE_UPDATER if event_id == k.EVENT_UPDATE_FAILED else k.SOURCE_AGENT
    state.log_event(source, event_id, ERROR, message, moment)
    state.update_state = "Failed"
    state.update_error = message


def _apply_pending_update(state: HostState, avd: AvdService, moment: float) -> None:
    current = _agent_version(state)
    latest = avd.latest_agent_version
    if current == latest:
        state.update_state = "Succeeded"
        state.update_error = ""
        return
    state.update_state = "Started"
    prefix = f"Agent update from {current} to {latest} failed."
    if state.disk.free < k.MSI_SPACE_NEEDED:
        _fail_update(
            state,
            f"{prefix} Microsoft.RDInfra.AgentUpdater.DownloadMsiException: There is not enough space on the disk.",
            moment,
        )
        return
    if state.installer_busy:
        _fail_update(
            state,
            f"{prefix} Microsoft.RDInfra.AgentUpdater.InstallMsiException: msiexec.exe exited with code "
            f"{k.MSI_ANOTHER_INSTALL}: Another installation is already in progress.",
            moment,
        )
        return
    if msi_policy_blocks(state):
        _fail_update(
            state,
            f"{prefix} Microsoft.RDInfra.AgentUpdater.InstallMsiException: msiexec.exe exited with code "
            f"{k.MSI_POLICY_BLOCKED}: This installation is forbidden by system policy.",
            moment,
        )
        return
    if cmd_blocked_for_agent(state):
        _fail_update(
            state,
            f"{prefix} Microsoft.RDInfra.AgentUpdater.InstallMsiException: Failed to restart the agent service. "
            "---> System.ComponentModel.Win32Exception (0x80004005): The command prompt has been disabled by "
            "your administrator (cmd.exe).",
            moment,
        )
        return
    if not sxs_listening(state):
        _fail_update(
            state,
            f"{prefix} Microsoft.RDInfra.AgentUpdater.InstallationHealthCheckFailedException: the stack listener "
            "is not working after the installation; rolled back.",
            moment,
        )
        return
    release = state.registry.get_data(k.NDP_V4_FULL, "Release") or 0
    if release < k.DOTNET_472_MINIMUM:
        _fail_update(
            state,
            f"Agent update to {latest} failed and reverted to {current}. "
            "System.MissingMethodException: Method not found: "
            "'System.Threading.Tasks.Task`1<System.Net.Http.HttpResponseMessage> "
            "System.Net.Http.HttpClient.SendAsync(System.Net.Http.HttpRequestMessage)'.",
            moment,
            k.EVENT_UPDATE_FAILED,
        )
        return
    for program in state.programs_named(k.AGENT_PRODUCT):
        uninstall_product(state, program)
    path = k.agent_msi_path(latest)
    info = msi_products()[path]
    install_product(state, path, info, moment)
    # The updater installs the new agent with msiexec, which logs the product installed like any installation;
    # the failures logged before stay in the log.
    state.log_event(
        k.SOURCE_MSI,
        11707,
        "Information",
        f"Product: {info['display_name']} -- Installation completed successfully.",
        moment,
    )
    agent = state.service(k.AGENT_SERVICE)
    if agent is not None:
        agent.state = RUNNING
    state.update_state = "Succeeded"
    state.update_error = ""


def _health_checks(state: HostState, moment: float) -> None:
    registry = state.registry
    # The agent writes UTC with seven fractional digits (2024-02-20T08:14:03.1234567Z).
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment % 1 * 10**7):07d}Z"
    checks: list[tuple[str, bool, str]] = []
    listener = registry.get_data(k.WINSTATIONS, "ReverseConnectionListener")
    stack_key_missing = bool(listener) and not registry.key_exists(rf"{k.WINSTATIONS}\{listener}")
    if stack_key_missing and state.programs_named(k.SXS_PRODUCT):
        # The stack is listed as installed but its listener was never created:
        # the agent keeps waiting for the stack installation to finish.
        state.update_state = "Started"
        state.update_error = f"Waiting for the side-by-side stack {listener} to finish installing."
    listening = sxs_listening(state)
    checks.append(("SxSStackListenerCheck", listening, "" if listening else "SxsStack listener is not ready"))
    for check_url, event_id, text in (
        (k.GATEWAY_URL, k.EVENT_GATEWAY, "RD Gateway Url: {url} is not accessible."),
        (
            k.WEBSOCKET_TRANSPORT_URL,
            k.EVENT_WEBSOCKET,
            "Transport received an exception. Web socket transport Url: {url} is not accessible.",
        ),
    ):
        if not state.can_reach(check_url):
            state.log_event(k.SOURCE_AGENT, event_id, ERROR, text.format(url=check_url), moment)
    urls_ok = state.can_reach(k.GATEWAY_URL) and state.can_reach(k.WEBSOCKET_TRANSPORT_URL)
    checks.append(("UrlsAccessibleCheck", urls_ok, "" if urls_ok else "Required URLs are not accessible."))
    geneva = bool(state.programs_named(k.GENEVA_PRODUCT))
    checks.append(("MonitoringAgentCheck", geneva, "" if geneva else "The Geneva monitoring agent is not installed."))
    checks.append(("DomainJoinedCheck", True, ""))
    trusted = state.domain_secure_channel
    checks.append(("DomainTrustCheck", trusted, "" if trusted else k.TRUST_FAILED_TEXT))
    checks.append(("MetaDataServiceCheck", True, ""))
    fslogix = _fslogix_check(state)
    if fslogix is not None:
        checks.append(("FSLogixHealthCheck", *fslogix))
    # One JSON object keyed by check name, as MSRD-Collect and field scripts read it.
    report = {
        name: {
            "HealthCheckResult": k.CHECK_PASSED if passed else k.CHECK_FAILED,
            "AdditionalFailureDetails": {
                "Message": message,
                "ErrorCode": 0 if passed else k.CHECK_ERROR_CODE,
                "LastHealthCheckInUTC": stamp,
            },
        }
        for name, passed, message in checks
    }
    registry.set(k.HEALTH_CHECK_REPORT, "AgentHealthCheckReport", REG_SZ, json.dumps(report))


def _fslogix_check(state: HostState) -> tuple[bool, str] | None:
    """FSLogix profile containers, when enabled: the agent checks that the VHD locations can be reached."""
    registry = state.registry
    if registry.get_data(k.FSLOGIX_PROFILES, "Enabled") != 1:
        return None
    locations = registry.get_data(k.FSLOGIX_PROFILES, "VHDLocations") or []
    shares = [locations] if isinstance(locations, str) else list(locations)
    unreachable = [share for share in shares if not state.can_reach("smb://" + share.lstrip("\\").split("\\")[0])]
    if shares and not unreachable:
        return True, ""
    where = ", ".join(unreachable) or "no VHDLocations"
    return False, f"FSLogix profile container storage is not accessible: {where}"
