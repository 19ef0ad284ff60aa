"""The playbooks' variables: each bad value is refused with the variable's name and what it accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.avdops.sessionhost.plugins.filter.avd import avd_check_variables, avd_variable_pattern
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._validate import (
    PLAYBOOK_VARIABLES,
    RUN_VARIABLES,
    InputError,
    check_run_variables,
    installer_manifest,
)

SHA = "a" * 64
# what the playbooks that require a variable get in the cases about another variable
REQUIRED = {"move": {"avd_target_pool": "hp-two"}, "merge_reports": {"avd_slice_dir": "."}}

# (playbook, variable, value, words the message must hold); every case names the variable first
BAD: list[tuple[str, str, Any, str]] = [
    ("remediate", "avd_serial", "abc", "whole number of hosts per batch, 1 or more, or a percentage"),
    ("remediate", "avd_serial", "-1", "1 or more"),
    ("remediate", "avd_serial", 0, "1 or more"),
    ("reinstall", "avd_serial", "0%", "from 1% to 100%"),
    ("reinstall", "avd_serial", "150%", "from 1% to 100%"),
    ("move", "avd_serial", [1, "x"], "1 or more"),
    ("move", "avd_serial", True, "1 or more"),
    ("remediate", "avd_max_fail_percentage", "101", "from 0 to 100"),
    ("reinstall", "avd_max_fail_percentage", -1, "from 0 to 100"),
    ("reinstall", "avd_max_fail_percentage", "ten", "from 0 to 100"),
    ("reinstall", "avd_max_fail_percentage", 12.5, "from 0 to 100"),
    ("validate_image", "avd_image_disk_min_free_mb", "abc", "whole number 0 or more (MB)"),
    ("validate_image", "avd_image_disk_min_free_mb", "-5", "0 or more"),
    ("validate_image", "avd_image_disk_min_free_percent", "101", "from 0 to 100"),
    ("validate_image", "avd_image_disk_min_free_percent", "nan", "from 0 to 100"),
    ("validate_image", "avd_image_agent", "maybe", "one of absent, present, any"),
    ("validate_image", "avd_image_check_urls", "sometimes", "true or false"),
    ("validate_image", "avd_image_urls", "https://a", "a list of http:// or https:// URLs"),
    ("validate_image", "avd_image_urls", ["ftp://a"], "item 0: expected an http:// or https:// URL"),
    ("diagnose", "avd_fail_on", "error", "one of none, warning, critical"),
    ("validate_image", "avd_fail_on", "Critical", "one of none, warning, critical"),
    ("merge_reports", "avd_fail_on", "all", "one of none, warning, critical"),
    ("diagnose", "avd_fail_on_stopped", "perhaps", "true or false"),
    ("diagnose", "avd_fail_on_incomplete", 2, "true or false"),
    ("diagnose", "target", "", "a host pattern"),
    ("remediate", "avd_force", "please", "true or false"),
    ("remediate", "avd_only", "DISK_SPACE_LOW,NO_SUCH_ID", "unknown finding id(s) NO_SUCH_ID"),
    ("remediate", "avd_skip", "bogus", "unknown finding id(s) BOGUS"),
    ("remediate", "avd_skip", 5, "finding ids separated by commas"),
    ("reinstall", "avd_reinstall_token_hours", "0", "from 1 to 648"),
    ("reinstall", "avd_reinstall_token_hours", "649", "from 1 to 648"),
    ("reinstall", "avd_reinstall_token_hours", "two", "from 1 to 648"),
    ("move", "avd_move_token_hours", "1000", "from 1 to 648"),
    ("move", "avd_move_token_hours", -2, "from 1 to 648"),
    ("move", "avd_target_pool", "", "the name of the host pool"),
    ("move", "avd_target_resource_group", 7, "the resource group"),
    ("reinstall", "avd_reinstall_healthy", "sure", "true or false"),
    ("reinstall", "avd_reinstall_packages", "C:\\a.msi", "a mapping {agent: PATH, boot_loader: PATH}"),
    ("reinstall", "avd_reinstall_packages", {"agent": "C:\\a.msi"}, "a mapping {agent: PATH, boot_loader: PATH}"),
    ("reinstall", "avd_reinstall_packages", {"agent": "a", "boot_loader": "b", "agent_sha256": "12"}, "agent_sha256"),
    ("reinstall", "avd_installer_busy_retries", "-1", "0 or more"),
    ("reinstall", "avd_installer_busy_delay", "soon", "0 or more (seconds)"),
    ("move", "avd_available_retries", "x", "0 or more"),
    ("move", "avd_settle_seconds", "-3", "0 or more (seconds)"),
    ("remediate", "avd_reboot_timeout", "0", "1 or more (seconds)"),
    ("remediate", "avd_session_wait_retries", "many", "0 or more"),
    ("remediate", "avd_message_body", "", "a non-empty string"),
]


@pytest.mark.parametrize(("playbook", "name", "value", "words"), BAD, ids=[f"{c[0]}-{c[1]}-{c[2]!r}" for c in BAD])
def test_a_bad_value_is_named_with_what_it_accepts(playbook, name, value, words):
    problems = check_run_variables(playbook, {**REQUIRED.get(playbook, {}), name: value})
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{name}: ")
    assert words in problems[0]


GOOD: list[tuple[str, str, Any]] = [
    ("remediate", "avd_serial", "1"),
    ("remediate", "avd_serial", 5),
    ("reinstall", "avd_serial", "20%"),
    ("reinstall", "avd_serial", "100%"),
    ("move", "avd_serial", [1, "50%"]),
    ("remediate", "avd_max_fail_percentage", "0"),
    ("remediate", "avd_max_fail_percentage", 100),
    ("validate_image", "avd_image_disk_min_free_mb", "300"),
    ("validate_image", "avd_image_disk_min_free_percent", "5.5"),
    ("validate_image", "avd_image_urls", ["https://rdweb.wvd.microsoft.com"]),
    ("diagnose", "avd_fail_on", "warning"),
    ("diagnose", "avd_fail_on_stopped", "yes"),
    ("diagnose", "avd_fail_on_incomplete", False),
    ("remediate", "avd_force", "True"),
    ("remediate", "avd_only", "disk_space_low, INVALID_REGISTRATION_TOKEN"),
    ("remediate", "avd_skip", ["DOTNET_OUTDATED"]),
    ("remediate", "avd_skip", ""),
    ("reinstall", "avd_reinstall_token_hours", "1"),
    ("reinstall", "avd_reinstall_token_hours", 648),
    ("reinstall", "avd_reinstall_packages", {"agent": "C:\\a.msi", "boot_loader": "C:\\b.msi", "agent_sha256": SHA}),
    ("reinstall", "avd_reinstall_packages", {}),
    ("reinstall", "avd_installer_manifest", ""),
    ("move", "avd_target_pool", "hp-two"),
]


@pytest.mark.parametrize(("playbook", "name", "value"), GOOD, ids=[f"{c[0]}-{c[1]}-{c[2]!r}" for c in GOOD])
def test_a_good_value_passes(playbook, name, value):
    assert check_run_variables(playbook, {**REQUIRED.get(playbook, {}), name: value}) == []


def test_a_variable_not_given_keeps_its_default_and_required_ones_are_named():
    assert check_run_variables("reinstall", {}) == []
    assert check_run_variables("move", {}) == [
        "avd_target_pool: required by move.yml (-e avd_target_pool=...), not given"
    ]
    assert check_run_variables("merge_reports", {"avd_slice_dir": None}) == [
        "avd_slice_dir: required by merge_reports.yml (-e avd_slice_dir=...), not given"
    ]


def test_every_problem_is_listed_not_only_the_first():
    problems = check_run_variables(
        "remediate", {"avd_serial": "abc", "avd_max_fail_percentage": "101", "avd_only": "X"}
    )
    assert [p.split(":")[0] for p in problems] == ["avd_serial", "avd_max_fail_percentage", "avd_only"]


def test_a_variable_another_playbook_reads_is_not_checked_here():
    assert check_run_variables("diagnose", {"avd_serial": "abc"}) == []


def test_every_playbook_variable_has_a_check():
    for names in PLAYBOOK_VARIABLES.values():
        assert set(names) <= set(RUN_VARIABLES)


def test_folders(tmp_path: Path):
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    assert check_run_variables("diagnose", {"avd_report_dir": str(tmp_path / "new" / "deeper")}) == []
    # the value it got is shortened in the message when long (tmp_path is longer on a pytest-xdist worker)
    (problem,) = check_run_variables("diagnose", {"avd_report_dir": str(afile)})
    assert problem.startswith(f"avd_report_dir: {afile} is a file, not a folder, got '{str(afile)[:20]}")
    (problem,) = check_run_variables("diagnose", {"avd_save_raw": str(afile / "sub")})
    assert problem.startswith(f"avd_save_raw: {afile} is a file, so the folder {afile / 'sub'} cannot be made")
    (problem,) = check_run_variables("merge_reports", {"avd_slice_dir": str(tmp_path / "none")})
    assert "does not exist" in problem
    (problem,) = check_run_variables("merge_reports", {"avd_slice_dir": str(afile)})
    assert "is a file, not a folder" in problem
    assert check_run_variables("merge_reports", {"avd_slice_dir": str(tmp_path)}) == []
    (problem,) = check_run_variables("diagnose", {"avd_replay": str(tmp_path / "none")})
    assert problem.startswith("avd_replay: ") and "does not exist" in problem


def _manifest(tmp_path: Path, source: str) -> Path:
    manifest = tmp_path / "installers.yml"
    manifest.write_text(
        "installers:\n"
        "  agent:\n"
        "    file: agent.msi\n"
        "    version: 1.0.0\n"
        f"    sha256: {SHA}\n"
        "    product_code: '{01234567-89AB-CDEF-0123-456789ABCDEF}'\n"
        f"    source: {source}\n"
    )
    return manifest


def test_installer_manifest(tmp_path: Path):
    (tmp_path / "agent.msi").write_bytes(b"msi")
    (tmp_path / "folder.msi").mkdir()
    assert check_run_variables("reinstall", {"avd_installer_manifest": str(_manifest(tmp_path, "agent.msi"))}) == []
    assert installer_manifest(str(_manifest(tmp_path, "agent.msi"))) == ""  # a check says "" when fine, never None
    (problem,) = check_run_variables("reinstall", {"avd_installer_manifest": str(_manifest(tmp_path, "folder.msi"))})
    assert "installers.agent.source: " in problem and "is a folder, not the installer file" in problem
    (problem,) = check_run_variables("reinstall", {"avd_installer_manifest": str(_manifest(tmp_path, "gone.msi"))})
    assert "does not exist on the controller" in problem
    (problem,) = check_run_variables("remediate", {"avd_installer_manifest": str(tmp_path)})
    assert problem.startswith("avd_installer_manifest: ") and "is a folder, not an installer manifest file" in problem
    (problem,) = check_run_variables("reinstall", {"avd_installer_manifest": str(tmp_path / "none.yml")})
    assert "cannot read the installer manifest" in problem
    assert (
        check_run_variables(
            "reinstall", {"avd_installer_manifest": str(_manifest(tmp_path, "https://example.com/agent.msi"))}
        )
        == []
    )


def test_unknown_playbook():
    with pytest.raises(InputError, match="unknown playbook 'nope'"):
        check_run_variables("nope", {})


def test_the_filter():
    assert avd_check_variables({"avd_serial": "2"}, "remediate") == []
    assert avd_check_variables({"avd_serial": "abc"}, "remediate")[0].startswith("avd_serial: ")
    with pytest.raises(AnsibleFilterError, match="unknown playbook"):
        avd_check_variables({}, "nope")
    with pytest.raises(AnsibleFilterError, match="expects a mapping of variable names"):
        avd_check_variables("avd_serial=1", "remediate")  # type: ignore[arg-type]


def test_the_pattern_matches_exactly_the_names_a_playbook_reads():
    pattern = re.compile(avd_variable_pattern("reinstall"))
    assert pattern.match("avd_serial") and pattern.match("avd_reinstall_token_hours") and pattern.match("target")
    assert not pattern.match("avd_serial_x") and not pattern.match("avd_move_token_hours")
    assert not pattern.match("avd_variable_problems")  # the playbook's own task variables are never read back
    with pytest.raises(AnsibleFilterError, match="avd_variable_pattern: unknown playbook"):
        avd_variable_pattern("nope")
