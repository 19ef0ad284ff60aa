# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: agent_uninstall
short_description: Uninstall the Azure Virtual Desktop agent, boot loader, Geneva agent and SxS stack
description:
  - Step 1 of the article's last resort (I(Your issue isn't listed here or
    wasn't resolved)) - uninstalls every instance of C(Remote Desktop Agent Boot
    Loader), C(Remote Desktop Services Infrastructure Agent), C(Remote Desktop
    Services Infrastructure Geneva Agent) and C(Remote Desktop Services SxS
    Network Stack), in that order, each by its product code through the
    Windows Installer API (what C(msiexec /x {ProductCode} /qn /norestart) does).
  - "Windows Installer exit codes: 1605 (not installed) counts as done; 1618
    (another installation is in progress) is reported in RV(busy) without
    failing, so the caller waits and runs the module again (the role does, up to
    a bound); 3010 and 1641 are success with RV(reboot_required); any other
    code fails the task, naming the program and what the code means."
  - Once no program is left, a further run deletes what the uninstallers leave
    behind, the C(HKLM\SOFTWARE\Microsoft\RDInfraAgent) and
    C(HKLM\SOFTWARE\Microsoft\RDAgentBootLoader) keys (the agent and the boot
    loader write their values at run time; no MSI removes them), so the next
    registration starts from nothing. Run it again after the restart the
    article asks for - RV(left) then says what is still there (nothing, on a
    clean host).
  - Uninstalling the SxS stack closes the RDP connections that ride on it -
    drain the host and let its users go first (C(playbooks/reinstall.yml) does).
  - One command reads, one more uninstalls and reads again; check mode sends no
    change.
version_added: 0.2.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
requirements:
  - pywinrm on the controller for the C(winrm) connection, or pypsrp for the C(psrp) connection
  - Windows PowerShell 5.1 on the host
options: {}
attributes:
  check_mode:
    support: full
    description: Reads the installed programs and says what it would uninstall or delete.
  diff_mode:
    support: full
    description: Each program and key, before and after.
  platform:
    support: full
    platforms: windows
    description: Azure Virtual Desktop session hosts over WinRM.
seealso:
  - module: avdops.sessionhost.agent_install
  - module: ansible.windows.win_reboot
"""

EXAMPLES = r"""
- name: Uninstall the four programs (waiting while another installation runs)
  avdops.sessionhost.agent_uninstall:
  register: avd_uninstall
  until: avd_uninstall.busy | length == 0
  retries: 10
  delay: 30

- name: Restart the VM
  ansible.windows.win_reboot:
  when: avd_uninstall.changed

- name: Delete what the uninstallers leave and check nothing is left
  avdops.sessionhost.agent_uninstall:
  register: avd_cleanup
  failed_when: avd_cleanup.left | length > 0
"""

RETURN = r"""
changes:
  description: What was (or in check mode would be) uninstalled or deleted.
  returned: always
  type: list
  elements: dict
facts:
  description: The instances found (name, version, product code) and what was on the host before.
  returned: success
  type: dict
  sample:
    products:
      - {name: Remote Desktop Agent Boot Loader, version: 1.0.9023.1100, product_code: "{A2D8...}"}
    left: [program Remote Desktop Agent Boot Loader 1.0.9023.1100, service RDAgentBootLoader]
verification:
  description: The exit code of each uninstall and what the host lists afterwards.
  returned: when something was changed
  type: dict
left:
  description: What of the four programs is still on the host (programs, the boot loader service, the keys).
  returned: always
  type: list
  elements: str
busy:
  description: The uninstalls Windows Installer refused with 1618 because another installation was running.
  returned: always
  type: list
  elements: str
reboot_required:
  description: Whether an uninstall returned 3010 or 1641.
  returned: always
  type: bool
"""
