"""The side-by-side stack reinstall plan: every instance out by product code, the newest installer in, exit codes."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _sxs as s
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import PlanError
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import OperationResult

SXS = "Remote Desktop Services SxS Network Stack"
RDINFRA = r"C:\Program Files\Microsoft RDInfra"
# Versions as a real session host lists them (tests/fixtures/realworld/programs/win32_product_2025.txt: the
# stack 1.0.2505.08650), with an older instance left behind by an update.
PROGRAMS = [
    {
        "display_name": SXS,
        "display_version": "1.0.2505.08650",
        "product_code": "{7B0C0D1A-2E3F-4A5B-8C6D-7E8F9A0B1C2D}",
    },
    {
        "display_name": SXS,
        "display_version": "1.0.2404.16760",
        "product_code": "{1A2B3C4D-5E6F-4A7B-8C9D-0E1F2A3B4C5D}",
    },
]
# The runtime's `files` answer: newest first by CreationTime, as the article picks the installer.
MSIS = [
    {
        "name": "SxSStack-1.0.2505.08650.msi",
        "path": rf"{RDINFRA}\SxSStack-1.0.2505.08650.msi",
        "size": 9_240_576,
        "created": "2025-06-02T03:14:00.000Z",
    },
    {
        "name": "SxSStack-1.0.2404.16760.msi",
        "path": rf"{RDINFRA}\SxSStack-1.0.2404.16760.msi",
        "size": 9_125_888,
        "created": "2024-05-20T02:01:00.000Z",
    },
]
HEADER = " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE\r\n"
QWINSTA_LISTEN = (
    HEADER
    + " services                                    0  Disc\r\n rdp-tcp                                 65536  Listen\r\n"
    " rdp-sxs250508650                        65537  Listen\r\n"
)
QWINSTA_NO_SXS = (
    HEADER
    + " services                                    0  Disc\r\n rdp-tcp                                 65536  Listen\r\n"
)
QWINSTA_USER = QWINSTA_NO_SXS + " rdp-tcp#2         alice                     2  Active\r\n"


def ok(op_id: str, result: Any, op: str = "x") -> tuple[str, OperationResult]:
    return op_id, OperationResult(id=op_id, op=op, ok=True, result=result)


def winstations(listener: str | None, keys: tuple[str, ...]) -> dict[str, Any]:
    values = [{"name": "ReverseConnectionListener", "type": "REG_SZ", "data": listener}] if listener else []
    return {
        "exists": True,
        "values": values,
        "subkey_values": {key: [{"name": "fReverseConnectMode", "type": "REG_DWORD", "data": 1}] for key in keys},
    }


def probe(
    programs: list[dict[str, Any]] | None = None,
    msis: list[dict[str, Any]] | None = None,
    listener: str | None = "rdp-sxs250508650",
    keys: tuple[str, ...] = (),
    qwinsta: str = QWINSTA_NO_SXS,
    busy: bool = False,
    bootloader: str = "Running",
) -> dict[str, OperationResult]:
    return dict(
        [
            ok("probe.programs", PROGRAMS if programs is None else programs),
            ok("probe.msis", MSIS if msis is None else msis),
            ok("probe.bootloader", {"name": "RDAgentBootLoader", "exists": True, "state": bootloader}),
            ok("probe.winstations", winstations(listener, keys)),
            ok("probe.qwinsta", {"text": qwinsta}),
            ok("probe.installer", {"busy": busy, "mutex": "Global\\_MSIExecute"}),
        ]
    )


def test_the_probe_reads_everything_in_one_command():
    assert [op.op for op in s.probe_sxs_stack()] == [
        "programs",
        "files",
        "service_query",
        "registry_read",
        "qwinsta",
        "installer_busy",
    ]


def test_a_listed_stack_without_its_winstation_is_reinstalled_every_instance_out_the_newest_msi_in():
    plan = s.plan_sxs_stack(probe())
    ops = plan.operations()
    assert [(o.op, o.args.get("state") or o.args.get("action")) for o in ops[:4]] == [
        ("service_control", "stopped"),
        ("msiexec", "uninstall"),
        ("msiexec", "uninstall"),
        ("msiexec", "install"),
    ]
    assert [o.args["product_code"] for o in ops[1:3]] == [p["product_code"] for p in PROGRAMS]
    assert ops[3].args["package"] == MSIS[0]["path"] and ops[3].args["log"].endswith("SXSStackInstall.txt")
    # Restart Manager kept out of every msiexec (it would restart Remote Desktop Services under the users).
    assert all(o.args["properties"] == {"MSIRESTARTMANAGERCONTROL": "Disable"} for o in ops[1:4])
    assert plan.facts["installer_version"] == "1.0.2505.08650"
    assert "ReverseConnectionListener=rdp-sxs250508650 names a WinStation that does not exist" in plan.facts["problems"]
    assert plan.disruptive and [o.id for o in plan.verify] == ["verify.programs", "verify.winstations"]


def test_a_healthy_stack_changes_nothing_unless_asked():
    healthy = probe(programs=PROGRAMS[:1], keys=("rdp-sxs250508650",), qwinsta=QWINSTA_LISTEN)
    assert not s.plan_sxs_stack(healthy).changed
    forced = s.plan_sxs_stack(healthy, reinstall=True)
    assert [o.op for o in forced.operations()][:3] == ["service_control", "msiexec", "msiexec"]


def test_a_stopped_boot_loader_is_not_stopped_again_and_no_program_means_install_only():
    plan = s.plan_sxs_stack(probe(programs=[], bootloader="Stopped"))
    assert [o.args.get("action") for o in plan.operations() if o.op == "msiexec"] == ["install"]
    assert "program 'Remote Desktop Services SxS Network Stack' is not installed" in plan.facts["problems"]


def test_no_installer_in_rdinfra_is_refused_naming_the_reinstall():
    with pytest.raises(PlanError, match=r"no SxSStack\*\.msi .*reinstall the agent"):
        s.plan_sxs_stack(probe(msis=[]))


def test_a_running_installation_changes_nothing_and_says_so():
    plan = s.plan_sxs_stack(probe(busy=True))
    assert not plan.changed and plan.facts["installer_busy"]


def test_user_sessions_are_refused_without_consent():
    with pytest.raises(PlanError, match="1 user session"):
        s.plan_sxs_stack(probe(qwinsta=QWINSTA_USER))
    assert s.plan_sxs_stack(probe(qwinsta=QWINSTA_USER), allow_sessions=True).changed


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("SxSStack-1.0.2407.05700.msi", "1.0.2407.05700"),
        ("sxsstack-1.0.2505.08650.MSI", "1.0.2505.08650"),
        ("Other.msi", None),
    ],
)
def test_msi_version(name, version):
    assert s.msi_version(name) == version


def verify(codes: dict[str, int], programs: list[dict[str, Any]], listener: str, keys: tuple[str, ...]):
    results = dict(ok(op_id, {"exit_code": code}, "msiexec") for op_id, code in codes.items())
    results.update([ok("verify.programs", programs), ok("verify.winstations", winstations(listener, keys))])
    return s.verify_sxs_stack(results)


def test_verify_accepts_1605_and_3010_and_sees_the_winstation():
    verification, problem = verify(
        {"apply.uninstall0": 0, "apply.uninstall1": 1605, "apply.install": 3010},
        PROGRAMS[:1],
        "rdp-sxs250508650",
        ("rdp-sxs250508650",),
    )
    assert problem is None and verification["winstation_created"] and verification["reboot_required"]


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        ({"apply.install": 1603}, "apply.install exited with 1603 (a fatal error during installation"),
        ({"apply.uninstall0": 1625}, "forbidden by system policy"),
        ({"apply.install": 1618}, "another installation is in progress"),
        ({"apply.install": 1605}, "apply.install exited with 1605"),  # uninstalling: fine; installing: no
    ],
)
def test_verify_names_the_exit_codes_that_failed(codes, message):
    verification, problem = verify(codes, PROGRAMS[:1], "rdp-sxs250508650", ("rdp-sxs250508650",))
    assert problem is not None and message in problem
    assert verification["installer_busy"] == (1618 in codes.values())


def test_verify_fails_when_the_installer_left_no_stack():
    _verification, problem = verify({"apply.install": 0}, [], "rdp-sxs250508650", ())
    assert problem is not None and "SXSStackInstall.txt" in problem
