"""The full reinstall's pure steps: which products go, what exit codes mean, what is left, what gets installed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _reinstall as r
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import scrub
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import PlanError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import OperationResult

TOKEN = "eyJhbGciOiJSUzI1NiJ9.planted-reinstall-token.c2lnbmF0dXJl"
AGENT_KEY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDInfraAgent"
BOOTLOADER_KEY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDAgentBootLoader"
AGENT_MSI = r"C:\ProgramData\avdops\installers\Microsoft.RDInfra.RDAgent.Installer-x64-1.0.10004.1300.msi"
BOOT_MSI = r"C:\ProgramData\avdops\installers\Microsoft.RDInfra.RDAgentBootLoader.Installer-x64-1.0.9023.1100.msi"

# Add/Remove Programs entries of a session host the agent updated twice (two SxS stacks, the Geneva agent listed
# with its version), as the runtime's programs read returns them (Uninstall subkey name = product code).
PROGRAMS: list[dict[str, Any]] = [
    {"display_name": "Remote Desktop Services SxS Network Stack", "display_version": "1.0.2404.16760",
     "product_code": "{5B1D3C7E-0A3B-4C55-9F0E-2D4E6A1B7C01}", "publisher": "Microsoft Corporation"},
    {"display_name": "Remote Desktop Services Infrastructure Agent", "display_version": "1.0.10004.1300",
     "product_code": "{0B3C5F7A-91D2-4E8B-A6C4-3F2E1D0C9B8A}", "publisher": "Microsoft Corporation"},
    {"display_name": "Remote Desktop Agent Boot Loader", "display_version": "1.0.9023.1100",
     "product_code": "{A2D8C0E4-6B1F-4D3A-8E7C-5F9B1A3D2C40}", "publisher": "Microsoft Corporation"},
    {"display_name": "Remote Desktop Services Infrastructure Geneva Agent 46.16.1", "display_version": "46.16.1",
     "product_code": "{C7E9A1B3-2D4F-4A6C-8E0B-1D3F5A7C9E21}", "publisher": "Microsoft Corporation"},
    {"display_name": "Remote Desktop Services SxS Network Stack", "display_version": "1.0.2407.05700",
     "product_code": "{E1F3A5C7-9B2D-4F6A-8C0E-2B4D6F8A0C13}", "publisher": "Microsoft Corporation"},
    # Not one of the four: the Remote Desktop client some images carry.
    {"display_name": "Remote Desktop", "display_version": "1.2.5620.0",
     "product_code": "{F0E1D2C3-B4A5-4968-8776-5A4B3C2D1E0F}", "publisher": "Microsoft Corporation"},
]  # fmt: skip


def ok(op_id: str, result: Any) -> tuple[str, OperationResult]:
    return op_id, OperationResult(id=op_id, op="x", ok=True, result=result)


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


# --- which products ----------------------------------------------------------------------
def test_every_instance_of_the_four_programs_goes_in_the_articles_order() -> None:
    products, not_msi = r.products_to_uninstall(PROGRAMS)
    assert not_msi == []
    assert [(p.program.split()[-2:], p.version) for p in products] == [
        (["Boot", "Loader"], "1.0.9023.1100"),
        (["Infrastructure", "Agent"], "1.0.10004.1300"),
        (["Geneva", "Agent"], "46.16.1"),
        (["Network", "Stack"], "1.0.2404.16760"),
        (["Network", "Stack"], "1.0.2407.05700"),
    ]


def test_an_instance_listed_in_both_registry_views_is_uninstalled_once() -> None:
    products, _unused = r.products_to_uninstall([PROGRAMS[1], dict(PROGRAMS[1])])
    assert len(products) == 1


def test_an_entry_that_is_no_msi_product_is_named_not_guessed() -> None:
    entry = {**PROGRAMS[1], "product_code": "RDAgent"}
    products, not_msi = r.products_to_uninstall([entry])
    assert products == [] and not_msi == ["Remote Desktop Services Infrastructure Agent (RDAgent)"]
    with pytest.raises(PlanError, match="not a Windows Installer product"):
        r.plan_uninstall(host("probe", [entry], True, True, True))


def test_names_that_only_start_like_the_programs_are_not_theirs() -> None:
    assert r.which_program("Remote Desktop Services Infrastructure Agent Tools") is None
    assert r.which_program("Remote Desktop Services Infrastructure Geneva Agent 46.24.3") == r.k.PROGRAM_GENEVA
    assert r.which_program("Remote Desktop") is None


# --- exit codes --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "kind"),
    [(0, "done"), (1605, "absent"), (3010, "reboot"), (1641, "reboot"), (1618, "busy"), (1603, "failed"),
     (1625, "failed"), (1619, "failed"), (-1, "failed")],
)  # fmt: skip
def test_exit_codes_as_windows_installer_documents_them(code: int, kind: str) -> None:
    assert r.classify_exit_code(code) == kind


def test_an_outcome_sums_up_reboot_busy_and_failures_naming_them() -> None:
    summary = r.outcome({"agent": 0, "stack": 3010, "geneva": 1605, "boot": 1618, "other": 1625})
    assert summary["reboot_required"] is True
    assert summary["busy"] == ["boot"]
    assert summary["failed"] == ["other: exit code 1625, the installation is forbidden by system policy "
                                 "(Turn off Windows Installer, INSTALL_MSI_BLOCKED)"]  # fmt: skip
    assert r.outcome({"a": 0, "b": 1605}) == {
        "exit_codes": {"a": 0, "b": 1605}, "reboot_required": False, "busy": [], "failed": []
    }  # fmt: skip


# --- uninstall plan ------------------------------------------------------------------------------
def test_uninstall_plans_one_msiexec_per_instance_by_product_code_and_keeps_the_keys() -> None:
    plan = r.plan_uninstall(host("probe", PROGRAMS, True, True, True))
    ops = [c.operation for c in plan.changes]
    assert [op.op for op in ops] == ["msiexec"] * 5
    # No Restart Manager (it would shut Remote Desktop Services down under the stack's uninstall): the VM restarts.
    assert ops[0].args == {"action": "uninstall", "product_code": "{A2D8C0E4-6B1F-4D3A-8E7C-5F9B1A3D2C40}",
                           "properties": {"MSIRESTARTMANAGERCONTROL": "Disable"}}  # fmt: skip
    assert all(op.args["properties"] == {"MSIRESTARTMANAGERCONTROL": "Disable"} for op in ops)
    assert all(c.disruptive for c in plan.changes)
    assert [op.op for op in plan.verify] == ["programs", "service_query", "registry_read", "registry_read"]
    assert "key HKLM\\SOFTWARE\\Microsoft\\RDInfraAgent" in plan.facts["left"]
    assert plan.diff()["after"]["program Remote Desktop Agent Boot Loader 1.0.9023.1100 "
                                "{A2D8C0E4-6B1F-4D3A-8E7C-5F9B1A3D2C40}"] == "uninstalled"  # fmt: skip


def test_with_no_program_left_the_leftover_keys_are_deleted() -> None:
    plan = r.plan_uninstall(host("probe", PROGRAMS[5:], False, True, True))
    assert [(c.operation.op, c.operation.args) for c in plan.changes] == [
        ("registry_delete", {"path": AGENT_KEY}),
        ("registry_delete", {"path": BOOTLOADER_KEY}),
    ]


def test_a_clean_host_plans_nothing_and_says_nothing_is_left() -> None:
    plan = r.plan_uninstall(host("probe", PROGRAMS[5:], False, False, False))
    assert not plan.changed and plan.verify == [] and plan.facts["left"] == []


def test_verify_uninstall_reads_exit_codes_and_what_is_left() -> None:
    results = host("verify", [PROGRAMS[4]], False, True, False)
    results.update(dict([ok("apply.uninstall0", {"exit_code": 0}), ok("apply.uninstall1", {"exit_code": 1618})]))
    summary, problem = r.verify_uninstall(results)
    assert problem is None
    assert summary["busy"] == ["apply.uninstall1"]
    assert summary["left"] == [
        "program Remote Desktop Services SxS Network Stack 1.0.2407.05700",
        "key HKLM\\SOFTWARE\\Microsoft\\RDInfraAgent",
    ]
    results.update(dict([ok("apply.uninstall1", {"exit_code": 1603})]))
    _unused, problem = r.verify_uninstall(results, {"apply.uninstall1": "program Remote Desktop Agent Boot Loader"})
    assert problem == (
        "uninstall failed: program Remote Desktop Agent Boot Loader: exit code 1603, a fatal error during "
        "installation (the MsiInstaller events in the Application log say which action failed)"
    )


# --- install plan --------------------------------------------------------------------------------
def install_probe(programs: list[dict[str, Any]], prefix: str = "probe", service: bool = False) -> dict:
    return dict(
        [
            ok(f"{prefix}.programs", programs),
            ok(f"{prefix}.bootloader", {"name": "RDAgentBootLoader", "exists": service}),
            ok(f"{prefix}.agent_key", key(AGENT_KEY, bool(programs))),
        ]
    )


def test_install_hands_the_key_over_through_the_registry_never_to_windows_installer_and_shows_it_nowhere() -> None:
    # A machine Logging/Debug policy writes the installer's command line and properties into MSI*.LOG
    # (MsiHiddenProperties is private: a command line cannot set it), so the key is no MSI property.
    plan = r.plan_install(install_probe([]), AGENT_MSI, BOOT_MSI, TOKEN, "a" * 64, None)
    agent, is_registered, token, boot = (c.operation for c in plan.changes)
    assert agent.args == {"action": "install", "package": AGENT_MSI, "sha256": "a" * 64,
                          "properties": {"MSIRESTARTMANAGERCONTROL": "Disable"}}  # fmt: skip
    assert (is_registered.op, is_registered.args) == (
        "registry_write",
        {"path": AGENT_KEY, "name": "IsRegistered", "type": "REG_DWORD", "data": 0},
    )
    assert (token.op, token.args) == (
        "registry_write",
        {"path": AGENT_KEY, "name": "RegistrationToken", "type": "REG_SZ", "data": TOKEN},
    )
    assert boot.args == {
        "action": "install",
        "package": BOOT_MSI,
        "properties": {"MSIRESTARTMANAGERCONTROL": "Disable"},
    }
    assert all(TOKEN not in json.dumps(c.operation.args) for c in plan.changes if c.operation.op == "msiexec")
    shown = json.dumps([plan.summary(), plan.diff(), plan.facts, plan.notes])
    assert TOKEN not in shown
    assert TOKEN not in json.dumps(scrub({"msg": f"failed with {TOKEN}"}, [TOKEN]))


def test_install_skips_what_is_installed_and_needs_a_key_only_for_the_agent() -> None:
    plan = r.plan_install(install_probe([PROGRAMS[1]]), AGENT_MSI, BOOT_MSI, None)
    assert [c.operation.id for c in plan.changes] == ["apply.boot_loader"]
    assert not r.plan_install(install_probe(PROGRAMS[1:3]), AGENT_MSI, BOOT_MSI, None).changed
    with pytest.raises(PlanError, match="registration_token is required"):
        r.plan_install(install_probe([]), AGENT_MSI, BOOT_MSI, None)
    assert r.plan_install(install_probe([]), AGENT_MSI, BOOT_MSI, None, check_mode=True).changed


def test_verify_install_fails_on_a_missing_program_or_a_failed_code_and_waits_on_busy() -> None:
    results = install_probe(PROGRAMS[1:3], "verify", service=True)
    results.update(dict([ok("apply.agent", {"exit_code": 0}), ok("apply.boot_loader", {"exit_code": 3010})]))
    summary, problem = r.verify_install(results)
    assert problem is None and summary["reboot_required"] and summary["agent_installed"]
    results.update(dict([ok("apply.boot_loader", {"exit_code": 1618})]))
    summary, problem = r.verify_install(results)
    assert problem is None and summary["busy"] == ["boot_loader"]
    results.update(dict([ok("apply.boot_loader", {"exit_code": 1625})]))
    assert "forbidden by system policy" in str(r.verify_install(results)[1])
    missing = install_probe([PROGRAMS[1]], "verify", service=False)
    missing.update(dict([ok("apply.agent", {"exit_code": 0}), ok("apply.boot_loader", {"exit_code": 0})]))
    assert r.verify_install(missing)[1] == (
        "the installers reported success but these are missing: Remote Desktop Agent Boot Loader, "
        "service RDAgentBootLoader"
    )


@pytest.mark.parametrize(
    "path", ["Microsoft.RDInfra.RDAgent.msi", r"C:\temp\agent.exe", "", r"C:\temp\*.msi", "/tmp/agent.msi"]
)
def test_a_package_that_is_no_msi_path_on_the_host_is_refused(path: str) -> None:
    with pytest.raises(PlanError, match=r"agent_package must be the path of an \.msi file on the host"):
        r.check_package("agent_package", path)


def test_packages_on_a_share_and_checksums_are_accepted_and_bad_ones_refused() -> None:
    r.check_package("agent_package", r"\\files.corp\avd\Microsoft.RDInfra.RDAgent.Installer-x64-1.0.10004.1300.msi")
    r.check_sha256("agent_sha256", "A" * 64)
    with pytest.raises(PlanError, match="64 hexadecimal digits"):
        r.check_sha256("agent_sha256", "abc")
    with pytest.raises(PlanError, match="spaces inside"):
        r.check_token("part one")
