# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.session_host_facts (docs in plugins/modules)."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._facts import ARGUMENT_SPEC, SubsetError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._gather import gather_facts
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._replay import ReplayError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import RuntimeCallError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._validate import InputError, validate_gather_options

ARGUMENT_SPEC_WITH_SAVE: dict[str, Any] = {**ARGUMENT_SPEC, "save_raw": {"type": "path"}}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True  # it only reads
        self._supports_async = False
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC_WITH_SAVE)
        try:
            validate_gather_options(args)
        except InputError as exc:
            raise AnsibleActionFail(str(exc)) from None
        host = str((task_vars or {}).get("inventory_hostname") or self._task.get_name())
        try:
            facts = gather_facts(self, args, host=host, save_raw=args["save_raw"])
        except (RuntimeCallError, SubsetError, ReplayError) as exc:
            return {**result, "failed": True, "msg": str(exc)}
        return {**result, "changed": False, "ansible_facts": {"avd_session_host": facts}}
