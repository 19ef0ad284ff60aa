# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  capture:
    description:
      - The C(capture) a M(avdops.sessionhost.diagnose) task with
        C(return_capture=true) just returned for this host. The module then reads
        the state it needs from it instead of probing the host (one WinRM
        command less); the change itself and its read-back still run on the host.
      - Used only when it is of this runtime version, at most O(capture_max_age)
        seconds old, and holds a successful answer to every read the module
        needs; otherwise the module probes the host itself (its C(notes) say
        which it did and why). Give it only when nothing changed on the host since that
        diagnosis (C(playbooks/remediate.yml) gives it to the first role of a
        host only).
    type: dict
  capture_max_age:
    description: How old (seconds) a O(capture) may be to be read instead of probing.
    type: int
    default: 120
"""
