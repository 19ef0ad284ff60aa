# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: diagnose
short_description: Say which documented AVD agent failure a session host has, with the evidence
description:
  - Runs one rule per failure documented in the article I(Troubleshoot common
    Azure Virtual Desktop Agent issues) over the host's facts and returns the
    findings - C(id), C(severity) (critical, warning, info), C(title),
    C(evidence) (what was observed - event id, time and text, registry values,
    qwinsta rows, service states), C(remediation) (the documented fix, or why
    it needs a person) and C(doc) (the article's section).
  - When one cause explains several symptoms (a registration failure behind a
    stopped boot loader, a Pro edition behind a missing listener), the symptom
    names its cause in C(explained_by) and root causes come first.
  - Events older than the last boot, and registration errors older than a
    successful registration since, are stale and raise nothing on their own.
  - Gathers the facts itself (one WinRM command, as
    M(avdops.sessionhost.session_host_facts)) unless given them in O(facts).
    Given facts and host pool data are validated first, and refused with a
    message naming the field that is wrong.
  - When the host pool data says the VM is off (status C(Shutdown), or
    C(power_state) deallocated or stopped), the host is C(stopped) and is not
    contacted.
  - Uses the host pool's view of the host (status, sessions, max session
    limit) from O(host_pool), or from the C(avd_*) variables the
    M(avdops.sessionhost.host_pool) inventory plugin sets; rules that need it
    report what they could not check when it is missing.
version_added: 0.1.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
requirements:
  - pywinrm on the controller for the C(winrm) connection, or pypsrp for the C(psrp) connection
  - Windows PowerShell 5.1 on the host
extends_documentation_fragment: []
options:
  facts:
    description: The C(avd_session_host) facts of M(avdops.sessionhost.session_host_facts); gathered when omitted.
    type: dict
  raw:
    description:
      - A capture to diagnose instead of asking the host - a runtime answer
        saved with O(save_raw) (or O(avdops.sessionhost.session_host_facts#module:save_raw)),
        given as the document itself (a dict), the path of its file, or the
        path of a O(save_raw) directory (then C(<inventory_hostname>.json) in it).
      - The capture is diagnosed exactly as the live answer was - same facts,
        same findings - without contacting the host; the host pool's view
        still comes from O(host_pool) or the host variables.
      - Mutually exclusive with O(facts). The format is documented in the
        collection's C(docs/runtime.md).
    type: raw
  save_raw:
    description:
      - When gathering, also write the runtime's raw answer for this host to
        C(<save_raw>/<inventory_hostname>.json) on the controller (the
        directory is created). It never holds the registration token.
      - Send such files with a bug report; replayed with O(raw) they become
        regression tests.
    type: path
  return_capture:
    description:
      - When gathering, also return the runtime's raw answer (the capture
        O(save_raw) writes, which never holds the registration token) as
        RV(capture). C(playbooks/remediate.yml) hands it to the remediation
        modules (their C(capture) option), which then read the state they
        need from it instead of probing the host again.
    type: bool
    default: false
  host_pool:
    description:
      - The host pool's view of this host - C(status), C(sessions),
        C(max_session_limit), C(update_state), C(vm_id), C(in_pool).
      - Defaults to the C(avd_*) host variables of the host_pool inventory plugin.
    type: dict
  gather_subset:
    description: As for M(avdops.sessionhost.session_host_facts), when gathering.
    type: list
    elements: str
    default: [all]
  events_max_age:
    description: Hours of Application log to read, when gathering.
    type: int
    default: 120
  events_max_count:
    description: At most this many events, when gathering.
    type: int
    default: 50
  probe_timeout:
    description: Seconds for each URL probed from the host, when gathering.
    type: int
    default: 10
  probe_urls:
    description: More URLs to probe from the host, when gathering.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Nothing changes.
  platform:
    support: full
    platforms: windows
    description: Azure Virtual Desktop session hosts over WinRM.
seealso:
  - module: avdops.sessionhost.session_host_facts
  - module: avdops.sessionhost.diagnosis_report
"""

EXAMPLES = r"""
- name: Diagnose every session host
  avdops.sessionhost.diagnose:
  register: avd_diagnosis

- name: Diagnose from facts already gathered, with the pool's session limit
  avdops.sessionhost.diagnose:
    facts: "{{ ansible_facts.avd_session_host }}"
    host_pool:
      max_session_limit: 8
      sessions: 3

- name: Diagnose and keep each host's raw runtime answer in ./captures
  avdops.sessionhost.diagnose:
    save_raw: captures

- name: Replay saved answers (no connection to the hosts is made)
  avdops.sessionhost.diagnose:
    raw: captures
"""

RETURN = r"""
capture:
  description: The runtime's raw answer this diagnosis was made from, without the registration token.
  returned: when O(return_capture) and the host was gathered (not replayed, not stopped)
  type: dict
diagnosis:
  description: The host's diagnosis.
  returned: success
  type: dict
  contains:
    state:
      description:
        - C(unhealthy) with a critical or warning finding; C(healthy) only when
          every check ran and found nothing; C(incomplete) when nothing was found
          but some checks could not run (listed in C(unchecked)); C(stopped) when
          the host pool data says the VM is off (then the host is not contacted).
      type: str
      sample: unhealthy
    reason:
      description: Why the host is C(stopped).
      type: str
      returned: when stopped
    findings:
      description: Findings, root causes first.
      type: list
      elements: dict
      sample:
        - id: INVALID_REGISTRATION_TOKEN
          severity: critical
          title: The agent's registration token is not recognised
          evidence:
            - "event 3277 from WVD-Agent at 2026-11-25T16:00:01.000Z: ... INVALID_REGISTRATION_TOKEN ..."
            - "HKLM\\SOFTWARE\\Microsoft\\RDInfraAgent: IsRegistered=0, RegistrationToken set (509 characters)"
          remediation: Generate a new registration key for the host pool, set IsRegistered=0 ...
          doc: https://learn.microsoft.com/azure/virtual-desktop/troubleshoot-agent#error-invalid_registration_token
          explained_by: null
          explains: [BOOTLOADER_NOT_RUNNING]
    unchecked:
      description: Each check that could not run, as C(CHECK_ID) and why, then failed operations.
      type: list
      elements: str
    stale_events:
      description: Documented error events that are stale (before the last boot or a later registration).
      type: list
      elements: str
    host_pool:
      description: The host pool data the rules used (null when none).
      type: dict
ansible_facts:
  description: The gathered C(avd_session_host) facts (as session_host_facts returns them).
  returned: success
  type: dict
"""
