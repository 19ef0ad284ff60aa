"""The side-by-side stack reinstall, pinned at what decides whether the stack is uninstalled, installed or left
(issue 22): the whole plan with its operations, a verify step exactly when something changes, the boot loader
stopped only when it runs, user sessions, and each exit code of the verification."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _sxs as s
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import Change, PlanError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult

SXS = "Remote Desktop Services SxS Network Stack"
RDINFRA = r"C:\Program Files\Microsoft RDInfra"
WINSTATIONS = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations"
NEW = {
    "display_name": SXS,
    "display_version": "1.0.2505.08650",
    "product_code": "{7B0C0D1A-2E3F-4A5B-8C6D-7E8F9A0B1C2D}",
}
OLD = {
    "display_name": SXS.upper(),
    "display_version": "1.0.2404.16760",
    "product_code": "{1A2B3C4D-5E6F-4A7B-8C9D-0E1F2A3B4C5D}",
}
MSI = {"name": "SxSStack-1.0.2505.08650.msi", "path": rf"{RDINFRA}\SxSStack-1.0.2505.08650.msi"}
MSI_OLD = {"name": "SxSStack-1.0.2404.16760.msi", "path": rf"{RDINFRA}\SxSStack-1.0.2404.16760.msi"}
HEADER = " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE\r\n"
TCP = (
    " services                                    0  Disc\r\n rdp-tcp                                 65536  Listen\r\n"
)
LISTEN = HEADER + TCP + " rdp-sxs250508650                        65537  Listen\r\n"
DOWN = HEADER + TCP + " rdp-sxs250508650                        65537  Down\r\n"
USERS = DOWN + " rdp-sxs250508650#3 alice                     3  Active\r\n rdp-sxs250508650#4 bob    4  Disc\r\n"
PROBE_WINSTATIONS = Operation(
    "probe.winstations",
    "registry_read",
    {"path": WINSTATIONS, "names": ["ReverseConnectionListener"], "subkey_pattern": "rdp-sxs*"},
)


NO_RESTART_MANAGER = {"MSIRESTARTMANAGERCONTROL": "Disable"}  # Restart Manager off: the role restarts the VM


def ok(op_id: str, result: Any, op: str = "x") -> tuple[str, OperationResult]:
    return op_id, OperationResult(id=op_id, op=op, ok=True, result=result)


def winstations(listener: str | None, keys: tuple[str, ...]) -> dict[str, Any]:
    values = [{"name": "ReverseConnectionListener", "type": "REG_SZ", "data": listener}] if listener else []
    return {"exists": True, "values": values, "subkey_values": {key: [] for key in keys}}


def probe(
    programs: list[dict[str, Any]] | None = None,
    listener: str | None = "rdp-sxs250508650",
    keys: tuple[str, ...] = ("rdp-sxs250508650",),
    qwinsta: str | None = LISTEN,
    busy: bool = False,
    service: dict[str, Any] | None = None,
    msis: list[dict[str, Any]] | None = None,
) -> dict[str, OperationResult]:
    return dict(
        [
            ok("probe.programs", [NEW] if programs is None else programs),
            ok("probe.msis", [MSI, MSI_OLD] if msis is None else msis),
            ok("probe.bootloader", service or {"name": "RDAgentBootLoader", "exists": True, "state": "Running"}),
            ok("probe.winstations", winstations(listener, keys)),
            ok("probe.qwinsta", {"text": qwinsta} if qwinsta is not None else None),
            ok("probe.installer", {"busy": busy}),
        ]
    )


def test_the_probe_whole():
    assert s.probe_sxs_stack() == [
        Operation("probe.programs", "programs", {"name_pattern": SXS}),
        Operation("probe.msis", "files", {"folder": RDINFRA, "pattern": "SxSStack*.msi"}),
        Operation("probe.bootloader", "service_query", {"name": "RDAgentBootLoader"}),
        PROBE_WINSTATIONS,
        Operation("probe.qwinsta", "qwinsta", {}),
        Operation("probe.installer", "installer_busy", {}),
    ]


def test_a_healthy_stack_plans_nothing_carries_no_verify_and_says_what_it_saw():
    plan = s.plan_sxs_stack(probe())
    assert plan.changes == [] and plan.verify == []
    assert plan.notes == ["the side-by-side stack is installed and its rdp-sxs listener listens: nothing to do"]
    assert plan.facts == {
        "programs": [{"version": "1.0.2505.08650", "product_code": NEW["product_code"]}],
        "reverse_connection_listener": "rdp-sxs250508650",
        "winstations": ["rdp-sxs250508650"],
        "listening": True,
        "problems": [],
        "installer": MSI["path"],
        "installer_version": "1.0.2505.08650",
        "installers": [MSI["name"], MSI_OLD["name"]],
        "bootloader": "Running",
        "installer_busy": False,
    }


def test_a_listener_that_is_down_reinstalls_the_whole_way_with_its_verify_step():
    plan = s.plan_sxs_stack(probe(programs=[NEW, OLD], qwinsta=DOWN))
    assert plan.facts["problems"] == ["qwinsta: rdp-sxs250508650 is Down"]
    assert plan.facts["listening"] is False and plan.facts["sessions"] == 0
    assert plan.notes == ["reinstalling the side-by-side stack: qwinsta: rdp-sxs250508650 is Down"]
    assert plan.changes == [
        Change(
            Operation("apply.bootloader", "service_control", {"name": "RDAgentBootLoader", "state": "stopped"}),
            "service RDAgentBootLoader",
            "Running",
            "Stopped",
            disruptive=True,
        ),
        *(
            Change(
                Operation(
                    f"apply.uninstall{i}",
                    "msiexec",
                    {"action": "uninstall", "product_code": p["product_code"], "properties": NO_RESTART_MANAGER},
                ),
                f"program {SXS} {p['display_version']} {p['product_code']}",
                "installed",
                "absent",
                disruptive=True,
            )
            for i, p in enumerate([NEW, OLD])
        ),
        Change(
            Operation(
                "apply.install",
                "msiexec",
                {
                    "action": "install",
                    "package": MSI["path"],
                    "log": rf"{RDINFRA}\SXSStackInstall.txt",
                    "properties": NO_RESTART_MANAGER,
                },
            ),
            f"program {SXS}",
            "absent",
            f"installed from {MSI['name']} (listens after a restart)",
            disruptive=True,
        ),
    ]
    assert plan.verify == [
        Operation("verify.programs", "programs", {"name_pattern": SXS}),
        Operation("verify.winstations", "registry_read", {**PROBE_WINSTATIONS.args}),
    ]


@pytest.mark.parametrize("state", ["Running", "StartPending", "Paused"])
def test_the_boot_loader_is_stopped_when_it_is_not_stopped(state):
    service = {"name": "RDAgentBootLoader", "exists": True, "state": state}
    plan = s.plan_sxs_stack(probe(qwinsta=DOWN, service=service))
    assert plan.changes[0].operation.id == "apply.bootloader" and plan.changes[0].before == state
    assert plan.facts["bootloader"] == state


@pytest.mark.parametrize(
    "service", [{"exists": True, "state": "Stopped"}, {"exists": False, "state": "Running"}, {"exists": False}]
)
def test_a_stopped_or_missing_boot_loader_is_left(service):
    plan = s.plan_sxs_stack(probe(qwinsta=DOWN, service=service))
    assert [c.operation.id for c in plan.changes] == ["apply.uninstall0", "apply.install"]
    assert plan.facts["bootloader"] == (service.get("state") if service["exists"] else None)
    assert plan.verify


def test_each_problem_named():
    no_program = s.stack_problems(probe(programs=[{"display_name": None}], listener=None, keys=(), qwinsta=None))
    assert no_program == (
        [f"program '{SXS}' is not installed", "no rdp-sxs WinStation exists", "qwinsta: no rdp-sxs row"],
        {"programs": [], "reverse_connection_listener": None, "winstations": [], "listening": False},
    )
    wrong = s.stack_problems(probe(listener="rdp-sxs999", keys=("RDP-SXS250508650",)))
    assert wrong[0] == ["ReverseConnectionListener=rdp-sxs999 names a WinStation that does not exist"]
    assert s.stack_problems(probe(listener="RDP-SXS250508650"))[0] == []
    assert s.stack_programs([{"display_name": SXS}]) == [{"version": "", "product_code": ""}]


def test_asked_to_reinstall_a_healthy_stack_says_why():
    plan = s.plan_sxs_stack(probe(), reinstall=True)
    assert plan.notes == ["reinstalling the side-by-side stack: asked to (the stack's health check failed)"]
    assert plan.verify and plan.changes[-1].operation.id == "apply.install"


def test_a_running_installation_plans_nothing_and_no_verify():
    plan = s.plan_sxs_stack(probe(qwinsta=DOWN, busy=True))
    assert plan.changes == [] and plan.verify == [] and plan.facts["installer_busy"] is True
    assert plan.notes == ["another installation is in progress (Windows Installer holds Global\\_MSIExecute)"]
    assert "sessions" not in plan.facts


def test_one_user_session_is_refused_and_none_is_not():
    with pytest.raises(PlanError, match=r"^2 user session\(s\) on the host"):
        s.plan_sxs_stack(probe(qwinsta=USERS))
    plan = s.plan_sxs_stack(probe(qwinsta=USERS), allow_sessions=True)
    assert plan.facts["sessions"] == 2 and plan.changed
    assert s.plan_sxs_stack(probe(qwinsta=DOWN)).facts["sessions"] == 0


def test_no_installer_is_refused_and_a_name_without_version_has_none():
    with pytest.raises(PlanError, match=r"no SxSStack\*\.msi in C:\\Program Files\\Microsoft RDInfra"):
        s.plan_sxs_stack(probe(qwinsta=DOWN, msis=[]))
    plan = s.plan_sxs_stack(probe(msis=[{"name": "stack.msi", "path": r"C:\x\stack.msi"}]))
    assert plan.facts["installer"] == r"C:\x\stack.msi" and plan.facts["installer_version"] is None
    assert s.plan_sxs_stack(probe(msis=[])).facts["installer"] is None


def verified(codes: dict[str, Any], programs: list[dict[str, Any]], listener: str | None, keys: tuple[str, ...]):
    results = dict(
        ok(op_id, code if isinstance(code, dict) else {"exit_code": code}, "msiexec") for op_id, code in codes.items()
    )
    results["apply.failed"] = OperationResult("apply.failed", "msiexec", ok=False, error="denied")
    results.update([ok("apply.bootloader", {"exit_code": 1603}, "service_control")])  # no msiexec: not judged
    results.update([ok("verify.programs", programs), ok("verify.winstations", winstations(listener, keys))])
    return s.verify_sxs_stack(results)


def test_verify_whole_when_the_stack_is_back():
    assert verified({"apply.uninstall0": 1605, "apply.install": 0}, [NEW], "rdp-sxs1", ("RDP-SXS1",)) == (
        {
            "exit_codes": {"apply.uninstall0": 1605, "apply.install": 0},
            "installer_busy": False,
            "programs": [{"version": "1.0.2505.08650", "product_code": NEW["product_code"]}],
            "reverse_connection_listener": "rdp-sxs1",
            "winstation_created": True,
            "reboot_required": True,
        },
        None,
    )


def test_verify_reads_a_missing_exit_code_as_a_failure():
    verification, problem = verified({"apply.install": {}, "apply.uninstall0": 1603}, [NEW], "rdp-sxs1", ("rdp-sxs1",))
    assert verification["exit_codes"] == {"apply.install": -1, "apply.uninstall0": 1603}
    assert problem == (
        "the side-by-side stack reinstall failed: apply.install exited with -1 (Windows Installer error -1); "
        "apply.uninstall0 exited with 1603 (a fatal error during installation (the MsiInstaller events in the "
        "Application log say which action failed))"
    )


@pytest.mark.parametrize(
    ("programs", "listener", "keys"),
    [([], "rdp-sxs1", ("rdp-sxs1",)), ([NEW], None, ("rdp-sxs1",)), ([NEW], "rdp-sxs1", ("rdp-sxs2",))],
)
def test_verify_fails_when_the_program_or_its_winstation_is_missing(programs, listener, keys):
    verification, problem = verified({"apply.install": 0}, programs, listener, keys)
    assert problem == (
        "the side-by-side stack installer ran but the stack is not there "
        f"(programs: {len(programs)}, ReverseConnectionListener={listener}); see {RDINFRA}\\SXSStackInstall.txt"
    )
    assert verification["winstation_created"] is (listener == "rdp-sxs1" and keys == ("rdp-sxs1",))


def test_every_problem_is_named_in_the_note_apart():
    plan = s.plan_sxs_stack(probe(programs=[], qwinsta=DOWN))
    assert plan.notes == [
        f"reinstalling the side-by-side stack: program '{SXS}' is not installed; qwinsta: rdp-sxs250508650 is Down"
    ]
