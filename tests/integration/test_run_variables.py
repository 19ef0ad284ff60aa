"""Every playbook checks all its variables first: a bad value stops the run before any host or the pool is touched.

Each case runs the real playbook against the lab with one bad variable (the shapes an operator types: a word for a
number, -1, 101, a folder for a file) and expects a failed run whose message names the variable and what it
accepts, no Python traceback, not one WinRM command on any host, and the pool as it was (both hosts listed, none
drained).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-vars, max_session_limit: 4}
hosts:
  - {name: vr-01, faults: [invalid_registration_token], sessions: 1}
  - {name: vr-02}
"""
HOSTS = ("vr-01", "vr-02")


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("run-variables") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("run-variables", "--scenario", str(scenario), "--first-address", "127.0.150.1")


def pool_hosts(lab, tmp_path: Path) -> dict[str, bool]:
    """The pool's session hosts and whether each lets new sessions in."""
    out = tmp_path / "pool.json"
    play = [
        {
            "name": "Read the pool",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Pool",
                    "avdops.sessionhost.host_pool_info": {
                        "name": "hp-vars",
                        "resource_group": "{{ avd_resource_group }}",
                    },
                    "register": "info",
                },
                {
                    "name": "Keep",
                    "ansible.builtin.copy": {"content": "{{ info.session_hosts | to_json }}", "dest": str(out)},
                },
            ],
        }
    ]
    path = tmp_path / "read-pool.yml"
    path.write_text(yaml.safe_dump(play))
    result = lab.playbook(path, "-c", "local")
    assert result.returncode == 0, result.stdout[-3000:]
    return {entry["short_name"]: entry["allow_new_session"] for entry in json.loads(out.read_text())}


