"""validate_image.yml against the lab's image-build VMs: a clean image passes, each image fault fails its check."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import REPO, run_ansible

pytestmark = pytest.mark.lab

SCENARIO = REPO / "tests" / "lab" / "scenarios" / "images.yml"
PLAYBOOK = REPO / "playbooks" / "validate_image.yml"
EXPECTED = {  # image host -> the checks that must fail on it (agent mode any)
    "img-clean": set(),
    "img-noagent": set(),
    "img-registered": {"IMAGE_NO_REGISTRATION"},
    "img-token": {"IMAGE_NO_REGISTRATION"},
    "img-reboot": {"IMAGE_NO_PENDING_REBOOT"},
    "img-dotnet": {"IMAGE_DOTNET_472"},
    "img-msi": {"IMAGE_NO_MSI_POLICY"},
    "img-cmd": {"IMAGE_NO_CMD_POLICY"},
    "img-pro": {"IMAGE_EDITION_SUPPORTED"},
    "img-disk": {"IMAGE_DISK_HEADROOM"},
    "img-stack": {"IMAGE_STACK_LISTENER_KEYS"},
}


@pytest.fixture(scope="module")
def image_lab(lab_factory):
    return lab_factory("images", "--scenario", str(SCENARIO), "--first-address", "127.0.30.1")


def validate(lab, report_dir: Path, *extra: str, target: str = "avd_image_builds") -> subprocess.CompletedProcess[str]:
    return lab.playbook(PLAYBOOK, "-e", f"target={target}", "-e", f"avd_report_dir={report_dir}", *extra)


@pytest.fixture(scope="module")
def validation(image_lab, tmp_path_factory):
    report_dir = tmp_path_factory.mktemp("image-reports")
    image_lab.reset_stats()
    result = validate(image_lab, report_dir)
    return report_dir, result, image_lab.stats()


def failing_cases(junit: str) -> dict[str, set[str]]:
    failing: dict[str, set[str]] = {}
    for case in ET.fromstring(junit).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failing.setdefault(case.get("classname", ""), set()).add(case.get("name", "").split(":", 1)[0])
    return failing


def test_each_image_fault_fails_its_check_and_the_run(validation):
    report_dir, result, _unused = validation
    assert result.returncode != 0, result.stdout[-3000:]
    assert "image host(s) failed validation" in result.stdout
    report = json.loads((report_dir / "image-validation.json").read_text())
    assert set(report["hosts"]) == set(EXPECTED)  # the image group only, not the pool's session host
    got = {name: {f["id"] for f in entry["findings"]} for name, entry in report["hosts"].items()}
    assert got == EXPECTED
    junit = (report_dir / "junit-image-validation.xml").read_text()
    assert failing_cases(junit) == {name: ids for name, ids in EXPECTED.items() if ids}
    assert junit.count("<testcase") == len(EXPECTED) * 10


def test_failing_cases_carry_evidence_and_the_section(validation):
    report_dir, _unused1, _unused2 = validation
    root = ET.fromstring((report_dir / "junit-image-validation.xml").read_text())
    case = next(
        c
        for c in root.iter("testcase")
        if c.get("classname") == "img-reboot" and "IMAGE_NO_PENDING_REBOOT" in c.get("name", "")
    )
    failure = case.find("failure")
    assert failure is not None and "RebootPending: present" in (failure.text or "")
    assert "PendingFileRenameOperations: 2 entries" in (failure.text or "")
    assert "Doc: " in (failure.text or "") and "pendmoves" in (failure.text or "")
    passed = next(
        c
        for c in root.iter("testcase")
        if c.get("classname") == "img-clean" and "IMAGE_DOTNET_472" in c.get("name", "")
    )
    assert "Release=528372" in (passed.findtext("system-out") or "")
    skipped = next(
        c
        for c in root.iter("testcase")
        if c.get("classname") == "img-clean" and "IMAGE_REQUIRED_URLS" in c.get("name", "")
    )
    assert skipped.find("skipped") is not None


def test_one_winrm_command_per_image_host(validation):
    _unused1, _unused2, stats = validation
    assert {name: stats[name]["commands"] for name in EXPECTED} == {name: 1 for name in EXPECTED}


def test_the_token_left_in_an_image_appears_in_no_output(image_lab, validation):
    report_dir, result, _unused = validation
    state = json.loads((image_lab.directory / "hosts" / "img-token.json").read_text())
    tokens = [
        v["data"]
        for values in state["registry"].values()
        for v in values
        if v["name"] == "RegistrationToken" and v["data"]
    ]
    assert len(tokens) == 1
    texts = [result.stdout, result.stderr, *(p.read_text() for p in report_dir.iterdir())]
    assert all(tokens[0] not in text and tokens[0][:32] not in text for text in texts)


@pytest.fixture(scope="module")
def clean(image_lab, tmp_path_factory):
    """The clean image validated alone: its passing run, and its reports (which the runs that check no image must
    replace)."""
    report_dir = tmp_path_factory.mktemp("clean")
    result = image_lab.playbook(PLAYBOOK, "-e", "target=img-clean", "-e", f"avd_report_dir={report_dir}")
    return report_dir, result


def test_a_clean_image_passes(clean):
    report_dir, result = clean
    assert result.returncode == 0, result.stdout[-3000:]
    report = json.loads((report_dir / "image-validation.json").read_text())
    assert report["hosts"]["img-clean"]["state"] == "healthy" and report["summary"]["hosts"] == 1


def test_agent_mode_present_fails_an_agentless_image(image_lab, tmp_path):
    result = validate(image_lab, tmp_path, "-e", "avd_image_agent=present", target="img-clean,img-noagent")
    assert result.returncode != 0
    report = json.loads((tmp_path / "image-validation.json").read_text())
    assert [f["id"] for f in report["hosts"]["img-noagent"]["findings"]] == ["IMAGE_AGENT_COMPONENTS"]
    assert report["hosts"]["img-clean"]["state"] == "healthy"


def test_agent_mode_absent_fails_an_image_with_the_agent(image_lab, tmp_path):
    result = validate(image_lab, tmp_path, "-e", "avd_image_agent=absent", target="img-clean,img-noagent")
    assert result.returncode != 0
    report = json.loads((tmp_path / "image-validation.json").read_text())
    assert [f["id"] for f in report["hosts"]["img-clean"]["findings"]] == ["IMAGE_AGENT_COMPONENTS"]
    assert report["hosts"]["img-noagent"]["state"] == "healthy"


def test_required_urls_when_asked(image_lab, tmp_path):
    result = validate(image_lab, tmp_path, "-e", "avd_image_check_urls=true", target="img-clean")
    assert result.returncode == 0, result.stdout[-3000:]
    report = json.loads((tmp_path / "image-validation.json").read_text())
    assert report["hosts"]["img-clean"]["unchecked"] == []
    assert "IMAGE_REQUIRED_URLS" in report["hosts"]["img-clean"]["passed"]


def test_the_packer_example_playbook_runs_the_collection_playbook(image_lab, tmp_path):
    result = image_lab.playbook(
        REPO / "examples" / "packer" / "validate-image.yml",
        "-e",
        "target=img-clean",
        "-e",
        f"avd_report_dir={tmp_path}",
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "junit-image-validation.xml").exists()


def test_the_ci_examples_publish_the_file_the_playbook_writes():
    import yaml

    github = yaml.safe_load((REPO / "examples" / "github-actions" / "avd-image.yml").read_text())
    steps = github["jobs"]["image"]["steps"]
    junit = next(s for s in steps if s.get("uses", "").startswith("mikepenz/action-junit-report"))
    assert junit["with"]["report_paths"] == "examples/packer/reports/junit-image-validation.xml"
    assert junit["if"] == "${{ !cancelled() }}"
    azure = yaml.safe_load((REPO / "examples" / "azure-pipelines" / "avd-image.yml").read_text())
    publish = next(s for s in azure["jobs"][0]["steps"] if s.get("task") == "PublishTestResults@2")
    assert publish["inputs"]["testResultsFormat"] == "JUnit"
    assert publish["inputs"]["testResultsFiles"] == "examples/packer/reports/junit-image-validation.xml"
    packer = (REPO / "examples" / "packer" / "avd-image.pkr.hcl").read_text()
    assert "use_proxy     = false" in packer and "avd_report_dir=${path.root}/reports" in packer


@pytest.mark.parametrize("target", ["img-cleen", "no_such_group", "img-zz*"])
def test_a_run_that_checked_no_image_fails_and_rewrites_the_reports(image_lab, clean, tmp_path, target):
    """A typo in -e target or a pattern matching nothing fails like diagnose.yml, and leaves no stale pass: the
    reports of the clean image's passing run are in the folder first."""
    report_dir, passing = clean
    assert passing.returncode == 0, passing.stdout[-3000:]
    shutil.copytree(report_dir, tmp_path, dirs_exist_ok=True)
    assert "img-clean" in (tmp_path / "junit-image-validation.xml").read_text()
    result = validate(image_lab, tmp_path, target=target)
    assert result.returncode != 0, result.stdout[-3000:]
    assert "no host was diagnosed: the run had no hosts" in result.stdout
    report = json.loads((tmp_path / "image-validation.json").read_text())
    assert report["hosts"] == {} and report["summary"]["hosts"] == 0
    assert "img-clean" not in (tmp_path / "junit-image-validation.xml").read_text()


def test_an_empty_inventory_checks_no_image_and_fails(tmp_path):
    inventory = tmp_path / "empty.yml"
    inventory.write_text("all:\n  hosts: {}\n")
    result = run_ansible("ansible-playbook", "-i", str(inventory), str(PLAYBOOK), "-e", f"avd_report_dir={tmp_path}")
    assert result.returncode != 0, result.stdout[-3000:]
    assert "no host was diagnosed: the run had no hosts" in result.stdout
    assert json.loads((tmp_path / "image-validation.json").read_text())["summary"]["hosts"] == 0


def test_a_limit_that_leaves_out_localhost_is_refused(image_lab, tmp_path):
    result = validate(image_lab, tmp_path, "--limit", "img-clean")
    assert result.returncode != 0
    assert "use -e target=PATTERN instead" in result.stdout
