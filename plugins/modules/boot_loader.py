# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: boot_loader
short_description: Start the AVD agent's boot loader, wait, and see whether it stays running
description:
  - The article's fix for I(RDAgentBootLoader has stopped running) - start the
    Remote Desktop Agent Loader service, wait O(settle_seconds) (the article
    waits 10 seconds) and look again.
  - A boot loader that stops again points to a registration failure (event
    3277); the result says so in RV(verification.stopped_again), and the task
    fails only with O(fail_when_stopped).
  - One WinRM command reads the service; a second one, only when the service
    must be started, starts it, waits and reads it again. Nothing is sent in
    check mode.
version_added: 0.2.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
requirements:
  - pywinrm on the controller for the C(winrm) connection, or pypsrp for the C(psrp) connection
  - Windows PowerShell 5.1 on the host
extends_documentation_fragment:
  - avdops.sessionhost.capture
options:
  state:
    description: C(started) starts a stopped service only; C(restarted) restarts it even when it runs.
    type: str
    default: started
    choices: [started, restarted]
  settle_seconds:
    description: Seconds to wait after starting it before looking again (0 to 300).
    type: int
    default: 10
  fail_when_stopped:
    description: Fail when the service stopped again within O(settle_seconds).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads the service and says whether it would start it.
  diff_mode:
    support: full
    description: The service state before and after.
  platform:
    support: full
    platforms: windows
    description: Azure Virtual Desktop session hosts over WinRM.
seealso:
  - module: avdops.sessionhost.agent_registration
  - module: avdops.sessionhost.diagnose
"""

EXAMPLES = r"""
- name: Start RDAgentBootLoader and check it is still running 10 seconds later
  avdops.sessionhost.boot_loader:
  register: avd_boot_loader
"""

RETURN = r"""
changes:
  description: What was (or in check mode would be) changed.
  returned: always
  type: list
  elements: dict
  sample: [{target: service RDAgentBootLoader, before: Stopped, after: Running}]
facts:
  description: What the first read found.
  returned: success
  type: dict
  sample: {state_before: Stopped, start_type: Automatic}
verification:
  description: The service after O(settle_seconds), when it was started.
  returned: changed and not check mode
  type: dict
  sample: {running: true, state: Running, stopped_again: false, is_registered: 1}
  contains:
    running:
      description: Whether the service runs after O(settle_seconds).
      type: bool
    state:
      description: The service's state then.
      type: str
    stopped_again:
      description: The service was started and stopped again by itself (a registration failure, event 3277).
      type: bool
    is_registered:
      description: C(IsRegistered) under C(RDInfraAgent) then.
      type: int
"""
