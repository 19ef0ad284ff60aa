# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters: the diagnosis rules over facts you already have, and what remediation does about a diagnosis."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._pool_host import (
    find_pool_host,
    host_users,
    users_on_host,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._remediation import (
    RemediationInputError,
    check_ids,
    finding_ids,
    known_ids,
    plan_host,
    reinstall_blockers,
    rollout_stop,
    run_outcome,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._rules import diagnose, pool_address, pool_view
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._validate import (
    InputError,
    check_run_variables,
    pool_counts,
    run_variable_pattern,
    validate_facts,
    validate_pool,
)


def avd_diagnose(facts: Mapping[str, Any], host_pool: Mapping[str, Any] | None = None) -> dict[str, Any]:
    try:
        validate_facts(facts)
        validate_pool(host_pool)
    except InputError as exc:
        raise AnsibleFilterError(f"avd_diagnose: {exc}") from None
    diagnosis: dict[str, Any] = diagnose(facts, pool_counts(host_pool))
    return diagnosis


def avd_remediation_plan(
    result: Mapping[str, Any] | None, only: Any = None, skip: Any = None, remove_local_policy: bool = False
) -> dict[str, Any]:
    """The roles that fix a host's root causes, from its registered diagnose result."""
    only_ids, skip_ids = finding_ids(only), finding_ids(skip)
    try:
        check_ids(only_ids, known_ids(), "avd_only")
        check_ids(skip_ids, known_ids(), "avd_skip")
    except RemediationInputError as exc:
        raise AnsibleFilterError(str(exc)) from exc
    diagnosis = (result or {}).get("diagnosis") if isinstance(result, Mapping) else None
    plan: dict[str, Any] = plan_host(
        diagnosis if isinstance(diagnosis, Mapping) else None, only_ids, skip_ids, bool(remove_local_policy)
    )
    return plan


def avd_reinstall_blockers(result: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """The root-cause findings of a registered diagnose result that a reinstall cannot fix, with who must act."""
    diagnosis = (result or {}).get("diagnosis") if isinstance(result, Mapping) else None
    blockers: list[dict[str, str]] = reinstall_blockers(diagnosis if isinstance(diagnosis, Mapping) else None)
    return blockers


def avd_rollout_stop(
    runs: Mapping[str, Any], current_batch: Any, max_fail_percentage: Any = 100, whole_batch: Any = False
) -> str:
    """Why a rolling remediation stops before ``current_batch`` ('' when it goes on)."""
    if not isinstance(runs, Mapping) or not isinstance(current_batch, list):
        raise AnsibleFilterError("avd_rollout_stop: expects a mapping of host runs and the current batch (a list)")
    try:
        percentage = int(max_fail_percentage)
    except (TypeError, ValueError):
        raise AnsibleFilterError(
            "avd_rollout_stop: avd_max_fail_percentage must be a whole number from 0 to 100; "
            f"got {max_fail_percentage!r}"
        ) from None
    try:
        reason: str = rollout_stop(runs, [str(host) for host in current_batch], percentage, bool(whole_batch))
    except RemediationInputError as exc:
        raise AnsibleFilterError(f"avd_rollout_stop: {exc}") from None
    return reason


def avd_remediation_outcome(after: Any, before: Any, plan: Any, run: Any, check_mode: Any = False) -> dict[str, str]:
    """``{outcome, why}``: a host's outcome once its fix is done, for the rollout gate of the next batch."""
    given = {"after": after, "before": before, "plan": plan, "run": run}
    wrong = [name for name, value in given.items() if value is not None and not isinstance(value, Mapping)]
    if wrong:
        raise AnsibleFilterError(
            "avd_remediation_outcome: expects the host's registered diagnose results (after, before), its plan and "
            f"its run, each a mapping; {', '.join(wrong)} is not"
        )
    outcome: dict[str, str] = run_outcome(before, after, plan, run, bool(check_mode))
    return outcome


def avd_pool_view(read: Any, host_vars: Any) -> dict[str, Any] | None:
    """The host pool's view of the host (diagnose's host_pool) from host_pool_info's answer read now."""
    if (
        not isinstance(read, Mapping)
        or not isinstance(read.get("host_pool"), Mapping)
        or not isinstance(read.get("session_hosts"), list)
    ):
        raise AnsibleFilterError(
            "avd_pool_view: expects the registered result of avdops.sessionhost.host_pool_info (its host_pool and "
            f"session_hosts); got {read!r:.200}"
        )
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    view: dict[str, Any] | None = pool_view(read, _host_vars(host_vars, "avd_pool_view"), now)
    return view


def _pool_hosts(session_hosts: Any, name: str) -> list[Mapping[str, Any]]:
    if session_hosts is None:
        return []
    if not isinstance(session_hosts, list):
        raise AnsibleFilterError(f"{name}: expects the session_hosts list of host_pool_info; got {session_hosts!r}")
    return session_hosts


def _host_vars(host_vars: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(host_vars, Mapping):
        raise AnsibleFilterError(f"{name}: expects the host's variables (hostvars[inventory_hostname]) as its argument")
    return host_vars


def avd_pool_host_lookup(session_hosts: Any, host_vars: Any) -> dict[str, Any]:
    """``{found, entry, why}``: the host's entry among the pool's session hosts (the collection's one lookup)."""
    lookup = find_pool_host(
        _pool_hosts(session_hosts, "avd_pool_host_lookup"), _host_vars(host_vars, "avd_pool_host_lookup")
    )
    found: dict[str, Any] = lookup.as_dict()
    return found


def avd_pool_host(session_hosts: Any, host_vars: Any) -> dict[str, Any] | None:
    """The host's entry among the pool's session hosts, or None (the collection's one lookup)."""
    lookup = find_pool_host(_pool_hosts(session_hosts, "avd_pool_host"), _host_vars(host_vars, "avd_pool_host"))
    return dict(lookup.entry) if lookup.entry is not None else None


def avd_pool_address(host_vars: Any) -> dict[str, Any]:
    """``{host_pool, resource_group, subscription_id, live, static_disagrees}``: the pool a write goes to, the
    host_pool inventory's live data over static variables (the diagnosis' own resolution)."""
    address: dict[str, Any] = pool_address(_host_vars(host_vars, "avd_pool_address"))
    return address


def avd_users(pool_entry: Any, facts: Any = None) -> int:
    """The users on the host: the larger of the pool's session count and the host's own qwinsta."""
    count: int = users_on_host(pool_entry if isinstance(pool_entry, Mapping) else None, facts)
    return count


def avd_host_users(facts: Any, fallback: Any = None) -> int | None:
    """The users the host's own qwinsta lists (from the diagnosis' facts), or ``fallback`` when it was not read."""
    count: int | None = host_users(facts)
    if count is None and fallback is not None:
        try:
            return int(fallback)
        except (TypeError, ValueError):
            raise AnsibleFilterError(f"avd_host_users: the fallback must be a number; got {fallback!r}") from None
    return count


def avd_check_variables(variables: Mapping[str, Any], playbook: str) -> list[str]:
    """What is wrong with the variables a playbook of this collection reads (an empty list when nothing is)."""
    if not isinstance(variables, Mapping):
        raise AnsibleFilterError("avd_check_variables: expects a mapping of variable names to their values")
    try:
        problems: list[str] = check_run_variables(str(playbook), variables)
    except InputError as exc:
        raise AnsibleFilterError(f"avd_check_variables: {exc}") from None
    return problems


def avd_variable_pattern(playbook: str) -> str:
    """The names of the variables a playbook of this collection reads, as a regular expression."""
    try:
        pattern: str = run_variable_pattern(str(playbook))
    except InputError as exc:
        raise AnsibleFilterError(f"avd_variable_pattern: {exc}") from None
    return pattern


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "avd_check_variables": avd_check_variables,
            "avd_diagnose": avd_diagnose,
            "avd_reinstall_blockers": avd_reinstall_blockers,
            "avd_remediation_plan": avd_remediation_plan,
            "avd_rollout_stop": avd_rollout_stop,
            "avd_remediation_outcome": avd_remediation_outcome,
            "avd_pool_view": avd_pool_view,
            "avd_pool_host": avd_pool_host,
            "avd_pool_address": avd_pool_address,
            "avd_pool_host_lookup": avd_pool_host_lookup,
            "avd_users": avd_users,
            "avd_host_users": avd_host_users,
            "avd_variable_pattern": avd_variable_pattern,
        }
