# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.host_pool_info (docs in plugins/modules)."""

from __future__ import annotations

from typing import Any, ClassVar

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._azure import host_pool_dict
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._azure_action import AzureAction
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._host_pool import (
    PoolRef,
    get_pool,
    list_session_host_dicts,
    registration_key,
)


class ActionModule(AzureAction):
    OPTIONS: ClassVar[dict[str, Any]] = {
        "host_pool": {"type": "str", "required": True, "aliases": ["name"]},
        "resource_group": {"type": "str", "required": True},
    }

    def work(self, args: dict[str, Any], settings: Any, client: Any) -> dict[str, Any]:
        pool = PoolRef(args["resource_group"], args["host_pool"])
        host_pool = host_pool_dict(get_pool(client, settings, pool), registration_key(client, settings, pool))
        hosts = list_session_host_dicts(client, settings, pool)
        return {"changed": False, "host_pool": host_pool, "session_hosts": hosts}
