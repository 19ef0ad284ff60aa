# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for avdops.sessionhost.diagnose (docs in plugins/modules)."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._facts import ARGUMENT_SPEC as FACTS_SPEC
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._facts import SubsetError, resolve_subsets
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._gather import gather
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._replay import ReplayError, facts_from_capture, load
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._rules import diagnose, pool_from_hostvars
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import RuntimeCallError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._validate import (
    InputError,
    pool_counts,
    validate_facts,
    validate_gather_options,
    validate_pool,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._verdicts import stopped_reason

ARGUMENT_SPEC: dict[str, Any] = {
    **FACTS_SPEC,
    "facts": {"type": "dict"},
    "raw": {"type": "raw"},
    "save_raw": {"type": "path"},
    "host_pool": {"type": "dict"},
    "return_capture": {"type": "bool", "default": False},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True  # reads only
        self._supports_async = False
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        given = args["host_pool"] is not None
        pool = args["host_pool"] if given else pool_from_hostvars(task_vars or {})
        facts = args["facts"]
        host = str((task_vars or {}).get("inventory_hostname") or "")
        if facts is not None and args["raw"] is not None:
            raise AnsibleActionFail("facts and raw are mutually exclusive: give the facts, or a capture to replay")
        if args["raw"] is not None:
            try:
                facts = facts_from_capture(load(args["raw"], host))
            except (ReplayError, SubsetError) as exc:
                raise AnsibleActionFail(f"raw: {exc}") from None
            except RuntimeCallError as exc:  # the capture of a refused call replays to its error, as live
                return {**result, "failed": True, "msg": f"could not gather facts: {exc}"}
        try:
            validate_pool(pool, variables=not given)
            if facts is not None:
                validate_facts(facts)
            else:
                validate_gather_options(args)
                resolve_subsets(args["gather_subset"])
        except (InputError, SubsetError) as exc:
            raise AnsibleActionFail(str(exc)) from None
        pool = pool_counts(pool)
        stopped = stopped_reason(pool)
        if facts is None and stopped:
            # The VM is off: nothing to connect to, and not a failure of the host.
            diagnosis = {"state": "stopped", "reason": stopped, "findings": [], "unchecked": [], "stale_events": []}
            return {**result, "changed": False, "diagnosis": {**diagnosis, "host_pool": pool}}
        document = None
        if facts is None:
            try:
                facts, document = gather(self, args, host=host, save_raw=args["save_raw"])
            except (RuntimeCallError, ReplayError) as exc:
                return {**result, "failed": True, "msg": f"could not gather facts: {exc}"}
        diagnosis = diagnose(facts, pool)
        diagnosis["host_pool"] = pool
        answer = {**result, "changed": False, "diagnosis": diagnosis, "ansible_facts": {"avd_session_host": facts}}
        if pool and pool.get("static_disagrees"):  # the live host pool was used; say what the static vars claim
            answer["warnings"] = [*answer.get("warnings", []), *pool["static_disagrees"]]
        if args["return_capture"] and document is not None:
            answer["capture"] = document  # the remediation modules read it instead of probing again
        return answer
