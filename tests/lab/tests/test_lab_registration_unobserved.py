"""A registration that takes minutes completes whether or not anything asks the VM meanwhile: a reinstall removes
the host from its pool, installs the agent with a key and then only asks the pool (its sessionHosts) until the
host is listed Available again. Found by the run with every unkind key at once (test_unkind_all_at_once.py): the
host stayed unlisted for ever, because only a command on the VM let its registration's time pass."""

from __future__ import annotations

import time

from labworld import Arm, world

from avdlab.avd import fqdn
from avdlab.model import HostSpec
from avdlab.windows import known as k
from avdlab.windows import operations as ops

HOST = "sh-01"


def test_a_removed_host_registering_in_minutes_is_listed_available_once_its_time_has_come():
    model = world(HostSpec(HOST, registration_seconds=120))
    state = model.host(HOST)
    arm = Arm(model)
    token = arm.new_token()
    status, _answer = arm.call("DELETE", f"/sessionHosts/{fqdn(HOST)}")
    assert status == 200
    ops.registry_write(state, k.RDINFRA_AGENT, "IsRegistered", "REG_DWORD", 0)
    ops.registry_write(state, k.RDINFRA_AGENT, "RegistrationToken", "REG_SZ", token)
    ops.service_stop(state, k.BOOTLOADER_SERVICE)
    ops.service_start(state, model.avd, k.BOOTLOADER_SERVICE)
    assert state.registration_due is not None
    _status, listed = arm.call("GET", "/sessionHosts")
    assert [h["name"] for h in listed["value"]] == []  # registering: not listed yet
    state.registration_due = time.time() - 1  # its two minutes have passed; nothing asked the VM meanwhile
    _status, listed = arm.call("GET", "/sessionHosts")
    assert [(h["name"], h["properties"]["status"]) for h in listed["value"]] == [
        (f"{model.pool.name}/{fqdn(HOST)}", "Available")
    ]