def run(lab, playbook: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return lab.playbook(REPO / "playbooks" / f"{playbook}.yml", *extra)


@pytest.fixture(scope="module")
def folder_manifest(tmp_path_factory) -> Path:
    """An installer manifest whose agent source is a folder (a path typed one level short)."""
    base = tmp_path_factory.mktemp("manifest")
    (base / "agent").mkdir()
    (base / "boot_loader.msi").write_bytes(b"msi")
    entry = {"version": "1.0.0", "sha256": "a" * 64, "product_code": "{01234567-89AB-CDEF-0123-456789ABCDEF}"}
    manifest = {
        "installers": {
            "agent": {**entry, "file": "agent.msi", "source": "agent"},
            "boot_loader": {**entry, "file": "boot_loader.msi", "source": "boot_loader.msi"},
        }
    }
    (base / "installers.yml").write_text(yaml.safe_dump(manifest))
    return base / "installers.yml"


def _cases(manifest: Path, a_file: Path) -> list[tuple[str, tuple[str, ...], str]]:
    return [
        ("diagnose", ("-e", "avd_fail_on=error"), "avd_fail_on: expected one of none, warning, critical"),
        ("diagnose", ("-e", f"avd_report_dir={a_file}"), f"avd_report_dir: {a_file} is a file, not a folder"),
        ("remediate", ("-e", "avd_serial=abc"), "avd_serial: expected a whole number of hosts per batch"),
        ("remediate", ("-e", "avd_serial=-1"), "avd_serial: expected a whole number of hosts per batch, 1 or more"),
        ("remediate", ("-e", "avd_max_fail_percentage=101"), "avd_max_fail_percentage: expected a whole number from 0"),
        ("remediate", ("-e", "avd_only=INVALID_REGISTRATION_TOKN"), "unknown finding id(s) INVALID_REGISTRATION_TOKN"),
        ("remediate", ("-e", "avd_force=maybe"), "avd_force: expected true or false"),
        ("reinstall", ("-e", "avd_serial=abc"), "avd_serial: expected a whole number of hosts per batch"),
        (
            "reinstall",
            ("-e", "avd_reinstall_token_hours=700"),
            "avd_reinstall_token_hours: expected a whole number from 1 to 648",
        ),
        ("reinstall", ("-e", f"avd_installer_manifest={manifest}"), "installers.agent.source: "),
        (
            "reinstall",
            ("-e", f"avd_installer_manifest={manifest.parent}"),
            "is a folder, not an installer manifest file",
        ),
        (
            "move",
            ("-e", "avd_target_pool=hp-vars", "-e", "avd_move_token_hours=0"),
            "avd_move_token_hours: expected a whole number from 1 to 648",
        ),
        ("move", ("-e", "avd_target_pool=hp-vars", "-e", "avd_serial=0"), "avd_serial: expected a whole number"),
        ("move", (), "avd_target_pool: required by move.yml"),
        (
            "validate_image",
            ("-e", "avd_image_disk_min_free_mb=abc"),
            "avd_image_disk_min_free_mb: expected a whole number 0 or more",
        ),
        ("validate_image", ("-e", "avd_image_agent=maybe"), "avd_image_agent: expected one of absent, present, any"),
        ("merge_reports", (), "avd_slice_dir: required by merge_reports.yml"),
        ("merge_reports", ("-e", f"avd_slice_dir={a_file}"), "avd_slice_dir: "),
    ]


CASE_IDS = [
    "diagnose-fail_on",
    "diagnose-report_dir-file",
    "remediate-serial-abc",
    "remediate-serial-negative",
    "remediate-max_fail-101",
    "remediate-only-typo",
    "remediate-force",
    "reinstall-serial-abc",
    "reinstall-token-hours",
    "reinstall-manifest-source-folder",
    "reinstall-manifest-folder",
    "move-token-hours",
    "move-serial-0",
    "move-no-target",
    "validate_image-disk-mb",
    "validate_image-agent",
    "merge-no-slice-dir",
    "merge-slice-dir-file",
]


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_a_bad_variable_stops_the_run_before_anything_is_touched(lab, folder_manifest, tmp_path, index):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    playbook, extra, words = _cases(folder_manifest, a_file)[index]
    lab.reset_stats()
    result = run(lab, playbook, *extra)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert words in output, output[-3000:]
    assert f"{playbook}.yml: " in output
    assert "Traceback" not in output and "Unknown error" not in output
    stats = lab.stats()
    assert {host: stats[host]["commands"] for host in HOSTS} == {host: 0 for host in HOSTS}


def test_the_pool_is_as_it_was_after_every_refused_run(lab, tmp_path):
    lab.reset_stats()
    for extra in (("-e", "avd_serial=abc", "-e", "avd_force=true"), ("-e", "avd_reinstall_token_hours=0")):
        assert run(lab, "reinstall", *extra).returncode != 0
    assert run(lab, "move", "-e", "avd_target_pool=hp-vars", "-e", "avd_move_token_hours=999").returncode != 0
    assert pool_hosts(lab, tmp_path) == {"vr-01": True, "vr-02": True}
    assert sum(lab.stats()[host]["commands"] for host in HOSTS) == 0


def test_a_limit_does_not_skip_the_check(lab):
    result = run(lab, "reinstall", "--limit", "vr-02", "-e", "avd_max_fail_percentage=-1")
    assert result.returncode != 0
    assert "avd_max_fail_percentage: expected a whole number from 0 to 100" in result.stdout


def test_good_variables_pass_the_check(lab, tmp_path):
    result = run(
        lab, "diagnose", "-e", "avd_fail_on=critical", "-e", f"avd_report_dir={tmp_path}", "-e", "target=vr-02"
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert json.loads((tmp_path / "diagnosis.json").read_text())["hosts"]["vr-02"]["state"] == "healthy"


def test_the_vars_of_an_import_playbook_are_checked_too(lab, tmp_path):
    wrapper = tmp_path / "wrapper.yml"
    wrapper.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Reinstall as a wrapper playbook would",
                    "ansible.builtin.import_playbook": str(REPO / "playbooks" / "reinstall.yml"),
                    "vars": {"avd_serial": "abc", "avd_force": True},
                }
            ]
        )
    )
    lab.reset_stats()
    result = lab.playbook(wrapper)
    assert result.returncode != 0
    assert "reinstall.yml: avd_serial: expected a whole number of hosts per batch" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert sum(lab.stats()[host]["commands"] for host in HOSTS) == 0
