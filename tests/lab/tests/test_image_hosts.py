"""Image-build VMs (scenario ``kind: image``) and the image faults, against what Windows and the agent do.

An image-build VM has the agent and boot loader installed without a registration key: it is in no
host pool and not registered. ``registration_baked_in`` installs the agent with a valid key during
the build (the agent then registers the VM); ``pending_reboot`` leaves Windows servicing's restart
markers, which the next boot clears.
"""

from __future__ import annotations

import pytest
from labworld import Arm, later, registry, world

from avdlab import faults
from avdlab.avd import fqdn
from avdlab.model import HostSpec, ScenarioError, parse_scenario
from avdlab.windows import known as k
from avdlab.windows import operations as ops

IMAGE = "img-01"


def image_world(*fault_names: str):
    model = world(HostSpec("sh-01"), HostSpec(IMAGE, faults=list(fault_names), kind="image"))
    state = model.host(IMAGE)
    later(state)
    return model, state


def test_an_image_host_is_in_no_pool_and_not_registered():
    model, state = image_world()
    assert fqdn(IMAGE).lower() not in model.pool.records
    assert fqdn("sh-01").lower() in model.pool.records
    assert Arm(model).session_host(state)[0] == 404
    assert registry(state, "IsRegistered") == 0
    assert registry(state, "RegistrationToken") == ""
    assert state.registry.get_data(k.RDINFRA_AGENT, "GUID") is None
    assert state.registry.get_data(k.RDINFRA_AGENT, "HostPoolArmPath") is None
    # The agent components are installed, as the MSIs leave them without a key.
    for product in (k.BOOTLOADER_PRODUCT, k.AGENT_PRODUCT, k.GENEVA_PRODUCT, k.SXS_PRODUCT):
        assert len(state.programs_named(product)) == 1
    # Without a key the agent cannot register; its boot loader stops (the article's first section).
    assert ops.service_query(state, k.BOOTLOADER_SERVICE)["state"] == "Stopped"
    assert any("INVALID_REGISTRATION_TOKEN" in e.message for e in state.events if e.event_id == 3277)
    # No restart pending on a clean image.
    assert not state.registry.key_exists(k.CBS_REBOOT_PENDING)
    assert not state.registry.key_exists(k.WU_REBOOT_REQUIRED)
    assert state.registry.get_data(k.SESSION_MANAGER, "PendingFileRenameOperations") is None


def test_registration_baked_in_registers_the_build_vm_with_the_pool():
    model, state = image_world("registration_baked_in")
    # The agent used the key at its start: IsRegistered=1, the token emptied, and the VM joined the pool.
    assert registry(state, "IsRegistered") == 1
    assert registry(state, "RegistrationToken") == ""
    assert fqdn(IMAGE).lower() in model.pool.records
    assert Arm(model).session_host(state)[0] == 200


def test_pending_reboot_markers_stay_until_the_next_restart():
    model, state = image_world("pending_reboot")
    assert state.registry.key_exists(k.CBS_REBOOT_PENDING)
    assert state.registry.key_exists(k.WU_REBOOT_REQUIRED)
    renames = state.registry.get_data(k.SESSION_MANAGER, "PendingFileRenameOperations")
    assert isinstance(renames, list) and renames[0].startswith("\\??\\C:\\")
    model.reboot(state)
    assert not state.registry.key_exists(k.CBS_REBOOT_PENDING)
    assert not state.registry.key_exists(k.WU_REBOOT_REQUIRED)
    assert state.registry.get_data(k.SESSION_MANAGER, "PendingFileRenameOperations") is None


def test_pending_reboot_survives_inject_on_a_running_host():
    model, state = image_world()
    model.inject(IMAGE, "pending_reboot")
    assert state.registry.key_exists(k.CBS_REBOOT_PENDING)


@pytest.mark.parametrize("fault", ["dotnet_outdated", "msi_policy_blocked", "cmd_policy_blocked", "disk_full"])
def test_catalog_faults_apply_to_an_image_host(fault):
    model, state = image_world(fault)
    assert fault in state.faults
    assert fqdn(IMAGE).lower() not in model.pool.records


def test_image_faults_are_in_the_catalog():
    assert faults.CATALOG["registration_baked_in"].before_boot is not None
    assert faults.CATALOG["pending_reboot"].after_boot is not None


def test_scenario_kind():
    scenario = parse_scenario("hosts:\n  - {name: sh-01}\n  - {name: img-01, kind: image, faults: [pending_reboot]}\n")
    assert [h.kind for h in scenario.hosts] == ["session_host", "image"]
    with pytest.raises(ScenarioError, match="kind must be one of session_host, image"):
        parse_scenario("hosts:\n  - {name: img-01, kind: golden}\n")
    with pytest.raises(ScenarioError, match="an image host has no user sessions"):
        parse_scenario("hosts:\n  - {name: img-01, kind: image, sessions: 1}\n")
