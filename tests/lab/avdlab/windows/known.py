"""Names, paths and versions of a Windows AVD session host, as the lab knows them.

One definition per fact for the lab (the collection keeps its own).
Sources: the troubleshooting article and the facts page (registry values,
services, installers, .NET releases, event ids and texts).
"""

from __future__ import annotations

# Registry keys (HKEY_LOCAL_MACHINE unless said otherwise)
RDINFRA_AGENT = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDInfraAgent"
SXS_STACK = RDINFRA_AGENT + r"\SxsStack"
HEALTH_CHECK_REPORT = RDINFRA_AGENT + r"\HealthCheckReport"
BOOTLOADER = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDAgentBootLoader"
MONITORING_AGENT = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDMonitoringAgent"
TERMINAL_SERVER = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server"
WINSTATIONS = TERMINAL_SERVER + r"\WinStations"
RDP_TCP = WINSTATIONS + r"\RDP-Tcp"
CLUSTER_SETTINGS = TERMINAL_SERVER + r"\ClusterSettings"
NDP_V4_FULL = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full"
WINDOWS_NT = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
WINLOGON_AUTOLOGON_CHECKED = WINDOWS_NT + r"\Winlogon\AutoLogonChecked"
INSTALLER_POLICY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\Installer"
USER_SYSTEM_POLICY = r"Software\Policies\Microsoft\Windows\System"  # below HKU\<SID> or HKCU
DEFAULT_PROFILE_HIVE = r"HKEY_USERS\.DEFAULT"
FSLOGIX_PROFILES = r"HKEY_LOCAL_MACHINE\SOFTWARE\FSLogix\Profiles"  # Enabled, VHDLocations
FSLOGIX_SHARE = r"\\stavdlabprofiles.file.core.windows.net\profiles"  # where the lab's FSLogix profiles live

# The agent's health checks (names as the agent writes them in AgentHealthCheckReport and the service
# reports them in sessionHostHealthCheckResults); HealthCheckResult 1 = passed, 2 = failed.
CHECK_PASSED, CHECK_FAILED = 1, 2
CHECK_ERROR_CODE = -2147467259  # E_FAIL, as the agent reports a failed check
TRUST_FAILED_TEXT = "The trust relationship between this workstation and the primary domain failed."
# What Windows servicing leaves until the next restart (cleared by it): Component Based Servicing's
# and Windows Update's marker keys, and the file renames Session Manager performs at boot.
CBS_REBOOT_PENDING = (
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending"
)
WU_REBOOT_REQUIRED = (
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired"
)
SESSION_MANAGER = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Session Manager"

# Services
BOOTLOADER_SERVICE = "RDAgentBootLoader"
BOOTLOADER_DISPLAY = "Remote Desktop Agent Loader"
AGENT_SERVICE = "RDAgent"
TERMSERVICE = "TermService"
# The services that hold the side-by-side stack's files (the article: uninstalling the stack asks to close
# "Remote Desktop Services" and "Remote Desktop Services UserMode Port Redirector").
STACK_FILE_HOLDERS = (TERMSERVICE, "UmRdpService")
SOURCE_SCM = "Service Control Manager"
ERROR_ACCESS_DENIED = 5  # what an installer that needs Windows Update exits with in a network logon (KB2773898)
EVENT_SERVICE_STATE = 7036  # "The %1 service entered the %2 state." (System log)
# Windows Update and the transfer service that downloads its payloads into SoftwareDistribution\Download
WUAUSERV = "wuauserv"
WUAUSERV_DISPLAY = "Windows Update"
BITS = "BITS"
BITS_DISPLAY = "Background Intelligent Transfer Service"

# Programs (Add/Remove Programs display names) of the article's full reinstall
BOOTLOADER_PRODUCT = "Remote Desktop Agent Boot Loader"
AGENT_PRODUCT = "Remote Desktop Services Infrastructure Agent"
GENEVA_PRODUCT = "Remote Desktop Services Infrastructure Geneva Agent"  # listed with its version appended
SXS_PRODUCT = "Remote Desktop Services SxS Network Stack"

RDINFRA_DIR = r"C:\Program Files\Microsoft RDInfra"
WINDOWS_TEMP = r"C:\Windows\Temp"
WU_DOWNLOAD = r"C:\Windows\SoftwareDistribution\Download"  # Windows Update's download cache
# An agent two updates back: the agent leaves the folders of versions it ran (the boot loader loads
# DefaultAgent and keeps PreviousAgent to roll back to).
AGENT_OLDER_VERSION = "1.0.9388.1600"

# Versions the lab's AVD service rolls out (newest) and the one before.
AGENT_VERSION = "1.0.10004.1300"
AGENT_PREVIOUS_VERSION = "1.0.9742.1500"
BOOTLOADER_VERSION = "1.0.9023.1100"
GENEVA_VERSION = "46.16.1"
SXS_VERSION = "1.0.2407.05700"
SXS_PREVIOUS_VERSION = "1.0.2404.16760"


def sxs_winstation(version: str) -> str:
    """``1.0.2407.05700`` -> ``rdp-sxs240705700`` (the stack's WinStation and listener name)."""
    parts = version.split(".")
    return "rdp-sxs" + "".join(parts[2:])


def sxs_msi_path(version: str) -> str:
    return rf"{RDINFRA_DIR}\SxSStack-{version}.msi"


def agent_msi_path(version: str) -> str:
    return rf"{RDINFRA_DIR}\Microsoft.RDInfra.RDAgent.Installer-x64-{version}.msi"


