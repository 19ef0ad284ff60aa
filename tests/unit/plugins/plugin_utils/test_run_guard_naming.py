"""run_guard with no ``name``: the task's host named as its pool does (the collection's one lookup over the pool's
session hosts), or by its inventory name when the pool does not list it; and the warning where the lock undid an
interrupted run's drain. Through the playbooks: test_interrupted_and_concurrent_runs.py (the journal holds the pool's
FQDN of a host the inventory names short; the warning names the host and the run)."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.action import run_guard
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._azure import AzureError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._host_pool import PoolRef
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._pool_host import LOOKUP_HOST_VARS, find_pool_host

POOL = PoolRef("rg-avd", "hp-01")
LISTED = [
    {"name": "sh-01.contoso.local", "virtual_machine_id": "vm-1", "resource_id": "/vm/sh-01"},
    {"name": "sh-02.contoso.local", "virtual_machine_id": "vm-2", "resource_id": "/vm/sh-02"},
]


def action(host_vars: dict[str, Any]) -> Any:
    module = run_guard.ActionModule.__new__(run_guard.ActionModule)
    module._host_vars = host_vars
    return module


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> list[PoolRef]:
    asked: list[PoolRef] = []

    def listing(client: Any, settings: Any, ref: PoolRef) -> list[dict[str, Any]]:
        asked.append(ref)
        return LISTED

    monkeypatch.setattr(run_guard, "list_session_host_dicts", listing)
    return asked


@pytest.mark.parametrize(
    ("host_vars", "named"),
    [
        ({"inventory_hostname": "desk-a", "avd_vm_id": "VM-2"}, "sh-02.contoso.local"),  # the VM id decides
        ({"inventory_hostname": "SH-01"}, "sh-01.contoso.local"),  # short, another case
        ({"inventory_hostname": "10.1.0.4", "ansible_host": "sh-02"}, "sh-02.contoso.local"),  # not an address
        ({"inventory_hostname": "sh-09"}, "sh-09"),  # not listed: its inventory name
    ],
)
def test_the_lock_names_the_host_as_its_pool_does(pool: list[PoolRef], host_vars: dict[str, Any], named: str) -> None:
    assert action(host_vars)._pool_name(None, None, POOL) == named
    assert pool == [POOL]  # one read of the session hosts


def test_the_lookup_is_given_every_host_variable_it_reads() -> None:
    """run_guard passes LOOKUP_HOST_VARS of the host's variables: find_pool_host must read no other."""
    read: set[str] = set()

    class Recording(dict):  # type: ignore[type-arg]
        def get(self, key: str, default: Any = None) -> Any:
            read.add(key)
            return super().get(key, default)

    for host_vars in (
        {"inventory_hostname": "sh-01", "avd_vm_id": "vm-9", "ansible_host": "sh-01.contoso.local"},
        {"avd_resource_id": "/vm/none", "avd_session_host": {"agent": {"vm_id": "vm-8"}}, "avd_session_host_name": "x"},
    ):
        find_pool_host(LISTED, Recording(host_vars))
    assert read and read <= set(LOOKUP_HOST_VARS), read - set(LOOKUP_HOST_VARS)


def test_a_host_the_pool_lists_under_its_name_with_another_vm_is_not_this_host(pool: list[PoolRef]) -> None:
    assert action({"inventory_hostname": "sh-01", "avd_vm_id": "vm-7"})._pool_name(None, None, POOL) == "sh-01"


def test_no_name_to_go_by_is_said_in_words(pool: list[PoolRef]) -> None:
    with pytest.raises(AzureError, match="no name: set name"):
        action({})._pool_name(None, None, POOL)


def test_the_host_is_read_from_hostvars_of_the_tasks_own_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under delegate_to: localhost the task's variables are still its host's; hostvars gives them templated."""
    monkeypatch.setattr(run_guard.AzureAction, "run", lambda self, tmp=None, task_vars=None: {"ok": True})
    module = run_guard.ActionModule.__new__(run_guard.ActionModule)
    own = {"inventory_hostname": "sh-01", "avd_vm_id": "vm-1", "ansible_host": "10.1.0.4", "other": "not read"}
    task_vars = {"inventory_hostname": "sh-01", "hostvars": {"sh-01": own, "localhost": {"avd_vm_id": "no"}}}
    assert module.run(task_vars=task_vars) == {"ok": True}
    assert module._host_vars == {"inventory_hostname": "sh-01", "avd_vm_id": "vm-1", "ansible_host": "10.1.0.4"}


@pytest.mark.parametrize(("check_mode", "verb"), [(False, "let"), (True, "would let")])
def test_an_undone_drain_is_a_warning_naming_the_host_and_the_run(check_mode: bool, verb: str) -> None:
    said = action({"inventory_hostname": "sh-01"})._undone_warning({"run": "ctl:42:99", "restored": True}, check_mode)
    assert said == {
        "warnings": [f"sh-01: {verb} new sessions in again: drained by run ctl:42:99, which was interrupted"]
    }


@pytest.mark.parametrize("undone", [None, {"run": "ctl:42:99", "restored": False}])
def test_no_warning_where_nothing_was_let_in(undone: dict[str, Any] | None) -> None:
    assert action({"inventory_hostname": "sh-01"})._undone_warning(undone, False) == {}


def test_the_name_is_still_checked_before_any_call_when_given() -> None:
    module = action({})
    with pytest.raises(AzureError):
        module.check_arguments({"lock_minutes": 240, "name": "sh-01$<script>"})
    module.check_arguments({"lock_minutes": 240, "name": None})  # named later, from the pool
