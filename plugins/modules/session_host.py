# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: session_host
short_description: Drain a session host, or remove it from its host pool
description:
  - Sets drain mode (O(allow_new_session)) on a session host, so no new
    user sessions land on it before maintenance.
  - With O(state=absent), removes the session host from the host pool (the
    article's "Remove the session host from the host pool"), refusing when
    it still has user sessions unless O(force=true).
  - Idempotent; supports check mode and diff.
version_added: 0.1.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
extends_documentation_fragment:
  - avdops.sessionhost.azure
  - avdops.sessionhost.host_pool
options:
  name:
    description: The session host - its FQDN as the host pool lists it, or its computer name.
    type: str
    required: true
  state:
    description: C(present) keeps it in the host pool; C(absent) removes it.
    type: str
    default: present
    choices: [present, absent]
  allow_new_session:
    description: C(false) drains the session host, C(true) lets new sessions in again.
    type: bool
  force:
    description: Remove the session host even with user sessions (they are disconnected from the service).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Says what would change without changing it.
  diff_mode:
    support: full
    description: Drain mode before and after; the removed host.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
"""

EXAMPLES = r"""
- name: Drain each host before maintenance
  avdops.sessionhost.session_host:
    name: "{{ inventory_hostname }}"
    host_pool: "{{ avd_host_pool }}"
    resource_group: rg-avd-prod
    allow_new_session: false

- name: Remove a broken host from the pool
  avdops.sessionhost.session_host:
    name: avd-sh-7.contoso.com
    host_pool: hp-finance
    resource_group: rg-avd-prod
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
session_host:
  description: The session host after the change (null when removed or absent).
  returned: success
  type: dict
removed:
  description: The FQDN of the session host that was removed.
  returned: when removed
  type: str
"""
