"""Remediation plans against a lab host's own answers, and the plan details an administrator reads.

The probes' answers come from the lab's model of a session host in-process (``chainlab``),
parsed as the controller parses them: a wrong value name, operation id or argument in a
probe reads nothing from a real host and fails here. The rest pins what a plan shows:
the diff (secrets never), which changes restart something, the facts and the verification.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from chainlab import _answer, lab
from test_plans import QWINSTA_DOWN, TOKEN, agent_read, ok, service, winstations

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _plans as p
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _runtime as rt
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult

AGENT = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDInfraAgent"
TOKEN_TARGET = r"HKLM\SOFTWARE\Microsoft\RDInfraAgent\RegistrationToken"
REGISTERED_TARGET = r"HKLM\SOFTWARE\Microsoft\RDInfraAgent\IsRegistered"


def answered(operations: list[Operation], *faults: str) -> dict[str, OperationResult]:
    """What a fresh lab host with these faults answers to these operations, as the controller reads it."""
    model, state = lab(*faults, hours_ago=1, fresh=True)
    results = [_answer(model, state, op) for op in operations]
    body = json.dumps({"version": rt.RUNTIME_VERSION, "results": results})
    return rt.parse_output(0, body + "\r\n", "", operations)


def requests(operations: list[Operation]) -> list[dict[str, Any]]:
    return [op.to_request() for op in operations]


# --- what each probe asks the runtime ----------------------------------------------------------
def test_the_probes_ask_for_the_documented_values() -> None:
    agent = {"id": "probe.agent", "op": "registry_read", "path": AGENT, "names": ["IsRegistered", "RegistrationToken"]}
    bootloader = {"id": "probe.bootloader", "op": "service_query", "name": "RDAgentBootLoader"}
    assert requests(p.probe_boot_loader()) == [bootloader, agent]
    assert requests(p.probe_registration()) == [agent, bootloader]
    assert requests(p.probe_stack_listener()) == [
        {
            "id": "probe.winstations",
            "op": "registry_read",
            "path": r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations",
            "names": ["ReverseConnectionListener"],
            "subkey_pattern": "rdp-sxs*",
        },
        {
            "id": "probe.cluster",
            "op": "registry_read",
            "path": r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server\ClusterSettings",
            "names": ["SessionDirectoryListener"],
        },
        {"id": "probe.qwinsta", "op": "qwinsta"},
    ]
    policies = [
        {
            "id": "probe.installer",
            "op": "registry_read",
            "path": r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\Installer",
            "names": ["DisableMSI"],
        },
        {
            "id": "probe.system",
            "op": "registry_read",
            "path": r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\System",
            "names": ["DisableCMD"],
        },
        {
            "id": "probe.user_hives",
            "op": "registry_read_user_hives",
            "subpath": r"Software\Policies\Microsoft\Windows\System",
            "names": ["DisableCMD"],
        },
    ]
    assert requests(p.probe_policies()) == policies
    assert requests(p.probe_policies_verify()) == [{**r, "id": r["id"].replace("probe.", "verify.")} for r in policies]
    assert p.read_registry("x", AGENT) == Operation("x", "registry_read", {"path": AGENT})


# --- the boot loader -------------------------------------------------------------------------
def test_a_lab_host_with_a_stopped_boot_loader_gets_a_start_and_two_verifying_reads() -> None:
    plan = p.plan_boot_loader(answered(p.probe_boot_loader(), "bootloader_stopped"), settle_seconds=3)
    assert plan.facts == {"state_before": "Stopped", "start_type": "Automatic"}
    assert requests(plan.operations()) == [
        {"id": "apply.bootloader", "op": "service_control", "name": "RDAgentBootLoader", "state": "started",
         "settle_seconds": 3},
        {"id": "verify.bootloader", "op": "service_query", "name": "RDAgentBootLoader"},
        {"id": "verify.agent", "op": "registry_read", "path": AGENT, "names": ["IsRegistered", "RegistrationToken"]},
    ]  # fmt: skip
    assert plan.disruptive is True  # a service state changes (remediate.yml decides whether to drain)
    assert plan.summary() == [{"target": "service RDAgentBootLoader", "before": "Stopped", "after": "Running"}]


def test_restarted_restarts_a_running_boot_loader() -> None:
    results = answered(p.probe_boot_loader())
    assert not p.plan_boot_loader(results).changed
    plan = p.plan_boot_loader(results, "restarted")
    assert [c.operation.args["state"] for c in plan.changes] == ["restarted"]
    assert plan.diff() == {
        "before": {"service RDAgentBootLoader": "Running"},
        "after": {"service RDAgentBootLoader": "Running"},
    }


@pytest.mark.parametrize(("state", "after"), [("started", "Running"), ("restarted", "Running"), ("stopped", "Stopped")])
def test_control_service_says_the_state_it_leaves(state: str, after: str) -> None:
    change = p.control_service("apply.x", "RDAgentBootLoader", state, "Running", 0)
    assert (change.before, change.after, change.disruptive) == ("Running", after, True)


def test_verify_boot_loader_reads_the_verifying_answers() -> None:
    results = dict([ok("verify.bootloader", service("Running")), ok("verify.agent", agent_read(1, False))])
    assert p.verify_boot_loader(results) == {
        "running": True,
        "state": "Running",
        "stopped_again": False,
        "is_registered": 1,
    }


# --- registration ----------------------------------------------------------------------------
def test_a_lab_host_with_an_invalid_token_gets_the_articles_steps() -> None:
    results = answered(p.probe_registration(), "invalid_registration_token")
    plan = p.plan_registration(results, TOKEN, settle_seconds=4)
    assert plan.facts == {"is_registered_before": 0, "token_set_before": True}
    assert [c.operation.id for c in plan.changes] == ["apply.token", "apply.bootloader"]
    assert plan.changes[0].operation.args == {
        "path": AGENT,
        "name": "RegistrationToken",
        "type": "REG_SZ",
        "data": TOKEN,
    }
    assert plan.changes[1].operation.args == {"name": "RDAgentBootLoader", "state": "restarted", "settle_seconds": 4}
    assert plan.diff() == {
        "before": {TOKEN_TARGET: p.SECRET, "service RDAgentBootLoader": "Stopped"},  # stopped on its failure
        "after": {TOKEN_TARGET: p.SECRET, "service RDAgentBootLoader": "Running"},
    }
    assert requests(plan.verify) == [
        {"id": "verify.agent", "op": "registry_read", "path": AGENT, "names": ["IsRegistered", "RegistrationToken"]},
        {"id": "verify.bootloader", "op": "service_query", "name": "RDAgentBootLoader"},
    ]


def test_reregistering_a_registered_host_writes_is_registered_0() -> None:
    results = answered(p.probe_registration())
    plan = p.plan_registration(results, TOKEN, reregister=True)
    assert plan.facts == {"is_registered_before": 1, "token_set_before": False}
    assert plan.changes[0].operation == Operation(
        "apply.is_registered",
        "registry_write",
        {"path": AGENT, "name": "IsRegistered", "type": "REG_DWORD", "data": 0},
    )
    assert plan.diff()["before"] == {REGISTERED_TARGET: 1, TOKEN_TARGET: "", "service RDAgentBootLoader": "Running"}
    assert plan.diff()["after"][TOKEN_TARGET] == p.SECRET
    left = p.plan_registration(results, TOKEN)
    assert left.notes == ["IsRegistered=1: the agent is registered; nothing to do"] and not left.changed


def test_check_mode_without_a_key_still_shows_the_key_would_be_written_empty_as_empty() -> None:
    results = dict([ok("probe.agent", agent_read(0, False)), ok("probe.bootloader", service("Stopped"))])
    plan = p.plan_registration(results, None, check_mode=True)
    assert plan.diff() == {
        "before": {TOKEN_TARGET: "", "service RDAgentBootLoader": "Stopped"},
        "after": {TOKEN_TARGET: "", "service RDAgentBootLoader": "Running"},
    }
    assert plan.changes[0].operation.args["data"] == ""


def test_verify_registration_reports_what_is_left() -> None:
    results = dict([ok("verify.agent", agent_read(0, True)), ok("verify.bootloader", service("Stopped"))])
    assert p.verify_registration(results) == {
        "registered": False,
        "is_registered": 0,
        "token_emptied": False,
        "bootloader": "Stopped",
    }
    results = dict([ok("verify.agent", agent_read(1, False)), ok("verify.bootloader", service("Running"))])
    assert p.verify_registration(results)["token_emptied"] is True


def test_a_missing_answer_is_an_error_naming_the_operation() -> None:
    with pytest.raises(p.PlanError) as raised:
        p.plan_registration({}, TOKEN)
    assert str(raised.value) == "the host returned no answer for probe.agent"


# --- registry values --------------------------------------------------------------------------
def test_current_value_reads_each_type_and_hides_the_key() -> None:
    read = {
        "exists": True,
        "values": [
            {"name": "Big", "type": "REG_QWORD", "data": 5_000_000_000},
            {"name": "Text", "type": "REG_SZ", "data": "7"},
            {"name": "RegistrationToken", "type": "REG_SZ", "set": False, "length": 0},
        ],
    }
    assert p.current_value(read, "big") == 5_000_000_000
    assert p.current_value(read, "Text") == "7"
    assert p.current_value(read, "RegistrationToken") == ""
    assert p.current_value(read, "Missing") is None and p.current_value(None, "Text") is None


def test_secrets_are_always_written_and_never_shown() -> None:
    change = p.set_value("apply.token", AGENT, "RegistrationToken", "REG_SZ", "", "")
    assert change is not None and (change.before, change.after) == ("", "")
    assert p.set_value("apply.x", AGENT, "IsRegistered", "REG_DWORD", 1, 1) is None
    assert p.shown("RegistrationToken", TOKEN) == p.SECRET and p.shown("RegistrationToken", "") == ""
    assert p.shown("IsRegistered", 1) == 1


# --- the stack listener -------------------------------------------------------------------------
def test_a_lab_host_with_a_broken_stack_listener_gets_its_flags_and_the_facts() -> None:
    results = answered(p.probe_stack_listener(), "stack_listener_broken")
    plan = p.plan_stack_listener(results)
    name = plan.facts["winstation"]
    assert name.startswith("rdp-sxs") and plan.facts["chosen"] == "named by qwinsta"
    assert plan.facts["listening"] is False and plan.facts["sessions"] == 0
    assert plan.facts["reverse_connection_listener"] == name
    assert plan.facts["session_directory_listener"] == name and plan.facts["session_directory_matches"] is True
    path = rf"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\{name}"
    for change in plan.changes:
        flag = change.operation.args["name"]
        assert change.operation == Operation(
            f"apply.{flag}", "registry_write", {"path": path, "name": flag, "type": "REG_DWORD", "data": 1}
        )
        assert (change.target, change.before, change.after, change.disruptive) == (
            rf"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\{name}\{flag}",
            0,
            1,
            True,
        )
    healthy = p.plan_stack_listener(answered(p.probe_stack_listener()))
    assert plan.changes and not healthy.changed and healthy.facts["listening"] is True


def test_several_stacks_and_qwinsta_unreadable_the_one_terminal_server_names_is_fixed() -> None:
    results = dict(
        [
            ok(
                "probe.winstations",
                winstations(
                    "RDP-SXS240705700",
                    {
                        "rdp-sxs240416760": {"fReverseConnectMode": 1, "fEnableWinStation": 1},
                        "rdp-sxs240705700": {"fReverseConnectMode": 1, "fEnableWinStation": 0},
                    },
                ),
            ),
            ok("probe.cluster", {"exists": False, "values": []}),
            ok("probe.qwinsta", {"text": "Access is denied.", "exit_code": 1}),
        ]
    )
    plan = p.plan_stack_listener(results)
    assert plan.facts["winstation"] == "rdp-sxs240705700"
    assert plan.facts["chosen"].startswith("named by WinStations\\ReverseConnectionListener")
    assert plan.facts["session_directory_matches"] is False and plan.facts["listening"] is False
    assert [c.operation.args["name"] for c in plan.changes] == ["fEnableWinStation"]


def test_a_single_stack_is_fixed_when_nothing_names_it() -> None:
    results = dict(
        [
            ok("probe.winstations", winstations(None, {"rdp-sxs240705700": {"fReverseConnectMode": 0}})),
            ok("probe.cluster", {"exists": False, "values": []}),
            ok("probe.qwinsta", {"exit_code": 0}),
        ]
    )
    plan = p.plan_stack_listener(results)
    assert (plan.facts["winstation"], plan.facts["chosen"]) == ("rdp-sxs240705700", "the only rdp-sxs WinStation")
    assert [c.operation.args["name"] for c in plan.changes] == ["fReverseConnectMode", "fEnableWinStation"]


def test_users_on_the_stack_are_counted_for_the_drain() -> None:
    text = QWINSTA_DOWN.replace(" rdp-tcp ", " rdp-sxs240705700#1 user01                   3  Active\r\n rdp-tcp ")
    results = dict(
        [
            ok("probe.winstations", winstations("rdp-sxs240705700", {"rdp-sxs240705700": {"fReverseConnectMode": 0}})),
            ok("probe.cluster", {"exists": False, "values": []}),
            ok("probe.qwinsta", {"text": text, "exit_code": 0}),
        ]
    )
    assert p.plan_stack_listener(results).facts["sessions"] == 1


def test_no_stack_winstation_says_which_finding_it_is() -> None:
    results = dict(
        [
            ok("probe.winstations", winstations(None, {})),
            ok("probe.cluster", {"exists": False, "values": []}),
            ok("probe.qwinsta", {"text": QWINSTA_DOWN, "exit_code": 0}),
        ]
    )
    with pytest.raises(p.PlanError) as raised:
        p.plan_stack_listener(results)
    assert str(raised.value) == (
        "no rdp-sxs WinStation to fix: the side-by-side stack is not installed properly "
        "(SXS_STACK_NOT_INSTALLED); reinstall the stack"
    )


# --- local policies -------------------------------------------------------------------------------
def test_lab_hosts_with_blocking_policies_get_each_value_deleted() -> None:
    msi = p.plan_policies(answered(p.probe_policies(), "msi_policy_blocked"), ["installer", "cmd"])
    assert requests([c.operation for c in msi.changes]) == [
        {
            "id": "apply.installer",
            "op": "registry_delete",
            "path": r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\Installer",
            "name": "DisableMSI",
        }
    ]
    assert msi.summary() == [
        {"target": r"HKLM\SOFTWARE\Policies\Microsoft\Windows\Installer\DisableMSI", "before": 1, "after": None}
    ]
    assert requests(msi.verify) == requests(p.probe_policies_verify())
    cmd = p.plan_policies(answered(p.probe_policies(), "cmd_policy_blocked"), ["cmd"])
    assert cmd.changes and all(c.operation.op == "registry_delete" for c in cmd.changes)
    assert all(c.operation.args["name"] == "DisableCMD" and c.before not in (None, 0) for c in cmd.changes)
    assert not p.plan_policies(answered(p.probe_policies(), "cmd_policy_blocked"), ["installer"]).changed


def test_machine_and_user_hive_values_are_deleted_each_with_its_own_id() -> None:
    results = dict(
        [
            ok("probe.installer", {"exists": False, "values": []}),
            ok("probe.system", {"exists": True, "values": [{"name": "DisableCMD", "type": "REG_DWORD", "data": 2}]}),
            ok(
                "probe.user_hives",
                [
                    {"hive": "S-1-5-21-1-2-3-1001", "exists": True, "values": [
                        {"name": "DisableCMD", "type": "REG_DWORD", "data": 1}]},
                    {"hive": ".DEFAULT", "exists": True, "values": [
                        {"name": "DisableCMD", "type": "REG_DWORD", "data": 1}]},
                ],
            ),
        ]
    )  # fmt: skip
    plan = p.plan_policies(results, ["cmd"])
    assert plan.facts["disable_cmd"] == {"machine": 2, "user_hives": {"S-1-5-21-1-2-3-1001": 1, ".DEFAULT": 1}}
    assert [(c.operation.id, c.operation.args["name"], c.target, c.before) for c in plan.changes] == [
        ("apply.system", "DisableCMD", r"HKLM\SOFTWARE\Policies\Microsoft\Windows\System\DisableCMD", 2),
        ("apply.hive0", "DisableCMD", r"HKU\.DEFAULT\Software\Policies\Microsoft\Windows\System\DisableCMD", 1),
        (
            "apply.hive1",
            "DisableCMD",
            r"HKU\S-1-5-21-1-2-3-1001\Software\Policies\Microsoft\Windows\System\DisableCMD",
            1,
        ),
    ]


def test_unknown_policies_are_all_named() -> None:
    with pytest.raises(p.PlanError) as raised:
        p.plan_policies({}, ["firewall", "cmd", "defender"])
    assert str(raised.value) == "unknown policy defender, firewall; use installer, cmd"
