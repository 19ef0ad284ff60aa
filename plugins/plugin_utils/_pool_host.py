"""The collection's one host-in-pool lookup, and the users a host has (the pool's count or the host's own).

Every write path finds its host in the host pool's session host list through ``find_pool_host``: by the VM's
resource id when it is known (the host_pool inventory plugin's ``avd_resource_id``), by the VM id the host's
agent keeps (``AzureVmId``), else by name, case-insensitively, an FQDN or a computer name (host names are
case-insensitive in Windows, DNS and AVD). A host it cannot find is reported with why, and gets nothing
disruptive.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Lookup:
    entry: Mapping[str, Any] | None
    why: str

    def as_dict(self) -> dict[str, Any]:
        return {"found": self.entry is not None, "entry": dict(self.entry) if self.entry else None, "why": self.why}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# Every host variable find_pool_host reads (its ids, then host_names): a caller that passes a part of the host's
# variables (run_guard's action) passes these.
LOOKUP_HOST_VARS = (
    "avd_resource_id",
    "avd_vm_id",
    "avd_session_host",
    "avd_session_host_name",
    "inventory_hostname",
    "ansible_host",
)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_names(host_vars: Mapping[str, Any]) -> list[str]:
    """The names a host goes by: the pool's name for it, the inventory name, its ansible_host (not an address)."""
    names = [
        _text(host_vars.get("avd_session_host_name")),
        _text(host_vars.get("inventory_hostname")),
        _text(host_vars.get("ansible_host")),
    ]
    unique: list[str] = []
    for name in names:
        if name and not _is_address(name) and name.lower() not in [u.lower() for u in unique]:
            unique.append(name)
    return unique


def _entry_fqdn(entry: Mapping[str, Any]) -> str:
    return _text(entry.get("name")).rsplit("/", maxsplit=1)[-1].lower()


def names_match(entry_name: str, wanted: str) -> bool:
    """``SH-01``, ``sh-01`` and ``sh-01.contoso.local`` are ``hp/sh-01.contoso.local``; two FQDNs match whole."""
    have = entry_name.rsplit("/", maxsplit=1)[-1].lower()
    want = wanted.lower().rstrip(".")
    if "." in have and "." in want:
        return have == want
    return have.split(".", maxsplit=1)[0] == want.split(".", maxsplit=1)[0]


def _same_id(left: Any, right: Any) -> bool:
    return bool(_text(left)) and _text(left).lower() == _text(right).lower()


def find_pool_host(session_hosts: Sequence[Mapping[str, Any]], host_vars: Mapping[str, Any]) -> Lookup:
    """The pool's entry for the host (``host_pool_info``'s session_hosts), or None and why.

    ``host_vars`` are the host's variables: ``avd_resource_id`` and ``avd_vm_id`` (the inventory plugin's),
    ``avd_session_host`` (the diagnosis' facts: the agent's ``vm_id``), ``avd_session_host_name``,
    ``inventory_hostname`` and ``ansible_host``. An id that is known decides: a pool entry of the same name with
    another VM behind it is not this host.
    """
    hosts = [h for h in session_hosts if isinstance(h, Mapping)]
    facts = host_vars.get("avd_session_host")
    agent = facts.get("agent") if isinstance(facts, Mapping) else None
    ids = [
        ("resource_id", _text(host_vars.get("avd_resource_id")), "VM resource id"),
        ("virtual_machine_id", _text(host_vars.get("avd_vm_id")), "VM id"),
        ("virtual_machine_id", _text(agent.get("vm_id")) if isinstance(agent, Mapping) else "", "the agent's VM id"),
    ]
    for key, value, label in ids:
        if value:
            by_id = [h for h in hosts if _same_id(h.get(key), value)]
            if len(by_id) == 1:
                return Lookup(by_id[0], f"found by {label} {value}")
    names = host_names(host_vars)
    if not names:
        return Lookup(None, "the host has no name to look up")
    for name in names:
        matches = [h for h in hosts if names_match(_text(h.get("name")), name)]
        if len(matches) > 1:
            listed = ", ".join(sorted(_entry_fqdn(h) for h in matches))
            return Lookup(None, f"{name!r} matches several session hosts ({listed}); name the host by its FQDN")
        if matches:
            entry = matches[0]
            other = next(
                (
                    (label, value)
                    for key, value, label in ids
                    if value and _text(entry.get(key)) and not _same_id(entry.get(key), value)
                ),
                None,
            )
            if other is not None:
                return Lookup(
                    None,
                    f"the pool's {_entry_fqdn(entry)} is another VM (its {other[0]} is not {other[1]}); "
                    "a host of the same name was added to the pool",
                )
            return Lookup(entry, f"found by name {name!r}")
    looked = ", ".join(repr(n) for n in names)
    return Lookup(None, f"no session host of the pool is {looked} (by VM id or name, case-insensitive, FQDN or short)")


def host_users(facts: Any) -> int | None:
    """The users the host's own qwinsta lists (any state), from the diagnosis' facts; None when not read."""
    if not isinstance(facts, Mapping):
        return None
    stack = facts.get("stack")
    qwinsta = stack.get("qwinsta") if isinstance(stack, Mapping) else None
    by_state = qwinsta.get("sessions_by_state") if isinstance(qwinsta, Mapping) else None
    if isinstance(qwinsta, Mapping) and qwinsta.get("rows") and isinstance(by_state, Mapping):
        return sum(int(v) for v in by_state.values() if isinstance(v, int))
    errors = facts.get("errors")
    failed = any(
        isinstance(e, Mapping) and e.get("operation") == "stack.qwinsta"
        for e in (errors if isinstance(errors, list) else [])
    )
    sessions = facts.get("sessions")  # the sessions subset alone (no rows kept): its total, unless qwinsta failed
    if isinstance(sessions, Mapping) and isinstance(sessions.get("total"), int) and not failed:
        return int(sessions["total"])
    return None


def users_on_host(pool_entry: Mapping[str, Any] | None, facts: Any) -> int:
    """The larger of the pool's session count and the host's own: users on the host are users."""
    pool_count = pool_entry.get("sessions") if isinstance(pool_entry, Mapping) else None
    try:
        pooled = int(pool_count) if pool_count is not None else 0
    except (TypeError, ValueError):
        pooled = 0
    own = host_users(facts)
    return max(pooled, own or 0)
