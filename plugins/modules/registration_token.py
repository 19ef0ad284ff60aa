# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: registration_token
short_description: Make sure a host pool has a registration key valid long enough, or revoke it
description:
  - With O(state=present), returns a registration token (key) that stays
    valid for at least O(min_valid_hours), reusing the current one when it
    does, and otherwise generating one that expires O(expiration_hours) from
    now (the article's "Generate a new registration key for the VM").
  - The expiry is checked (1 hour to 27 days) before any call to Azure.
  - The token is a secret. The module's result is marked C(no_log), so
    Ansible hides it from the output and logs (at every verbosity); the
    registered variable holds it for the tasks that need it. The diff shows
    the expiry only.
  - With O(state=absent), revokes the host pool's registration token.
  - A host pool has one registration key, and a new one replaces the one
    before. Tasks on one controller get a pool's key one at a time (a lock
    file per pool in the temporary directory, waited for up to 300 seconds),
    so hosts registered in parallel (the free strategy, several hosts of a
    batch) share one key instead of each generating one and leaving the
    others with a key the pool no longer accepts.
version_added: 0.1.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
requirements:
  - azure-identity >= 1.15 on the controller
  - azure-mgmt-desktopvirtualization >= 2.0.0 on the controller
extends_documentation_fragment:
  - avdops.sessionhost.azure
  - avdops.sessionhost.host_pool
options:
  state:
    description: C(present) to have a usable token, C(absent) to revoke it.
    type: str
    default: present
    choices: [present, absent]
  expiration_hours:
    description: Lifetime of a new token, from 1 to 648 hours (27 days). Generate a key only for as long as you need.
    type: int
    default: 24
  min_valid_hours:
    description: Reuse the current token only when it stays valid at least this long (0 to O(expiration_hours)).
    type: int
    default: 2
attributes:
  check_mode:
    support: full
    description: Says whether a token would be generated or revoked, without doing it (and returns no new token).
  diff_mode:
    support: full
    description: Before and after expiry, never the token.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
"""

EXAMPLES = r"""
- name: A registration key valid for the next 2 hours at least
  avdops.sessionhost.registration_token:
    host_pool: hp-finance
    resource_group: rg-avd-prod
    expiration_hours: 4
  register: avd_key
  delegate_to: localhost
  run_once: true

- name: Revoke it when the rollout is done
  avdops.sessionhost.registration_token:
    host_pool: hp-finance
    resource_group: rg-avd-prod
    state: absent
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
token:
  description: The registration token (hidden from output; null in check mode when a new one would be generated).
  returned: state=present
  type: str
expiration_time:
  description: When the token expires (UTC).
  returned: state=present
  type: str
  sample: "2026-11-26T12:00:00Z"
reused:
  description: Whether the current token was valid long enough to reuse.
  returned: state=present
  type: bool
"""