def bootloader_msi_path(version: str) -> str:
    return rf"{RDINFRA_DIR}\Microsoft.RDInfra.RDAgentBootLoader.Installer-x64-{version}.msi"


def geneva_msi_path(version: str) -> str:
    return rf"{RDINFRA_DIR}\Microsoft.RDInfra.Geneva.Installer-x64-{version}.msi"


# .NET Framework 4.x Release values (the agent needs 4.7.2: Release >= 461808)
DOTNET_472_MINIMUM = 461808
DOTNET_48_RELEASE = 528372  # Windows 10 2004-22H2
DOTNET_47_RELEASE = 460805  # 4.7, below what the agent needs

# Application event log: sources and ids the agent uses
SOURCE_AGENT = "WVD-Agent"
SOURCE_UPDATER = "WVD-Agent-Updater"
SOURCE_BOOTLOADER = "RDAgentBootLoader"
SOURCE_MSI = "MsiInstaller"
EVENT_AGENT_ERROR = 3277
EVENT_GATEWAY = 3703
EVENT_WEBSOCKET = 3019
EVENT_UPDATE_FAILED = 3389
# The lab's own choice of ids for success messages (no documented id):
EVENT_AGENT_REGISTERED = 3100
EVENT_AGENT_STARTED = 3000

# Broker and service host names of the lab's region
BROKER_URI = "https://rdbroker-g-us-r1.wvd.microsoft.com/"
BROKER_URI_GLOBAL = "https://rdbroker.wvd.microsoft.com/"
DIAGNOSTICS_URI = "https://rddiagnostics-g-us-r1.wvd.microsoft.com/"
BROKER_RESOURCE_ID_URI = "https://rdbroker-g-us-r1.wvd.microsoft.com/"
BROKER_RESOURCE_ID_URI_GLOBAL = "https://rdbroker.wvd.microsoft.com/"
GATEWAY_URL = "https://rdgateway-g-us-r1.wvd.microsoft.com/"
WEBSOCKET_TRANSPORT_URL = "https://rdweb-g-us-r1.wvd.microsoft.com/"
BROKER_HEALTHY_TEXT = "RDBroker is Healthy"  # the service's words; the article writes "RD Broker is Healthy"
BROKER_SERVICE_VERSION = "1.0.5388.700"


def geneva_display_name(version: str) -> str:
    """Add/Remove Programs shows the Geneva agent with its version: "... Geneva Agent 46.24.3"."""
    return f"{GENEVA_PRODUCT} {version}"


# Editions: the side-by-side stack works only on Enterprise and Server SKUs.
SXS_SUPPORTED_EDITIONS = {
    "enterprise",
    "enterprisemultisession",
    "serverrdsh",
    "serverstandard",
    "serverdatacenter",
    "serverdatacenteracor",
    "serverstandardacor",
}

# What Windows Installer's msiexec returns
MSI_SUCCESS = 0
MSI_UNKNOWN_PRODUCT = 1605
MSI_PACKAGE_OPEN_FAILED = 1619  # the package does not exist or can't be opened
MSI_PACKAGE_INVALID = 1620  # the file is there but is not a valid Windows Installer package (damaged)
MSI_ANOTHER_INSTALL = 1618
MSI_POLICY_BLOCKED = 1625
MSI_FATAL = 1603
MSI_REBOOT_REQUIRED = 3010

# Disk space an agent or stack MSI needs to download and install
MSI_SPACE_NEEDED = 300 * 1024**2
# Held by Windows Installer only while it runs an execute sequence: an installation in progress
# (learn.microsoft.com/windows/win32/msi/-msiexecute-mutex).
MSI_EXECUTE_MUTEX = "Global\\_MSIExecute"
# The Windows Installer service (msiexec.exe /V) stays up, idle, after an installation; the lab keeps it
# ten minutes, so a running msiexec.exe is seen without any installation in progress.
MSI_SERVICE_IDLE_SECONDS = 600

# .NET Framework 4.8 offline installer (ndp48-x86-x64-allos-enu.exe), run as `<exe> /q /norestart`.
# Return codes (learn.microsoft.com/dotnet/framework/deployment/deployment-guide-for-developers#return-codes):
# 0 installed; 1641 / 3010 a restart is required to finish (success); 1602 canceled; 1603 fatal error;
# 5100 the computer does not meet the system requirements (the disk space check among them).
# Another installation running: Windows Installer's 1618 (the setup installs through it).
DOTNET48_PRODUCT = "Microsoft .NET Framework 4.8"
DOTNET48_VERSION = "4.8.04084"
DOTNET48_INSTALLER = "ndp48-x86-x64-allos-enu.exe"
DOTNET_REBOOT_REQUIRED = 3010
DOTNET_REQUIREMENTS_NOT_MET = 5100
# learn.microsoft.com/dotnet/framework/get-started/system-requirements: minimum disk space 4.5 GB (64-bit).
DOTNET48_SPACE_NEEDED = 4608 * 1024**2
DOTNET48_MINIMUM_RELEASE = 528040


def dotnet48_release(build: int) -> int:
    """The Release value .NET Framework 4.8 writes on this OS build (the facts page's table)."""
    if build in (18362, 18363):
        return 528040  # Windows 10 1903 / 1909
    if 19041 <= build <= 19045:
        return 528372  # Windows 10 2004 - 22H2
    if build >= 20348:
        return 528449  # Windows 11, Server 2022
    return 528049  # all others


# A standard (non-administrator) local account of the session host: it owns what it creates.
STANDARD_USER = "user01"
