"""Remediation plans: desired vs. current -> runtime writes, diffs without secrets, verification."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _plans as p
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import scrub
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import OperationResult

TOKEN = "eyJhbGciOiJSUzI1NiJ9.planted-token-for-tests.c2lnbmF0dXJl"
AGENT = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDInfraAgent"
WINSTATIONS = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations"
# qwinsta.exe as printed on an AVD session host whose stack listener is down (layout of the article's sample).
QWINSTA_DOWN = (
    " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE\r\n"
    " services                                    0  Disc\r\n"
    ">console                                     1  Conn\r\n"
    " rdp-tcp                                 65536  Listen\r\n"
    " rdp-sxs240705700                        65537  Down\r\n"
)
QWINSTA_NO_SXS = (
    " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE\r\n"
    " services                                    0  Disc\r\n"
    ">console                                     1  Conn\r\n"
    " rdp-tcp                                 65536  Listen\r\n"
)


def ok(op_id: str, result: Any) -> tuple[str, OperationResult]:
    return op_id, OperationResult(id=op_id, op="x", ok=True, result=result)


def agent_read(is_registered: int | None, token_set: bool, exists: bool = True) -> dict[str, Any]:
    values: list[dict[str, Any]] = []
    if is_registered is not None:
        values.append({"name": "IsRegistered", "type": "REG_DWORD", "data": is_registered})
    values.append({"name": "RegistrationToken", "type": "REG_SZ", "set": token_set, "length": 600 if token_set else 0})
    return {"path": AGENT, "exists": exists, "values": values if exists else []}


def service(state: str, exists: bool = True, start_type: str = "Automatic") -> dict[str, Any]:
    if not exists:
        return {"name": "RDAgentBootLoader", "exists": False}
    return {"name": "RDAgentBootLoader", "exists": True, "state": state, "start_type": start_type}


# --- boot loader -----------------------------------------------------------------------
def test_boot_loader_stopped_is_started_with_the_article_wait() -> None:
    results = dict([ok("probe.bootloader", service("Stopped")), ok("probe.agent", agent_read(1, False))])
    plan = p.plan_boot_loader(results)
    assert [c.operation.op for c in plan.changes] == ["service_control"]
    assert plan.changes[0].operation.args == {"name": "RDAgentBootLoader", "state": "started", "settle_seconds": 10}
    assert plan.diff() == {
        "before": {"service RDAgentBootLoader": "Stopped"},
        "after": {"service RDAgentBootLoader": "Running"},
    }
    assert [op.op for op in plan.operations()] == ["service_control", "service_query", "registry_read"]


def test_running_boot_loader_needs_nothing() -> None:
    results = dict([ok("probe.bootloader", service("Running")), ok("probe.agent", agent_read(1, False))])
    plan = p.plan_boot_loader(results)
    assert not plan.changed and plan.operations() == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (service("Stopped", exists=False), "AGENT_NOT_INSTALLED"),
        (service("Stopped", start_type="Disabled"), "disabled"),
    ],
)
def test_boot_loader_that_cannot_be_started_is_refused(entry: dict[str, Any], message: str) -> None:
    results = dict([ok("probe.bootloader", entry), ok("probe.agent", agent_read(1, False))])
    with pytest.raises(p.PlanError, match=message):
        p.plan_boot_loader(results)


def test_boot_loader_that_stops_again_is_reported() -> None:
    results = dict([ok("verify.bootloader", service("Stopped")), ok("verify.agent", agent_read(0, True))])
    assert p.verify_boot_loader(results) == {
        "running": False,
        "state": "Stopped",
        "stopped_again": True,
        "is_registered": 0,
    }


# --- registration ---------------------------------------------------------------------
def test_unregistered_host_gets_the_article_steps_and_the_diff_hides_the_key() -> None:
    results = dict([ok("probe.agent", agent_read(0, True)), ok("probe.bootloader", service("Stopped"))])
    plan = p.plan_registration(results, TOKEN)
    ops = [(c.operation.op, c.operation.args.get("name"), c.operation.args.get("data")) for c in plan.changes]
    assert ops == [
        ("registry_write", "RegistrationToken", TOKEN),  # IsRegistered already 0: not written again
        ("service_control", "RDAgentBootLoader", None),
    ]
    assert plan.changes[-1].operation.args["state"] == "restarted"
    shown = json.dumps([plan.diff(), plan.summary(), plan.facts, plan.notes])
    assert TOKEN not in shown and "(secret)" in shown


def test_registered_host_is_left_alone_unless_reregistering() -> None:
    results = dict([ok("probe.agent", agent_read(1, False)), ok("probe.bootloader", service("Running"))])
    assert not p.plan_registration(results, TOKEN).changed
    plan = p.plan_registration(results, TOKEN, reregister=True)
    assert [c.target.rsplit("\\", 1)[-1] for c in plan.changes] == [
        "IsRegistered",
        "RegistrationToken",
        "service RDAgentBootLoader",
    ]
    assert plan.diff()["before"][r"HKLM\SOFTWARE\Microsoft\RDInfraAgent\IsRegistered"] == 1


def test_registration_needs_a_key_except_in_check_mode() -> None:
    results = dict([ok("probe.agent", agent_read(0, False)), ok("probe.bootloader", service("Stopped"))])
    with pytest.raises(p.PlanError, match="registration_token is required"):
        p.plan_registration(results, None)
    assert p.plan_registration(results, None, check_mode=True).changed


def test_registration_without_the_agent_is_refused() -> None:
    results = dict([ok("probe.agent", agent_read(None, False, exists=False)), ok("probe.bootloader", service("x"))])
    with pytest.raises(p.PlanError, match="not installed"):
        p.plan_registration(results, TOKEN)


@pytest.mark.parametrize(
    ("is_registered", "token_set", "state", "registered"),
    [
        (1, False, "Running", True),
        (0, True, "Stopped", False),
        (1, True, "Running", False),
        (1, False, "Stopped", False),
    ],
)
def test_registration_verified_only_when_registered_token_emptied_and_running(
    is_registered: int, token_set: bool, state: str, registered: bool
) -> None:
    results = dict([ok("verify.agent", agent_read(is_registered, token_set)), ok("verify.bootloader", service(state))])
    assert p.verify_registration(results)["registered"] is registered


def test_a_failed_read_is_an_error_naming_the_operation() -> None:
    results = {"probe.agent": OperationResult(id="probe.agent", op="registry_read", ok=False, error="Access denied")}
    results.update([ok("probe.bootloader", service("Stopped"))])
    with pytest.raises(p.PlanError, match=r"probe\.agent failed on the host: Access denied"):
        p.plan_registration(results, TOKEN)


# --- stack listener ---------------------------------------------------------------------
def winstations(listener: str | None, subkeys: dict[str, dict[str, int]]) -> dict[str, Any]:
    values = [{"name": "ReverseConnectionListener", "type": "REG_SZ", "data": listener}] if listener else []
    return {
        "path": WINSTATIONS,
        "exists": True,
        "values": values,
        "subkeys": ["RDP-Tcp", *subkeys],
        "subkey_values": {
            name: [{"name": flag, "type": "REG_DWORD", "data": data} for flag, data in flags.items()]
            for name, flags in subkeys.items()
        },
    }


def cluster(listener: str) -> dict[str, Any]:
    return {"exists": True, "values": [{"name": "SessionDirectoryListener", "type": "REG_SZ", "data": listener}]}


def test_listener_named_by_qwinsta_gets_its_flags() -> None:
    results = dict(
        [
            ok(
                "probe.winstations",
                winstations(
                    "rdp-sxs240705700",
                    {
                        "rdp-sxs240416760": {"fReverseConnectMode": 0, "fEnableWinStation": 0},
                        "rdp-sxs240705700": {"fReverseConnectMode": 0, "fEnableWinStation": 1},
                    },
                ),
            ),
            ok("probe.cluster", cluster("rdp-sxs240705700")),
            ok("probe.qwinsta", {"text": QWINSTA_DOWN, "exit_code": 0}),
        ]
    )
    plan = p.plan_stack_listener(results)
    assert plan.facts["winstation"] == "rdp-sxs240705700" and plan.facts["chosen"] == "named by qwinsta"
    assert plan.facts["session_directory_matches"] and not plan.facts["listening"]
    assert [(c.operation.args["path"].rsplit("\\", 1)[-1], c.operation.args["name"]) for c in plan.changes] == [
        ("rdp-sxs240705700", "fReverseConnectMode")
    ]
    assert plan.disruptive


def test_listener_hidden_from_qwinsta_is_found_through_reverse_connection_listener() -> None:
    results = dict(
        [
            ok(
                "probe.winstations",
                winstations(
                    "rdp-sxs240705700", {"rdp-sxs240705700": {"fReverseConnectMode": 1, "fEnableWinStation": 0}}
                ),
            ),
            ok("probe.cluster", cluster("rdp-sxs240416760")),
            ok("probe.qwinsta", {"text": QWINSTA_NO_SXS, "exit_code": 0}),
        ]
    )
    plan = p.plan_stack_listener(results)
    assert [c.operation.args["name"] for c in plan.changes] == ["fEnableWinStation"]
    assert not plan.facts["session_directory_matches"]


def test_no_stack_winstation_is_left_to_the_stack_fix() -> None:
    results = dict(
        [
            ok("probe.winstations", winstations("rdp-sxs240705700", {})),
            ok("probe.cluster", cluster("rdp-sxs240705700")),
            ok("probe.qwinsta", {"text": QWINSTA_NO_SXS, "exit_code": 0}),
        ]
    )
    with pytest.raises(p.PlanError, match="SXS_STACK_NOT_INSTALLED"):
        p.plan_stack_listener(results)


# --- policies ------------------------------------------------------------------------------
def policy_results(prefix: str, msi: int | None, hives: dict[str, int | None]) -> dict[str, OperationResult]:
    installer = {"exists": msi is not None, "values": [{"name": "DisableMSI", "type": "REG_DWORD", "data": msi}]}
    return dict(
        [
            ok(f"{prefix}.installer", installer if msi is not None else {"exists": False, "values": []}),
            ok(f"{prefix}.system", {"exists": False, "values": []}),
            ok(
                f"{prefix}.user_hives",
                [
                    {
                        "hive": hive,
                        "exists": value is not None,
                        "values": [] if value is None else [{"name": "DisableCMD", "type": "REG_DWORD", "data": value}],
                    }
                    for hive, value in hives.items()
                ],
            ),
        ]
    )


def test_policies_are_only_reported_unless_removal_is_asked() -> None:
    results = policy_results("probe", 1, {".DEFAULT": 1, "S-1-5-18": None})
    plan = p.plan_policies(results, [])
    assert not plan.changed
    assert plan.facts == {
        "disable_msi": 1,
        "disable_cmd": {"machine": None, "user_hives": {".DEFAULT": 1, "S-1-5-18": None}},
    }
    removing = p.plan_policies(results, ["installer", "cmd"])
    assert [(c.operation.op, c.operation.args["path"].split("\\")[1]) for c in removing.changes] == [
        ("registry_delete", "SOFTWARE"),
        ("registry_delete", ".DEFAULT"),
    ]


def test_policies_verified_from_a_second_read() -> None:
    assert p.verify_policies(policy_results("verify", None, {".DEFAULT": None}), ["installer", "cmd"])["removed"]
    left = p.verify_policies(policy_results("verify", 1, {".DEFAULT": None}), ["installer"])
    assert left["left"] == [r"HKLM\SOFTWARE\Policies\Microsoft\Windows\Installer\DisableMSI"]


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(p.PlanError, match="unknown policy"):
        p.plan_policies(policy_results("probe", None, {}), ["firewall"])


# --- scrubbing -------------------------------------------------------------------------------
def test_scrub_replaces_the_secret_everywhere() -> None:
    value = {"msg": f"write failed: {TOKEN}", TOKEN: [TOKEN, 1, None], "nested": {"x": (f"a{TOKEN}b",)}}
    assert TOKEN not in json.dumps(scrub(value, [TOKEN]))
    assert scrub(value, []) is value
