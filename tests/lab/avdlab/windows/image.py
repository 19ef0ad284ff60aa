"""A healthy AVD session host, as a freshly deployed image looks before first boot."""

from __future__ import annotations

import time
import uuid

from . import known as k
from .registry import REG_DWORD, REG_MULTI_SZ, REG_SZ, Registry
from .state import AUTOMATIC, MANUAL, FileEntry, HostState, Program, Service

USER_SIDS = ("S-1-5-21-3623811015-3361044348-30300820-1013",)


def product(kind: str, display_name: str, version: str) -> dict[str, str]:
    # Deterministic product codes: one per product and version, like a real MSI build.
    code = "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"avdlab:{kind}:{version}")).upper() + "}"
    return {"kind": kind, "display_name": display_name, "display_version": version, "product_code": code}


def msi_products() -> dict[str, dict[str, str]]:
    """Every installer the image carries in RDInfra, by path."""
    items = {
        k.agent_msi_path(k.AGENT_VERSION): product("agent", k.AGENT_PRODUCT, k.AGENT_VERSION),
        k.agent_msi_path(k.AGENT_PREVIOUS_VERSION): product("agent", k.AGENT_PRODUCT, k.AGENT_PREVIOUS_VERSION),
        k.bootloader_msi_path(k.BOOTLOADER_VERSION): product("bootloader", k.BOOTLOADER_PRODUCT, k.BOOTLOADER_VERSION),
        k.geneva_msi_path(k.GENEVA_VERSION): product(
            "geneva", k.geneva_display_name(k.GENEVA_VERSION), k.GENEVA_VERSION
        ),
        k.sxs_msi_path(k.SXS_PREVIOUS_VERSION): product("sxs", k.SXS_PRODUCT, k.SXS_PREVIOUS_VERSION),
        k.sxs_msi_path(k.SXS_VERSION): product("sxs", k.SXS_PRODUCT, k.SXS_VERSION),
    }
    return items


