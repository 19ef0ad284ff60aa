"""Installing .NET Framework 4.8, pinned at the boundaries that decide whether the installer runs (issue 22):
the Release value at the minimum and one under it, the exit codes that mean installed, restart or failed."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _dotnet as d
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import Change
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult

NDP = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full"
INSTALLER = r"C:\ProgramData\avdops\installers\dotnet48\4.8\NDP48-x86-x64-AllOS-ENU.EXE"
SHA = "AB" * 32
MINIMUM = 528040
READ = Operation("verify.ndp", "registry_read", {"path": NDP, "names": ["Release", "Version"]})
QWINSTA_TWO_USERS = (
    " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE\r\n"
    " services                                    0  Disc\r\n"
    " rdp-tcp                                 65536  Listen\r\n"
    " rdp-sxs240705700                        65537  Listen\r\n"
    " rdp-sxs240705700#2 contoso\\anna             2  Active\r\n"
    "                    contoso\\ben              3  Disc\r\n"
)


def registry(release: int | None, version: str | None = "4.7.03062") -> dict[str, Any]:
    values = [] if release is None else [{"name": "Release", "type": "REG_DWORD", "data": release}]
    if version is not None:
        values.append({"name": "Version", "type": "REG_SZ", "data": version})
    return {"path": NDP, "exists": True, "values": values}


def probed(release: int | None, qwinsta: dict[str, Any] | None = None) -> dict[str, OperationResult]:
    return {
        "probe.ndp": OperationResult("probe.ndp", "registry_read", True, registry(release)),
        "probe.qwinsta": OperationResult("probe.qwinsta", "qwinsta", True, qwinsta),
    }


def test_the_probe_reads_release_and_version_and_the_sessions():
    assert d.probe_dotnet() == [
        Operation("probe.ndp", "registry_read", {"path": NDP, "names": ["Release", "Version"]}),
        Operation("probe.qwinsta", "qwinsta", {}),
    ]


def test_the_minimum_release_installs_nothing_and_carries_no_verify():
    plan = d.plan_dotnet(probed(MINIMUM), INSTALLER, SHA)
    assert plan.changes == [] and plan.verify == []
    assert plan.notes == [f".NET Framework Release {MINIMUM} is {MINIMUM} or later: nothing to install"]
    assert plan.facts == {
        "release_before": MINIMUM,
        "version_before": "4.7.03062",
        "minimum_release": MINIMUM,
        "sessions": 0,
    }


def test_one_release_under_the_minimum_installs_and_reads_the_release_again():
    plan = d.plan_dotnet(probed(MINIMUM - 1, {"text": QWINSTA_TWO_USERS}), INSTALLER, SHA)
    assert plan.changes == [
        Change(
            Operation("apply.dotnet", "dotnet_install", {"path": INSTALLER, "sha256": "ab" * 32, "as_system": True}),
            ".NET Framework Release",
            MINIMUM - 1,
            f"{MINIMUM} or later (after the restart)",
            disruptive=True,
        )
    ]
    assert plan.verify == [READ] and plan.notes == []
    assert plan.facts["sessions"] == 2 and plan.facts["version_before"] == "4.7.03062"


def test_a_minimum_of_the_callers_moves_the_boundary():
    assert not d.plan_dotnet(probed(461808), INSTALLER, SHA, minimum=461808).changed
    assert d.plan_dotnet(probed(461807), INSTALLER, SHA, minimum=461808).changed


def test_a_release_that_is_no_number_installs():
    text = {"path": NDP, "exists": True, "values": [{"name": "Release", "type": "REG_SZ", "data": "x"}]}
    results = {**probed(None), "probe.ndp": OperationResult("probe.ndp", "registry_read", True, text)}
    assert d.plan_dotnet(results, INSTALLER, SHA).changed


def verified(code: Any, release: int | None) -> tuple[dict[str, Any], str | None]:
    return d.verify_dotnet(
        {
            "apply.dotnet": OperationResult("apply.dotnet", "dotnet_install", True, {"exit_code": code}),
            "verify.ndp": OperationResult("verify.ndp", "registry_read", True, registry(release, None)),
        }
    )


def test_exit_code_0_with_the_minimum_read_back_is_installed_without_a_restart():
    assert verified(0, MINIMUM) == (
        {"exit_code": 0, "release_after_install": MINIMUM, "outcome": "installed", "reboot_required": False},
        None,
    )


def test_exit_code_0_with_one_release_under_the_minimum_waits_for_a_restart():
    assert verified(0, MINIMUM - 1) == (
        {
            "exit_code": 0,
            "release_after_install": MINIMUM - 1,
            "outcome": "installed; the new Release value shows after a restart",
            "reboot_required": True,
        },
        None,
    )
    assert verified(0, None)[0]["reboot_required"] is True


@pytest.mark.parametrize("code", [1641, 3010])
def test_the_restart_codes_are_success_with_a_restart_due(code):
    verification, problem = verified(code, MINIMUM - 1)
    assert problem is None
    assert verification == {
        "exit_code": code,
        "release_after_install": MINIMUM - 1,
        "outcome": d.REBOOT_CODES[code],
        "reboot_required": True,
    }


@pytest.mark.parametrize("code", [1, 1602, 3011, "0", None])
def test_every_other_code_fails_naming_it(code):
    verification, problem = verified(code, MINIMUM)
    assert verification == {
        "exit_code": code,
        "release_after_install": MINIMUM,
        "outcome": "failed",
        "reboot_required": False,
    }
    reason = (
        d.FAILURE_CODES.get(code, "an undocumented exit code") if isinstance(code, int) else "an undocumented exit code"
    )
    assert problem == f"the .NET Framework 4.8 installer exited with {code}: {reason}"
