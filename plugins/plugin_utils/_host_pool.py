"""Host pool operations over the Azure client: registration tokens, session hosts, user sessions.

Functions take the SDK client and return plain data; decisions (reuse or
rotate a token, refuse to remove a host with sessions) are small pure
helpers so they are tested without Azure.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ._azure import (
    MAX_EXPIRATION_HOURS,
    MIN_EXPIRATION_HOURS,
    AzureError,
    AzureSettings,
    PartialChange,
    call,
    fqdn,
    get_json,
    iso,
    models,
    send_json,
    session_host_dict,
)
from ._pool_host import names_match

# registrationInfo.registrationTokenOperation values (not secrets)
TOKEN_UPDATE, TOKEN_DELETE = "Update", "Delete"


@dataclass(frozen=True)
class PoolRef:
    resource_group: str
    name: str

    def what(self, action: str) -> str:
        return f"{action} host pool {self.name!r} in resource group {self.resource_group!r}"


# --- registration tokens -------------------------------------------------------------
def validate_token_hours(expiration_hours: int, min_valid_hours: int) -> None:
    if not MIN_EXPIRATION_HOURS <= expiration_hours <= MAX_EXPIRATION_HOURS:
        raise AzureError(
            f"expiration_hours must be from {MIN_EXPIRATION_HOURS} to {MAX_EXPIRATION_HOURS} (1 hour to 27 days), "
            f"got {expiration_hours}"
        )
    if not 0 <= min_valid_hours <= expiration_hours:
        raise AzureError(
            f"min_valid_hours must be from 0 to expiration_hours ({expiration_hours}), got {min_valid_hours}"
        )


def registration_key(client: Any, settings: AzureSettings, pool: PoolRef) -> dict[str, Any]:
    """What Azure says about the pool's registration key, from ``listRegistrationTokens`` (never the token).

    ``checked`` is false, with the reason in ``error``, when Azure could not be asked (a Reader role lacks
    the action, a network error...): then nobody knows whether the pool has a key.
    """
    try:
        listing = call(
            pool.what("list the registration tokens of"),
            settings,
            lambda: client.host_pools.list_registration_tokens(pool.resource_group, pool.name),
        )
    except AzureError as exc:
        return {"checked": False, "expiration_time": None, "error": str(exc)}
    expiries = [entry.expiration_time for entry in listing.value or [] if entry.expiration_time]
    return {"checked": True, "expiration_time": iso(max(expiries)) if expiries else None, "error": None}


def token_reusable(
    expires: datetime.datetime | None, token: str | None, now: datetime.datetime, min_valid_hours: int
) -> bool:
    return bool(token) and expires is not None and expires - now >= datetime.timedelta(hours=min_valid_hours)


def current_token(client: Any, settings: AzureSettings, pool: PoolRef) -> tuple[str | None, datetime.datetime | None]:
    info = call(
        pool.what("retrieve the registration token of"),
        settings,
        lambda: client.host_pools.retrieve_registration_token(pool.resource_group, pool.name),
    )
    return info.token, info.expiration_time


KEY_LOCK_SECONDS = 300  # how long a task waits for another task of this controller to get or generate the key


def key_lock_path(subscription_id: str, pool: PoolRef, directory: str | None = None) -> str:
    """The controller's lock file for one host pool's registration key (per user: the temp directory is shared)."""
    which = f"{subscription_id}/{pool.resource_group}/{pool.name}".lower().encode()
    name = f"avdops-registration-key-{os.getuid()}-{hashlib.sha256(which).hexdigest()[:16]}.lock"
    return os.path.join(directory or tempfile.gettempdir(), name)


@contextlib.contextmanager
def key_lock(path: str, pool: PoolRef, seconds: float = KEY_LOCK_SECONDS) -> Iterator[None]:
    """Hold the pool's key lock: a pool has one registration key, and generating one invalidates the one before, so
    two tasks of a run (hosts in parallel, the free strategy) that both found no key valid long enough would each
    generate one, and the first host would register with a key the pool no longer accepts. Under the lock the second
    finds the first's key and reuses it. Waits for the lock up to ``seconds``, polling."""
    deadline = time.monotonic() + seconds
    with open(path, "a", encoding="utf-8") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise AzureError(
                        f"another task on this controller has been getting a registration key of host pool "
                        f"{pool.name!r} for {seconds:.0f} s (lock {path}): try again when it is done"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_token(
    client: Any,
    settings: AzureSettings,
    pool: PoolRef,
    *,
    expiration_hours: int,
    min_valid_hours: int,
    check_mode: bool,
    now: datetime.datetime,
) -> dict[str, Any]:
    """A token valid for at least ``min_valid_hours``: the current one when it is, else a new one."""
    validate_token_hours(expiration_hours, min_valid_hours)
    token, expires = current_token(client, settings, pool)
    before = {"expiration_time": iso(expires), "token_set": bool(token)}
    if token_reusable(expires, token, now, min_valid_hours):
        return {
            "changed": False,
            "token": token,
            "expiration_time": iso(expires),
            "reused": True,
            "diff": {"before": before, "after": before},
        }
    new_expiry = now + datetime.timedelta(hours=expiration_hours)
    after = {"expiration_time": iso(new_expiry), "token_set": True}
    if check_mode:
        return {
            "changed": True,
            "token": None,
            "expiration_time": iso(new_expiry),
            "reused": False,
            "diff": {"before": before, "after": after},
        }
    sdk = models()
    request = sdk.RegistrationInfoPatch(expiration_time=new_expiry, registration_token_operation=TOKEN_UPDATE)
    patch = sdk.HostPoolPatch(registration_info=request)
    updated = call(
        pool.what("generate a registration token for"),
        settings,
        lambda: client.host_pools.update(pool.resource_group, pool.name, patch),
    )
    info = updated.registration_info
    token = getattr(info, "token", None)
    expiry = iso(getattr(info, "expiration_time", None)) or iso(new_expiry)
    if not token:  # some API versions leave the token out of the update's answer
        try:
            token, _expiry = current_token(client, settings, pool)
        except AzureError as exc:
            raise PartialChange(
                f"generated a new registration token for host pool {pool.name!r} (expires {expiry}) but could not "
                f"read it back: {exc}",
                {"expiration_time": expiry, "reused": False},
            ) from None
    return {
        "changed": True,
        "token": token,
        "expiration_time": expiry,
        "reused": False,
        "diff": {"before": before, "after": {"expiration_time": expiry, "token_set": True}},
    }


def revoke_token(client: Any, settings: AzureSettings, pool: PoolRef, *, check_mode: bool) -> dict[str, Any]:
    token, expires = current_token(client, settings, pool)
    before = {"expiration_time": iso(expires), "token_set": bool(token)}
    after = {"expiration_time": None, "token_set": False}
    if not token:
        return {"changed": False, "diff": {"before": before, "after": before}}
    if not check_mode:
        sdk = models()
        patch = sdk.HostPoolPatch(
            registration_info=sdk.RegistrationInfoPatch(registration_token_operation=TOKEN_DELETE)
        )
        call(
            pool.what("revoke the registration token of"),
            settings,
            lambda: client.host_pools.update(pool.resource_group, pool.name, patch),
        )
    return {"changed": True, "diff": {"before": before, "after": after}}


def expiry_diff(pool_name: str, diff: dict[str, Any]) -> str:
    """The registration key's before/after as a unified diff: its expiry and whether it is set, never the key."""

    def lines(side: dict[str, Any]) -> list[str]:
        return [
            f"expiration_time: {side.get('expiration_time')}\n",
            f"token_set: {str(bool(side.get('token_set'))).lower()}\n",
        ]

    label = f"registration key of host pool {pool_name}"
    return "".join(
        difflib.unified_diff(lines(diff["before"]), lines(diff["after"]), f"before: {label}", f"after: {label}")
    )


# --- session hosts -----------------------------------------------------------------------
def match_session_host(names: list[str], wanted: str) -> str | None:
    """The FQDN among ``names`` that is ``wanted`` (an FQDN or a computer name, any case); error when ambiguous."""
    matches = [n for n in names if names_match(n, wanted)]
    if len(matches) > 1:
        raise AzureError(f"session host {wanted!r} is ambiguous: {', '.join(fqdn(n) for n in matches)}; give the FQDN")
    return fqdn(matches[0]) if matches else None


def get_pool(client: Any, settings: AzureSettings, pool: PoolRef) -> Any:
    return call(pool.what("read"), settings, lambda: client.host_pools.get(pool.resource_group, pool.name))


def list_session_hosts(client: Any, settings: AzureSettings, pool: PoolRef) -> list[Any]:
    return call(
        pool.what("list the session hosts of"),
        settings,
        lambda: list(client.session_hosts.list(pool.resource_group, pool.name)),
    )


def list_session_host_dicts(client: Any, settings: AzureSettings, pool: PoolRef) -> list[dict[str, Any]]:
    """The pool's session hosts as host_pool_info returns them (the shape the collection's one lookup reads)."""
    return [session_host_dict(h) for h in list_session_hosts(client, settings, pool)]


# Microsoft.Compute's api-version for virtualMachines/instanceView (the session host names the VM by resourceId).
COMPUTE_API_VERSION = "2024-07-01"


def power_state_of(instance_view: Any) -> str | None:
    """``PowerState/running``, ``PowerState/deallocated``... from a VM instance view's statuses (None if absent)."""
    statuses = instance_view.get("statuses") if isinstance(instance_view, dict) else None
    for status in statuses if isinstance(statuses, list) else []:
        code = status.get("code") if isinstance(status, dict) else None
        if isinstance(code, str) and code.startswith("PowerState/"):
            return code
    return None


def vm_power_state(client: Any, settings: AzureSettings, resource_id: str) -> str | None:
    """The VM's power state from its instance view (GET {resourceId}/instanceView), as the Azure SDK reads it."""
    view = get_json(
        client,
        settings,
        f"read the power state of VM {resource_id}",
        f"{resource_id}/instanceView",
        COMPUTE_API_VERSION,
    )
    return power_state_of(view)


def find_session_host(client: Any, settings: AzureSettings, pool: PoolRef, wanted: str) -> Any | None:
    hosts = list_session_hosts(client, settings, pool)
    name = match_session_host([h.name for h in hosts], wanted)
    return next((h for h in hosts if fqdn(h.name) == name), None) if name else None


def removal_refusal(sessions: int, force: bool) -> str | None:
    if sessions and not force:
        return (
            f"the session host has {sessions} user session(s); drain it (allow_new_session: false), sign the "
            "users out or wait for them, or set force: true to remove it anyway"
        )
    return None


def list_user_sessions(client: Any, settings: AzureSettings, pool: PoolRef, host: str) -> list[dict[str, Any]]:
    sessions = call(
        f"list the user sessions of {host}",
        settings,
        lambda: list(client.user_sessions.list(pool.resource_group, pool.name, host)),
    )
    return [
        {
            "id": s.name.split("/")[-1],
            "user_principal_name": s.user_principal_name,
            "active_directory_user_name": s.active_directory_user_name,
            "state": s.session_state,
            "application_type": s.application_type,
            "create_time": iso(s.create_time),
        }
        for s in sessions
    ]


# --- tags at the host pool's scope (Microsoft.Resources Tags - Get / Update At Scope) --------------------------
TAGS_API_VERSION = "2021-04-01"


def pool_id(settings: AzureSettings, pool: PoolRef) -> str:
    return (
        f"/subscriptions/{settings.subscription_id}/resourceGroups/{pool.resource_group}/providers/"
        f"Microsoft.DesktopVirtualization/hostPools/{pool.name}"
    )


def read_tags(client: Any, settings: AzureSettings, pool: PoolRef) -> dict[str, str]:
    answer = send_json(
        client,
        settings,
        pool.what("read the tags of"),
        "GET",
        f"{pool_id(settings, pool)}/providers/Microsoft.Resources/tags/default",
        TAGS_API_VERSION,
    )
    tags = ((answer or {}).get("properties") or {}).get("tags") or {}
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}


def update_tags(client: Any, settings: AzureSettings, pool: PoolRef, operation: str, tags: dict[str, str]) -> None:
    """Merge or Delete tags of the host pool (one request: other tags, other runs' markers included, stay)."""
    send_json(
        client,
        settings,
        pool.what(f"{operation.lower()} tags {', '.join(tags)} on")
        + " (the identity needs Microsoft.Resources/tags/write on it, e.g. the Tag Contributor role)",
        "PATCH",
        f"{pool_id(settings, pool)}/providers/Microsoft.Resources/tags/default",
        TAGS_API_VERSION,
        {"operation": operation, "properties": {"tags": tags}},
    )
