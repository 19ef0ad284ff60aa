"""Golden-image checks on facts assembled from runtime answers shaped as an image-build VM gives them."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _facts as f
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _image as im
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import OperationResult

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)
RDINFRA = r"C:\Program Files\Microsoft RDInfra"
PROGRAMS = {
    "Remote Desktop Agent Boot Loader": "1.0.9023.1100",
    "Remote Desktop Services Infrastructure Agent": "1.0.10004.1300",
    "Remote Desktop Services Infrastructure Geneva Agent": "46.16.1",
    "Remote Desktop Services SxS Network Stack": "1.0.2407.05700",
}
QWINSTA = """\
 SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE
>services                                    0  Disc
 console                                     1  Conn
 rdp-tcp                                 65536  Listen
"""
URLS = ["https://login.microsoftonline.com/", "https://rdbroker.wvd.microsoft.com/api/health"]


def value(name, kind, data):
    return {"name": name, "type": kind, "data": data}


def reg(*values, exists=True, subkey_values=None):
    return {"exists": exists, "values": list(values), "subkeys": [], "subkey_values": subkey_values or {}}


def clean_image() -> dict:
    """Runtime answers of an image-build VM with the agent installed and never registered."""
    return {
        "boot_time": {"boot_time": "2026-11-25T10:00:00.000Z"},
        "agent.rdinfra": reg(
            value("IsRegistered", "REG_DWORD", 0),
            {"name": "RegistrationToken", "type": "REG_SZ", "set": False, "length": 0},
            value("BrokerURIGlobal", "REG_SZ", "https://rdbroker.wvd.microsoft.com/"),
        ),
        "agent.sxs": reg(value("CurrentVersion", "REG_SZ", rf"{RDINFRA}\SxSStack-1.0.2407.05700.msi")),
        "agent.health": reg(exists=False),
        "agent.bootloader": reg(
            value("DefaultAgent", "REG_SZ", "RDAgent_1.0.10004.1300"),
            value("CurrentBootLoaderVersion", "REG_SZ", "1.0.9023.1100"),
        ),
        "agent.monitoring": reg(value("CurrentVersion", "REG_SZ", "46.16.1")),
        "services.RDAgentBootLoader": {
            "name": "RDAgentBootLoader",
            "exists": True,
            "state": "Stopped",
            "start_type": "Automatic",
            "display_name": "Remote Desktop Agent Loader",
        },
        "services.RDAgent": {"name": "RDAgent", "exists": True, "state": "Running", "start_type": "Automatic"},
        "services.TermService": {"name": "TermService", "exists": True, "state": "Running", "start_type": "Manual"},
        "stack.qwinsta": {
            "text": " SESSIONNAME  USERNAME  ID  STATE   TYPE  DEVICE\n>services  0  Disc\n",
            "exit_code": 0,
        },
        "stack.winstations": reg(
            value("ReverseConnectionListener", "REG_SZ", "rdp-sxs240705700"),
            subkey_values={
                "rdp-sxs240705700": [
                    value("fReverseConnectMode", "REG_DWORD", 1),
                    value("fEnableWinStation", "REG_DWORD", 1),
                ]
            },
        ),
        "stack.cluster": reg(value("SessionDirectoryListener", "REG_SZ", "rdp-sxs240705700")),
        "components.programs": [
            {"display_name": name, "display_version": version, "product_code": "{C}", "publisher": "Microsoft"}
            for name, version in PROGRAMS.items()
        ],
        "components.sxs_msi": [{"name": "SxSStack-1.0.2407.05700.msi", "path": "p", "size": 1, "created": "t"}],
        "os.version": reg(
            value("EditionID", "REG_SZ", "EnterpriseMultiSession"),
            value("ProductName", "REG_SZ", "Windows 10 Enterprise multi-session"),
            value("CurrentBuild", "REG_SZ", "22631"),
            value("InstallationType", "REG_SZ", "Client"),
        ),
        "dotnet.ndp": reg(value("Release", "REG_DWORD", 528449), value("Version", "REG_SZ", "4.8.09032")),
        "disk.system": {"drive": "C:", "size": 127 * 1024**3, "free": 90 * 1024**3},
        "policies.installer": reg(exists=False),
        "policies.system": reg(exists=False),
        "policies.user_hives": [
            {"hive": ".DEFAULT", "exists": False, "values": []},
            {"hive": "S-1-5-18", "exists": False, "values": []},
        ],
        "reboot.cbs": reg(exists=False),
        "reboot.windows_update": reg(exists=False),
        "reboot.session_manager": reg(),
    }


def facts_of(answers: dict, subsets=None, probe_urls=()) -> dict:
    options = {"events_max_age": 1, "events_max_count": 1, "probe_urls": list(probe_urls)}
    results = {op_id: OperationResult(op_id, "x", True, result) for op_id, result in answers.items()}
    chosen = frozenset(subsets or im.subsets_for(im.Options(check_urls=bool(probe_urls))))
    return f.assemble(chosen, results, options, NOW)


def statuses(facts: dict, **options) -> dict[str, str]:
    return {c["id"]: c["status"] for c in im.validate(facts, im.Options(**options))["checks"]}


def failing(facts: dict, **options) -> list[str]:
    return [
        c["id"]
        for c in im.validate(facts, im.Options(**options))["checks"]
        if c["status"] != "passed" and c["status"] != "skipped"
    ]


def check(facts: dict, check_id: str, **options) -> dict:
    return next(c for c in im.validate(facts, im.Options(**options))["checks"] if c["id"] == check_id)


def test_the_catalog_names_a_section_or_reason_and_the_gather_covers_it():
    assert set(im.IMAGE_CHECKS) == set(im.CHECK_FUNCTIONS)
    for entry in im.IMAGE_CHECKS.values():
        assert entry.title and "https://" in entry.doc
        assert set(entry.subsets) <= set(f.SUBSETS)
    assert "network" not in im.subsets_for(im.Options())
    assert "network" in im.subsets_for(im.Options(check_urls=True))
    assert "events" not in im.subsets_for(im.Options())  # an image is judged by its state, not its history


def test_a_clean_image_passes_every_check_and_urls_are_skipped_by_default():
    result = im.validate(facts_of(clean_image()), im.Options())
    assert result["state"] == "passed"
    assert {c["id"]: c["status"] for c in result["checks"]} == {
        **{check_id: "passed" for check_id in im.IMAGE_CHECKS},
        "IMAGE_REQUIRED_URLS": "skipped",
    }
    for entry in result["checks"]:
        if entry["status"] == "passed":
            assert entry["evidence"], entry["id"]  # a pass says what it saw


def test_agent_absent_image_passes_in_absent_and_any_modes_and_fails_in_present():
    answers = clean_image()
    answers["components.programs"] = []
    answers["services.RDAgentBootLoader"] = {"name": "RDAgentBootLoader", "exists": False}
    answers["services.RDAgent"] = {"name": "RDAgent", "exists": True, "state": "Running"}  # the Azure VM agent
    answers["agent.rdinfra"] = reg(exists=False)
    answers["agent.sxs"] = reg(exists=False)
    answers["agent.bootloader"] = reg(exists=False)
    answers["stack.winstations"] = reg()
    answers["stack.cluster"] = reg(exists=False)
    facts = facts_of(answers)
    assert failing(facts, agent="absent") == []
    assert failing(facts, agent="any") == []
    absent = check(facts, "IMAGE_STACK_LISTENER_KEYS")
    assert absent["status"] == "passed" and "no side-by-side stack installed" in absent["evidence"]
    present = check(facts, "IMAGE_AGENT_COMPONENTS", agent="present")
    assert present["status"] == "failed"
    assert "Remote Desktop Services Infrastructure Agent is not installed" in present["reason"]
    assert "the RDAgentBootLoader service does not exist" in present["reason"]


def test_agent_present_image_fails_in_absent_mode():
    result = check(facts_of(clean_image()), "IMAGE_AGENT_COMPONENTS", agent="absent")
    assert result["status"] == "failed"
    assert (
        "agent mode 'absent'" in result["reason"]
        and "Remote Desktop Agent Boot Loader is installed" in result["reason"]
    )


def test_partial_or_inconsistent_components_fail_in_any_mode():
    partial = clean_image()
    partial["components.programs"] = [p for p in partial["components.programs"] if "Geneva" not in p["display_name"]]
    reason = check(facts_of(partial), "IMAGE_AGENT_COMPONENTS")["reason"]
    assert "Geneva Agent is not installed" in reason
    stale_default = clean_image()
    stale_default["agent.bootloader"] = reg(value("DefaultAgent", "REG_SZ", "RDAgent_1.0.9742.1500"))
    assert "names no installed agent version" in check(facts_of(stale_default), "IMAGE_AGENT_COMPONENTS")["reason"]
    twice = clean_image()
    twice["components.programs"].append(
        {"display_name": "Remote Desktop Services SxS Network Stack", "display_version": "1.0.2404.16760"}
    )
    assert "installed 2 times" in check(facts_of(twice), "IMAGE_AGENT_COMPONENTS")["reason"]


@pytest.mark.parametrize(
    ("edition", "product", "problem"),
    [
        ("Professional", "Windows 10 Pro", "not an Enterprise or Server edition"),
        ("EnterpriseS", "Windows 10 Enterprise LTSC 2021", "LTSC/LTSB"),
        ("EnterpriseS", "Windows 10 Enterprise 2016 LTSB", "LTSC/LTSB"),
        ("EnterpriseN", "Windows 10 Enterprise N", "an N edition"),
        ("EnterpriseGN", "Windows 10 Enterprise G N", "an N edition"),
        ("Education", "Windows 10 Education", "not an Enterprise or Server edition"),
        ("Core", "Windows 10 Home", "not an Enterprise or Server edition"),
    ],
)
def test_unsupported_editions(edition, product, problem):
    answers = clean_image()
    answers["os.version"] = reg(value("EditionID", "REG_SZ", edition), value("ProductName", "REG_SZ", product))
    result = check(facts_of(answers), "IMAGE_EDITION_SUPPORTED")
    assert result["status"] == "failed" and problem in result["reason"]
    assert f"EditionID={edition}" in result["evidence"][0]


@pytest.mark.parametrize(
    ("edition", "product"),
    [
        ("EnterpriseMultiSession", "Windows 10 Enterprise multi-session"),  # ends in n, not an N edition
        ("ServerRdsh", "Windows 10 Enterprise for Virtual Desktops"),
        ("Enterprise", "Windows 10 Enterprise"),
        ("ServerDatacenter", "Windows Server 2022 Datacenter"),
        ("ServerStandard", "Windows Server 2019 Standard"),
    ],
)
def test_supported_editions(edition, product):
    answers = clean_image()
    answers["os.version"] = reg(value("EditionID", "REG_SZ", edition), value("ProductName", "REG_SZ", product))
    assert check(facts_of(answers), "IMAGE_EDITION_SUPPORTED")["status"] == "passed"


@pytest.mark.parametrize(("release", "status"), [(461808, "passed"), (461814, "passed"), (461308, "failed")])
def test_dotnet_472_boundary(release, status):
    answers = clean_image()
    answers["dotnet.ndp"] = reg(value("Release", "REG_DWORD", release))
    assert check(facts_of(answers), "IMAGE_DOTNET_472")["status"] == status


def test_dotnet_missing_fails():
    answers = clean_image()
    answers["dotnet.ndp"] = reg(exists=False)
    result = check(facts_of(answers), "IMAGE_DOTNET_472")
    assert result["status"] == "failed" and "not installed" in result["evidence"][0]


def test_disk_headroom_thresholds():
    answers = clean_image()
    answers["disk.system"] = {"drive": "C:", "size": 127 * 1024**3, "free": 40 * 1024**2}
    result = check(facts_of(answers), "IMAGE_DISK_HEADROOM")
    assert result["status"] == "failed" and "less than 300 MB free" in result["reason"]
    answers["disk.system"] = {"drive": "C:", "size": 127 * 1024**3, "free": 5 * 1024**3}
    assert check(facts_of(answers), "IMAGE_DISK_HEADROOM")["status"] == "failed"  # 3.9 %
    assert check(facts_of(answers), "IMAGE_DISK_HEADROOM", disk_min_free_percent=3.0)["status"] == "passed"
    assert (
        check(facts_of(answers), "IMAGE_DISK_HEADROOM", disk_min_free_mb=8192, disk_min_free_percent=0)["status"]
        == "failed"
    )


@pytest.mark.parametrize("data", [1, 2])
def test_msi_policy(data):
    answers = clean_image()
    answers["policies.installer"] = reg(value("DisableMSI", "REG_DWORD", data))
    result = check(facts_of(answers), "IMAGE_NO_MSI_POLICY")
    assert result["status"] == "failed" and f"DisableMSI={data}" in result["evidence"][0]


def test_msi_policy_zero_passes():
    answers = clean_image()
    answers["policies.installer"] = reg(value("DisableMSI", "REG_DWORD", 0))
    assert check(facts_of(answers), "IMAGE_NO_MSI_POLICY")["status"] == "passed"


def test_cmd_policy_in_the_default_hive_or_machine():
    answers = clean_image()
    answers["policies.user_hives"][0] = {
        "hive": ".DEFAULT",
        "exists": True,
        "values": [value("DisableCMD", "REG_DWORD", 1)],
    }
    result = check(facts_of(answers), "IMAGE_NO_CMD_POLICY")
    assert result["status"] == "failed" and "HKU\\.DEFAULT" in result["reason"]
    machine = clean_image()
    machine["policies.system"] = reg(value("DisableCMD", "REG_DWORD", 2))
    assert "HKLM" in check(facts_of(machine), "IMAGE_NO_CMD_POLICY")["reason"]


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ([value("IsRegistered", "REG_DWORD", 1)], "IsRegistered=1"),
        (
            [
                value("IsRegistered", "REG_DWORD", 0),
                {"name": "RegistrationToken", "type": "REG_SZ", "set": True, "length": 509},
            ],
            "a RegistrationToken is set",
        ),
        (
            [value("IsRegistered", "REG_DWORD", 0), value("GUID", "REG_SZ", "0c8b4b4e-5a1f-4bd6-9d1e-2f3f0c1d9e11")],
            "the agent's GUID is set",
        ),
    ],
)
def test_registration_baked_in(values, words):
    answers = clean_image()
    answers["agent.rdinfra"] = reg(*values)
    result = check(facts_of(answers), "IMAGE_NO_REGISTRATION")
    assert result["status"] == "failed" and words in result["reason"]
    assert "NAME_ALREADY_REGISTERED" in result["doc"].upper() or "name_already_registered" in result["doc"]


def test_the_token_is_described_never_shown():
    answers = clean_image()
    answers["agent.rdinfra"] = reg({"name": "RegistrationToken", "type": "REG_SZ", "set": True, "length": 509})
    evidence = check(facts_of(answers), "IMAGE_NO_REGISTRATION")["evidence"][0]
    assert "RegistrationToken set (509 characters)" in evidence


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"fReverseConnectMode": 0}, "fReverseConnectMode=0 (must be 1)"),
        ({"fEnableWinStation": 0}, "fEnableWinStation=0 (must be 1)"),
    ],
)
def test_stack_flags(change, words):
    answers = clean_image()
    flags = {"fReverseConnectMode": 1, "fEnableWinStation": 1, **change}
    answers["stack.winstations"]["subkey_values"]["rdp-sxs240705700"] = [
        value(name, "REG_DWORD", data) for name, data in flags.items()
    ]
    result = check(facts_of(answers), "IMAGE_STACK_LISTENER_KEYS")
    assert result["status"] == "failed" and words in result["reason"]


def test_stack_listener_names_must_agree():
    answers = clean_image()
    answers["stack.cluster"] = reg(value("SessionDirectoryListener", "REG_SZ", "rdp-sxs240404676"))
    assert "does not match rdp-sxs240705700" in check(facts_of(answers), "IMAGE_STACK_LISTENER_KEYS")["reason"]
    missing = clean_image()
    missing["stack.winstations"]["subkey_values"] = {}
    assert "has no WinStation key" in check(facts_of(missing), "IMAGE_STACK_LISTENER_KEYS")["reason"]


def test_an_older_stack_winstation_is_evidence_not_a_failure():
    answers = clean_image()
    answers["stack.winstations"]["subkey_values"]["rdp-sxs240416760"] = [value("fReverseConnectMode", "REG_DWORD", 0)]
    result = check(facts_of(answers), "IMAGE_STACK_LISTENER_KEYS")
    assert result["status"] == "passed"
    assert any("rdp-sxs240416760" in line for line in result["evidence"])


@pytest.mark.parametrize(
    ("op_id", "answer", "words"),
    [
        ("reboot.cbs", reg(), "Component Based Servicing"),
        ("reboot.windows_update", reg(), "Windows Update"),
        (
            "reboot.session_manager",
            reg(value("PendingFileRenameOperations", "REG_MULTI_SZ", [r"\??\C:\Windows\Temp\a.tmp", ""])),
            "pending file renames",
        ),
    ],
)
def test_each_pending_reboot_marker_fails(op_id, answer, words):
    answers = clean_image()
    answers[op_id] = answer
    result = check(facts_of(answers), "IMAGE_NO_PENDING_REBOOT")
    assert result["status"] == "failed" and words in result["reason"]


def test_an_empty_rename_list_is_no_pending_reboot():
    answers = clean_image()
    answers["reboot.session_manager"] = reg(value("PendingFileRenameOperations", "REG_MULTI_SZ", []))
    assert check(facts_of(answers), "IMAGE_NO_PENDING_REBOOT")["status"] == "passed"


def test_required_urls_when_asked():
    answers = clean_image()
    answers["network.broker"] = {"url": None, "reachable": False, "error": "BrokerURI is not set"}
    answers["network.broker_global"] = {"url": None, "reachable": False, "error": "BrokerURIGlobal is not set"}
    answers["network.probe.0"] = {"url": URLS[0], "reachable": True, "status": 200, "error": None}
    answers["network.probe.1"] = {"url": URLS[1], "reachable": False, "status": None, "error": "Unable to connect"}
    facts = facts_of(answers, probe_urls=URLS)
    result = check(facts, "IMAGE_REQUIRED_URLS", check_urls=True, urls=tuple(URLS))
    assert result["status"] == "failed" and result["reason"] == f"unreachable: {URLS[1]}"
    answers["network.probe.1"] = {"url": URLS[1], "reachable": True, "status": 404, "error": None}
    facts = facts_of(answers, probe_urls=URLS)
    assert check(facts, "IMAGE_REQUIRED_URLS", check_urls=True, urls=tuple(URLS))["status"] == "passed"


def test_what_was_not_gathered_is_an_error_never_a_pass():
    answers = clean_image()
    del answers["reboot.cbs"]
    results = {op_id: OperationResult(op_id, "x", True, result) for op_id, result in answers.items()}
    results["dotnet.ndp"] = OperationResult("dotnet.ndp", "registry_read", False, error="Access is denied")
    facts = f.assemble(frozenset(im.subsets_for(im.Options())) - {"reboot"}, results, {"probe_urls": []}, NOW)
    result = im.validate(facts, im.Options())
    assert result["state"] == "failed"
    by_id = {c["id"]: c for c in result["checks"]}
    assert by_id["IMAGE_NO_PENDING_REBOOT"]["status"] == "error"
    assert "the reboot facts were not gathered" in by_id["IMAGE_NO_PENDING_REBOOT"]["reason"]
    assert by_id["IMAGE_DOTNET_472"]["status"] == "error"
    assert "dotnet.ndp: Access is denied" in by_id["IMAGE_DOTNET_472"]["reason"]


def test_options_are_validated():
    assert im.options_from_args({"agent": "present", "check_urls": True, "urls": []}).urls == im.k.REQUIRED_URLS
    with pytest.raises(ValueError, match="agent must be one of absent, present, any"):
        im.options_from_args({"agent": "maybe"})
    with pytest.raises(ValueError, match="disk_min_free_percent must be from 0"):
        im.options_from_args({"disk_min_free_percent": 150})
    with pytest.raises(ValueError, match="'ftp://x' is not an http"):
        im.options_from_args({"urls": ["ftp://x"]})


def test_listener_names_left_by_an_uninstalled_stack_pass_but_a_stack_without_winstation_fails():
    leftover = clean_image()
    leftover["stack.winstations"]["subkey_values"] = {}
    leftover["components.programs"] = [
        p for p in leftover["components.programs"] if p["display_name"] != "Remote Desktop Services SxS Network Stack"
    ]
    result = check(facts_of(leftover), "IMAGE_STACK_LISTENER_KEYS")
    assert result["status"] == "passed" and "no side-by-side stack installed" in result["evidence"]
    broken = clean_image()
    broken["stack.winstations"]["subkey_values"] = {}
    assert check(facts_of(broken), "IMAGE_STACK_LISTENER_KEYS")["status"] == "failed"


def test_report_entries_and_junit_reuse_the_diagnosis_reports(tmp_path):
    from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _reports as rep

    broken = clean_image()
    broken["reboot.cbs"] = reg()
    results = {
        "img-ok": {"changed": False, "validation": im.validate(facts_of(clean_image()), im.Options())},
        "img-bad": {"changed": False, "validation": im.validate(facts_of(broken), im.Options())},
        "img-gone": {"unreachable": True, "msg": "ntlm: the server rejected the credentials"},
        "img-none": {},
    }
    entries = {name: im.report_entry(result) for name, result in results.items()}
    assert entries["img-ok"]["state"] == "healthy" and entries["img-ok"]["findings"] == []
    assert [f["id"] for f in entries["img-bad"]["findings"]] == ["IMAGE_NO_PENDING_REBOOT"]
    assert entries["img-gone"]["state"] == "unreachable" and entries["img-none"]["state"] == "failed"
    report = rep.build_report(entries, NOW)
    files = rep.write_reports(report, tmp_path, im.REPORT_STEM, im.IMAGE_CHECKS, html=False)
    assert sorted(Path(p).name for p in files.values()) == ["image-validation.json", "junit-image-validation.xml"]
    junit = Path(files["junit"]).read_text()
    assert 'name="avdops.sessionhost image-validation"' in junit
    assert junit.count("<testcase") == 2 * len(im.IMAGE_CHECKS) + 2
    assert "IMAGE_NO_PENDING_REBOOT: No reboot pending before capture" in junit
    assert rep.hosts_at_or_above(report, "critical") == ["img-bad", "img-gone", "img-none"]
