"""Several host pools in one lab: scenarios, the ARM endpoint serving each, and moving a VM between them
as the service does it (the article's NAME_ALREADY_REGISTERED while the old pool still lists it)."""

from __future__ import annotations

import configparser

import pytest
import yaml
from labworld import Arm, error_events, later

from avdlab.arm import API_VERSION
from avdlab.avd import SUBSCRIPTION, fqdn
from avdlab.cli import write_azure_credentials, write_inventory
from avdlab.config import HostConfig, LabConfig
from avdlab.model import LabModel, ScenarioError, parse_scenario
from avdlab.windows import known as k

TWO_POOLS = """
host_pools:
  - {name: hp-a, max_session_limit: 2}
  - {name: hp-b, max_session_limit: 6}
hosts:
  - {name: sh-01, sessions: 1}
  - {name: sh-02, pool: hp-a}
  - {name: sh-03, pool: hp-b, sessions: 5}
"""


def arm_for(model: LabModel, pool: str) -> Arm:
    arm = Arm(model)
    found = model.avd.find_pool(pool)
    assert found is not None
    arm.pool = found
    return arm


def listed(arm: Arm) -> list[str]:
    status, answer = arm.call("GET", "/sessionHosts")
    assert status == 200, answer
    return [entry["name"] for entry in answer["value"]]


