# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: local_policy
short_description: Report, or remove, the local policies that stop the AVD agent from updating
description:
  - Reads the two policies of the article's I(InstallMsiException) and
    I(Win32Exception) sections - I(Turn off Windows Installer)
    (C(DisableMSI) under C(HKLM\SOFTWARE\Policies\Microsoft\Windows\Installer))
    and I(Prevent access to the command prompt) (C(DisableCMD) for the
    machine and in every loaded user hive and C(.DEFAULT)).
  - Removes the values named in O(remove) only. Group policy writes these
    values again at its next refresh when a GPO sets them - the lasting fix is
    the GPO, owned by the Active Directory team.
version_added: 0.2.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
options:
  remove:
    description: The policies to remove from the local registry (C(installer), C(cmd)); none by default.
    type: list
    elements: str
    default: []
    choices: [installer, cmd]
attributes:
  check_mode:
    support: full
    description: Reads the policies and says what it would remove.
  diff_mode:
    support: full
    description: The values before and after.
  platform:
    support: full
    platforms: windows
    description: Azure Virtual Desktop session hosts over WinRM.
"""

EXAMPLES = r"""
- name: What the policies say (no change)
  avdops.sessionhost.local_policy:
  register: avd_policies

- name: Remove the local 'Turn off Windows Installer' value (group policy may set it again)
  avdops.sessionhost.local_policy:
    remove: [installer]
"""

RETURN = r"""
facts:
  description: The policy values found (null when not set).
  returned: success
  type: dict
  sample: {disable_msi: 1, disable_cmd: {machine: null, user_hives: {.DEFAULT: 1}}}
changes:
  description: What was (or in check mode would be) removed.
  returned: always
  type: list
  elements: dict
"""
