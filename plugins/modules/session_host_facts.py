# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: session_host_facts
short_description: Gather what the AVD agent troubleshooting article looks at, in one WinRM command
description:
  - Reads, from an Azure Virtual Desktop session host, everything the article
    I(Troubleshoot common Azure Virtual Desktop Agent issues) inspects - the
    agent's registry (C(IsRegistered), whether C(RegistrationToken) is set,
    C(BrokerURI)), its own health check report, the boot loader, agent and
    Remote Desktop services, the qwinsta listeners, the side-by-side stack's
    WinStations, installed agent components and SxS MSI files, OS edition,
    .NET release, disk space, the Application events of the article, the
    Windows Installer and command prompt policies, broker health probed from
    the host, user sessions and whether an installer is running.
  - All of it comes back from B(one) WinRM command per host, however many
    subsets are gathered. The command runs the collection's small PowerShell
    runtime (C(plugins/plugin_utils/avd_runtime.ps1), documented in
    C(docs/runtime.md)); everything else happens on the controller.
  - The registration token is never read back. Only whether it is set, and
    its length, leave the host.
  - Runs on the controller as an action plugin over the host's own
    connection (C(ansible_connection=winrm)); it changes nothing on the host.
version_added: 0.1.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
options:
  gather_subset:
    description:
      - Which areas to gather. C(all), any of C(agent), C(services),
        C(stack), C(components), C(os), C(dotnet), C(disk), C(events),
        C(policies), C(network), C(sessions), C(installer), C(reboot)
        (the pending-reboot markers), and C(!name) to leave one out.
      - The boot time is always gathered.
    type: list
    elements: str
    default: [all]
  events_max_age:
    description: How far back to read the Application log, in hours.
    type: int
    default: 120
  events_max_count:
    description: At most this many events (newest first).
    type: int
    default: 50
  probe_timeout:
    description: Seconds for each URL probed from the host.
    type: int
    default: 10
  probe_urls:
    description:
      - More URLs to probe from the host (for example gateway or web socket
        transport URLs from the Required URL list).
    type: list
    elements: str
    default: []
  save_raw:
    description:
      - Also write the runtime's raw answer (the JSON document it printed,
        with the request and options it answered) to
        C(<save_raw>/<inventory_hostname>.json) on the controller; the
        directory is created.
      - The file never holds the registration token (the runtime returns only
        whether it is set and its length).
      - M(avdops.sessionhost.diagnose) replays such a file with its C(raw)
        option, giving the findings of the live run; users with real hosts
        can send them so they become regression tests. The format is
        documented in the collection's C(docs/runtime.md).
    type: path
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  platform:
    support: full
    platforms: windows
    description: Azure Virtual Desktop session hosts (Windows 10/11 Enterprise, Windows Server) over WinRM.
notes:
  - Needs PowerShell 5.1 on the host, as every Windows module does.
  - Gathered facts are also returned under C(ansible_facts.avd_session_host).
seealso:
  - name: Troubleshoot common Azure Virtual Desktop Agent issues
    description: The article whose checks these facts serve.
    link: https://learn.microsoft.com/azure/virtual-desktop/troubleshoot-agent
"""

EXAMPLES = r"""
- name: Gather everything the troubleshooting article looks at
  avdops.sessionhost.session_host_facts:

- name: Only the agent and its stack, without the events
  avdops.sessionhost.session_host_facts:
    gather_subset: [agent, stack]

- name: Everything but the network probes
  avdops.sessionhost.session_host_facts:
    gather_subset: ["all", "!network"]

- name: Keep the host's raw answer for a bug report or a regression test
  avdops.sessionhost.session_host_facts:
    save_raw: captures

- name: Show whether the agent is registered
  ansible.builtin.debug:
    msg: "IsRegistered={{ ansible_facts.avd_session_host.agent.is_registered }}"
"""

RETURN = r"""
ansible_facts:
  description: The gathered facts.
  returned: success
  type: dict
  contains:
    avd_session_host:
      description:
        - What the host reported, by area. Areas not gathered are absent.
        - C(errors) lists operations that failed on the host (for example a
          registry key that could not be read), so a diagnosis can say what it
          could not check.
      type: dict
      returned: success
      sample:
        schema_version: 1
        boot_time: "2026-11-25T16:00:00.000Z"
        agent:
          installed: true
          version: 1.0.10004.1300
          is_registered: 1
          registration_token_set: false
          broker_uri: https://rdbroker-g-us-r1.wvd.microsoft.com/
          health_checks: [{name: SxSStackListenerCheck, passed: true}]
        services:
          RDAgentBootLoader: {exists: true, state: Running, start_type: Automatic}
        stack:
          qwinsta:
            both_listening: true
            rdp_sxs: {session_name: rdp-sxs240705700, state: Listen, state_normalized: Listen}
          reverse_connection_listener: rdp-sxs240705700
        dotnet: {release: 528372, version: "4.8", meets_472: true}
        disk: {drive: "C:", free_bytes: 85899345920, percent_free: 62.5}
        events: [{id: 3277, source: WVD-Agent, kind: INVALID_REGISTRATION_TOKEN, time: "2026-11-25T16:00:01.000Z"}]
        errors: []
"""
