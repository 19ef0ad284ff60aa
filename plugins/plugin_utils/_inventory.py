"""What the host_pool inventory plugin makes of a host pool: hosts, their avd_* variables, their groups."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

POOL_KEYS = ("name", "resource_group")
OPTIONAL_POOL_KEYS = ("subscription_id",)


class InventoryConfigError(ValueError):
    """The inventory file's options are not what the plugin reads."""


@dataclass(frozen=True)
class PoolEntry:
    resource_group: str
    name: str
    subscription_id: str | None = None  # None: the credentials' subscription


def pool_entries(value: Any) -> list[PoolEntry]:
    """``host_pools`` as entries; refuses anything else, naming the entry and key."""
    example = "host_pools: [{name: hp-finance, resource_group: rg-avd-prod}]"
    if not isinstance(value, list) or not value:
        raise InventoryConfigError(f"host_pools must be a list of host pools, e.g. {example}; got {value!r}")
    entries = []
    for index, entry in enumerate(value):
        where = f"host_pools[{index}]"
        if not isinstance(entry, Mapping):
            raise InventoryConfigError(
                f"{where} must be a mapping with name and resource_group, e.g. {example}; got {entry!r}"
            )
        unknown = sorted(set(entry) - set(POOL_KEYS) - set(OPTIONAL_POOL_KEYS))
        if unknown:
            raise InventoryConfigError(
                f"{where} has unknown key(s) {', '.join(map(str, unknown))}; it takes name, resource_group and "
                f"subscription_id"
            )
        for key in POOL_KEYS:
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise InventoryConfigError(f"{where} needs {key} (a non-empty string); got {entry.get(key)!r}")
        subscription = entry.get("subscription_id")
        if subscription is not None and (not isinstance(subscription, str) or not subscription.strip()):
            raise InventoryConfigError(
                f"{where}.subscription_id must be a subscription id (a non-empty string); got {subscription!r}"
            )
        entries.append(PoolEntry(entry["resource_group"], entry["name"], subscription))
    return entries


def group_name(*parts: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", "_".join(parts).lower())


def pool_host_variables(pool: Mapping[str, Any], host: Mapping[str, Any]) -> dict[str, Any]:
    """The ``avd_*`` variables of one session host from a read of its pool: what the host_pool inventory sets,
    and what remediate.yml's view of the pool after a host's fix is built from (``_rules.pool_view``).

    ``pool`` is ``{host_pool, session_hosts, resource_group, subscription_id, read_at}`` (``host_pool`` and
    ``session_hosts`` as host_pool_info returns them); ``host`` is one of its ``session_hosts``.
    """
    info = pool["host_pool"]
    variables: dict[str, Any] = {
        "avd_host_pool": info["name"],
        "avd_host_pool_id": info["id"],
        "avd_max_session_limit": info["max_session_limit"],
        "avd_registration_expiration_time": info["registration_expiration_time"],
        "avd_registration_key_checked": info.get("registration_key_checked", False),
        "avd_registration_key_error": info.get("registration_key_error"),
        "avd_session_host_name": host["name"],
        "avd_status": host["status"],
        "avd_sessions": host["sessions"],
        "avd_allow_new_session": host["allow_new_session"],
        "avd_agent_version": host["agent_version"],
        "avd_sxs_stack_version": host["sxs_stack_version"],
        "avd_update_state": host["update_state"],
        "avd_update_error_message": host["update_error_message"],
        "avd_last_heartbeat": host["last_heartbeat"],
        "avd_health_checks": host["health_checks"],
        "avd_vm_id": host["virtual_machine_id"],
        "avd_resource_id": host["resource_id"],
        "avd_assigned_user": host["assigned_user"],
        "avd_in_pool": True,
    }
    if host.get("power_state"):  # the VM's instance view (PowerState/running, PowerState/deallocated...)
        variables["avd_power_state"] = host["power_state"]
    if host.get("power_state_error"):
        variables["avd_power_state_error"] = host["power_state_error"]
    # where the host pool is (the write roles and playbooks address it with these); a cache written
    # before they were recorded has neither
    for key in ("resource_group", "subscription_id"):
        if pool.get(key):
            variables[f"avd_{key}"] = pool[key]
    if pool.get("read_at"):  # when Azure was asked: a cached inventory's heartbeats are that old
        variables["avd_pool_read_at"] = pool["read_at"]
    return variables


def host_records(
    pools: list[dict[str, Any]], hostname_source: str, ansible_host_source: str
) -> Iterator[dict[str, Any]]:
    for pool in pools:
        info = pool["host_pool"]
        for host in pool["session_hosts"]:
            name = host["short_name"] if hostname_source == "short" else host["name"]
            variables = pool_host_variables(pool, host)
            if ansible_host_source == "fqdn":
                variables["ansible_host"] = host["name"]
            elif ansible_host_source == "short":
                variables["ansible_host"] = host["short_name"]
            groups = [group_name("avd_host_pool", info["name"])]
            if host["status"]:
                groups.append(group_name("avd_status", host["status"]))
            if host["allow_new_session"] is False:
                groups.append("avd_drained")
            yield {"inventory_hostname": name, "vars": variables, "groups": groups}
