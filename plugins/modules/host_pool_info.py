# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: host_pool_info
short_description: Read an Azure Virtual Desktop host pool and the service's view of its session hosts
description:
  - Returns the host pool's properties (type, load balancer, max session
    limit, when the registration key expires as the host pool's
    C(listRegistrationTokens) action says - never the key itself) and
    each session host as the service sees it - status, heartbeat, sessions,
    drain mode (C(allow_new_session)), agent and stack versions, update
    state and the agent's health check results.
version_added: 0.1.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
extends_documentation_fragment:
  - avdops.sessionhost.azure
options:
  name:
    description: Host pool name.
    type: str
    required: true
  resource_group:
    description: The host pool's resource group.
    type: str
    required: true
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Nothing changes.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
"""

EXAMPLES = r"""
- name: Which session hosts are not Available?
  avdops.sessionhost.host_pool_info:
    name: hp-finance
    resource_group: rg-avd-prod
  register: pool
  delegate_to: localhost
  run_once: true

- name: List them
  ansible.builtin.debug:
    msg: "{{ pool.session_hosts | rejectattr('status', 'eq', 'Available') | map(attribute='name') }}"
"""

RETURN = r"""
host_pool:
  description: The host pool.
  returned: success
  type: dict
  sample:
    name: hp-finance
    host_pool_type: Pooled
    load_balancer_type: BreadthFirst
    max_session_limit: 8
    registration_expiration_time: "2026-11-26T12:00:00Z"
    registration_key_checked: true
    registration_key_error: null
  contains:
    registration_expiration_time:
      description:
        - When the registration key expires; null when there is no key, or when it could not be checked.
      type: str
    registration_key_checked:
      description:
        - Whether Azure answered C(listRegistrationTokens); false for an identity without that action
          (a Reader role), then nobody knows whether the pool has a key.
      type: bool
    registration_key_error:
      description: Why the key could not be checked (null when it was).
      type: str
session_hosts:
  description: Its session hosts.
  returned: success
  type: list
  elements: dict
  sample:
    - name: avd-sh-0.contoso.com
      short_name: avd-sh-0
      status: Available
      sessions: 2
      allow_new_session: true
      agent_version: 1.0.10004.1300
      sxs_stack_version: rdp-sxs240705700
      update_state: Succeeded
      health_checks: [{name: SxSStackListenerCheck, result: HealthCheckSucceeded}]
"""
