# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.session_host (docs in plugins/modules)."""

from __future__ import annotations

from typing import Any, ClassVar

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._azure import (
    AzureError,
    call,
    models,
    session_host_dict,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._azure_action import AzureAction
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._host_pool import (
    PoolRef,
    find_session_host,
    removal_refusal,
)


class ActionModule(AzureAction):
    OPTIONS: ClassVar[dict[str, Any]] = {
        "name": {"type": "str", "required": True},
        "host_pool": {"type": "str", "required": True},
        "resource_group": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "allow_new_session": {"type": "bool"},
        "force": {"type": "bool", "default": False},
    }

    def work(self, args: dict[str, Any], settings: Any, client: Any) -> dict[str, Any]:
        pool = PoolRef(args["resource_group"], args["host_pool"])
        host = find_session_host(client, settings, pool, args["name"])
        check_mode = bool(self._task.check_mode)
        if args["state"] == "absent":
            if host is None:
                return {"changed": False, "session_host": None}
            sessions = int(host.sessions or 0)
            refusal = removal_refusal(sessions, args["force"])
            if refusal:
                raise AzureError(f"not removing {args['name']} from {args['host_pool']}: {refusal}")
            name = host.name.split("/")[-1]
            if not check_mode:
                call(
                    f"remove session host {name} from {args['host_pool']}",
                    settings,
                    lambda: client.session_hosts.delete(pool.resource_group, pool.name, name, force=args["force"]),
                )
            result: dict[str, Any] = {"changed": True, "session_host": None, "removed": name}
            if self._task.diff:
                result["diff"] = {"before": {"name": name, "sessions": sessions}, "after": {}}
            return result
        if host is None:
            raise AzureError(
                f"session host {args['name']!r} is not in host pool {args['host_pool']!r} "
                f"(resource group {args['resource_group']!r})"
            )
        before = session_host_dict(host)
        wanted = args["allow_new_session"]
        if wanted is None or wanted == host.allow_new_session:
            return {"changed": False, "session_host": before}
        name = host.name.split("/")[-1]
        after = {**before, "allow_new_session": wanted}
        if not check_mode:
            patch = models().SessionHostPatch(allow_new_session=wanted)
            updated = call(
                f"set allow_new_session={wanted} on {name}",
                settings,
                lambda: client.session_hosts.update(pool.resource_group, pool.name, name, session_host=patch),
            )
            after = session_host_dict(updated)
        result = {"changed": True, "session_host": after}
        if self._task.diff:
            result["diff"] = {
                "before": {"allow_new_session": before["allow_new_session"]},
                "after": {"allow_new_session": wanted},
            }
        return result
