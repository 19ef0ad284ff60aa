"""What the collection knows about an AVD session host: names, paths, ids, thresholds.

The collection's one home for these facts (the lab keeps its own). Each
comes from the troubleshooting article or the facts it assumes (registry
values, services, events, installers, .NET releases).
"""

from __future__ import annotations

# Registry keys
RDINFRA_AGENT = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDInfraAgent"
SXS_STACK = RDINFRA_AGENT + r"\SxsStack"
HEALTH_CHECK_REPORT = RDINFRA_AGENT + r"\HealthCheckReport"
BOOTLOADER = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDAgentBootLoader"
MONITORING_AGENT = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDMonitoringAgent"
WINSTATIONS = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations"
CLUSTER_SETTINGS = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server\ClusterSettings"
NDP_V4_FULL = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full"
WINDOWS_NT = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
INSTALLER_POLICY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\Installer"
SYSTEM_POLICY_SUBPATH = r"Software\Policies\Microsoft\Windows\System"  # below each user hive
MACHINE_SYSTEM_POLICY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\System"

# Services
# The AVD agent has no service of its own: RDAgentBootLoader loads the version DefaultAgent names.
# "RdAgent" on an Azure VM is the Azure VM agent's service (WaAppAgent), running whether or not
# the AVD agent is installed (MSRD-Collect dropped its RdAgent check for that reason): never read
# as the AVD agent.
BOOTLOADER_SERVICE = "RDAgentBootLoader"
TERMSERVICE = "TermService"
SERVICES = (BOOTLOADER_SERVICE, TERMSERVICE)

# The four programs of the article's full reinstall (Add/Remove Programs display names)
PROGRAM_BOOTLOADER = "Remote Desktop Agent Boot Loader"
PROGRAM_AGENT = "Remote Desktop Services Infrastructure Agent"
PROGRAM_GENEVA = "Remote Desktop Services Infrastructure Geneva Agent"
PROGRAM_SXS = "Remote Desktop Services SxS Network Stack"
PROGRAMS = (PROGRAM_BOOTLOADER, PROGRAM_AGENT, PROGRAM_GENEVA, PROGRAM_SXS)

RDINFRA_DIR = r"C:\Program Files\Microsoft RDInfra"
SXS_MSI_PATTERN = "SxSStack*.msi"

# Event Viewer > Windows Logs > Application: the article's sources and ids
EVENT_SOURCES = ("WVD-Agent", "WVD-Agent-Updater", "RDAgentBootLoader", "MsiInstaller")
# and MsiInstaller 11707 ("Product: <name> -- Installation completed successfully."): when the agent last installed
EVENT_IDS = (3277, 3703, 3019, 3389, 11707)

# .NET Framework 4.x Release values: the agent needs 4.7.2 or later
DOTNET_472_MINIMUM = 461808
DOTNET_48_MINIMUM = 528040  # 4.8 on Windows 10 1903/1909; every other 4.8 Release value is higher
DOTNET_RELEASES = (  # (minimum Release, version name), newest first
    (533320, "4.8.1"),
    (528040, "4.8"),
    (461808, "4.7.2"),
    (461308, "4.7.1"),
    (460798, "4.7"),
    (394802, "4.6.2"),
    (394254, "4.6.1"),
    (393295, "4.6"),
    (379893, "4.5.2"),
    (378675, "4.5.1"),
    (378389, "4.5"),
)

# Editions (EditionID, lower case): AVD session hosts run Windows Enterprise (multi-session,
# "ServerRdsh" on older builds) or Windows Server; the side-by-side stack installs on other
# editions but never activates. LTSC/LTSB and N editions: LTSC_EDITIONS and N_EDITIONS below.
SXS_SUPPORTED_EDITION_PREFIXES = ("enterprise", "server")
LTSC_PRODUCT_WORDS = ("LTSC", "LTSB")
# InstallationType values of a Server without the Desktop Experience (Server Core docs: no RD Session Host role)
SERVER_CORE_INSTALLATION_TYPES = ("server core", "nano server")
WINDOWS_11_FIRST_BUILD = 22000  # Windows 11 still says "Windows 10 ..." in ProductName