def test_host_pools_scenario_each_host_names_its_pool_default_the_first():
    scenario = parse_scenario(TWO_POOLS)
    assert [(p.name, p.max_session_limit) for p in scenario.pools] == [("hp-a", 2), ("hp-b", 6)]
    assert [h.pool for h in scenario.hosts] == ["hp-a", "hp-a", "hp-b"]
    assert (scenario.host_pool, scenario.max_session_limit) == ("hp-a", 2)  # the first is the default one
    single = parse_scenario("host_pool: {name: hp-one, max_session_limit: 3}\nhosts: [{name: sh-01}]")
    assert [p.name for p in single.pools] == ["hp-one"] and single.hosts[0].pool == "hp-one"
    assert single.host_pools == []  # host_pool alone keeps its old shape
    assert type(scenario).from_json(scenario.to_json()) == scenario


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("host_pool: {name: hp-a}\nhost_pools: [{name: hp-b}]\nhosts: [{name: a}]", "either host_pool or host_pools"),
        ("host_pools: []\nhosts: [{name: a}]", "host_pools must be a non-empty list"),
        ("host_pools: [{name: hp-a}, {name: HP-A}]\nhosts: [{name: a}]", "name twice"),
        ("host_pools: [{name: hp-a}]\nhosts: [{name: a, pool: hp-z}]", "pool 'hp-z' is not one of"),
        ("host_pools: [{name: hp-a, max_session_limit: 1}]\nhosts: [{name: a, sessions: 2}]", r"limit \(1\)"),
        ("host_pools: [{name: hp-a, colour: red}]\nhosts: [{name: a}]", r"host_pools\[1\]: a host pool takes"),
        ("host_pools: [{name: x}]\nhosts: [{name: a}]", "not a valid host pool name"),
        ("host_pools: [{name: hp-a}]\nhosts: [{name: a, kind: image, pool: hp-a}]", "in no host pool"),
    ],
)
def test_host_pools_errors_name_the_problem(text, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(text, "s.yml")


def test_the_arm_endpoint_serves_every_host_pool_with_its_own_hosts_and_sessions():
    model = LabModel(parse_scenario(TWO_POOLS))
    a, b = arm_for(model, "hp-a"), arm_for(model, "hp-b")
    assert listed(a) == ["hp-a/sh-01.lab.avd.test", "hp-a/sh-02.lab.avd.test"]
    assert listed(b) == ["hp-b/sh-03.lab.avd.test"]
    assert b.call("GET", "")[1]["properties"]["maxSessionLimit"] == 6
    sessions_b = [s["name"] for s in b.call("GET", "/userSessions")[1]["value"]]  # the first page of them
    assert sessions_b and all(name.startswith("hp-b/sh-03.lab.avd.test/") for name in sessions_b)
    assert len(a.call("GET", "/userSessions")[1]["value"]) == 1
    assert b.call("GET", "/sessionHosts/sh-01.lab.avd.test")[0] == 404  # hp-a's host is not in hp-b
    status, answer = a._send(
        "GET",
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.DesktopVirtualization/hostPools?api-version={API_VERSION}",
    )
    assert status == 200 and [p["name"] for p in answer["value"]] == ["hp-a", "hp-b"]
    # Each host carries its own pool's ARM path, and the service says Available in that pool.
    state = model.host("sh-03")
    assert state.registry.get_data(k.RDINFRA_AGENT, "HostPoolArmPath") == b.pool.arm_id
    assert b.status(state) == "Available"
    # A key of one pool belongs to that pool only.
    assert a.new_token() != b.new_token()
    assert model.pools[0].token_claims(str(model.pools[1].token)) is None


def test_re_registering_with_another_pools_key_while_the_old_pool_lists_it_is_name_already_registered():
    model = LabModel(parse_scenario(TWO_POOLS))
    a, b = arm_for(model, "hp-a"), arm_for(model, "hp-b")
    state = model.host("sh-02")
    token_b = b.new_token()
    # The documented re-registration: IsRegistered=0, RegistrationToken = the new pool's key, boot loader restarted.
    state.registry.set(k.RDINFRA_AGENT, "IsRegistered", "REG_DWORD", 0)
    state.registry.set(k.RDINFRA_AGENT, "RegistrationToken", "REG_SZ", token_b)
    model.reboot(state)
    later(state)
    assert any("NAME_ALREADY_REGISTERED" in message for _unused1, _unused2, message in error_events(state))
    assert "hp-a/sh-02.lab.avd.test" in listed(a) and "hp-b/sh-02.lab.avd.test" not in listed(b)
    assert state.registry.get_data(k.RDINFRA_AGENT, "IsRegistered") == 0
    # Removed from the old pool first (the article's step 2), the same key registers it with the new one.
    assert a.call("DELETE", f"/sessionHosts/{fqdn('sh-02')}")[0] == 200
    model.reboot(state)
    assert "hp-a/sh-02.lab.avd.test" not in listed(a)
    assert "hp-b/sh-02.lab.avd.test" in listed(b)
    assert b.status(state) == "Available"
    assert state.registry.get_data(k.RDINFRA_AGENT, "IsRegistered") == 1
    assert state.registry.get_data(k.RDINFRA_AGENT, "RegistrationToken") == ""  # the agent emptied the key
    assert state.registry.get_data(k.RDINFRA_AGENT, "HostPoolArmPath") == b.pool.arm_id
    assert model.show("sh-02")["pool"] == "hp-b"


def test_a_host_removed_from_its_pool_comes_back_only_with_a_key_of_a_pool():
    model = LabModel(parse_scenario(TWO_POOLS))
    b = arm_for(model, "hp-b")
    state = model.host("sh-03")
    assert b.call("DELETE", f"/sessionHosts/{fqdn('sh-03')}", query="&force=true")[0] == 200
    model.reboot(state)
    later(state)
    assert any("ENDPOINT_NOT_FOUND" in message for _unused1, _unused2, message in error_events(state))
    assert model.show("sh-03")["pool"] is None
    # Faults act on the host's own pool: an expired key of hp-b, not of the first pool.
    model.inject("sh-03", "expired_registration_token")
    later(state)
    assert any("EXPIRED_REGISTRATION_TOKEN" in message for _unused1, _unused2, message in error_events(state))


def test_the_inventory_names_every_pool_and_each_hosts_own(tmp_path):
    scenario = parse_scenario(TWO_POOLS)
    arm = {
        "url": "https://127.0.0.1:1",
        "tenant_id": "t",
        "client_id": "c",
        "client_secret": "s",
        "subscription_id": SUBSCRIPTION,
        "resource_group": "rg-avdlab",
        "host_pool": scenario.host_pool,
        "host_pools": [p.name for p in scenario.pools],
    }
    hosts = [HostConfig(name=h.name, address=f"127.0.0.{i}") for i, h in enumerate(scenario.hosts, 1)]
    config = LabConfig(
        directory=str(tmp_path),
        username="u",
        password="p",
        ca_cert="ca",
        hosts=hosts,
        scenario=scenario.to_json(),
        arm=arm,
    )
    write_inventory(config, tmp_path / "inv")
    plugin = yaml.safe_load((tmp_path / "inv" / "hostpool.avd.yml").read_text())
    assert plugin["host_pools"] == [
        {"name": "hp-a", "resource_group": "rg-avdlab"},
        {"name": "hp-b", "resource_group": "rg-avdlab"},
    ]
    # a real user's layout: no host pool, resource group or credentials where the plugin's hosts would see them
    group_vars = yaml.safe_load((tmp_path / "inv" / "group_vars" / "all.yml").read_text())
    assert not {"avd_host_pool", "avd_resource_group", "avd_azure"} & set(group_vars)
    assert set(plugin) == {"plugin", "host_pools", "ansible_host_source"}
    assert yaml.safe_load((tmp_path / "inv" / "host_vars" / "sh-03.yml").read_text()) == {"ansible_host": "127.0.0.3"}
    # the static inventory says what its user must: each host's pool, the resource group, the subscription
    static = yaml.safe_load((tmp_path / "inv" / "hosts.yml").read_text())["all"]
    assert static["children"]["avd_session_hosts"]["hosts"]["sh-03"] == {
        "avd_host_pool": "hp-b",
        "avd_max_session_limit": 6,
    }
    assert static["vars"] == {
        "avd_host_pool": "hp-a",
        "avd_resource_group": "rg-avdlab",
        "avd_subscription_id": SUBSCRIPTION,
    }
    # the credentials a user keeps in ~/.azure/credentials (azure.azcollection's file), readable by them only
    credentials = write_azure_credentials(config)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(credentials)
    assert dict(parser["default"]) == {
        "subscription_id": SUBSCRIPTION,
        "client_id": "c",
        "secret": "s",
        "tenant": "t",
        "arm_endpoint": "https://127.0.0.1:1",
        "authority": "https://127.0.0.1:1",
        "ca_bundle": "ca",
    }
    assert credentials == tmp_path / "azure" / "credentials" and credentials.stat().st_mode & 0o077 == 0
    # host_pool alone: the inventory it always wrote (one pool, no per-host pool).
    single = parse_scenario("host_pool: {name: hp-one}\nhosts: [{name: sh-01}]")
    config = LabConfig(
        directory=str(tmp_path),
        username="u",
        password="p",
        ca_cert="ca",
        hosts=hosts[:1],
        scenario=single.to_json(),
        arm={**arm, "host_pool": "hp-one", "host_pools": ["hp-one"]},
    )
    write_inventory(config, tmp_path / "one")
    assert yaml.safe_load((tmp_path / "one" / "hostpool.avd.yml").read_text())["host_pools"] == [
        {"name": "hp-one", "resource_group": "rg-avdlab"}
    ]
    assert yaml.safe_load((tmp_path / "one" / "host_vars" / "sh-01.yml").read_text()) == {"ansible_host": "127.0.0.1"}


ELSEWHERE = """
host_pools:
  - {name: hp-a}
  - {name: hp-eu, resource_group: rg-avd-eu, subscription: 22222222-2222-2222-2222-222222222222}
hosts:
  - {name: sh-01}
  - {name: sh-02, pool: hp-eu}
"""


def test_a_host_pool_lives_in_its_own_resource_group_and_subscription():
    """ARM addresses a host pool by subscription, resource group and name: under another group or subscription it
    is not found (resource group names are case-insensitive), and a subscription lists only its own pools."""
    model = LabModel(parse_scenario(ELSEWHERE))
    eu = arm_for(model, "hp-eu")
    assert eu.pool.arm_id.startswith("/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-avd-eu/")
    assert listed(eu) == [f"hp-eu/{fqdn('sh-02')}"]
    status, answer = eu._send("GET", f"{eu.pool.arm_id.replace('rg-avd-eu', 'RG-AVD-EU')}?api-version={API_VERSION}")
    assert status == 200 and answer["name"] == "hp-eu"
    wrong_group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-avd-eu/providers/Microsoft.DesktopVirtualization"
    status, answer = eu._send("GET", f"{wrong_group}/hostPools/hp-eu?api-version={API_VERSION}")
    assert status == 404 and answer["error"]["code"] == "ResourceGroupNotFound"
    status, answer = eu._send(
        "GET",
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-avdlab/providers/Microsoft.DesktopVirtualization/"
        f"hostPools/hp-eu?api-version={API_VERSION}",
    )
    assert status == 404 and answer["error"]["code"] == "ResourceNotFound"
    status, answer = eu._send(
        "GET",
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.DesktopVirtualization/hostPools?api-version={API_VERSION}",
    )
    assert status == 200 and [p["name"] for p in answer["value"]] == ["hp-a"]
    status, answer = eu._send(
        "GET",
        "/subscriptions/33333333-3333-3333-3333-333333333333/providers/Microsoft.DesktopVirtualization/hostPools"
        f"?api-version={API_VERSION}",
    )
    assert status == 404 and answer["error"]["code"] == "SubscriptionNotFound"


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        ("{name: hp-a, resource_group: 'rg.'}", "not a valid resource group name"),
        ("{name: hp-a, subscription: nope}", "not a subscription id"),
        ("{name: hp-a, region: westeurope}", "takes name, max_session_limit, resource_group and subscription"),
    ],
)
def test_a_host_pools_place_is_checked(pool, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(f"host_pools: [{pool}]\nhosts: [{{name: a}}]")
