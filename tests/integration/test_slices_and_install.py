"""A pool diagnosed in slices merges into one report; the built collection, installed elsewhere, runs from any directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, ansible_env, record_output

pytestmark = pytest.mark.lab

BIN = Path(sys.executable).parent
HOSTS = ["sh-01", "sh-02", "sh-03", "sh-04", "sh-05", "sh-06"]


@pytest.fixture(scope="module")
def slice_lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("scenario") / "slices.yml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "host_pool": {"name": "hp-slices", "max_session_limit": 4},
                "hosts": [
                    {"name": "sh-01"},
                    {"name": "sh-02", "faults": ["bootloader_stopped"]},
                    {"name": "sh-03"},
                    {"name": "sh-04", "faults": ["dotnet_outdated"]},
                    {"name": "sh-05"},
                    {"name": "sh-06", "faults": ["unsupported_os"]},
                ],
            }
        )
    )
    return lab_factory("slices", "--scenario", str(scenario), "--first-address", "127.0.31.1")


def diagnose(lab, report_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return lab.playbook(REPO / "playbooks" / "diagnose.yml", "-e", f"avd_report_dir={report_dir}", *extra)


@pytest.fixture(scope="module")
def installed(slice_lab, tmp_path_factory):
    """The built collection installed elsewhere, and its diagnose.yml run by FQCN over the six hosts from another
    directory: the installed test's run, and the one run the slices' merged report is compared with."""
    tmp_path = tmp_path_factory.mktemp("installed")
    build = tmp_path / "build"
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    env = {k: v for k, v in ansible_env().items() if k != "ANSIBLE_CONFIG"}
    built = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(build), str(REPO)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    collections = tmp_path / "collections"
    tarball = build / f"avdops-sessionhost-{galaxy['version']}.tar.gz"
    installed = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(collections), str(tarball)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run_env = {**env, "ANSIBLE_COLLECTIONS_PATH": str(collections)}  # ansible.windows: from ansible, on sys.path
    result = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "avdops.sessionhost.diagnose",
            "-i",
            str(slice_lab.inventory / "hosts.yml"),
            "-e",
            "avd_report_dir=reports",
        ],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=run_env,
        timeout=600,
        check=False,
    )
    record_output(
        "ansible-playbook avdops.sessionhost.diagnose (installed)",
        result.stdout,
        result.stderr,
        returncode=result.returncode,
    )
    return collections, elsewhere, run_env, result


def test_slices_merge_into_the_report_of_one_run(slice_lab, installed, tmp_path):
    _collections, elsewhere, _run_env, whole = installed  # the whole pool in one run (of the installed playbook)
    assert whole.returncode == 0, whole.stdout[-3000:]
    # job slicing: each slice runs the same playbook over its part of the inventory (target, as
    # --limit would also leave out the localhost play that writes the reports)
    for index, part in enumerate((HOSTS[:2], HOSTS[2:4], HOSTS[4:])):
        result = diagnose(slice_lab, tmp_path / "slices" / str(index), "-e", f"target={','.join(part)}")
        assert result.returncode == 0, result.stdout[-3000:]
    merged = slice_lab.playbook(
        REPO / "playbooks" / "merge_reports.yml", "-e", f"avd_slice_dir={tmp_path / 'slices'}", inventories=()
    )
    assert merged.returncode == 0, merged.stdout[-3000:]
    pool_dir = tmp_path / "slices" / "pool"
    one = json.loads((elsewhere / "reports" / "diagnosis.json").read_text())
    combined = json.loads((pool_dir / "diagnosis.json").read_text())

    def verdicts(report):
        return {name: (e["state"], sorted(f["id"] for f in e["findings"])) for name, e in report["hosts"].items()}

    assert verdicts(combined) == verdicts(one)
    assert {k: combined["summary"][k] for k in ("hosts", "healthy", "unhealthy")} == {
        k: one["summary"][k] for k in ("hosts", "healthy", "unhealthy")
    }
    assert len(combined["run"]["slices"]) == 3
    junit = (pool_dir / "junit-diagnosis.xml").read_text()
    assert all(f'classname="{name}"' in junit for name in HOSTS)
    assert "sh-04" in (pool_dir / "diagnosis.html").read_text()
    # merging again does not pick up the pool report it wrote itself
    again = slice_lab.playbook(
        REPO / "playbooks" / "merge_reports.yml", "-e", f"avd_slice_dir={tmp_path / 'slices'}", inventories=()
    )
    assert again.returncode == 0, again.stdout[-3000:]


def test_the_installed_collection_runs_from_any_directory(installed):
    collections, elsewhere, run_env, result = installed
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert str(collections) in (
        subprocess.run(
            [str(BIN / "ansible-doc"), "avdops.sessionhost.diagnose"],
            capture_output=True,
            text=True,
            cwd=elsewhere,
            env=run_env,
            timeout=120,
            check=False,
        ).stdout
    )
    report = json.loads((elsewhere / "reports" / "diagnosis.json").read_text())
    assert sorted(report["hosts"]) == HOSTS
    assert "6 hosts" in result.stdout and "Reports:" in result.stdout
    # Issue 21: under the default callback, without this checkout's ansible.cfg, the summary was one escaped JSON
    # string ("HOST ...\\nsh-01 ..."); it prints one line per host.
    summary = result.stdout.split("TASK [Show the summary]")[1].split("TASK [")[0]
    assert "\\n" not in summary, summary
    lines = [line.strip().strip('",') for line in summary.splitlines()]
    assert any(line.startswith("HOST") for line in lines), summary
    assert {name for name in HOSTS if any(line.startswith(f"{name} ") for line in lines)} == set(HOSTS), summary
