# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.registration_token (docs in plugins/modules)."""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

from ansible.utils.display import Display

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._azure_action import AzureAction
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._host_pool import (
    PoolRef,
    ensure_token,
    expiry_diff,
    key_lock,
    key_lock_path,
    revoke_token,
    validate_token_hours,
)


class ActionModule(AzureAction):
    OPTIONS: ClassVar[dict[str, Any]] = {
        "host_pool": {"type": "str", "required": True},
        "resource_group": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "expiration_hours": {"type": "int", "default": 24},
        "min_valid_hours": {"type": "int", "default": 2},
    }

    def check_arguments(self, args: dict[str, Any]) -> None:
        if args["state"] == "present":
            validate_token_hours(args["expiration_hours"], args["min_valid_hours"])

    def work(self, args: dict[str, Any], settings: Any, client: Any) -> dict[str, Any]:
        pool = PoolRef(args["resource_group"], args["host_pool"])
        check_mode = bool(self._task.check_mode)
        if args["state"] == "absent":
            answer = revoke_token(client, settings, pool, check_mode=check_mode)
        else:
            # One task at a time per pool on this controller: a key is read, and generated only when none is valid.
            with key_lock(key_lock_path(settings.subscription_id, pool), pool):
                answer = ensure_token(
                    client,
                    settings,
                    pool,
                    expiration_hours=args["expiration_hours"],
                    min_valid_hours=args["min_valid_hours"],
                    check_mode=check_mode,
                    now=datetime.datetime.now(datetime.UTC),
                )
        diff = answer.pop("diff")
        result = {**answer, "host_pool": args["host_pool"]}
        if self._task.diff:
            result["diff"] = diff  # expiry only: the token never appears in a diff
            if answer["changed"]:
                # The result is hidden (it holds the token), and Ansible hides a hidden result's diff with it:
                # show the expiry's before and after here.
                Display().display(expiry_diff(args["host_pool"], diff))
        # The token is a secret: Ansible hides this result from output and logs; the registered variable keeps it.
        result["_ansible_no_log"] = True
        return result
