# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: user_session
short_description: List, message, disconnect or sign out the user sessions of a session host
description:
  - Lists the user sessions of a session host as the service sees them.
  - Sends them a message (O(message_title) and O(message_body)), for example
    before a maintenance window.
  - Disconnects them (O(state=disconnected)) or signs them out
    (O(state=logged_off)); O(ids) limits it to some sessions.
version_added: 0.1.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
extends_documentation_fragment:
  - avdops.sessionhost.azure
  - avdops.sessionhost.host_pool
options:
  session_host:
    description: The session host - its FQDN or its computer name.
    type: str
    required: true
  state:
    description: C(present) leaves the sessions as they are; C(disconnected) disconnects them; C(logged_off) signs them out.
    type: str
    default: present
    choices: [present, disconnected, logged_off]
  ids:
    description: Only these session ids (all sessions when omitted).
    type: list
    elements: str
  message_title:
    description: Title of a message to show in the sessions (with O(message_body)).
    type: str
  message_body:
    description: Text of the message (with O(message_title)).
    type: str
attributes:
  check_mode:
    support: full
    description: Says what would be sent or done without doing it.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
"""

EXAMPLES = r"""
- name: Warn the users of a host
  avdops.sessionhost.user_session:
    session_host: "{{ inventory_hostname }}"
    host_pool: "{{ avd_host_pool }}"
    resource_group: rg-avd-prod
    message_title: Maintenance in 15 minutes
    message_body: Please save your work and sign out.

- name: Sign them out
  avdops.sessionhost.user_session:
    session_host: "{{ inventory_hostname }}"
    host_pool: "{{ avd_host_pool }}"
    resource_group: rg-avd-prod
    state: logged_off
"""

RETURN = r"""
sessions:
  description: The host's user sessions after the change.
  returned: success
  type: list
  elements: dict
  sample: [{id: "2", user_principal_name: user01@contoso.com, state: Active, application_type: Desktop}]
messaged:
  description: Session ids that were sent the message.
  returned: success
  type: list
  elements: str
logged_off:
  description: Session ids signed out.
  returned: state=logged_off
  type: list
  elements: str
disconnected:
  description: Session ids disconnected.
  returned: state is not logged_off
  type: list
  elements: str
"""
