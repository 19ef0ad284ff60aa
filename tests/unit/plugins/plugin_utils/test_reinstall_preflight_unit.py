"""What reinstall.yml checks before its first change: the findings a reinstall cannot fix, the packages on the host."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.filter.avd import avd_reinstall_blockers
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import PlanError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._reinstall import (
    package_problems,
    plan_install,
    probe_install,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._remediation import (
    REINSTALL_FIXES,
    REPORT_ONLY,
    reinstall_blockers,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult

AGENT = r"C:\avd\agent.msi"
BOOT = r"C:\avd\bootloader.msi"
SHA_A, SHA_B = "a" * 64, "b" * 64


def finding(fid: str, severity: str = "critical", explained_by: str | None = None) -> dict[str, Any]:
    return {"id": fid, "severity": severity, **({"explained_by": explained_by} if explained_by else {})}


# (findings, blocking ids, words in the first blocker's "who")
CASES: list[tuple[list[dict[str, Any]], list[str], str]] = [
    ([], [], ""),
    ([finding("INVALID_REGISTRATION_TOKEN")], [], ""),
    ([finding("AGENT_NOT_INSTALLED"), finding("SXS_STACK_NOT_INSTALLED")], [], ""),
    ([finding("INSTALLER_BUSY")], [], ""),  # the reinstall waits it out (1618)
    # a reinstall stopped between the key written and the agent installed: the next reinstall writes it anew
    ([finding("AGENT_NOT_INSTALLED"), finding("REGISTRATION_INCOMPLETE")], [], ""),
    ([finding("AGENT_VERSION_DRIFT", "info")], [], ""),
    ([finding("GATEWAY_UNREACHABLE")], ["GATEWAY_UNREACHABLE"], "the network team"),
    ([finding("INVALID_FORM", "warning")], ["INVALID_FORM"], "the network team"),
    ([finding("INSTALL_MSI_BLOCKED", "warning")], ["INSTALL_MSI_BLOCKED"], "the Active Directory team"),
    ([finding("CMD_BLOCKED")], ["CMD_BLOCKED"], "remediate.yml -e avd_remove_local_policy=true"),
    ([finding("UNSUPPORTED_OS")], ["UNSUPPORTED_OS"], "the VM's owner"),
    ([finding("DOMAIN_TRUST_LOST")], ["DOMAIN_TRUST_LOST"], "the Active Directory team"),
    ([finding("FSLOGIX_UNHEALTHY")], ["FSLOGIX_UNHEALTHY"], "the profile storage owner"),
    ([finding("DISK_SPACE_LOW", "warning")], ["DISK_SPACE_LOW"], "remediate.yml -e avd_only=DISK_SPACE_LOW (role disk_cleanup)"),
    ([finding("DOTNET_OUTDATED")], ["DOTNET_OUTDATED"], "role dotnet"),
    ([finding("HEALTH_CHECK_FAILED")], ["HEALTH_CHECK_FAILED"], "a reinstall does not fix it"),
    ([finding("SOMETHING_NEW")], ["SOMETHING_NEW"], "a reinstall does not fix it"),
    # a root cause the reinstall fixes, with a network problem beside it: still blocked
    ([finding("INVALID_REGISTRATION_TOKEN"), finding("WEBSOCKET_UNREACHABLE")], ["WEBSOCKET_UNREACHABLE"], "network"),
    # a symptom another finding explains is no root cause
    ([finding("GATEWAY_UNREACHABLE", explained_by="INVALID_FORM"), finding("INVALID_FORM")], ["INVALID_FORM"], "network"),
    ([finding("BOOTLOADER_NOT_RUNNING", explained_by="INSTALL_MSI_BLOCKED"), finding("INSTALL_MSI_BLOCKED")],
     ["INSTALL_MSI_BLOCKED"], "Active Directory"),
    ([finding("DISK_SPACE_LOW"), finding("DISK_SPACE_LOW", "warning")], ["DISK_SPACE_LOW"], "disk_cleanup"),
]  # fmt: skip


@pytest.mark.parametrize(("findings", "ids", "who"), CASES)
def test_what_blocks_a_reinstall(findings, ids, who):
    blockers = reinstall_blockers({"findings": findings})
    assert [b["id"] for b in blockers] == ids
    if ids:
        assert who in blockers[0]["who"]
        assert blockers[0]["says"] == f"{ids[0]} needs {blockers[0]['who']}"


def test_every_report_only_finding_blocks_and_no_fixed_one_does():
    for fid in REPORT_ONLY:
        assert [b["id"] for b in reinstall_blockers({"findings": [finding(fid)]})] == [fid]
    for fid in REINSTALL_FIXES:
        assert reinstall_blockers({"findings": [finding(fid)]}) == []


def test_the_filter_reads_a_registered_result():
    assert (
        avd_reinstall_blockers({"diagnosis": {"findings": [finding("FSLOGIX_UNHEALTHY")]}})[0]["id"]
        == "FSLOGIX_UNHEALTHY"
    )
    assert avd_reinstall_blockers({"failed": True, "msg": "x"}) == []
    assert avd_reinstall_blockers(None) == []


# --- the packages on the host --------------------------------------------------------------
def answers(programs: list[str], files: list[dict[str, Any]] | None) -> dict[str, OperationResult]:
    results = {
        "probe.programs": OperationResult("probe.programs", "programs", True, [{"display_name": n} for n in programs]),
        "probe.bootloader": OperationResult("probe.bootloader", "service_query", True, {"exists": True}),
        "probe.agent_key": OperationResult("probe.agent_key", "registry_read", True, {"exists": True, "values": []}),
    }
    if files is not None:
        results["probe.packages"] = OperationResult("probe.packages", "file_hash", True, files)
    return results


INSTALLED = ["Remote Desktop Services Infrastructure Agent", "Remote Desktop Agent Boot Loader"]


def test_the_probe_reads_the_packages_in_the_same_command():
    operations = probe_install(packages=[AGENT, BOOT])
    assert operations[-1].id == "probe.packages" and operations[-1].args == {"paths": [AGENT, BOOT]}
    assert [op.id for op in probe_install("verify")] == ["verify.programs", "verify.bootloader", "verify.agent_key"]


def test_package_problems():
    files = [{"path": AGENT.upper(), "exists": True, "sha256": SHA_A}, {"path": BOOT, "exists": False}]
    results = answers(INSTALLED, files)
    assert package_problems(results, {"agent_package": (AGENT, SHA_A)}) == []
    assert package_problems(results, {"agent_package": (AGENT, None)}) == []
    assert package_problems(results, {"agent_package": (AGENT, SHA_B)}) == [
        f"agent_package {AGENT} has SHA-256 {SHA_A}, not {SHA_B}"
    ]
    assert package_problems(results, {"boot_loader_package": (BOOT, None)}) == [
        f"boot_loader_package {BOOT} is not on the host"
    ]
    assert package_problems(answers(INSTALLED, None), {"agent_package": (AGENT, SHA_B)}) == []  # not probed: no claim


def test_packages_only_checks_both_and_plans_nothing():
    good = [{"path": AGENT, "exists": True, "sha256": SHA_A}, {"path": BOOT, "exists": True, "sha256": SHA_B}]
    plan = plan_install(answers(INSTALLED, good), AGENT, BOOT, None, SHA_A, SHA_B, packages_only=True)
    assert not plan.changed and "on the host with their SHA-256" in plan.notes[0]
    missing = [good[0], {"path": BOOT, "exists": False}]
    with pytest.raises(PlanError, match=r"boot_loader_package .* is not on the host: nothing was changed"):
        plan_install(answers(INSTALLED, missing), AGENT, BOOT, None, packages_only=True)


def test_an_install_refuses_a_missing_package_before_anything_runs_but_not_one_it_does_not_need():
    missing = [{"path": AGENT, "exists": False}, {"path": BOOT, "exists": False}]
    with pytest.raises(PlanError, match=r"agent_package .* is not on the host"):
        plan_install(answers([], missing), AGENT, BOOT, "tok.en.x")
    assert not plan_install(answers(INSTALLED, missing), AGENT, BOOT, None).changed


def test_the_packages_probe_is_one_file_hash_read_of_both_paths():
    assert probe_install(packages=[AGENT, BOOT])[-1] == Operation(
        "probe.packages", "file_hash", {"paths": [AGENT, BOOT]}
    )


def test_a_preflight_that_finds_both_packages_wrong_names_each_option_and_path_whole():
    wrong = [{"path": AGENT, "exists": False}, {"path": BOOT, "exists": True, "sha256": SHA_A}]
    with pytest.raises(PlanError) as caught:
        plan_install(answers(INSTALLED, wrong), AGENT, BOOT, None, SHA_A, SHA_B, packages_only=True)
    assert str(caught.value) == (
        f"agent_package {AGENT} is not on the host; boot_loader_package {BOOT} has SHA-256 {SHA_A}, not {SHA_B}: "
        "nothing was changed; give the right path (and SHA-256), then run again"
    )


def test_a_package_on_the_host_without_a_hash_answered_is_not_the_file_expected():
    unhashed = [{"path": AGENT, "exists": True, "sha256": None}]
    assert package_problems(answers([], unhashed), {"agent_package": (AGENT, SHA_A)}) == [
        f"agent_package {AGENT} has SHA-256 None, not {SHA_A}"
    ]


@pytest.mark.parametrize(
    ("agent_sha", "boot_sha", "note"),
    [
        (SHA_A, SHA_B, "the agent and boot loader packages are on the host with their SHA-256"),
        (SHA_A, None, "the agent and boot loader packages are on the host"),
        (None, SHA_B, "the agent and boot loader packages are on the host"),
        (None, None, "the agent and boot loader packages are on the host"),
    ],
)
def test_the_preflight_says_with_their_sha_256_only_when_both_were_checked(agent_sha, boot_sha, note):
    good = [{"path": AGENT, "exists": True, "sha256": SHA_A}, {"path": BOOT, "exists": True, "sha256": SHA_B}]
    plan = plan_install(answers(INSTALLED, good), AGENT, BOOT, None, agent_sha, boot_sha, packages_only=True)
    assert plan.notes == [note] and not plan.changed and plan.verify == []


def test_an_install_of_the_boot_loader_alone_names_its_package_option_whole():
    agent_only = ["Remote Desktop Services Infrastructure Agent"]
    missing = [{"path": AGENT, "exists": False}, {"path": BOOT, "exists": False}]
    with pytest.raises(PlanError) as caught:
        plan_install(answers(agent_only, missing), AGENT, BOOT, None)
    assert str(caught.value) == (
        f"boot_loader_package {BOOT} is not on the host: "
        "nothing was changed; give the right path (and SHA-256), then run again"
    )
