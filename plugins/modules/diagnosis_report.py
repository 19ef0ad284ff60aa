# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: diagnosis_report
short_description: Write a host pool's diagnosis as JSON, HTML and JUnit, and summarise it
description:
  - Takes the registered results of M(avdops.sessionhost.diagnose) for every
    host (including unreachable hosts and hosts whose diagnosis failed) and
    writes C(diagnosis.json), C(diagnosis.html) (one self-contained page,
    unhealthy hosts first) and C(junit-diagnosis.xml) (one test case per
    host and check) into O(report_dir).
  - Host states - C(healthy) (every check ran, no problem), C(unhealthy),
    C(incomplete) (no problem found but some checks could not run, listed in
    C(unchecked)), C(stopped) (the host pool reports the VM shut down or off),
    C(unreachable) (with the reason by class and in full) and C(failed).
  - The pool data of hosts that were not diagnosed (stopped, unreachable)
    comes from their C(avd_*) variables.
  - The reports are always written, also for no host, and say how many hosts
    were diagnosed.
  - Returns a short summary table, the hosts at or above O(fail_on), and
    C(run_failure) when the run as a whole must fail.
  - A result that diagnose cannot have made (not a mapping, an unknown state or
    severity) is refused with a message naming the host and field, and no report
    is written.
  - With O(kind=image), takes the registered results of
    M(avdops.sessionhost.image_check) instead and writes
    C(image-validation.json) and C(junit-image-validation.xml) (one test
    case per host and image check, with the evidence of passed checks in
    C(system-out)).
  - Runs on the controller; it contacts no host.
version_added: 0.1.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
options:
  results:
    description: Inventory hostname to its registered diagnose (or, with O(kind=image), image_check) result.
    type: dict
    required: true
  kind:
    description: Which results these are, and so which reports to write.
    type: str
    default: diagnosis
    choices: [diagnosis, image]
  report_dir:
    description: Where to write the reports (created when missing); a relative path is relative to the directory ansible-playbook runs in.
    type: path
    required: true
  fail_on:
    description:
      - Return in C(over_threshold) the hosts with a finding at or above this
        severity, and the hosts that were not (fully) checked - C(unreachable),
        C(failed), C(incomplete) (see O(fail_on_incomplete)) and, with
        O(fail_on_stopped), C(stopped). C(none) returns none.
      - With a threshold, a run that diagnosed no host at all is a failure
        (C(run_failure)).
    type: str
    default: none
    choices: [none, warning, critical]
  fail_on_stopped:
    description: Count C(stopped) hosts (VMs that are off or deallocated) in C(over_threshold).
    type: bool
    default: false
  fail_on_incomplete:
    description: Count C(incomplete) hosts (some checks could not run) in C(over_threshold).
    type: bool
    default: true
  target:
    description: The host pattern of the run, recorded in the reports.
    type: str
attributes:
  check_mode:
    support: full
    description: Writes the local report files in check mode too; it changes nothing on any host.
  diff_mode:
    support: none
    description: No diff.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
"""

EXAMPLES = r"""
- name: Write the reports
  avdops.sessionhost.diagnosis_report:
    results: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'avd_diagnosis'))) }}"
    report_dir: reports
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
summary:
  description: Host counts by state, and finding counts by id and severity.
  returned: success
  type: dict
files:
  description: The files written, by kind (json, html, junit; no html for O(kind=image)).
  returned: success
  type: dict
summary_lines:
  description: A short table, one host a line, unhealthy first.
  returned: success
  type: list
  elements: str
over_threshold:
  description: Hosts at or above O(fail_on), or not (fully) checked.
  returned: success
  type: list
  elements: str
run_failure:
  description:
    - Why the run as a whole fails, or null - no host was diagnosed and some
      were unreachable or failed, or O(fail_on) is set and no host was
      diagnosed at all.
  returned: success
  type: str
"""
