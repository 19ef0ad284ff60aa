# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is run by its action plugin on the controller; this file holds its documentation.

DOCUMENTATION = r"""
---
module: disk_cleanup
short_description: Free disk space for the agent from locations that are safe to clean
description:
  - The article's fix for I(DownloadMsiException) (not enough disk space for the
    agent) - delete files that are no longer in use, only from
  - C(%SystemRoot%\Temp) - items unchanged for O(temp_min_age_days) (newer ones
    may belong to a running installation);
  - C(%SystemRoot%\SoftwareDistribution\Download) - Windows Update's download
    cache, downloaded again when needed; C(wuauserv) and C(BITS) are stopped while
    it is emptied and started again when they were running (they do not serve users);
    each is noted on the host before it stops (a value under
    C(HKLM\SOFTWARE\avdops\sessionhost\StoppedServices)) and the note goes once it runs again, so a run cut off
    mid-command (its connection dropped, the command terminated) is put right by the next one, which starts the
    noted services still stopped (C(left_stopped) in RV(facts));
  - C(RDAgent_<version>) folders of C(C:\Program Files\Microsoft RDInfra) that the
    boot loader names neither as C(DefaultAgent) nor as C(PreviousAgent); none when
    C(DefaultAgent) cannot be read (unknown means keep).
  - The runtime refuses any path outside these locations itself, compared as the
    canonical full path Windows opens (never a location itself).
  - Items are deleted one by one, never through a link (junction or symbolic link)
    at any depth; anything a standard user owns is kept with what is in it (its
    owner could swap a folder for a junction during the delete) and reported in
    RV(verification) as not deleted.
  - Does nothing while the system drive has the target free - O(min_free_percent)
    of its size and O(min_free_mb), the diagnosis's thresholds.
  - Fails naming the remaining shortfall when cleaning is not enough (in check
    mode too, from what it would free) - enlarge the disk or delete other files.
  - Nothing users depend on stops.
version_added: 0.2.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
requirements:
  - pywinrm on the controller for the C(winrm) connection, or pypsrp for the C(psrp) connection
  - Windows PowerShell 5.1 on the host
options:
  min_free_percent:
    description: Free space wanted, in percent of the drive.
    type: float
    default: 5.0
  min_free_mb:
    description: Free space wanted, in MB (the agent's download and installation).
    type: int
    default: 300
  temp_min_age_days:
    description: Age in days (at least 1) from which an item of the Windows temp folder is deleted.
    type: float
    default: 7.0
  restart_agent:
    description:
      - After deleting, restart C(RDAgentBootLoader) in the same WinRM command so the agent retries the
        update that had no room (the agent restarts; user sessions stay).
    type: bool
    default: false
  settle_seconds:
    description: Seconds to wait after that restart before reading the result (0 to 300).
    type: int
    default: 10
  service_wait_seconds:
    description:
      - How long each stop and each start of wuauserv and BITS may take (1 to 600). A service goes through the
        Service Control Manager's C(StopPending)/C(StartPending) states; one that hangs stays C(StopPending) until
        Windows restarts.
      - A service still C(StopPending) after this fails the task with the service named; the Windows Update download
        cache is then left as it was (it is emptied only after both services stopped), the other locations are
        still cleaned, and each service that did stop is started again in the same command.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    description: Lists what it would delete, per location, with sizes, and how much that frees.
  diff_mode:
    support: full
    description: The paths and sizes deleted, per location.
  platform:
    support: full
    platforms: windows
    description: Azure Virtual Desktop session hosts over WinRM.
"""

EXAMPLES = r"""
- name: Free space for the agent's update
  avdops.sessionhost.disk_cleanup:
  register: avd_disk

- name: Show what it freed
  ansible.builtin.debug:
    msg: "{{ avd_disk.verification.freed | default(0) }} bytes freed"
"""

RETURN = r"""
changes:
  description: Per location, the paths and sizes deleted (or in check mode that would be); the services stopped and started.
  returned: always
  type: list
  elements: dict
facts:
  description:
    - The drive, its size and free bytes, the target, bytes held per location, what the cleanup would free and the
      shortfall left after it.
    - C(left_stopped) - what an earlier cleanup cut off mid-command left, in words - the noted services this run
      starts again, or one still pending with what to do.
  returned: success
  type: dict
  sample:
    drive: "C:"
    size: 137438953472
    free: 41943040
    target_free: 6871947674
    held: {windows_temp: 2307915776, windows_update_download: 5028970496, agent_folders: 167772160}
    would_free: 7170162688
    shortfall: 0
    left_stopped: []
verification:
  description:
    - Free bytes after, bytes freed, items deleted, items that could not be deleted (in use, or kept because a
      standard user owns them) and the shortfall.
  returned: when something was deleted
  type: dict
"""