def healthy_host(name: str, host_pool_arm_path: str, image_time: float) -> HostState:
    vm_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.vm.avdlab"))
    registry = Registry()
    state = HostState(name=name, vm_id=vm_id, registry=registry)
    set_agent_registry(registry, name, vm_id, host_pool_arm_path)
    registry.set(k.BOOTLOADER, "CurrentBootLoaderVersion", REG_SZ, k.BOOTLOADER_VERSION)
    registry.set(k.MONITORING_AGENT, "CurrentVersion", REG_SZ, k.GENEVA_VERSION)
    registry.set(k.MONITORING_AGENT, "SessionHostPool", REG_SZ, host_pool_arm_path.rsplit("/", 1)[-1])
    registry.set(k.MONITORING_AGENT, "Cluster", REG_SZ, "rdbroker-g-us-r1")
    registry.set(k.MONITORING_AGENT, "Ring", REG_SZ, "R1")
    registry.set(k.RDP_TCP, "fEnableWinStation", REG_DWORD, 1)
    registry.set(k.RDP_TCP, "SecurityLayer", REG_DWORD, 2)
    registry.set(k.RDP_TCP, "UserAuthentication", REG_DWORD, 1)
    registry.set(k.NDP_V4_FULL, "Release", REG_DWORD, k.DOTNET_48_RELEASE)
    registry.set(k.NDP_V4_FULL, "Version", REG_SZ, "4.8.04084")
    registry.set(k.WINDOWS_NT, "EditionID", REG_SZ, "EnterpriseMultiSession")
    registry.set(k.WINDOWS_NT, "ProductName", REG_SZ, "Windows 10 Enterprise multi-session")
    registry.set(k.WINDOWS_NT, "CurrentBuild", REG_SZ, "22631")
    registry.set(k.WINDOWS_NT, "CurrentBuildNumber", REG_SZ, "22631")
    registry.set(k.WINDOWS_NT, "DisplayVersion", REG_SZ, "23H2")
    registry.set(k.WINDOWS_NT, "InstallationType", REG_SZ, "Client")
    # FSLogix profile containers on an Azure Files share, as most pooled host pools run them
    registry.set(k.FSLOGIX_PROFILES, "Enabled", REG_DWORD, 1)
    registry.set(k.FSLOGIX_PROFILES, "VHDLocations", REG_MULTI_SZ, [k.FSLOGIX_SHARE])
    # Loaded hives as on a running host: the service accounts, .DEFAULT, a signed-in user and their classes.
    for sid in ("S-1-5-18", "S-1-5-19", "S-1-5-20", *USER_SIDS, *(f"{sid}_Classes" for sid in USER_SIDS)):
        registry.create_key(rf"HKEY_USERS\{sid}\Software\Microsoft")
    registry.create_key(rf"{k.DEFAULT_PROFILE_HIVE}\Software\Microsoft")
    registry.create_key(k.SESSION_MANAGER)

    state.services = {
        s.name.lower(): s
        for s in (
            Service(k.TERMSERVICE, "Remote Desktop Services", start_type=AUTOMATIC),
            Service("SessionEnv", "Remote Desktop Configuration", start_type=MANUAL),
            Service("UmRdpService", "Remote Desktop Services UserMode Port Redirector", start_type=MANUAL),
            # Trigger-started: they run while Windows Update scans and downloads, then stop when idle.
            Service(k.WUAUSERV, k.WUAUSERV_DISPLAY, start_type=MANUAL),
            Service(k.BITS, k.BITS_DISPLAY, start_type=MANUAL),
        )
    }
    for path, info in msi_products().items():
        state.files[path.lower()] = FileEntry(path=path, size=48 * 1024**2, created=image_time - 3600, product=info)
    # The newest stack installer must be the newest by CreationTime (the article sorts by it).
    state.files[k.sxs_msi_path(k.SXS_PREVIOUS_VERSION).lower()].created = image_time - 86400 * 60
    for log in ("AgentInstall.txt", "SXSStackInstall.txt"):
        path = rf"{k.RDINFRA_DIR}\{log}"
        state.files[path.lower()] = FileEntry(path=path, size=20_000, created=image_time - 3600)
    products = msi_products()
    for path in (
        k.agent_msi_path(k.AGENT_VERSION),
        k.bootloader_msi_path(k.BOOTLOADER_VERSION),
        k.geneva_msi_path(k.GENEVA_VERSION),
        k.sxs_msi_path(k.SXS_VERSION),
    ):
        install_product(state, path, products[path], image_time - 3600)
    registry.set(k.RDINFRA_AGENT, "IsRegistered", REG_DWORD, 1)
    registry.set(k.RDINFRA_AGENT, "RegistrationToken", REG_SZ, "")
    return state


def image_build_host(name: str, image_time: float) -> HostState:
    """A VM that builds a golden image: the agent and boot loader installed without a registration key.

    Registration is what ties a VM to a host pool: without a key the agent keeps IsRegistered=0 and
    has no agent GUID or HostPoolArmPath yet, and the VM is in no host pool.
    """
    state = healthy_host(name, "", image_time)
    registry = state.registry
    registry.set(k.RDINFRA_AGENT, "IsRegistered", REG_DWORD, 0)
    for value_name in ("GUID", "HostPoolArmPath"):
        registry.delete_value(k.RDINFRA_AGENT, value_name)
    registry.delete_value(k.MONITORING_AGENT, "SessionHostPool")
    return state


def set_agent_registry(registry: Registry, name: str, vm_id: str, host_pool_arm_path: str) -> None:
    values = {
        "BrokerURI": k.BROKER_URI,
        "BrokerURIGlobal": k.BROKER_URI_GLOBAL,
        "BrokerResourceIdURI": k.BROKER_RESOURCE_ID_URI,
        "BrokerResourceIdURIGlobal": k.BROKER_RESOURCE_ID_URI_GLOBAL,
        "DiagnosticsUri": k.DIAGNOSTICS_URI,
        "Geography": "US",
        "HostPoolArmPath": host_pool_arm_path,
        "AzureResourceId": f"/subscriptions/00000000-0000-0000-0000-00000000a1ab/resourceGroups/rg-avdlab/providers/"
        f"Microsoft.Compute/virtualMachines/{name}",
        "AzureVmId": vm_id,
        "GUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.agent.avdlab")),
    }
    for value_name, data in values.items():
        registry.set(k.RDINFRA_AGENT, value_name, REG_SZ, data)


