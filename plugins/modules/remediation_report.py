# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: remediation_report
short_description: Write the before/after remediation reports of a host pool
description:
  - From each host's diagnosis before and after remediation, the remediation
    plan (M(avdops.sessionhost.avd_remediation_plan)) and what happened on the
    host (skipped for lack of consent, failed, drained and restored), writes
    C(remediation.json), C(remediation.html) and C(junit-remediation.xml) into
    O(report_dir) and returns a summary.
  - Each host's outcome is C(fixed) (every finding its roles fix is gone and
    the host is healthy afterwards), C(partly_fixed) (its roles fixed their
    findings but another finding is left, one a person must act on, or the
    host is not healthy afterwards; the summary names what remains and who
    acts), C(not_fixed) (a finding its roles fix is still there afterwards),
    C(skipped) (left alone, with the reason - users on it without consent, or
    not attempted because the rollout stopped), C(failed) (an error during
    its remediation, or unreachable afterwards), C(unchanged) (nothing a role
    fixes) or, in check mode, C(planned) (a role would run; nothing was
    changed). The summary, the HTML and JUnit reports and RV(failing_message)
    use the same words (C(not_fixed) reads "not fixed", and C(partly_fixed)
    reads "partly fixed"). In check mode each host's line says what would be
    done and by which role, for example C(would fix DOTNET_OUTDATED with role dotnet).
  - The result never carries a C(failed) key of its own (hosts that failed are
    in RV(failed_hosts)), so the summary is always shown; the playbook then ends
    the run with RV(failing_message).
  - With O(kind=reinstall) or O(kind=move) it writes C(playbooks/reinstall.yml)'s
    (C(reinstall.json), C(reinstall.html), C(junit-reinstall.xml)) or
    C(playbooks/move.yml)'s reports (C(move.*)) in the same form, from what
    the playbook recorded of each host in O(runs). A host is then
    C(reinstalled) or C(moved); C(refused) (an error before its first change,
    the drain - the preflight's reason; nothing was changed); C(left_alone) (a
    reinstall does not fix what is wrong, and who must act); C(skipped) (users
    on it without consent, or another run changing it); C(failed) (what
    happened); C(not_reached) (the run ended before its turn); C(unchanged)
    (nothing to do, or already in the target pool) or, in check mode,
    C(planned). C(refused) and C(failed) hosts fail the run
    (RV(failing_message) names each as C(HOST) C(not reinstalled) and why).
version_added: 0.2.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
requirements:
  - nothing beyond ansible-core on the controller
options:
  before:
    description: Host name -> its registered M(avdops.sessionhost.diagnose) result before remediation.
    type: dict
    required: true
  after:
    description: Host name -> its registered M(avdops.sessionhost.diagnose) result after remediation.
    type: dict
    required: true
  plans:
    description: Host name -> its remediation plan.
    type: dict
    default: {}
  runs:
    description: Host name -> what happened - C(skipped) (a reason), C(error), C(drained), C(drain_restored).
    type: dict
    default: {}
  report_dir:
    description: Where to write the reports (beside the diagnosis reports).
    type: path
    required: true
  kind:
    description:
      - Whose reports to write - C(remediation) (C(playbooks/remediate.yml)), C(reinstall) or C(move).
      - For C(reinstall) and C(move), O(runs) holds per host C(state) (the playbook's
        C(reinstall_state) or C(avd_move)), C(batch), C(changing) (whether the host got as far as
        its drain) and C(drained)/C(drain_restored); O(plans) is not read.
    type: str
    choices: [remediation, reinstall, move]
    default: remediation
  max_fail_percentage:
    description:
      - The rollout's C(avd_max_fail_percentage). A host of a batch the rollout
        never reached (an earlier batch failed beyond it) is C(skipped) with the
        reason naming that batch and its failed hosts.
    type: int
    default: 100
attributes:
  check_mode:
    support: full
    description: Writes the reports in check mode too (they say nothing was changed).
  diff_mode:
    support: none
    description: Writes local report files only.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
"""

EXAMPLES = r"""
- name: Write the remediation reports
  avdops.sessionhost.remediation_report:
    before: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'avd_before'))) }}"
    after: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'avd_after'))) }}"
    report_dir: reports
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
summary:
  description: Host counts by outcome.
  returned: success
  type: dict
  sample: {hosts: 4, fixed: 2, partly_fixed: 0, not_fixed: 0, skipped: 1, failed: 0, unchanged: 1, planned: 0}
  # with kind=reinstall: {hosts: 3, failed: 0, refused: 1, not_reached: 0, skipped: 0, left_alone: 0,
  #                       planned: 0, reinstalled: 2, unchanged: 0}
files:
  description: The files written.
  returned: success
  type: dict
summary_lines:
  description: A terminal summary, one line per host.
  returned: success
  type: list
  elements: str
failed_hosts:
  description: Hosts whose outcome is C(failed) (or, for O(kind=reinstall) and O(kind=move), C(refused)).
  returned: success
  type: list
  elements: str
not_fixed_hosts:
  description: Hosts whose outcome is C(not_fixed).
  returned: success
  type: list
  elements: str
failing_message:
  description:
    - Empty when no host failed or was left not fixed; else one sentence
      counting them in the summary's words and naming each with why, as
      C(playbooks/remediate.yml) ends its run with.
  returned: success
  type: str
  sample: "1 failed and 1 not fixed: sh-01 (failed: ...); sh-02 (not fixed: INSTALLER_BUSY still found after remediation)"
"""
