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
