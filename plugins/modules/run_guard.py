# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: run_guard
short_description: Lock a session host for one write run, and journal the drains the run makes
description:
  - Keeps two write runs (two admins, two AWX jobs, a retry while the first still runs) from changing one
    session host, and makes sure a run that is interrupted (Ctrl-C, a cancelled CI job, a stopped AWX job, a
    controller that dies) never leaves a host drained for good.
  - The run marks the host with one tag on the host pool, C(avdops-run-<computer name>), written with Azure's
    Tags "update at scope" API (C(Merge) and C(Delete) of that one tag, so runs on other hosts of the pool never
    overwrite each other's). Its value names the run (controller, process id and start), its owner
    (user@controller), the lock's expiry and whether this run drained the host. The controller keeps a journal
    of the drains it made as well (O(journal)).
  - O(state=locked) takes the host's lock, unless another run holds it and is not over (then C(locked=false) and
    C(held_by) says who, until when); a run is over when its lock expired, or when it ran on this controller and
    its process is gone. When the marker or the journal holds the drain of a run that is over, lets new sessions in
    again on the host (that run's drain; a host drained by its admin carries no drain of ours and stays drained).
    After writing the marker it waits O(settle_seconds) and reads it back; of two runs that wrote at the same
    moment, the last writer holds the host and the other is refused.
  - O(state=drained) records, before the caller drains the host, that this run drains it (journal, then marker);
    O(state=restored) records that the drain was undone. O(state=released) ends the lock; a drain still on record
    stays on the marker, lock ended, for the next run to undo.
  - Lock and journal are the run's bookkeeping and never report a change; undoing an earlier run's drain does, and
    a warning names the host and the interrupted run whose drain was undone (in check mode, would be).
    Check mode reads and says what it would do, and writes nothing.
version_added: 0.3.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
requirements:
  - azure-identity >= 1.15 on the controller
  - azure-mgmt-desktopvirtualization >= 2.0.0 on the controller
  - the identity needs C(Microsoft.Resources/tags/write) on the host pool (the Tag Contributor role, or Contributor)
extends_documentation_fragment:
  - avdops.sessionhost.azure
  - avdops.sessionhost.host_pool
options:
  name:
    description:
      - The session host - its FQDN as the host pool lists it, or its computer name.
      - When omitted, the module names the task's host as its pool does, with the collection's one lookup (by the VM
        resource id and VM id of the host_pool inventory, the agent's VM id from the diagnosis, then by
        C(avd_session_host_name), the inventory name or C(ansible_host), case-insensitive, FQDN or short), or by its
        inventory name when the pool does not list it. That is one read of the pool's session hosts; C(name) in the
        result is the name used, to pass to the later states.
    type: str
  state:
    description: C(locked), C(drained), C(restored) or C(released) (see the description).
    type: str
    required: true
    choices: [locked, drained, restored, released]
  lock_minutes:
    description:
      - How long the lock holds (1 minute to a week). A run that crashes on another controller holds the host
        until then; give it more than the longest run takes (a reinstall with restarts).
    type: int
    default: 240
  journal:
    description: The controller's journal of drains (JSON), shared by every run on this controller.
    type: path
    default: ~/.ansible/avdops.sessionhost/drains.json
  settle_seconds:
    description: Seconds to wait before reading the marker back after writing it.
    type: float
    default: 2.0
attributes:
  check_mode:
    support: full
    description: Reads the marker and the journal and says what it would do; writes nothing.
  diff_mode:
    description: Nothing to show as a diff.
    support: none
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
"""

EXAMPLES = r"""
- name: Take the host's lock (and undo an interrupted run's drain) before deciding anything
  avdops.sessionhost.run_guard:
    host_pool: "{{ avd_host_pool }}"
    resource_group: "{{ avd_resource_group }}"
    state: locked
  register: lock
  delegate_to: localhost

- name: Leave the host alone when another run holds it
  ansible.builtin.debug:
    msg: "{{ lock.held_by }}"
  when: not lock.locked

- name: End the lock
  avdops.sessionhost.run_guard:
    name: "{{ lock.name }}"
    host_pool: "{{ avd_host_pool }}"
    resource_group: "{{ avd_resource_group }}"
    state: released
  delegate_to: localhost
"""

RETURN = r"""
name:
  description: The session host's name the lock is kept under (O(name), or the pool's name for the task's host).
  returned: success
  type: str
locked:
  description: Whether this run holds the host (after O(state=locked), whether it took the lock).
  returned: success
  type: bool
held_by:
  description: Who holds the host and until when, or why the lock was not taken (null when it was).
  returned: when O(state=locked)
  type: str
undone:
  description: The earlier run whose drain was undone (C(run)) and whether new sessions were let in (C(restored)).
  returned: when O(state=locked)
  type: dict
drain_left:
  description: Whether a drain of this run is still on record after O(state=released) (the next run undoes it).
  returned: when O(state=released)
  type: bool
marker:
  description: The host pool tag that marks the host.
  returned: success
  type: str
run:
  description: This run (controller, process id, process start).
  returned: success
  type: str
owner:
  description: Who runs it (user@controller).
  returned: success
  type: str
"""
