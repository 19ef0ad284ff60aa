# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: stack_listener
short_description: Turn the side-by-side stack's listener WinStation back on
description:
  - The article's fix for I(Stack listener isn't working) - on the rdp-sxs
    WinStation that qwinsta names (or, when qwinsta does not list it, the one
    C(WinStations\ReverseConnectionListener) names), set
    C(fReverseConnectMode=1) and C(fEnableWinStation=1).
  - Reports C(ClusterSettings\SessionDirectoryListener) and whether it matches;
    it does not change it (the article sends a mismatch to the full reinstall).
  - The flags take effect when the VM restarts - RV(reboot_required) says
    whether it must (after a change, or while the listener still does not
    listen); restart it with M(ansible.windows.win_reboot).
  - Fails, changing nothing, when there is no rdp-sxs WinStation at all (the
    stack is not installed properly).
version_added: 0.2.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
requirements:
  - pywinrm on the controller for the C(winrm) connection, or pypsrp for the C(psrp) connection
  - Windows PowerShell 5.1 on the host
extends_documentation_fragment:
  - avdops.sessionhost.capture
options: {}
attributes:
  check_mode:
    support: full
    description: Reads the WinStations and qwinsta and says what it would set.
  diff_mode:
    support: full
    description: The flags before and after.
  platform:
    support: full
    platforms: windows
    description: Azure Virtual Desktop session hosts over WinRM.
seealso:
  - module: ansible.windows.win_reboot
"""

EXAMPLES = r"""
- name: Turn the rdp-sxs listener back on
  avdops.sessionhost.stack_listener:
  register: avd_listener

- name: Restart the VM so the listener starts
  ansible.windows.win_reboot:
  when: avd_listener.reboot_required
"""

RETURN = r"""
changes:
  description: What was (or in check mode would be) changed.
  returned: always
  type: list
  elements: dict
facts:
  description: The WinStation chosen and why, whether both listeners listen, the user sessions qwinsta lists, the listener names in the registry.
  returned: success
  type: dict
  sample:
    winstation: rdp-sxs240705700
    chosen: named by qwinsta
    listening: false
    sessions: 0
    reverse_connection_listener: rdp-sxs240705700
    session_directory_listener: rdp-sxs240705700
    session_directory_matches: true
reboot_required:
  description: Whether the VM must restart for the listener to start.
  returned: always
  type: bool
verification:
  description: The two flags read back from the WinStation right after they were set (the listener itself starts
    listening after the restart); the task fails when either is not 1.
  returned: changed and not check mode
  type: dict
  sample: {fReverseConnectMode: 1, fEnableWinStation: 1}
"""
