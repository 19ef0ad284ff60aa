# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: agent_registration
short_description: Re-register a session host's AVD agent with a registration key
description:
  - The article's re-registration (I(INVALID_REGISTRATION_TOKEN),
    I(EXPIRED_REGISTRATION_TOKEN), I(ENDPOINT_NOT_FOUND)) - set
    C(IsRegistered=0) and C(RegistrationToken) under
    C(HKLM\SOFTWARE\Microsoft\RDInfraAgent), restart RDAgentBootLoader, wait
    O(settle_seconds), then check that the agent registered - C(IsRegistered=1),
    the token emptied by the agent, the boot loader running.
  - Registering takes minutes on Azure (the article waits 5-10 minutes for
    C(Available)). While the agent runs but has not registered yet, the module
    reads again every O(poll_seconds) up to O(wait_seconds), printing what it
    sees each time. Fails with what it saw when the agent did not register -
    at once when the boot loader stopped (a failed registration, event 3277).
  - Does nothing when the agent says it is registered (C(IsRegistered=1)),
    unless O(reregister) - a session host removed from its host pool still says
    so.
  - The key is a secret - it is sent only inside the registry write on the
    runtime's stdin, never on a command line; the option is C(no_log), and
    results, diffs and errors show C((secret)).
  - One WinRM command reads the agent's state; a second one, only when it
    re-registers, writes, restarts, waits and reads back (and one more for each
    look while it waits). Nothing is sent in check mode.
version_added: 0.2.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
requirements:
  - pywinrm on the controller for the C(winrm) connection, or pypsrp for the C(psrp) connection
  - Windows PowerShell 5.1 on the host
extends_documentation_fragment:
  - avdops.sessionhost.capture
options:
  registration_token:
    description:
      - The host pool's registration key (the C(token) of M(avdops.sessionhost.registration_token)).
      - Required when the host must be re-registered, except in check mode.
    type: str
  reregister:
    description: Re-register even when C(IsRegistered=1) (the session host was removed from the host pool).
    type: bool
    default: false
  settle_seconds:
    description: Seconds to wait after restarting the boot loader before checking the registration (0 to 300).
    type: int
    default: 10
  wait_seconds:
    description:
      - How long to keep looking while the agent runs but has not registered yet (0 to 3600; 0 looks once).
      - The default is the article's 10 minutes.
    type: int
    default: 600
  poll_seconds:
    description: Seconds between two looks while waiting (1 to 300).
    type: int
    default: 10
attributes:
  check_mode:
    support: full
    description: Reads the agent's state and says what it would write; the key may be omitted.
  diff_mode:
    support: full
    description: IsRegistered, RegistrationToken (as C((secret))) and the boot loader, before and after.
  platform:
    support: full
    platforms: windows
    description: Azure Virtual Desktop session hosts over WinRM.
seealso:
  - module: avdops.sessionhost.registration_token
  - module: avdops.sessionhost.boot_loader
"""

EXAMPLES = r"""
- name: A registration key valid for the next hour at least
  avdops.sessionhost.registration_token:
    host_pool: hp-finance
    resource_group: rg-avd-prod
    expiration_hours: 4
    min_valid_hours: 1
  register: avd_key
  delegate_to: localhost
  run_once: true
  no_log: true

- name: Re-register the agent with it
  avdops.sessionhost.agent_registration:
    registration_token: "{{ avd_key.token }}"
"""

RETURN = r"""
changes:
  description: What was (or in check mode would be) changed; the key shows as C((secret)).
  returned: always
  type: list
  elements: dict
facts:
  description: The agent's state before.
  returned: success
  type: dict
  sample: {is_registered_before: 0, token_set_before: true}
verification:
  description: The agent's state after O(settle_seconds), or at the last look while it waited.
  returned: changed and not check mode
  type: dict
  sample: {registered: true, is_registered: 1, token_emptied: true, bootloader: Running}
"""
