"""Image validation's checks compared whole (issue 22): the evidence each check shows is built from the right facts
(EditionID, the drive, the registration values, the stack's WinStations and listener names, the policies), and the
result of each side of each decision, so a check that reads a wrong fact or words its evidence from another one
fails here. The fact keys are the ones `_facts.assemble` writes (test_image.py goes through it)."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _image as im

SXS = im.k.PROGRAM_SXS
OS = {
    "edition": "EnterpriseMultiSession",
    "product_name": "Windows 11 Enterprise multi-session",
    "build": "22631",
    "installation_type": "Client",
}


def whole(result: im.CheckResult) -> dict[str, Any]:
    return dict(result.__dict__)


@pytest.mark.parametrize(
    ("os_facts", "status", "reason"),
    [
        (OS, "passed", ""),
        ({**OS, "edition": "Professional", "product_name": "Windows 11 Pro"}, "failed",
         "EditionID Professional: not an Enterprise or Server edition (the side-by-side stack installs but is "
         "never activated)"),
        ({**OS, "edition": "EnterpriseS", "product_name": "Windows 10 Enterprise LTSC 2021"}, "failed",
         "EditionID EnterpriseS: an LTSC/LTSB edition"),
    ],
)  # fmt: skip
def test_edition_whole(os_facts, status, reason):
    assert whole(im.edition({"os": os_facts}, im.Options())) == {
        "id": "IMAGE_EDITION_SUPPORTED",
        "status": status,
        "evidence": [
            f"EditionID={os_facts['edition']}, ProductName={os_facts['product_name']}, CurrentBuild=22631, "
            "InstallationType=Client"
        ],
        "reason": reason,
    }


def test_edition_without_os_facts_names_what_is_missing():
    assert whole(im.edition({}, im.Options())) == {
        "id": "IMAGE_EDITION_SUPPORTED",
        "status": "failed",
        "evidence": ["EditionID=None, ProductName=None, CurrentBuild=None, InstallationType=None"],
        "reason": "EditionID None: EditionID is not set",
    }


@pytest.mark.parametrize(
    ("free_mb", "options", "status", "reason"),
    [
        (1024, {}, "passed", ""),
        (299, {"disk_min_free_percent": 0}, "failed", "less than 300 MB free"),
        (299, {}, "failed", "less than 300 MB free and less than 5% free"),
        (1024, {"disk_min_free_percent": 12.5}, "failed", "less than 12.5% free"),
    ],
)
def test_disk_whole(free_mb, options, status, reason):
    size = 10 * 1024**3  # 10 GB: 1024 MB is 10%, 299 MB 2.92%
    facts = {"disk": {"drive": "D:", "size_bytes": size, "free_bytes": free_mb * 1024**2}}
    percent = round(free_mb * 1024**2 * 100 / size, 2)
    assert whole(im.disk(facts, im.Options(**options))) == {
        "id": "IMAGE_DISK_HEADROOM",
        "status": status,
        "evidence": [f"D: has {free_mb} MB free of 10.0 GB ({percent}%)"],
        "reason": reason,
    }


@pytest.mark.parametrize("disk", [{}, {"drive": "C:", "size_bytes": 0, "free_bytes": 5}, {"size_bytes": None}])
def test_a_disk_without_size_cannot_be_checked(disk):
    assert whole(im.disk({"disk": disk}, im.Options())) == {
        "id": "IMAGE_DISK_HEADROOM",
        "status": "error",
        "evidence": [],
        "reason": "could not check: the system drive reported no size",
    }


def test_a_disk_without_free_bytes_has_none_free():
    found = im.disk({"disk": {"drive": "C:", "size_bytes": 1024**3}}, im.Options())
    assert (found.status, found.evidence) == ("failed", ["C: has 0 MB free of 1.0 GB (0.0%)"])


@pytest.mark.parametrize(
    ("value", "status", "shown"), [(None, "passed", "not set"), (0, "passed", "0"), (1, "failed", "1"),
                                   (2, "failed", "2"), (3, "passed", "3")]
)  # fmt: skip
def test_msi_policy_whole(value, status, shown):
    assert whole(im.msi_policy({"policies": {"disable_msi": value}}, im.Options())) == {
        "id": "IMAGE_NO_MSI_POLICY",
        "status": status,
        "evidence": [f"{im.k.INSTALLER_POLICY}: DisableMSI={shown}"],
        "reason": "Windows Installer is turned off; the agent cannot install" if status == "failed" else "",
    }


def test_cmd_policy_whole_machine_first_then_each_hive_in_order():
    policies = {"disable_cmd": {"machine": 1, "user_hives": {"S-1-5-18": 2, ".DEFAULT": 1, "S-1-5-19": 0}}}
    assert whole(im.cmd_policy({"policies": policies}, im.Options())) == {
        "id": "IMAGE_NO_CMD_POLICY",
        "status": "failed",
        "evidence": [
            "DisableCMD machine=1",
            "DisableCMD in HKU\\.DEFAULT=1",
            "DisableCMD in HKU\\S-1-5-18=2",
            "DisableCMD in HKU\\S-1-5-19=0",
        ],
        "reason": "the command prompt is disabled (HKLM, HKU\\.DEFAULT, HKU\\S-1-5-18); the agent restarts its "
        "service through cmd.exe",
    }


@pytest.mark.parametrize(("machine", "hive"), [(None, None), (0, 0), (3, 3)])
def test_cmd_policy_passes_unless_1_or_2(machine, hive):
    policies = {"disable_cmd": {"machine": machine, "user_hives": {".DEFAULT": hive}}}
    found = im.cmd_policy({"policies": policies}, im.Options())
    shown = "not set" if machine is None else str(machine)
    hives = [] if hive is None else [f"DisableCMD in HKU\\.DEFAULT={hive}"]
    assert whole(found) == {
        "id": "IMAGE_NO_CMD_POLICY",
        "status": "passed",
        "evidence": [f"DisableCMD machine={shown}", *hives],
        "reason": "",
    }


def test_cmd_policy_in_the_machine_alone():
    found = im.cmd_policy({"policies": {"disable_cmd": {"machine": 2}}}, im.Options())
    assert (found.status, found.evidence) == ("failed", ["DisableCMD machine=2"])
    assert found.reason.startswith("the command prompt is disabled (HKLM);")


CLEAN_AGENT = {"is_registered": 0, "registration_token_set": False, "registration_token_length": 0}


def test_registration_clean_whole():
    assert whole(im.registration({"agent": CLEAN_AGENT}, im.Options())) == {
        "id": "IMAGE_NO_REGISTRATION",
        "status": "passed",
        "evidence": ["RDInfraAgent: IsRegistered=0, RegistrationToken empty, GUID=not set, HostPoolArmPath=not set"],
        "reason": "",
    }


def test_registration_baked_in_whole_with_every_sign_named():
    agent = {
        "is_registered": 1,
        "registration_token_set": True,
        "registration_token_length": 509,
        "guid": "0c8b4b4e-5a1f-4bd6-9d1e-2f3f0c1d9e11",
        "host_pool_arm_path": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DesktopVirtualization/hostPools/p",
    }
    assert whole(im.registration({"agent": agent}, im.Options())) == {
        "id": "IMAGE_NO_REGISTRATION",
        "status": "failed",
        "evidence": [
            "RDInfraAgent: IsRegistered=1, RegistrationToken set (509 characters), "
            "GUID=0c8b4b4e-5a1f-4bd6-9d1e-2f3f0c1d9e11, HostPoolArmPath=/subscriptions/s/resourceGroups/rg/providers/"
            "Microsoft.DesktopVirtualization/hostPools/p"
        ],
        "reason": "IsRegistered=1, a RegistrationToken is set, the agent's GUID is set: remove the registration (or "
        "the agent) before sysprep and capture",
    }


@pytest.mark.parametrize("is_registered", [0, 2, None])
def test_only_is_registered_1_is_a_registration(is_registered):
    assert im.registration({"agent": {"is_registered": is_registered}}, im.Options()).status == "passed"


def winstation(name: str, mode: Any = 1, enabled: Any = 1) -> dict[str, Any]:
    return {"name": name, "fReverseConnectMode": mode, "fEnableWinStation": enabled}


def stack(winstations, listener, directory, programs=None) -> im.CheckResult:
    facts = {
        "stack": {
            "winstations": winstations,
            "reverse_connection_listener": listener,
            "session_directory_listener": directory,
        },
        "components": {"programs": programs if programs is not None else {SXS: [{"display_version": "1"}]}},
    }
    return im.stack_keys(facts, im.Options())


def test_stack_keys_consistent_whole():
    found = stack([winstation("rdp-sxs240705700"), winstation("rdp-sxs240416760", 0, 0)], "RDP-SXS240705700",
                  "rdp-sxs240705700")  # fmt: skip
    assert whole(found) == {
        "id": "IMAGE_STACK_LISTENER_KEYS",
        "status": "passed",
        "evidence": [
            "WinStations\\rdp-sxs240705700: fReverseConnectMode=1, fEnableWinStation=1",
            "WinStations\\rdp-sxs240416760: fReverseConnectMode=0, fEnableWinStation=0",
            "ReverseConnectionListener=RDP-SXS240705700, ClusterSettings\\SessionDirectoryListener=rdp-sxs240705700",
        ],
        "reason": "",
    }


def test_no_stack_passes_with_the_names_left_as_evidence():
    assert whole(stack([], "rdp-sxs240705700", None, programs={})) == {
        "id": "IMAGE_STACK_LISTENER_KEYS",
        "status": "passed",
        "evidence": [
            "ReverseConnectionListener=rdp-sxs240705700, ClusterSettings\\SessionDirectoryListener=not set",
            "no side-by-side stack installed",
        ],
        "reason": "",
    }


@pytest.mark.parametrize(
    ("winstations", "listener", "directory", "reason"),
    [
        ([winstation("rdp-sxs1")], None, None, "rdp-sxs WinStations exist but ReverseConnectionListener is not set"),
        ([], None, None, "rdp-sxs WinStations exist but ReverseConnectionListener is not set"),
        ([winstation("rdp-sxs1")], "rdp-sxs2", "rdp-sxs2", "ReverseConnectionListener names rdp-sxs2, which has no "
         "WinStation key"),
        ([winstation("rdp-sxs1", 0, 2)], "rdp-sxs1", "RDP-SXS1", "rdp-sxs1: fReverseConnectMode=0 (must be 1); "
         "rdp-sxs1: fEnableWinStation=2 (must be 1)"),
        ([winstation("rdp-sxs1", None)], "rdp-sxs1", "rdp-sxs1", "rdp-sxs1: fReverseConnectMode=None (must be 1)"),
        ([winstation("rdp-sxs1")], "rdp-sxs1", None, "SessionDirectoryListener=not set does not match rdp-sxs1"),
        ([winstation("rdp-sxs1", 1, 0)], "rdp-sxs1", "rdp-sxs2", "rdp-sxs1: fEnableWinStation=0 (must be 1); "
         "SessionDirectoryListener=rdp-sxs2 does not match rdp-sxs1"),
    ],
)  # fmt: skip
def test_stack_keys_each_problem_named(winstations, listener, directory, reason):
    found = stack(winstations, listener, directory)
    assert (found.status, found.reason) == ("failed", reason)
    assert found.evidence[-1] == (
        f"ReverseConnectionListener={listener or 'not set'}, "
        f"ClusterSettings\\SessionDirectoryListener={directory or 'not set'}"
    )
    assert len(found.evidence) == len(winstations) + 1


def test_a_winstation_without_the_stack_program_is_still_checked():
    found = stack([winstation("rdp-sxs1", 0)], "rdp-sxs1", "rdp-sxs1", programs={})
    assert (found.status, found.reason) == ("failed", "rdp-sxs1: fReverseConnectMode=0 (must be 1)")
