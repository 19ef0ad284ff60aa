"""The collection's one host-in-pool lookup, and the users a host has."""

from __future__ import annotations

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _pool_host as ph

RID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/sh-01"
POOL = [
    {"name": "sh-01.contoso.local", "resource_id": RID, "virtual_machine_id": "vm-1", "sessions": 1},
    {"name": "sh-02.contoso.local", "resource_id": RID.replace("sh-01", "sh-02"), "virtual_machine_id": "vm-2"},
    {"name": "sh-10.contoso.local", "resource_id": None, "virtual_machine_id": None},
]


@pytest.mark.parametrize(
    "name", ["SH-01", "sh-01", "sh-01.contoso.local", "SH-01.CONTOSO.LOCAL", "sh-01.contoso.local."]
)
def test_names_in_any_case_fqdn_or_short(name):
    found = ph.find_pool_host(POOL, {"inventory_hostname": name})
    assert found.entry is POOL[0] and "by name" in found.why


def test_another_domain_is_another_host():
    found = ph.find_pool_host(POOL, {"inventory_hostname": "sh-01.fabrikam.local"})
    assert found.entry is None and "'sh-01.fabrikam.local'" in found.why


def test_prefix_is_not_a_match():
    assert ph.find_pool_host(POOL, {"inventory_hostname": "sh-1"}).entry is None
    assert ph.find_pool_host(POOL, {"inventory_hostname": "sh-100"}).entry is None


def test_resource_id_decides_for_an_alias():
    found = ph.find_pool_host(POOL, {"inventory_hostname": "desk-a", "avd_resource_id": RID.upper()})
    assert found.entry is POOL[0] and "resource id" in found.why


def test_agent_vm_id_from_the_facts_finds_an_alias():
    facts = {"agent": {"vm_id": "VM-2"}}
    found = ph.find_pool_host(POOL, {"inventory_hostname": "desk-b", "avd_session_host": facts})
    assert found.entry is POOL[1] and "agent's VM id" in found.why


def test_same_name_other_vm_is_not_this_host():
    found = ph.find_pool_host(POOL, {"inventory_hostname": "sh-01", "avd_vm_id": "vm-rebuilt"})
    assert found.entry is None and "another VM" in found.why


def test_pool_name_and_ansible_host_are_tried_but_not_an_address():
    assert ph.find_pool_host(POOL, {"inventory_hostname": "x", "ansible_host": "SH-02"}).entry is POOL[1]
    assert ph.find_pool_host(POOL, {"inventory_hostname": "x", "avd_session_host_name": "sh-10.contoso.local"}).entry
    assert ph.host_names({"inventory_hostname": "a", "ansible_host": "127.0.0.1"}) == ["a"]
    assert ph.host_names({"inventory_hostname": "A", "ansible_host": "a"}) == ["A"]


def test_ambiguous_short_name_matches_nothing():
    pool = [{"name": "hp/sh-01.a.com"}, {"name": "hp/sh-01.b.com"}]
    found = ph.find_pool_host(pool, {"inventory_hostname": "SH-01"})
    assert found.entry is None and "several" in found.why and "sh-01.a.com, sh-01.b.com" in found.why


def test_nothing_to_look_up():
    assert ph.find_pool_host(POOL, {}).why == "the host has no name to look up"
    assert ph.find_pool_host([], {"inventory_hostname": "sh-01"}).as_dict()["found"] is False


def qwinsta(by_state, rows=True):
    return {"stack": {"qwinsta": {"rows": [{"id": 65536}] if rows else [], "sessions_by_state": by_state}}}


def test_host_users_from_qwinsta():
    assert ph.host_users(qwinsta({"Active": 1, "Disc": 1})) == 2
    assert ph.host_users(qwinsta({})) == 0
    assert ph.host_users(qwinsta({}, rows=False)) is None
    assert ph.host_users(None) is None
    assert ph.host_users({"sessions": {"total": 0}, "errors": []}) == 0
    failed = {"sessions": {"total": 0}, "errors": [{"operation": "stack.qwinsta", "message": "exit 1"}]}
    assert ph.host_users(failed) is None


def test_users_are_the_larger_count():
    assert ph.users_on_host({"sessions": 0}, qwinsta({"Active": 2})) == 2
    assert ph.users_on_host({"sessions": 3}, qwinsta({"Active": 2})) == 3
    assert ph.users_on_host(None, qwinsta({"Disc": 1})) == 1
    assert ph.users_on_host({"sessions": None}, None) == 0
