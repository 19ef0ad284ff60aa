# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.image_check (docs in plugins/modules)."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._facts import SubsetError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._gather import gather_facts
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._image import (
    AGENT_MODES,
    options_from_args,
    subsets_for,
    validate,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import RuntimeCallError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._validate import InputError, validate_facts

ARGUMENT_SPEC: dict[str, Any] = {
    "agent": {"type": "str", "default": "any", "choices": list(AGENT_MODES)},
    "check_urls": {"type": "bool", "default": False},
    "urls": {"type": "list", "elements": "str", "default": []},
    "disk_min_free_mb": {"type": "int", "default": 300},
    "disk_min_free_percent": {"type": "float", "default": 5.0},
    "probe_timeout": {"type": "int", "default": 10},
    "facts": {"type": "dict"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True  # reads only
        self._supports_async = False
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            options = options_from_args(args)
        except ValueError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        if args["probe_timeout"] < 1:
            raise AnsibleActionFail(f"probe_timeout must be at least 1, got {args['probe_timeout']}")
        facts = args["facts"]
        if facts is None:
            gather = {
                "gather_subset": subsets_for(options),
                "events_max_age": 1,
                "events_max_count": 1,
                "probe_timeout": args["probe_timeout"],
                "probe_urls": list(options.urls) if options.check_urls else [],
            }
            try:
                facts = gather_facts(self, gather)
            except (RuntimeCallError, SubsetError) as exc:
                return {**result, "failed": True, "msg": f"could not gather facts: {exc}"}
        else:
            try:
                validate_facts(facts)
            except InputError as exc:
                raise AnsibleActionFail(str(exc)) from None
        validation = validate(facts, options)
        return {**result, "changed": False, "validation": validation, "ansible_facts": {"avd_session_host": facts}}
