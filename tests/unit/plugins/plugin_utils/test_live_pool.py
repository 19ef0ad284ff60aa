"""The host_pool inventory's live data wins over static avd_host_pool/avd_resource_group, and a disagreement is said."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.avdops.sessionhost.plugins.filter.avd import FilterModule
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _rules as r

POOL_ID = "/subscriptions/0000-sub/resourceGroups/rg-avd-new/providers/Microsoft.DesktopVirtualization/hostPools/hp-new"
LIVE = {"avd_host_pool_id": POOL_ID, "avd_status": "Available", "avd_sessions": 0, "avd_max_session_limit": 4}


def test_inventory_alone_names_the_live_pool_and_says_nothing():
    pool = r.pool_from_hostvars({**LIVE, "avd_host_pool": "hp-new"})
    assert pool is not None
    assert (pool["host_pool"], pool["resource_group"]) == ("hp-new", "rg-avd-new")
    assert "static_disagrees" not in pool


def test_a_static_pool_after_a_move_loses_to_the_live_one_and_is_named():
    pool = r.pool_from_hostvars({**LIVE, "avd_host_pool": "hp-old", "avd_resource_group": "rg-avd-old"})
    assert pool is not None
    assert (pool["host_pool"], pool["resource_group"]) == ("hp-new", "rg-avd-new")
    notes = " ".join(pool["static_disagrees"])
    assert "avd_host_pool=hp-old disagrees" in notes and "using hp-new" in notes
    assert "avd_resource_group=rg-avd-old disagrees" in notes and "using rg-avd-new" in notes


def test_the_same_names_in_another_case_agree():
    pool = r.pool_from_hostvars({**LIVE, "avd_host_pool": "HP-NEW", "avd_resource_group": "RG-AVD-NEW"})
    assert pool is not None and "static_disagrees" not in pool


def test_without_the_inventory_the_static_pool_is_used():
    pool = r.pool_from_hostvars({"avd_host_pool": "hp-static", "avd_max_session_limit": 4})
    assert pool is not None and pool["host_pool"] == "hp-static" and "static_disagrees" not in pool


def test_an_id_without_the_live_status_is_not_taken_for_live_data():
    pool = r.pool_from_hostvars({"avd_host_pool_id": POOL_ID, "avd_host_pool": "hp-static"})
    assert pool is not None and pool["host_pool"] == "hp-static"


def test_a_malformed_id_is_ignored():
    live, notes = r.live_pool_identity({"avd_host_pool_id": "/subscriptions/x/hostPools/y", "avd_host_pool": "a"})
    assert (live, notes) == ({}, [])


# --- the address every write goes to (pool_address, the avd_pool_address filter): the same resolution ---
def test_the_write_address_is_the_live_pool_and_names_each_stale_static_value():
    address = r.pool_address(
        {**LIVE, "avd_host_pool": "hp-old", "avd_resource_group": "rg-avd-new", "avd_subscription_id": "1111-sub"}
    )
    assert (address["host_pool"], address["resource_group"], address["subscription_id"]) == (
        "hp-new",
        "rg-avd-new",
        "0000-sub",
    )
    assert address["live"] is True
    assert [note.split(" disagrees")[0] for note in address["static_disagrees"]] == [
        "avd_host_pool=hp-old",
        "avd_subscription_id=1111-sub",
    ]


def test_the_write_address_without_live_data_is_the_static_inventorys():
    static = {"avd_host_pool": "hp-static", "avd_resource_group": "rg-static", "avd_host_pool_id": POOL_ID}
    assert r.pool_address(static) == {
        "host_pool": "hp-static",
        "resource_group": "rg-static",
        "subscription_id": None,
        "live": False,
        "static_disagrees": [],
    }


def test_the_filter_gives_the_same_address_and_refuses_what_is_not_host_variables():
    address = FilterModule().filters()["avd_pool_address"]
    assert address({**LIVE, "avd_host_pool": "hp-old"}) == r.pool_address({**LIVE, "avd_host_pool": "hp-old"})
    assert address({**LIVE})["host_pool"] == "hp-new"
    with pytest.raises(AnsibleFilterError, match="avd_pool_address: expects the host's variables"):
        address("hp-new")


# --- the pool's view read again after a host's fix (pool_view, the avd_pool_view filter): the inventory's own ---
INFO = {
    "name": "hp-new",
    "id": POOL_ID,
    "max_session_limit": 4,
    "registration_expiration_time": "2026-12-08T00:00:00Z",
    "registration_key_checked": True,
    "registration_key_error": None,
}


def session_host(name: str, **given: object) -> dict[str, object]:
    host: dict[str, object] = {
        "name": f"{name}.contoso.com",
        "short_name": name,
        "status": "Available",
        "sessions": 0,
        "allow_new_session": True,
        "agent_version": "1.0.1",
        "sxs_stack_version": "rdp-sxs1",
        "update_state": "Succeeded",
        "update_error_message": "",
        "last_heartbeat": "2026-12-07T12:00:00Z",
        "health_checks": [],
        "virtual_machine_id": f"vm-{name}",
        "resource_id": f"/vm/{name}",
        "assigned_user": None,
    }
    return {**host, **given}


def test_the_view_read_again_is_the_one_the_inventory_gives_from_the_same_read():
    from ansible_collections.avdops.sessionhost.plugins.plugin_utils._inventory import host_records

    read = {"host_pool": INFO, "session_hosts": [session_host("sh-01"), session_host("sh-02", sessions=3)]}
    read_at = "2026-12-07T12:05:00Z"
    inventory = {
        record["inventory_hostname"]: record["vars"]
        for record in host_records(
            [{**read, "resource_group": "rg-avd-new", "subscription_id": "0000-sub", "read_at": read_at}],
            "short",
            "fqdn",
        )
    }
    # The host as the inventory read it before its fix (a stale heartbeat, Unavailable), named in another case.
    before = {**inventory["sh-02"], "avd_status": "Unavailable", "avd_last_heartbeat": "2026-12-07T09:00:00Z"}
    before = {**before, "inventory_hostname": "SH-02", "avd_power_state": "PowerState/running"}
    view = r.pool_view(read, before, read_at)
    assert view == r.pool_from_hostvars({**inventory["sh-02"], "avd_power_state": "PowerState/running"})
    assert view is not None
    assert (view["status"], view["sessions"], view["last_heartbeat"], view["read_at"]) == (
        "Available",
        3,
        "2026-12-07T12:00:00Z",
        read_at,
    )
    assert view["power_state"] == "PowerState/running"  # what the read does not carry stays the inventory's
    assert FilterModule().filters()["avd_pool_view"](read, before)["status"] == "Available"


def test_a_host_the_read_no_longer_lists_is_not_in_the_pool():
    before = {**LIVE, "avd_host_pool": "hp-new", "inventory_hostname": "sh-09", "avd_vm_id": "vm-sh-09"}
    before = {
        **before,
        "avd_registration_expiration_time": "2026-12-08T00:00:00Z",
        "avd_registration_key_checked": True,
    }
    view = r.pool_view({"host_pool": INFO, "session_hosts": [session_host("sh-01")]}, before, "2026-12-07T12:05:00Z")
    assert view == {
        "in_pool": False,
        "host_pool": "hp-new",
        "max_session_limit": 4,
        "read_at": "2026-12-07T12:05:00Z",
        "registration_expiration_time": "2026-12-08T00:00:00Z",
        "registration_key_checked": True,
    }


def test_the_view_filter_refuses_what_is_not_a_pool_read():
    view = FilterModule().filters()["avd_pool_view"]
    with pytest.raises(AnsibleFilterError, match=r"avd_pool_view: expects the registered result of .*host_pool_info"):
        view({"failed": True, "msg": "403"}, LIVE)
    with pytest.raises(AnsibleFilterError, match="avd_pool_view: expects the host's variables"):
        view({"host_pool": INFO, "session_hosts": []}, "sh-01")