BROKER_HEALTH_SUFFIX = "api/health"
# A healthy broker answers HTTP 200 with JSON such as {"Health": "RDBroker is Healthy", ...} (the
# article writes "RD Broker is Healthy"; MSRD-Collect judges by the status code alone): healthy is
# a 200 whose answer says "healthy", whatever the sentence around it, and not "unhealthy".
BROKER_HEALTHY_WORD = "healthy"
BROKER_UNHEALTHY_WORDS = ("unhealthy", "degraded")
DISK_LOW_PERCENT = 5.0  # Microsoft's diagnostic tool flags drives under 5% free
DISK_MSI_BYTES = 300 * 1024**2  # room an agent download and install needs

# Pending reboot: the keys Windows servicing leaves until the next restart. Microsoft's own
# scripts read these three ("Determine Pending Reboot Status—PowerShell Style!", Scripting Guy blog;
# Sysinternals PendMoves for PendingFileRenameOperations, which Session Manager applies at boot).
_WINDOWS_CURRENT_VERSION = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion"
CBS_REBOOT_PENDING = _WINDOWS_CURRENT_VERSION + r"\Component Based Servicing\RebootPending"
WU_REBOOT_REQUIRED = _WINDOWS_CURRENT_VERSION + r"\WindowsUpdate\Auto Update\RebootRequired"
SESSION_MANAGER = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Session Manager"

# Editions AVD does not run on besides Pro/Home/Education: LTSC/LTSB (EditionID ...S) and the N editions
# (no media features), as Microsoft's Remote Desktop diagnostics (MSRD-Collect) flags them.
LTSC_EDITIONS = (
    "enterprises",
    "enterprisesn",
    "iotenterprises",
    "iotenterprisesn",
    "enterpriseseval",
    "enterprisesneval",
)
N_EDITIONS = (
    "enterprisen",
    "enterprisegn",
    "enterprisekn",
    "enterprisesn",
    "iotenterprisesn",
    "professionaln",
    "professionaleducationn",
    "professionalworkstationn",
    "educationn",
    "coren",
)

# The Required URL list for session hosts (Azure Virtual Desktop, "Required FQDNs and endpoints"):
# the ones with a fixed name that an image build VM can probe (wildcards cannot be probed).
REQUIRED_URLS = (
    "https://login.microsoftonline.com/",
    "https://rdbroker.wvd.microsoft.com/api/health",
    "https://catalogartifact.azureedge.net/",
    "https://gcs.prod.monitoring.core.windows.net/",
    "https://mrsglobalsteus2prod.blob.core.windows.net/",
    "https://wvdportalstorageblob.blob.core.windows.net/",
)

# Every msiexec of the agent's programs: a silent installation lets Restart Manager shut down what holds the files
# it replaces - for the side-by-side stack Remote Desktop Services and its UserMode Port Redirector, cutting every
# user's connection (the article: uninstalling the stack asks to close them). This property turns Restart Manager
# off for the package (learn.microsoft.com/windows/win32/msi/msirestartmanagercontrol); the roles restart the VM.
MSI_NO_RESTART_MANAGER = {"MSIRESTARTMANAGERCONTROL": "Disable"}
# The side-by-side stack reinstall (article: Session host VMs are stuck in Unavailable or Upgrading state):
# the Windows Installer log the facts page names beside the installers.
SXS_INSTALL_LOG = RDINFRA_DIR + r"\SXSStackInstall.txt"
# Freeing disk space (article: DownloadMsiException, "Deleting files that are no longer in use"): the locations
# the runtime's cleanup_delete accepts (docs/runtime.md), the services that write Windows Update's download
# cache (stopped while it is emptied, as Microsoft's "reset Windows Update components" steps do), and how old a
# temp file must be before it counts as no longer in use (Disk Cleanup's "Temporary files": a week).
CLEANUP_LOCATIONS = ("windows_temp", "windows_update_download", "agent_folders")
WINDOWS_UPDATE_SERVICES = ("wuauserv", "BITS")
# The collection's own note, on the host, of the services a cleanup stopped and has not started again yet: one
# REG_SZ value per service, written before the stop and removed once the service runs again. A command cut off in
# between (the connection dropped and the client terminated it) leaves the note for the next run to act on.
STOPPED_SERVICES = r"HKEY_LOCAL_MACHINE\SOFTWARE\avdops\sessionhost\StoppedServices"
TEMP_MIN_AGE_DAYS = 7