def install_product(state: HostState, msi_path: str, info: dict[str, str], when: float) -> None:
    """What each product's MSI writes, on top of its Add/Remove Programs entry."""
    registry = state.registry
    version = info["display_version"]
    state.programs.append(
        Program(
            product_code=info["product_code"],
            display_name=info["display_name"],
            display_version=version,
            install_date=time.strftime("%Y%m%d", time.gmtime(when)),
            package=msi_path,
        )
    )
    kind = info["kind"]
    if kind == "agent":
        previous = registry.get_data(k.BOOTLOADER, "DefaultAgent")
        if previous and previous != f"RDAgent_{version}":
            registry.set(k.BOOTLOADER, "PreviousAgent", REG_SZ, previous)
        registry.set(k.BOOTLOADER, "DefaultAgent", REG_SZ, f"RDAgent_{version}")
        exe = rf"{k.RDINFRA_DIR}\RDAgent_{version}\RDAgentBootLoader\Microsoft.RDInfra.RDAgent.Service.exe"
        state.files[exe.lower()] = FileEntry(path=exe, size=2 * 1024**2, created=when)
        state.services[k.AGENT_SERVICE.lower()] = Service(k.AGENT_SERVICE, "Remote Desktop Agent", start_type=MANUAL)
    elif kind == "bootloader":
        registry.set(k.BOOTLOADER, "CurrentBootLoaderVersion", REG_SZ, version)
        state.services[k.BOOTLOADER_SERVICE.lower()] = Service(
            k.BOOTLOADER_SERVICE, k.BOOTLOADER_DISPLAY, start_type=AUTOMATIC
        )
    elif kind == "geneva":
        registry.set(k.MONITORING_AGENT, "CurrentVersion", REG_SZ, version)
    elif kind == "sxs":
        winstation = k.sxs_winstation(version)
        current = registry.get_data(k.SXS_STACK, "CurrentVersion")
        if current and current != msi_path:
            registry.set(k.SXS_STACK, "PreviousVersion", REG_SZ, current)
        registry.set(k.SXS_STACK, "CurrentVersion", REG_SZ, msi_path)
        registry.set(rf"{k.WINSTATIONS}\{winstation}", "fEnableWinStation", REG_DWORD, 1)
        registry.set(rf"{k.WINSTATIONS}\{winstation}", "fReverseConnectMode", REG_DWORD, 1)
        registry.set(k.WINSTATIONS, "ReverseConnectionListener", REG_SZ, winstation)
        registry.set(k.CLUSTER_SETTINGS, "SessionDirectoryListener", REG_SZ, winstation)


def uninstall_product(state: HostState, program: Program) -> None:
    """What removing a product takes away with its Add/Remove Programs entry.

    Windows Installer removes what the package installed (its files, services and the registry values its
    components write), not what the programs wrote while they ran: the agent's RDInfraAgent values
    (IsRegistered, RegistrationToken, GUID, the broker URIs, HealthCheckReport) and the DefaultAgent and
    PreviousAgent values the agent's installer and updates set under RDAgentBootLoader stay behind. Field
    scripts that reinstall the agent delete both keys themselves for that reason (sources in
    tests/fixtures/realworld/SOURCES.md: reinstall scripts).
    """
    state.programs.remove(program)
    registry = state.registry
    name = program.display_name.lower()
    if name == k.AGENT_PRODUCT.lower():
        if not state.programs_named(k.AGENT_PRODUCT):
            state.services.pop(k.AGENT_SERVICE.lower(), None)
    elif name == k.BOOTLOADER_PRODUCT.lower():
        if not state.programs_named(k.BOOTLOADER_PRODUCT):
            state.services.pop(k.BOOTLOADER_SERVICE.lower(), None)
            if registry.get_data(k.BOOTLOADER, "CurrentBootLoaderVersion") is not None:
                registry.delete_value(k.BOOTLOADER, "CurrentBootLoaderVersion")  # the boot loader package's own
    elif name == k.SXS_PRODUCT.lower():
        winstation = rf"{k.WINSTATIONS}\{k.sxs_winstation(program.display_version)}"
        if registry.key_exists(winstation):
            registry.delete_key(winstation)
        # Uninstalling the stack stops its listener and closes the RDP connections that ride on it.
        listener = k.sxs_winstation(program.display_version).lower()
        state.active_listeners = [e for e in state.active_listeners if e.split("=", 1)[0].lower() != listener]
        for session in state.sessions:
            session.state = "Disconnected"
