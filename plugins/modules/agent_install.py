# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: agent_install
short_description: Install the Azure Virtual Desktop agent with a registration key, then its boot loader
description:
  - Step 4 of the article's last resort - installs the agent with the
    registration key, then the boot loader (the agent brings the SxS stack and
    the Geneva agent along), each only when it is not installed.
  - The key is never handed to Windows Installer, whose machine C(Logging) and
    C(Debug) policies would write it into C(MSI*.LOG) files (C(MsiHiddenProperties)
    cannot be set on a command line, and C(Debug=7) logs the command line anyway).
    The agent is installed without it, and in the same command the key is written
    where the agent reads it, C(HKLM\SOFTWARE\Microsoft\RDInfraAgent\RegistrationToken)
    with C(IsRegistered=0) (the article's re-registration), before the boot loader is
    installed. It travels on the command's stdin, never on a command line, and no
    file holding it is written on the host. This module hides it from its result,
    its diff and its errors.
  - The packages must already be on the host (M(avdops.sessionhost.installer_cache)
    puts them there, checked against their sha256). With O(agent_sha256) and
    O(boot_loader_sha256) the runtime checks each file's hash on the host before
    it runs it.
  - "Exit codes: 0 is done, 3010 and 1641 are done with RV(reboot_required),
    1618 (another installation is in progress) is reported in RV(busy) without
    failing (the caller waits and runs again), anything else fails naming it."
  - Restart the VM afterwards (M(ansible.windows.win_reboot)); the boot loader
    then starts the agent, which registers with the key.
version_added: 0.2.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
requirements:
  - pywinrm on the controller for the C(winrm) connection, or pypsrp for the C(psrp) connection
  - Windows PowerShell 5.1 on the host
options:
  agent_package:
    description: Path on the host of the agent's MSI (C(Microsoft.RDInfra.RDAgent.Installer-x64-<version>.msi)).
    type: str
    required: true
  boot_loader_package:
    description: Path on the host of the boot loader's MSI (C(Microsoft.RDInfra.RDAgentBootLoader.Installer-x64-<version>.msi)).
    type: str
    required: true
  agent_sha256:
    description: The agent package's SHA-256; the runtime refuses to run a file with another hash.
    type: str
  boot_loader_sha256:
    description: The boot loader package's SHA-256, checked the same way.
    type: str
  registration_token:
    description:
      - The host pool's registration key (from M(avdops.sessionhost.registration_token)).
      - Required to install the agent; never shown in any output.
    type: str
  packages_only:
    description:
      - Only check that both packages are on the host (with O(agent_sha256) and O(boot_loader_sha256) when given)
        and change nothing; fails naming each package that is missing or another file.
      - Without it, a package that is to be installed is checked that way before anything runs.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads the installed programs and says what it would install.
  diff_mode:
    support: full
    description: Each program before and after; the key shows as C((secret)) nowhere but the host's registry.
  platform:
    support: full
    platforms: windows
    description: Azure Virtual Desktop session hosts over WinRM.
seealso:
  - module: avdops.sessionhost.agent_uninstall
  - module: avdops.sessionhost.registration_token
"""

EXAMPLES = r"""
- name: A registration key valid for the run
  avdops.sessionhost.registration_token:
    host_pool: hp-prod
    resource_group: rg-avd
    expiration_hours: 2
    min_valid_hours: 1
  register: avd_key
  delegate_to: localhost

- name: Install the agent with the key, then the boot loader
  avdops.sessionhost.agent_install:
    agent_package: C:\ProgramData\avdops\installers\Microsoft.RDInfra.RDAgent.Installer-x64-1.0.10004.1300.msi
    boot_loader_package: C:\ProgramData\avdops\installers\Microsoft.RDInfra.RDAgentBootLoader.Installer-x64-1.0.9023.1100.msi
    registration_token: "{{ avd_key.token }}"
  register: avd_install
  until: avd_install.busy | length == 0
  retries: 10
  delay: 30
"""

RETURN = r"""
changes:
  description: What was (or in check mode would be) installed.
  returned: always
  type: list
  elements: dict
facts:
  description: Whether the agent and the boot loader were installed before.
  returned: success
  type: dict
  sample: {agent_installed: false, bootloader_installed: false}
verification:
  description: The exit code of each install, and whether the agent, its key and the boot loader service are there.
  returned: when something was changed
  type: dict
busy:
  description: The installs Windows Installer refused with 1618 because another installation was running.
  returned: always
  type: list
  elements: str
reboot_required:
  description: Whether an install returned 3010 or 1641.
  returned: always
  type: bool
"""
