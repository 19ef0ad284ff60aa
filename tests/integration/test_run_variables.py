"""Every playbook checks all its variables first: a bad value stops the run before any host or the pool is touched.

Each case is a bad variable as an operator types it (a word for a number, -1, 101, a folder for a file) in a run of
the real playbook against the lab, which must fail with a message naming the variable and what it accepts, no
Python traceback, not one WinRM command on any host, and the pool as it was (both hosts listed, none drained).
The check names every bad variable of a run, so the cases of one playbook share a run where their values do not
conflict (avd_serial=abc and avd_serial=-1 cannot be one run): 10 runs for the 20 cases, not one each.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.interrupting import Arm

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


def extra_vars(*assignments: str) -> tuple[str, ...]:
    return tuple(arg for assignment in assignments for arg in ("-e", assignment))


def _runs(manifest: Path, a_file: Path) -> list[tuple[str, tuple[str, ...]]]:
    """Each refused run: the playbook and its bad variables (avd_force=true and the target pool are good ones: a
    good value beside bad ones changes nothing)."""
    return [
        ("diagnose", extra_vars("avd_fail_on=error", f"avd_report_dir={a_file}")),
        (
            "remediate",
            extra_vars(
                "avd_serial=abc", "avd_max_fail_percentage=101", "avd_only=INVALID_REGISTRATION_TOKN", "avd_force=maybe"
            ),
        ),
        ("remediate", extra_vars("avd_serial=-1")),
        (
            "reinstall",
            extra_vars(
                "avd_serial=abc",
                "avd_force=true",
                "avd_reinstall_token_hours=700",
                f"avd_installer_manifest={manifest}",
            ),
        ),
        ("reinstall", extra_vars(f"avd_installer_manifest={manifest.parent}", "avd_reinstall_token_hours=0")),
        ("move", extra_vars("avd_target_pool=hp-vars", "avd_move_token_hours=0", "avd_serial=0")),
        ("move", extra_vars("avd_move_token_hours=999")),
        ("validate_image", extra_vars("avd_image_disk_min_free_mb=abc", "avd_image_agent=maybe")),
        ("merge_reports", ()),
        ("merge_reports", extra_vars(f"avd_slice_dir={a_file}")),
    ]


# Each case: its id, the refused run it is part of (an index of _runs), the words its run must print ({a_file} is
# the file given where a folder is expected).
CASES = [
    ("diagnose-fail_on", 0, "avd_fail_on: expected one of none, warning, critical"),
    ("diagnose-report_dir-file", 0, "avd_report_dir: {a_file} is a file, not a folder"),
    ("remediate-serial-abc", 1, "avd_serial: expected a whole number of hosts per batch"),
    ("remediate-serial-negative", 2, "avd_serial: expected a whole number of hosts per batch, 1 or more"),
    ("remediate-max_fail-101", 1, "avd_max_fail_percentage: expected a whole number from 0"),
    ("remediate-only-typo", 1, "unknown finding id(s) INVALID_REGISTRATION_TOKN"),
    ("remediate-force", 1, "avd_force: expected true or false"),
    ("reinstall-serial-abc", 3, "avd_serial: expected a whole number of hosts per batch"),
    ("reinstall-token-hours", 3, "avd_reinstall_token_hours: expected a whole number from 1 to 648"),
    ("reinstall-manifest-source-folder", 3, "installers.agent.source: "),
    ("reinstall-manifest-folder", 4, "is a folder, not an installer manifest file"),
    ("reinstall-token-hours-0", 4, "avd_reinstall_token_hours: expected a whole number from 1 to 648"),
    ("move-token-hours", 5, "avd_move_token_hours: expected a whole number from 1 to 648"),
    ("move-serial-0", 5, "avd_serial: expected a whole number"),
    ("move-no-target", 6, "avd_target_pool: required by move.yml"),
    ("move-token-hours-999", 6, "avd_move_token_hours: expected a whole number from 1 to 648"),
    ("validate_image-disk-mb", 7, "avd_image_disk_min_free_mb: expected a whole number 0 or more"),
    ("validate_image-agent", 7, "avd_image_agent: expected one of absent, present, any"),
    ("merge-no-slice-dir", 8, "avd_slice_dir: required by merge_reports.yml"),
    ("merge-slice-dir-file", 9, "avd_slice_dir: "),
]


# A refused run: its playbook, its result, and the WinRM commands each host got in it.
Refused = tuple[str, subprocess.CompletedProcess[str], dict[str, int]]


@pytest.fixture(scope="module")
def refused(lab, folder_manifest, tmp_path_factory) -> tuple[list[Refused], Path]:
    """Every refused run, one after another: its playbook, its result and the WinRM commands each host got in it."""
    a_file = tmp_path_factory.mktemp("a-file") / "a-file"
    a_file.write_text("not a folder")
    results = []
    for playbook, extra in _runs(folder_manifest, a_file):
        lab.reset_stats()
        result = run(lab, playbook, *extra)
        stats = lab.stats()
        results.append((playbook, result, {host: stats[host]["commands"] for host in HOSTS}))
    return results, a_file


@pytest.mark.parametrize("index", range(len(CASES)), ids=[case[0] for case in CASES])
def test_a_bad_variable_stops_the_run_before_anything_is_touched(refused, index):
    runs, a_file = refused
    _case, run_index, words = CASES[index]
    playbook, result, commands = runs[run_index]
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert words.format(a_file=a_file) in output, output[-3000:]
    assert f"{playbook}.yml: " in output
    assert "Traceback" not in output and "Unknown error" not in output
    assert commands == {host: 0 for host in HOSTS}


def test_the_pool_is_as_it_was_after_every_refused_run(lab, refused):
    runs, _a_file = refused
    assert [result.returncode != 0 for _playbook, result, _commands in runs] == [True] * len(runs)
    pool = Arm(lab).session_hosts()  # as any ARM client reads it
    assert {name: host["allowNewSession"] for name, host in pool.items()} == {"vr-01": True, "vr-02": True}
    assert sum(count for _playbook, _result, commands in runs for count in commands.values()) == 0


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
