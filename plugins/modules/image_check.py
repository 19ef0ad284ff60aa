# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: image_check
short_description: Check that a golden image would make working AVD session hosts
description:
  - Runs on the VM that builds a golden image, before sysprep and capture, and
    checks what would break every session host made from it - each check
    returns C(passed), C(failed), C(error) (could not be checked, which fails
    too) or C(skipped), with the evidence it saw and the article section (or
    the reason) behind it.
  - C(IMAGE_EDITION_SUPPORTED) - Enterprise, Enterprise multi-session or
    Server; not Pro, Home, Education, LTSC/LTSB or N editions.
  - C(IMAGE_DOTNET_472) - .NET Framework 4.7.2 or later (C(Release) 461808).
  - C(IMAGE_DISK_HEADROOM) - free space on the system drive (O(disk_min_free_mb), O(disk_min_free_percent)).
  - C(IMAGE_NO_MSI_POLICY), C(IMAGE_NO_CMD_POLICY) - no C(DisableMSI) or
    C(DisableCMD) policy (machine, and every loaded user hive including C(.DEFAULT)).
  - C(IMAGE_NO_REGISTRATION) - no registration baked in - C(IsRegistered=1),
    a C(RegistrationToken) or an agent C(GUID) under C(RDInfraAgent) would be
    claimed by every VM of the image (C(NAME_ALREADY_REGISTERED)).
  - C(IMAGE_AGENT_COMPONENTS) - the boot loader, agent, Geneva agent and SxS
    stack are absent (installed at deployment) or all present once, with
    C(DefaultAgent) and the SxS stack's C(CurrentVersion) naming the installed
    versions, as O(agent) asks.
  - C(IMAGE_STACK_LISTENER_KEYS) - the active C(rdp-sxs) WinStation has
    C(fReverseConnectMode=1) and C(fEnableWinStation=1), and
    C(ReverseConnectionListener) and C(SessionDirectoryListener) agree.
  - C(IMAGE_NO_PENDING_REBOOT) - no C(Component Based Servicing\RebootPending)
    or C(WindowsUpdate\Auto Update\RebootRequired) key, no
    C(PendingFileRenameOperations).
  - C(IMAGE_REQUIRED_URLS) - the Required URL list answers from the build VM
    (only with O(check_urls); build networks often differ from the pool's).
  - Gathers the facts itself in one WinRM command, as
    M(avdops.sessionhost.session_host_facts) does, unless given them in O(facts).
version_added: 0.1.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
options:
  agent:
    description:
      - What the image should hold of the AVD agent components.
      - C(absent) - none of them (the agent is installed and registered at
        deployment); C(present) - all of them, consistent; C(any) - either,
        but not a partial or inconsistent set.
    type: str
    default: any
    choices: [absent, present, any]
  check_urls:
    description: Also probe O(urls) from the VM.
    type: bool
    default: false
  urls:
    description:
      - The URLs to probe with O(check_urls); any HTTP answer counts as reachable.
      - Defaults to the fixed names of the Required URL list for session hosts.
    type: list
    elements: str
    default: []
  disk_min_free_mb:
    description: Fail when the system drive has less free space than this, in MB.
    type: int
    default: 300
  disk_min_free_percent:
    description: Fail when the system drive has less free space than this share of its size.
    type: float
    default: 5.0
  probe_timeout:
    description: Seconds for each URL probed.
    type: int
    default: 10
  facts:
    description: The C(avd_session_host) facts of M(avdops.sessionhost.session_host_facts); gathered when omitted.
    type: dict
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
    description: The Windows VM that builds an AVD golden image, over WinRM.
notes:
  - The checks fail the image, not the task - the task succeeds with
    C(validation.state=failed); C(playbooks/validate_image.yml) turns that
    into a failed run and writes the reports with
    M(avdops.sessionhost.diagnosis_report) (O(avdops.sessionhost.diagnosis_report#module:kind=image)).
seealso:
  - module: avdops.sessionhost.diagnosis_report
  - name: Troubleshoot common Azure Virtual Desktop Agent issues
    description: The article whose sections the checks cite.
    link: https://learn.microsoft.com/azure/virtual-desktop/troubleshoot-agent
"""

EXAMPLES = r"""
- name: Validate the image before sysprep (the agent is installed at deployment)
  avdops.sessionhost.image_check:
    agent: absent
  register: avd_image

- name: Fail the build on a failed check
  ansible.builtin.assert:
    that: avd_image.validation.state == 'passed'
    fail_msg: "{{ avd_image.validation.checks | selectattr('status', 'in', ['failed', 'error']) | map(attribute='id') | list }}"
"""

RETURN = r"""
validation:
  description: The image's checks.
  returned: success
  type: dict
  contains:
    state:
      description: C(passed) when no check failed or errored, else C(failed).
      type: str
      sample: failed
    checks:
      description: One entry per check, in catalog order.
      type: list
      elements: dict
      sample:
        - id: IMAGE_NO_PENDING_REBOOT
          title: No reboot pending before capture
          status: failed
          reason: "a reboot is pending (Component Based Servicing): restart the build VM before sysprep and capture"
          evidence:
            - "Component Based Servicing\\RebootPending: present"
          doc: "a pending reboot is captured into every VM ..."
ansible_facts:
  description: The gathered C(avd_session_host) facts.
  returned: success
  type: dict
"""
