"""Every planner that changes a host carries its verify step with its changes and none without (issue 22):
_plans.py's planners here; _cleanup, _dotnet, _reinstall and _sxs in their own *_boundaries tests."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _known as k
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _plans as p
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult

TOKEN = "eyJhbGciOiJSUzI1NiJ9.planted-verify-token.c2lnbmF0dXJl"
SXS = "rdp-sxs250508650"
QWINSTA = (
    " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE\r\n"
    " rdp-tcp                                 65536  Listen\r\n"
    f" {SXS}                        65537  Listen\r\n"
)


def ok(op_id: str, result: Any) -> tuple[str, OperationResult]:
    return op_id, OperationResult(id=op_id, op="x", ok=True, result=result)


def dword(name: str, data: int) -> dict[str, Any]:
    return {"name": name, "type": "REG_DWORD", "data": data}


def boot_loader(state: str) -> dict[str, OperationResult]:
    return dict([ok("probe.bootloader", {"exists": True, "state": state, "start_type": "Automatic"})])


BOOT_LOADER_CASES = [("Running", "started", False), ("Stopped", "started", True), ("Running", "restarted", True)]


@pytest.mark.parametrize(("state", "wanted", "changed"), BOOT_LOADER_CASES)
def test_boot_loader(state, wanted, changed):
    plan = p.plan_boot_loader(boot_loader(state), wanted)
    assert plan.changed is changed
    assert [o.id for o in plan.verify] == (["verify.bootloader", "verify.agent"] if changed else [])


def registration(is_registered: int) -> dict[str, OperationResult]:
    agent = {"exists": True, "values": [dword("IsRegistered", is_registered)]}
    return dict([ok("probe.agent", agent), ok("probe.bootloader", {"exists": True, "state": "Running"})])


@pytest.mark.parametrize(("is_registered", "reregister", "changed"), [(1, False, False), (0, False, True),
                                                                      (1, True, True), (2, False, True)])  # fmt: skip
def test_registration(is_registered, reregister, changed):
    plan = p.plan_registration(registration(is_registered), TOKEN, reregister=reregister)
    assert plan.changed is changed
    assert [o.id for o in plan.verify] == (["verify.agent", "verify.bootloader"] if changed else [])


def listener(mode: int, enabled: int) -> dict[str, OperationResult]:
    winstations = {
        "exists": True,
        "values": [{"name": "ReverseConnectionListener", "type": "REG_SZ", "data": SXS}],
        "subkey_values": {SXS: [dword("fReverseConnectMode", mode), dword("fEnableWinStation", enabled)]},
    }
    return dict([ok("probe.winstations", winstations), ok("probe.cluster", {}), ok("probe.qwinsta", {"text": QWINSTA})])


@pytest.mark.parametrize(("mode", "enabled", "changed"), [(1, 1, False), (0, 1, True), (1, 0, True)])
def test_stack_listener(mode, enabled, changed):
    plan = p.plan_stack_listener(listener(mode, enabled))
    assert plan.changed is changed
    flags = {"path": rf"{k.WINSTATIONS}\{SXS}", "names": ["fReverseConnectMode", "fEnableWinStation"]}
    assert plan.verify == ([Operation("verify.winstation", "registry_read", flags)] if changed else [])


def read_back(mode: int | None, enabled: int | None) -> dict[str, OperationResult]:
    values = [dword(name, data) for name, data in (("fReverseConnectMode", mode), ("fEnableWinStation", enabled))
              if data is not None]  # fmt: skip
    return dict([ok("verify.winstation", {"exists": True, "values": values})])


def test_the_stack_listener_flags_read_back_as_set_pass_and_anything_else_fails():
    assert p.verify_stack_listener(read_back(1, 1)) == ({"fReverseConnectMode": 1, "fEnableWinStation": 1}, None)
    verification, problem = p.verify_stack_listener(read_back(0, None))
    assert verification == {"fReverseConnectMode": 0, "fEnableWinStation": None}
    assert problem is not None
    assert problem.startswith("the rdp-sxs WinStation's flags read fReverseConnectMode=0, fEnableWinStation=None")
    assert p.verify_stack_listener(read_back(1, 2))[1] is not None


def policies(msi: int | None) -> dict[str, OperationResult]:
    installer = {"exists": msi is not None, "values": [dword("DisableMSI", msi)] if msi is not None else []}
    return dict([ok("probe.installer", installer), ok("probe.system", {}), ok("probe.user_hives", [])])


@pytest.mark.parametrize(("msi", "changed"), [(None, False), (1, True), (0, True)])
def test_policies(msi, changed):
    plan = p.plan_policies(policies(msi), ["installer"])
    assert plan.changed is changed
    assert [o.id for o in plan.verify] == (
        ["verify.installer", "verify.system", "verify.user_hives"] if changed else []
    )
