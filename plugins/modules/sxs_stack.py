# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: sxs_stack
short_description: Reinstall the Remote Desktop Services SxS Network Stack
description:
  - The article's fix for I(Session host VMs are stuck in Unavailable or Upgrading
    state) (and for I(InstallationHealthCheckFailedException) when the listener
    does not work) - stop C(RDAgentBootLoader), uninstall every installed
    instance of C(Remote Desktop Services SxS Network Stack) by product code,
    install the newest C(SxSStack-*.msi) of C(C:\Program Files\Microsoft RDInfra)
    (newest by creation time, as the article sorts them), with its log in
    C(SXSStackInstall.txt) beside it.
  - Does nothing when the stack is installed, its rdp-sxs WinStation exists and
    qwinsta shows it listening, unless O(reinstall).
  - Uninstalling the stack drops the RDP connections that ride on it - drain the
    host and let its users leave first (C(playbooks/remediate.yml) does).
  - msiexec exit codes 0, 1605 (not installed), 3010 and 1641 (restart needed)
    are success; 1618 (another installation in progress) fails with
    RV(installer_busy) so the task can be retried; any other code fails naming it.
  - The new stack listens after the VM restarts - RV(reboot_required); restart it
    with M(ansible.windows.win_reboot) and diagnose again.
version_added: 0.2.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
requirements:
  - pywinrm on the controller for the C(winrm) connection, or pypsrp for the C(psrp) connection
  - Windows PowerShell 5.1 on the host
options:
  reinstall:
    description:
      - Reinstall even when the stack looks installed and listening (the agent's
        installation health check of the stack failed).
    type: bool
    default: false
  allow_sessions:
    description:
      - Reinstall even while qwinsta lists user sessions (their connections drop).
        Without it the module fails, changing nothing, when it would have to.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads programs, installers, WinStations and qwinsta and says what it would uninstall and install.
  diff_mode:
    support: full
    description: The programs and the boot loader before and after.
  platform:
    support: full
    platforms: windows
    description: Azure Virtual Desktop session hosts over WinRM.
seealso:
  - module: ansible.windows.win_reboot
  - module: avdops.sessionhost.stack_listener
"""

EXAMPLES = r"""
- name: Reinstall the side-by-side stack
  avdops.sessionhost.sxs_stack:
  register: avd_sxs
  until: not avd_sxs.installer_busy
  retries: 10
  delay: 30

- name: Restart the VM so the new stack listens
  ansible.windows.win_reboot:
  when: avd_sxs.reboot_required
"""

RETURN = r"""
changes:
  description: What was (or in check mode would be) changed, in order.
  returned: always
  type: list
  elements: dict
facts:
  description: What the probe saw - the stack's programs, WinStations, whether it listens, the problems, the installer chosen.
  returned: success
  type: dict
  sample:
    programs: [{version: 1.0.2407.05700, product_code: "{5C2C1C1E-0000-4000-8000-000000000001}"}]
    reverse_connection_listener: rdp-sxs240705700
    winstations: []
    listening: false
    problems: ["ReverseConnectionListener=rdp-sxs240705700 names a WinStation that does not exist"]
    installer: C:\Program Files\Microsoft RDInfra\SxSStack-1.0.2407.05700.msi
    installer_version: 1.0.2407.05700
verification:
  description: The msiexec exit codes and the stack's program and WinStation after the reinstall.
  returned: when something was changed
  type: dict
installer_busy:
  description: Another installation is in progress (the task failed; retry it).
  returned: always
  type: bool
reboot_required:
  description: Whether the VM must restart for the new stack to listen.
  returned: always
  type: bool
"""
