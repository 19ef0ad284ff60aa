# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: installer_cache
short_description: Copy pinned installers to a session host's installer cache, checked by SHA-256
description:
  - Reads the installer manifest (O(manifest)), a YAML file that pins each installer the remediation
    roles may run - C(agent), C(boot_loader), C(sxs_stack), C(geneva), C(dotnet48) - with its C(file),
    C(version), C(sha256), C(product_code) (Windows Installer packages) and C(source). The manifest is
    checked first; a bad entry fails the task naming the entry and the field, and nothing changes.
  - C(source) is a path on the controller (relative to the manifest's folder, or absolute) or an
    C(https://) URL, downloaded once into O(download_dir) and kept only when its SHA-256 is the
    manifest's. UNC shares are refused - a WinRM logon's credentials do
    not reach a share (no delegation).
  - Every file's SHA-256 is checked on the controller before the host is contacted.
  - Reads the host's cache in one command, copies only the files that are missing or differ over the
    host's own connection (C(put_file) of the C(winrm) or C(psrp) connection plugin) to
    C(<cache_dir>\<name>\<version>\<file>), then hashes the copies on the host.
  - The cache belongs to administrators. O(cache_dir) is created (or, when it exists, reset) with owner
    Administrators and permissions for SYSTEM and Administrators only, nothing inherited from
    C(C:\ProgramData), where users may create folders and own what they create. A cache that a standard user
    owns, or below a folder a standard user owns, or holding anything a standard user owns, fails the task
    naming the owner, and nothing is copied into it; delete it (or take ownership and reset its permissions).
  - The runtime hashes a package once more right before it runs it (C(msiexec) and C(dotnet_install)
    with C(sha256)), through the handle it keeps the file open with (shared for reading only) until the
    installer has run, so a file changed in the cache after this task never runs; it refuses a package in a
    folder a standard user owns.
version_added: 0.3.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
requirements:
  - pywinrm on the controller for the C(winrm) connection, or pypsrp for the C(psrp) connection
  - Windows PowerShell 5.1 on the host
options:
  manifest:
    description:
      - The installer manifest on the controller (the lab's inventory sets C(avd_installer_manifest)).
    type: path
    required: true
  installers:
    description: The manifest entries to put on the host.
    type: list
    elements: str
    required: true
    choices: [agent, boot_loader, sxs_stack, geneva, dotnet48]
  cache_dir:
    description: The host's installer cache; each installer goes to C(<cache_dir>\<name>\<version>\<file>).
    type: str
    default: C:\ProgramData\avdops\installers
  download_dir:
    description: Where C(https://) sources are downloaded to on the controller, one folder per SHA-256.
    type: path
    default: ~/.cache/avdops/installers
attributes:
  check_mode:
    support: full
    description: Checks the manifest and the files, reads the host's cache and says what it would copy; copies nothing.
  diff_mode:
    support: none
    description: Nothing to diff; RV(copied) names the files copied (or, in check mode, that would be).
  platform:
    support: full
    platforms: windows
    description: Azure Virtual Desktop session hosts over WinRM.
seealso:
  - module: avdops.sessionhost.diagnose
"""

EXAMPLES = r"""
- name: Put the .NET Framework 4.8 offline installer on the host
  avdops.sessionhost.installer_cache:
    manifest: "{{ avd_installer_manifest }}"
    installers: [dotnet48]
  register: avd_installers

- name: Show where it is
  ansible.builtin.debug:
    msg: "{{ avd_installers.paths.dotnet48 }} ({{ avd_installers.sha256.dotnet48 }})"
"""

RETURN = r"""
paths:
  description: Each installer's path on the host.
  returned: success
  type: dict
  sample: {dotnet48: 'C:\ProgramData\avdops\installers\dotnet48\4.8\ndp48-x86-x64-allos-enu.exe'}
versions:
  description: Each installer's version, from the manifest.
  returned: success
  type: dict
sha256:
  description: Each installer's SHA-256, from the manifest (the runtime checks it again before running it).
  returned: success
  type: dict
product_codes:
  description: The product code of each Windows Installer package, from the manifest.
  returned: success
  type: dict
copied:
  description: The installers copied to the host (in check mode, that would be copied).
  returned: success
  type: list
  elements: str
secured:
  description: Whether the cache folder was created or its owner and permissions reset to admin-only (in check
    mode, would be).
  returned: success
  type: bool
"""
