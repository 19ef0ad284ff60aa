"""The full reinstall, pinned at what decides whether a program is uninstalled, installed or left (issue 22):
the whole plans with their operations, a verify step exactly when something changes, the facts the role
reads (``agent_installed``), and each Windows Installer exit code."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _reinstall as r
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import Change, PlanError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult

TOKEN = "eyJhbGciOiJSUzI1NiJ9.planted-boundary-token.c2lnbmF0dXJl"
AGENT_KEY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDInfraAgent"
BOOTLOADER_KEY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDAgentBootLoader"
AGENT_MSI = r"C:\ProgramData\avdops\installers\agent\1.0.10004.1300\RDAgent.msi"
BOOT_MSI = r"C:\ProgramData\avdops\installers\boot_loader\1.0.9023.1100\RDAgentBootLoader.msi"
AGENT = {"display_name": "Remote Desktop Services Infrastructure Agent", "display_version": "1.0.10004.1300",
         "product_code": "{0B3C5F7A-91D2-4E8B-A6C4-3F2E1D0C9B8A}"}  # fmt: skip
BOOT = {"display_name": "Remote Desktop Agent Boot Loader", "display_version": "1.0.9023.1100",
        "product_code": "{A2D8C0E4-6B1F-4D3A-8E7C-5F9B1A3D2C40}"}  # fmt: skip
SXS_OLD = {"display_name": "Remote Desktop Services SxS Network Stack", "display_version": "1.0.2404.16760",
           "product_code": "{5B1D3C7E-0A3B-4C55-9F0E-2D4E6A1B7C01}"}  # fmt: skip
SXS_NEW = {**SXS_OLD, "display_version": "1.0.2407.05700", "product_code": "{E1F3A5C7-9B2D-4F6A-8C0E-2B4D6F8A0C13}"}


NO_RESTART_MANAGER = {"MSIRESTARTMANAGERCONTROL": "Disable"}  # Restart Manager off: the roles restart the VM


def ok(op_id: str, result: Any, op: str = "x") -> tuple[str, OperationResult]:
    return op_id, OperationResult(id=op_id, op=op, ok=True, result=result)


def key(path: str, exists: bool) -> dict[str, Any]:
    return {"path": path, "exists": exists, "values": [], "subkeys": []}


def host(prefix: str, programs: list[dict[str, Any]], service: bool, agent_key: bool, boot_key: bool) -> dict:
    return dict(
        [
            ok(f"{prefix}.programs", programs),
            ok(f"{prefix}.bootloader", {"name": "RDAgentBootLoader", "exists": service}),
            ok(f"{prefix}.agent_key", key(AGENT_KEY, agent_key)),
            ok(f"{prefix}.bootloader_key", key(BOOTLOADER_KEY, boot_key)),
        ]
    )


def uninstall_probe(prefix: str) -> list[Operation]:
    return [
        Operation(f"{prefix}.programs", "programs", {"name_pattern": "Remote Desktop*"}),
        Operation(f"{prefix}.bootloader", "service_query", {"name": "RDAgentBootLoader"}),
        Operation(f"{prefix}.agent_key", "registry_read", {"path": AGENT_KEY, "names": []}),
        Operation(f"{prefix}.bootloader_key", "registry_read", {"path": BOOTLOADER_KEY, "names": []}),
    ]


def install_probe(prefix: str) -> list[Operation]:
    return [
        Operation(f"{prefix}.programs", "programs", {"name_pattern": "Remote Desktop*"}),
        Operation(f"{prefix}.bootloader", "service_query", {"name": "RDAgentBootLoader"}),
        Operation(
            f"{prefix}.agent_key", "registry_read", {"path": AGENT_KEY, "names": ["IsRegistered", "RegistrationToken"]}
        ),
    ]


def test_the_probes_read_programs_service_and_keys_under_their_prefix():
    assert r.probe_uninstall() == uninstall_probe("probe")
    assert r.probe_uninstall("verify") == uninstall_probe("verify")
    assert r.probe_install() == install_probe("probe")
    assert r.probe_install("verify") == install_probe("verify")


# --- uninstall ----------------------------------------------------------------------------------
def test_the_uninstall_plan_whole_with_its_verify_step():
    plan = r.plan_uninstall(host("probe", [SXS_NEW, AGENT, BOOT, SXS_OLD], True, True, True))
    label = "{display_name} {display_version} {product_code}"
    assert plan.changes == [
        Change(
            Operation(
                f"apply.uninstall{index}",
                "msiexec",
                {"action": "uninstall", "product_code": p["product_code"], "properties": NO_RESTART_MANAGER},
            ),
            f"program {label.format(**p)}",
            "installed",
            "uninstalled",
            disruptive=True,
        )
        for index, p in enumerate([BOOT, AGENT, SXS_OLD, SXS_NEW])
    ]
    assert plan.verify == uninstall_probe("verify")
    assert plan.notes == ["uninstalling 4 program instance(s) by product code"]
    assert plan.facts["products"][0] == {
        "name": BOOT["display_name"],
        "version": BOOT["display_version"],
        "product_code": BOOT["product_code"],
    }
    assert plan.facts["left"][-3:] == ["service RDAgentBootLoader", r"key HKLM\SOFTWARE\Microsoft\RDInfraAgent",
                                       r"key HKLM\SOFTWARE\Microsoft\RDAgentBootLoader"]  # fmt: skip


@pytest.mark.parametrize(("agent_key", "boot_key"), [(True, False), (False, True), (True, True)])
def test_with_no_program_left_each_leftover_key_is_deleted_and_verified(agent_key, boot_key):
    plan = r.plan_uninstall(host("probe", [], False, agent_key, boot_key))
    wanted = [("agent_key", AGENT_KEY, agent_key), ("bootloader_key", BOOTLOADER_KEY, boot_key)]
    assert plan.changes == [
        Change(
            Operation(f"apply.{name}", "registry_delete", {"path": path}),
            f"key {path.replace('HKEY_LOCAL_MACHINE', 'HKLM')}",
            "present",
            "absent",
        )
        for name, path, there in wanted
        if there
    ]
    assert plan.verify == uninstall_probe("verify")
    assert plan.notes == ["no program left: deleting the keys the uninstallers leave"]


def test_nothing_left_plans_nothing_and_carries_no_verify():
    plan = r.plan_uninstall(host("probe", [], False, False, False))
    assert plan.changes == [] and plan.verify == [] and plan.notes == []
    assert plan.facts == {"products": [], "left": []}


def test_a_program_that_is_no_msi_is_refused_naming_each():
    bad = {**AGENT, "product_code": "RDAgent"}
    with pytest.raises(PlanError) as caught:
        r.plan_uninstall(host("probe", [bad, {**BOOT, "product_code": None}], True, True, True))
    assert str(caught.value) == (
        "cannot uninstall by product code (not a Windows Installer product): "
        "Remote Desktop Services Infrastructure Agent (RDAgent); Remote Desktop Agent Boot Loader (no product code)"
    )


def test_every_instance_counts_not_only_the_first_nor_the_first_program():
    products, not_msi = r.products_to_uninstall([{"display_name": "Notepad++"}, SXS_NEW, SXS_OLD, AGENT])
    assert [p.product_code for p in products] == [
        AGENT["product_code"],
        SXS_OLD["product_code"],
        SXS_NEW["product_code"],
    ]
    assert not_msi == []
    products, _unused = r.products_to_uninstall([{**AGENT, "display_version": None}])
    assert products[0].version == "" and products[0].label == f"{AGENT['display_name']} {AGENT['product_code']}"


def verify_results(codes: dict[str, Any], programs: list[dict[str, Any]], service: bool = False) -> dict:
    found = host("verify", programs, service, False, False)
    found.update(ok(op_id, code if isinstance(code, dict) else {"exit_code": code}) for op_id, code in codes.items())
    return found


def test_verify_uninstall_labels_codes_and_reads_a_missing_code_as_failed():
    summary, problem = r.verify_uninstall(
        verify_results({"apply.uninstall0": 0, "apply.uninstall1": {}}, [BOOT], service=True),
        {"apply.uninstall0": "program A"},
    )
    assert summary == {
        "exit_codes": {"program A": 0, "apply.uninstall1": -1},
        "reboot_required": False,
        "busy": [],
        "failed": ["apply.uninstall1: exit code -1, Windows Installer error -1"],
        "left": [f"program {BOOT['display_name']} {BOOT['display_version']}", "service RDAgentBootLoader"],
    }
    assert problem == "uninstall failed: apply.uninstall1: exit code -1, Windows Installer error -1"
    summary, problem = r.verify_uninstall(
        verify_results({"apply.uninstall0": 1605}, [{**BOOT, "display_version": None}])
    )
    assert problem is None and summary["left"] == [f"program {BOOT['display_name']}"]


# --- install --------------------------------------------------------------------------------------
def installed(programs: list[dict[str, Any]]) -> dict[str, OperationResult]:
    return dict([ok("probe.programs", programs), ok("probe.bootloader", {"exists": False}), ok("probe.agent_key", {})])


def test_the_install_plan_whole_with_its_verify_step_and_facts():
    plan = r.plan_install(installed([SXS_NEW]), AGENT_MSI, BOOT_MSI, TOKEN, "AB" * 32, "CD" * 32)
    assert plan.facts == {"agent_installed": False, "bootloader_installed": False}
    assert plan.changes == [
        Change(
            Operation("apply.agent", "msiexec", {"action": "install", "package": AGENT_MSI, "sha256": "ab" * 32, "properties": NO_RESTART_MANAGER}),
            "program Remote Desktop Services Infrastructure Agent",
            "not installed",
            f"installed from {AGENT_MSI}",
            disruptive=True,
        ),
        Change(
            Operation("apply.agent_is_registered", "registry_write",
                      {"path": AGENT_KEY, "name": "IsRegistered", "type": "REG_DWORD", "data": 0}),
            r"HKLM\SOFTWARE\Microsoft\RDInfraAgent\IsRegistered",
            None,
            0,
        ),
        Change(
            Operation("apply.agent_token", "registry_write",
                      {"path": AGENT_KEY, "name": "RegistrationToken", "type": "REG_SZ", "data": TOKEN}),
            r"HKLM\SOFTWARE\Microsoft\RDInfraAgent\RegistrationToken",
            None,
            "(secret)",
        ),
        Change(
            Operation("apply.boot_loader", "msiexec", {"action": "install", "package": BOOT_MSI, "sha256": "cd" * 32, "properties": NO_RESTART_MANAGER}),
            "program Remote Desktop Agent Boot Loader",
            "not installed",
            f"installed from {BOOT_MSI}",
            disruptive=True,
        ),
    ]  # fmt: skip
    assert plan.verify == install_probe("verify") and plan.notes == []


@pytest.mark.parametrize(
    ("programs", "ids", "facts"),
    [
        ([AGENT], ["apply.boot_loader"], (True, False)),
        ([BOOT], ["apply.agent", "apply.agent_is_registered", "apply.agent_token"], (False, True)),
        ([AGENT, BOOT], [], (True, True)),
    ],
)
def test_each_program_is_installed_only_when_missing_and_verified_only_then(programs, ids, facts):
    plan = r.plan_install(installed(programs), AGENT_MSI, BOOT_MSI, TOKEN)
    assert [c.operation.id for c in plan.changes] == ids
    assert (plan.facts["agent_installed"], plan.facts["bootloader_installed"]) == facts
    assert plan.verify == (install_probe("verify") if ids else [])
    assert plan.notes == ([] if ids else ["the agent and the boot loader are installed; nothing to install"])


def test_check_mode_plans_the_agent_without_a_key():
    plan = r.plan_install(installed([]), AGENT_MSI, BOOT_MSI, None, check_mode=True)
    assert plan.changes[0].operation.args == {
        "action": "install",
        "package": AGENT_MSI,
        "properties": NO_RESTART_MANAGER,
    }
    assert plan.changes[2].operation.args["data"] == ""
    with pytest.raises(PlanError, match="registration_token is required"):
        r.plan_install(installed([]), AGENT_MSI, BOOT_MSI, "", check_mode=False)


def install_results(agent: Any, boot: Any, programs: list[dict[str, Any]], service: bool, agent_key: bool) -> dict:
    found = dict(
        [
            ok("verify.programs", programs),
            ok("verify.bootloader", {"exists": service}),
            ok("verify.agent_key", {"exists": agent_key}),
            ok("apply.other", {"exit_code": 1603}),  # not one of the two installs: not counted
        ]
    )
    found.update(
        ok(op_id, code) for op_id, code in (("apply.agent", agent), ("apply.boot_loader", boot)) if code is not None
    )
    return found


def test_verify_install_whole_when_everything_is_there():
    summary, problem = r.verify_install(
        install_results({"exit_code": 0}, {"exit_code": 1641}, [AGENT, BOOT], True, True)
    )
    assert problem is None
    assert summary == {
        "exit_codes": {"agent": 0, "boot_loader": 1641},
        "reboot_required": True,
        "busy": [],
        "failed": [],
        "agent_installed": True,
        "bootloader_installed": True,
        "bootloader_service": True,
        "agent_key": True,
    }


def test_verify_install_reads_a_missing_exit_code_as_a_failure():
    summary, problem = r.verify_install(install_results({}, None, [AGENT, BOOT], True, False))
    assert summary["exit_codes"] == {"agent": -1} and summary["agent_key"] is False
    assert problem == "install failed: agent: exit code -1, Windows Installer error -1"
    _summary, problem = r.verify_install(install_results({"exit_code": 1603}, {"exit_code": 1619}, [], False, False))
    assert problem == (
        "install failed: agent: exit code 1603, a fatal error during installation (the MsiInstaller events in the "
        "Application log say which action failed); boot_loader: exit code 1619, the installation package could not "
        "be opened (missing, or not a Windows Installer package)"
    )


@pytest.mark.parametrize(
    ("code", "kind"),
    [(0, "done"), (1, "failed"), (1604, "failed"), (1605, "absent"), (1606, "failed"), (1617, "failed"),
     (1618, "busy"), (1619, "failed"), (1640, "failed"), (1641, "reboot"), (1642, "failed"), (3009, "failed"),
     (3010, "reboot"), (3011, "failed"), (-1, "failed")],
)  # fmt: skip
def test_each_exit_code_and_its_neighbours(code, kind):
    assert r.classify_exit_code(code) == kind


def test_an_undocumented_code_is_named_by_number():
    assert r.exit_code_text(1234) == "Windows Installer error 1234"
    assert r.exit_code_text(1633) == "the package is not for this processor type"


@pytest.mark.parametrize("token", [" ", "\t", "two\tparts", "a b"])
def test_a_token_with_spaces_or_only_spaces_is_refused(token):
    with pytest.raises(PlanError, match="empty or has spaces inside"):
        r.check_token(token)


@pytest.mark.parametrize("token", [None, TOKEN, f" {TOKEN}\n"])
def test_a_token_or_none_passes(token):
    r.check_token(token)


def test_a_checksum_is_64_hex_digits_of_either_case():
    r.check_sha256("s", "aB" * 32)
    r.check_sha256("s", None)
    for bad in ("g" * 64, "a" * 63, "a" * 65):
        with pytest.raises(PlanError, match="SHA-256"):
            r.check_sha256("s", bad)


def test_an_instance_listed_twice_is_skipped_not_the_ones_after_it():
    twice = {**AGENT, "product_code": AGENT["product_code"].lower()}
    products, _unused = r.products_to_uninstall([AGENT, twice, BOOT])
    assert [p.display_name for p in products] == [BOOT["display_name"], AGENT["display_name"]]


def test_two_failed_uninstalls_are_named_apart():
    _summary, problem = r.verify_uninstall(verify_results({"apply.uninstall0": 1603, "apply.uninstall1": 1625}, []))
    assert problem is not None
    assert problem.split("; ")[1].startswith("apply.uninstall1: exit code 1625, the installation is forbidden")
