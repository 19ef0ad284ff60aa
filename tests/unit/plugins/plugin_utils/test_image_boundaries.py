"""Image validation, pinned where a check passes, fails or is left (issue 22): the report entry of each kind of
result, the options' bounds, each pending-reboot marker at 0 and 1, the URL evidence, what was not gathered."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _image as im

CHECK = {
    "id": "IMAGE_DOTNET_472",
    "title": "t",
    "doc": "d",
    "evidence": ["e"],
    "reason": "r",
}


def entry(result: Any) -> dict[str, Any]:
    return im.report_entry(result)


def test_no_result_unreachable_and_failed_results():
    assert entry(None) == {
        "state": "failed",
        "reason": "no validation result (the host was not run)",
        "findings": [],
        "unchecked": [],
    }
    assert entry({}) == entry(None)
    assert entry({"unreachable": True, "msg": "timed out"}) == {
        "state": "unreachable",
        "reason": "timed out",
        "findings": [],
        "unchecked": [],
    }
    assert entry({"unreachable": True})["reason"] == "unreachable"
    assert entry({"failed": True, "msg": "boom", "validation": {"checks": []}}) == {
        "state": "failed",
        "reason": "boom",
        "findings": [],
        "unchecked": [],
    }
    assert entry({"validation": "x"})["reason"] == "the validation failed"


def test_a_failed_and_an_uncheckable_check_are_critical_findings_a_skipped_one_unchecked():
    checks = [
        {**CHECK, "status": "failed"},
        {**CHECK, "id": "IMAGE_DISK_HEADROOM", "status": "error", "reason": "could not check: x"},
        {**CHECK, "id": "IMAGE_REQUIRED_URLS", "status": "skipped", "reason": "not requested"},
        {**CHECK, "id": "IMAGE_NO_MSI_POLICY", "status": "passed", "evidence": ["DisableMSI=not set"]},
    ]
    found = entry({"validation": {"state": "failed", "checks": checks}})
    assert found == {
        "state": "unhealthy",
        "findings": [
            {"id": "IMAGE_DOTNET_472", "severity": "critical", "title": "t", "evidence": ["e"], "remediation": "r",
             "doc": "d", "explained_by": None, "explains": []},
            {"id": "IMAGE_DISK_HEADROOM", "severity": "critical", "title": "t", "evidence": ["e"],
             "remediation": "error: could not check: x", "doc": "d", "explained_by": None, "explains": []},
        ],
        "unchecked": ["IMAGE_REQUIRED_URLS: not requested"],
        "passed": {"IMAGE_NO_MSI_POLICY": ["DisableMSI=not set"]},
        "checks": checks,
    }  # fmt: skip


def test_healthy_only_when_every_check_passed_and_the_state_says_so():
    passed = [{**CHECK, "status": "passed", "evidence": None}]
    assert entry({"validation": {"state": "passed", "checks": passed}})["state"] == "healthy"
    assert entry({"validation": {"state": "passed", "checks": passed}})["passed"] == {"IMAGE_DOTNET_472": []}
    assert entry({"validation": {"state": "failed", "checks": passed}})["state"] == "unhealthy"
    bare = entry({"validation": {"state": "failed", "checks": [{**CHECK, "status": "failed", "reason": None}]}})
    assert bare["findings"][0]["remediation"] == "" and bare["findings"][0]["evidence"] == ["e"]


@pytest.mark.parametrize(("mb", "good"), [(-1, False), (0, True)])
def test_the_free_megabytes_bound(mb, good):
    if good:
        assert im.options_from_args({"disk_min_free_mb": mb}).disk_min_free_mb == mb
    else:
        with pytest.raises(ValueError, match=r"^disk_min_free_mb must be 0 or more, got -1$"):
            im.options_from_args({"disk_min_free_mb": mb})


@pytest.mark.parametrize(("percent", "good"), [(-0.01, False), (0, True), (99.99, True), (100, False)])
def test_the_free_percent_bounds(percent, good):
    if good:
        assert im.options_from_args({"disk_min_free_percent": percent}).disk_min_free_percent == percent
    else:
        with pytest.raises(ValueError, match=r"^disk_min_free_percent must be from 0 to less than 100, got"):
            im.options_from_args({"disk_min_free_percent": percent})


def test_the_defaults_and_each_option_carried_over():
    assert im.options_from_args({}) == im.Options()
    assert im.Options() == im.Options("any", False, im.k.REQUIRED_URLS, 300, 5.0)
    assert im.options_from_args(
        {"agent": "absent", "check_urls": 1, "urls": ["http://a.test/x"], "disk_min_free_mb": "7",
         "disk_min_free_percent": "2.5"}
    ) == im.Options("absent", True, ("http://a.test/x",), 7, 2.5)  # fmt: skip
    assert im.options_from_args({"agent": None}).agent == "any"
    for url in ("https://", "https:// x", "x https://a"):
        with pytest.raises(ValueError, match="is not an http"):
            im.options_from_args({"urls": [url]})


def test_the_network_subset_only_when_urls_are_checked():
    without = im.subsets_for(im.Options())
    assert "network" not in without and without == sorted(without)
    assert sorted([*without, "network"]) == im.subsets_for(im.Options(check_urls=True))


def reboot(cbs: Any = False, wu: Any = False, renames: Any = 0, sample: Any = None) -> dict[str, Any]:
    found = {"cbs_reboot_pending": cbs, "windows_update_reboot_required": wu, "pending_file_renames": renames}
    if sample is not None:
        found["pending_file_renames_sample"] = sample
    return im.pending_reboot({"reboot": found}, im.Options()).__dict__


def test_no_marker_no_pending_reboot_with_the_evidence_of_each():
    assert reboot(renames=None) == {
        "id": "IMAGE_NO_PENDING_REBOOT",
        "status": "passed",
        "evidence": [
            "Component Based Servicing\\RebootPending: absent",
            "WindowsUpdate\\Auto Update\\RebootRequired: absent",
            "Session Manager\\PendingFileRenameOperations: 0 entries",
        ],
        "reason": "",
    }


@pytest.mark.parametrize(
    ("markers", "named"),
    [({"cbs": True}, "Component Based Servicing"), ({"wu": True}, "Windows Update"),
     ({"renames": 1}, "pending file renames")],
)  # fmt: skip
def test_each_marker_alone_fails_naming_it(markers, named):
    found = reboot(**markers)
    assert found["status"] == "failed"
    assert found["reason"] == f"a reboot is pending ({named}): restart the build VM before sysprep and capture"


def test_all_markers_named_with_the_renames_sample():
    found = reboot(True, True, 2, ["\\??\\C:\\a", "\\??\\C:\\b"])
    assert found["reason"].startswith(
        "a reboot is pending (Component Based Servicing, Windows Update, pending file renames)"
    )
    assert found["evidence"] == [
        "Component Based Servicing\\RebootPending: present",
        "WindowsUpdate\\Auto Update\\RebootRequired: present",
        "Session Manager\\PendingFileRenameOperations: 2 entries",
        "  \\??\\C:\\a",
        "  \\??\\C:\\b",
    ]


def test_urls_each_with_its_evidence():
    urls = ("https://a.test/", "https://b.test/", "https://c.test/")
    probes = [
        {"url": "https://a.test/", "reachable": True, "status": 200},
        {"url": "https://b.test/", "reachable": False, "error": "refused"},
    ]
    found = im.required_urls({"network": {"probes": probes}}, im.Options(check_urls=True, urls=urls))
    assert found.__dict__ == {
        "id": "IMAGE_REQUIRED_URLS",
        "status": "failed",
        "evidence": ["https://a.test/: reachable (HTTP 200)", "https://b.test/: unreachable (refused)",
                     "https://c.test/: not probed"],
        "reason": "unreachable: https://b.test/, https://c.test/",
    }  # fmt: skip
    one = im.required_urls({"network": {"probes": probes}}, im.Options(check_urls=True, urls=urls[:1]))
    assert (one.status, one.reason) == ("passed", "")


def test_what_was_not_gathered_or_failed_to_read_is_named_unused_reads_are_not():
    facts = {
        "stack": {},
        "errors": [
            {"operation": "components.sxs_msi", "message": "denied"},  # not read by this check
            {"operation": "stack.winstations", "message": "Access is denied"},
            {"operation": "network.probe.0", "message": "x"},  # another check's subset
        ],
    }
    found = im._missing("IMAGE_STACK_LISTENER_KEYS", facts)
    assert found is not None and found.__dict__ == {
        "id": "IMAGE_STACK_LISTENER_KEYS",
        "status": "error",
        "evidence": ["stack.winstations: Access is denied"],
        "reason": "could not check: the components facts were not gathered; stack.winstations: Access is denied",
    }
    assert (
        im._missing("IMAGE_STACK_LISTENER_KEYS", {"stack": {}, "components": {}, "errors": facts["errors"][:1]}) is None
    )
    assert im._missing("IMAGE_DOTNET_472", {"dotnet": "not a mapping"}) is not None


@pytest.mark.parametrize(
    ("edition", "product", "problem"),
    [(None, None, "EditionID is not set"), ("", "x", "EditionID is not set"),
     ("EnterpriseS", None, "an LTSC/LTSB edition"), ("Enterprise", "Windows 10 Enterprise LTSC 2021", "an LTSC/LTSB edition"),
     ("Enterprise", "Windows 10 Enterprise LTSCX", None), ("EnterpriseN", None, "an N edition"),
     ("Enterprise", "Windows 10 Enterprise N", "an N edition"), ("Enterprise", "Windows 10 EnterpriseN", None),
     ("Professional", None, "not an Enterprise or Server edition (the side-by-side stack installs but is never activated)"),
     ("ServerDatacenter", "Windows Server 2022 Datacenter", None)],
)  # fmt: skip
def test_edition_problems(edition, product, problem):
    assert im.edition_problem(edition, product) == problem


@pytest.mark.parametrize(("free_mb", "status"), [(300, "passed"), (299, "failed")])
def test_disk_megabytes_boundary(free_mb, status):
    facts = {"disk": {"drive": "C:", "size_bytes": 1024**3, "free_bytes": free_mb * 1024**2}}
    found = im.disk(facts, im.Options(disk_min_free_percent=0))
    assert found.status == status


@pytest.mark.parametrize(("release", "status"), [(461808, "passed"), (461807, "failed"), (None, "failed")])
def test_dotnet_472_boundary_whole(release, status):
    found = im.dotnet({"dotnet": {"release": release, "version": "4.7.03062" if release else None}}, im.Options())
    shown = "4.7.03062" if release else "not installed"
    assert found.__dict__ == {
        "id": "IMAGE_DOTNET_472",
        "status": status,
        "evidence": [f"NDP\\v4\\Full Release={release} (.NET {shown})"],
        "reason": "" if status == "passed" else "the agent needs Release 461808 (4.7.2) or later",
    }


@pytest.mark.parametrize(("free_percent", "status"), [(4.96, "failed"), (5.0, "passed")])
def test_disk_percent_boundary_to_the_hundredth(free_percent, status):
    size = 100 * 1024**3
    facts = {"disk": {"drive": "C:", "size_bytes": size, "free_bytes": int(size * free_percent / 100)}}
    found = im.disk(facts, im.Options(disk_min_free_mb=0))
    assert found.status == status
    assert found.evidence == [
        f"C: has {int(size * free_percent / 100) / 1024**2:.0f} MB free of 100.0 GB ({free_percent}%)"
    ]


PROGRAMS = {
    im.k.PROGRAM_BOOTLOADER: [{"display_version": "1.0.9023.1100"}],
    im.k.PROGRAM_AGENT: [{"display_version": "1.0.10004.1300"}],
    im.k.PROGRAM_GENEVA: [{"display_version": "46.16.1"}],
    im.k.PROGRAM_SXS: [{"display_version": "1.0.2505.08650"}, {"display_version": "1.0.2404.16760"}],
}


def components(programs: dict[str, Any], service: bool, agent: dict[str, Any], mode: str = "any") -> dict[str, Any]:
    facts = {
        "agent": agent,
        "services": {"RDAgentBootLoader": {"exists": service}},
        "components": {"programs": programs},
    }
    return im.agent_components(facts, im.Options(agent=mode)).__dict__


def test_components_absent_whole():
    assert components({}, False, {}) == {
        "id": "IMAGE_AGENT_COMPONENTS",
        "status": "passed",
        "evidence": [
            *(f"{name}: not installed" for name in im.k.PROGRAMS),
            "service RDAgentBootLoader: absent",
            "DefaultAgent=not set, SxsStack CurrentVersion=not set",
            "agent components absent",
        ],
        "reason": "",
    }


def test_components_present_whole_with_each_inconsistency_named():
    agent = {"default_agent": "RDAgent_1.0.9742.1500", "version": "1.0.9742.1500", "sxs_stack_version": None}
    found = components(PROGRAMS, True, agent, "present")
    assert found["evidence"] == [
        f"{im.k.PROGRAM_BOOTLOADER}: 1.0.9023.1100",
        f"{im.k.PROGRAM_AGENT}: 1.0.10004.1300",
        f"{im.k.PROGRAM_GENEVA}: 46.16.1",
        f"{im.k.PROGRAM_SXS}: 1.0.2505.08650, 1.0.2404.16760",
        "service RDAgentBootLoader: exists",
        "DefaultAgent=RDAgent_1.0.9742.1500, SxsStack CurrentVersion=not set",
    ]
    assert found["reason"] == (
        f"agent mode 'present': {im.k.PROGRAM_SXS} is installed 2 times; DefaultAgent=RDAgent_1.0.9742.1500 names "
        "no installed agent version; SxsStack CurrentVersion=not set is not the installed stack"
    )
    consistent = {**agent, "version": "1.0.10004.1300", "sxs_stack_version": "rdp-sxs1.0.2505.08650"}
    one_stack = {**PROGRAMS, im.k.PROGRAM_SXS: PROGRAMS[im.k.PROGRAM_SXS][:1]}
    assert (
        components(one_stack, True, consistent, "present")["evidence"][-1] == "agent components present and consistent"
    )
    absent = components(one_stack, True, consistent, "absent")["reason"]
    assert absent == (
        "agent mode 'absent': "
        + "; ".join(f"{name} is installed" for name in im.k.PROGRAMS)
        + "; the RDAgentBootLoader service exists"
    )
