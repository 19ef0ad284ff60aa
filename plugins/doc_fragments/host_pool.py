# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  host_pool:
    description: Host pool name.
    type: str
    required: true
  resource_group:
    description: The host pool's resource group.
    type: str
    required: true
"""
