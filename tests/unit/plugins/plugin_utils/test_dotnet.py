"""Installing .NET Framework 4.8 (plugin_utils/_dotnet.py): when, how, and what the installer's exit codes mean."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _dotnet as d
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import PlanError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import OperationResult

NDP = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full"
INSTALLER = r"C:\ProgramData\avdops\installers\dotnet48\4.8\ndp48-x86-x64-allos-enu.exe"
SHA = "AB" * 32
# qwinsta.exe on a session host with one signed-in user (layout of the article's sample).
QWINSTA_ONE_USER = (
    " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE\r\n"
    " services                                    0  Disc\r\n"
    ">console                                     1  Conn\r\n"
    " rdp-tcp                                 65536  Listen\r\n"
    " rdp-sxs240705700                        65537  Listen\r\n"
    " rdp-sxs240705700#2 contoso\\anna             2  Active\r\n"
)


def ndp(release: int | None, version: str = "4.7.02558") -> dict[str, Any]:
    values = [] if release is None else [{"name": "Release", "type": "REG_DWORD", "data": release}]
    return {
        "path": NDP,
        "exists": release is not None,
        "values": [*values, {"name": "Version", "type": "REG_SZ", "data": version}],
    }


def probe(release: int | None) -> dict[str, OperationResult]:
    return {
        "probe.ndp": OperationResult("probe.ndp", "registry_read", True, ndp(release)),
        "probe.qwinsta": OperationResult("probe.qwinsta", "qwinsta", True, {"text": QWINSTA_ONE_USER}),
    }


def test_an_old_release_plans_the_pinned_installer_quietly_and_reads_the_release_right_after():
    plan = d.plan_dotnet(probe(460805), INSTALLER, SHA)
    (change,) = plan.changes
    assert change.disruptive and (change.operation.op, change.operation.args) == (
        "dotnet_install",
        {"path": INSTALLER, "sha256": SHA.lower(), "as_system": True},  # not in WinRM's network logon
    )
    assert d.plan_dotnet(probe(460805), INSTALLER, SHA, as_system=False).changes[0].operation.args["as_system"] is False
    assert [op.id for op in plan.operations()] == ["apply.dotnet", "verify.ndp"]
    assert plan.facts == {
        "release_before": 460805,
        "version_before": "4.7.02558",
        "minimum_release": 528040,
        "sessions": 1,
    }
    assert plan.diff() == {
        "before": {".NET Framework Release": 460805},
        "after": {".NET Framework Release": "528040 or later (after the restart)"},
    }


@pytest.mark.parametrize("release", [528040, 528372, 533320])
def test_4_8_or_later_changes_nothing(release):
    plan = d.plan_dotnet(probe(release), INSTALLER, SHA)
    assert not plan.changed and "nothing to install" in plan.notes[0]


def test_no_release_at_all_installs_and_a_wrong_installer_is_refused():
    assert d.plan_dotnet(probe(None), INSTALLER, SHA).changed
    with pytest.raises(PlanError, match=r"not the \.NET Framework offline installer"):
        d.plan_dotnet(probe(460805), INSTALLER[:-4] + ".msi", SHA)


def applied(code: int, release_after: int = 460805) -> dict[str, OperationResult]:
    return {
        "apply.dotnet": OperationResult("apply.dotnet", "dotnet_install", True, {"exit_code": code}),
        "verify.ndp": OperationResult("verify.ndp", "registry_read", True, ndp(release_after)),
    }


@pytest.mark.parametrize(
    ("code", "release_after", "reboot", "outcome"),
    [
        (3010, 460805, True, "a restart is required"),
        (1641, 460805, True, "a restart was initiated"),
        (0, 528372, False, "installed"),
        (0, 460805, True, "shows after a restart"),  # installed by an earlier run, restart still due
    ],
)
def test_success_codes_say_whether_a_restart_is_due(code, release_after, reboot, outcome):
    verification, problem = d.verify_dotnet(applied(code, release_after))
    assert problem is None and verification["reboot_required"] is reboot and outcome in verification["outcome"]


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        (5100, "does not meet the system requirements"),
        (5, "access denied: the installer refused WinRM's network logon"),
        (1618, "another installation is in progress"),
        (1603, "a fatal error"),
        (1602, "canceled"),
        (16389, "an undocumented exit code"),
    ],
)
def test_failure_codes_fail_with_their_documented_meaning(code, meaning):
    verification, problem = d.verify_dotnet(applied(code))
    assert problem is not None and f"exited with {code}" in problem and meaning in problem
    assert verification["reboot_required"] is False
