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
  - With O(kind=image), takes the registered results of
    M(avdops.sessionhost.image_check) instead and writes
    C(image-validation.json) and C(junit-image-validation.xml) (one test
    case per host and image check, with the evidence of passed checks in
    C(system-out)).
  - Returns a short summary table and the hosts at or above O(fail_on).
  - Runs on the controller; it contacts no host.
version_added: 0.1.0
author:
  - avdops.sessionhost contributors
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
        severity, and the hosts that could not be checked (unreachable or
        failed). C(none) returns none.
    type: str
    default: none
    choices: [none, warning, critical]
attributes:
  check_mode:
    support: full
    description: Writes the local report files in check mode too; it changes nothing on any host.
  diff_mode:
    support: none
    description: No diff.
  platform:
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
  description: Hosts at or above O(fail_on).
  returned: success
  type: list
  elements: str
"""
