# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: dotnet_framework
short_description: Install .NET Framework 4.8 from the pinned offline installer when the host's is older
description:
  - The fix for the article's I(Agent fails to update with MissingMethodException) - the agent needs a
    newer .NET Framework. Reads the C(Release) value under C(HKLM\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full);
    when it is below O(minimum_release), runs the offline installer O(installer) (put on the host by
    M(avdops.sessionhost.installer_cache)) as C(<installer> /q /norestart). The runtime checks the
    installer's SHA-256 against O(sha256) right before it runs it; a mismatch runs nothing.
  - The installer's exit code is read as the .NET Framework deployment guide documents it - 0 installed;
    1641 and 3010 installed, a restart finishes it; 1602 canceled; 1603 fatal error; 5100 the computer does
    not meet the system requirements (disk space among them) - and Windows Installer's 1618 while another
    installation runs. Failures fail the task with that meaning.
  - The new C(Release) value shows after the restart the installer asks for - RV(reboot_required) says
    whether it is due; restart with M(ansible.windows.win_reboot) and read the value again.
version_added: 0.3.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
requirements:
  - pywinrm on the controller for the C(winrm) connection, or pypsrp for the C(psrp) connection
  - Windows PowerShell 5.1 on the host
options:
  installer:
    description: The offline installer's path on the host (C(installer_cache)'s C(paths.dotnet48)).
    type: str
    required: true
  sha256:
    description: The installer's SHA-256 from the manifest (C(installer_cache)'s C(sha256.dotnet48)).
    type: str
    required: true
  minimum_release:
    description: The C(Release) value to reach; 528040 is .NET Framework 4.8's lowest.
    type: int
    default: 528040
  as_system:
    description:
      - Run the installer as SYSTEM through a one-off scheduled task (Task Scheduler, a service logon), as
        ansible.windows' C(become) does for what WinRM cannot run, instead of in WinRM's network logon.
      - On Windows 10/11 and Server 2019/2022 the offline installer installs through the Windows Update Standalone
        Installer, which fails from a remote session with exit code 5 (access denied). The task is deleted afterwards;
        it works the same over the C(winrm) and C(psrp) connections.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads the Release value and says whether it would run the installer.
  diff_mode:
    support: full
    description: The Release value before, and what it will be.
  platform:
    support: full
    platforms: windows
    description: Azure Virtual Desktop session hosts over WinRM.
seealso:
  - module: avdops.sessionhost.installer_cache
  - module: ansible.windows.win_reboot
"""

EXAMPLES = r"""
- name: Put the offline installer on the host
  avdops.sessionhost.installer_cache:
    manifest: "{{ avd_installer_manifest }}"
    installers: [dotnet48]
  register: avd_installers

- name: Install .NET Framework 4.8 when the host's is older
  avdops.sessionhost.dotnet_framework:
    installer: "{{ avd_installers.paths.dotnet48 }}"
    sha256: "{{ avd_installers.sha256.dotnet48 }}"
  register: avd_dotnet

- name: Restart so the installation finishes
  ansible.windows.win_reboot:
  when: avd_dotnet.reboot_required
"""

RETURN = r"""
changes:
  description: What was (or in check mode would be) changed.
  returned: always
  type: list
  elements: dict
facts:
  description: The Release and Version values before, the minimum, and the user sessions qwinsta lists.
  returned: always
  type: dict
verification:
  description: The installer's exit code, what it means, and the Release value read right after it.
  returned: when the installer ran
  type: dict
reboot_required:
  description: Whether a restart is due for the installation to finish.
  returned: always
  type: bool
"""
