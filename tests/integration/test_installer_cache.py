"""installer_cache against the lab: the files `avdlab up` provides reach a host over winrm and over psrp,
checked by SHA-256 on both sides; check mode and a second run copy nothing; a bad file changes nothing; a cache
a standard user created first is refused and nothing is copied into it."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-installers, max_session_limit: 4}
hosts:
  - {name: ic-01}
  - {name: ic-02}
  - {name: ic-03, user_owned_cache: true}
"""
CACHE = "c:\\programdata\\avdops\\installers"


@pytest.fixture(scope="module")
def installers_lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("installers") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("installers", "--scenario", str(scenario), "--first-address", "127.0.52.1")


def manifest(lab) -> dict[str, Any]:
    entries: dict[str, Any] = yaml.safe_load((lab.directory / "installers" / "manifest.yml").read_text())["installers"]
    return entries


def cache(lab, host: str, *args: str, manifest_path: str = "{{ avd_installer_manifest }}") -> dict[str, Any]:
    module_args = json.dumps({"manifest": manifest_path, "installers": ["agent", "dotnet48"]})
    result = lab.ansible(host, "-m", "avdops.sessionhost.installer_cache", "-a", module_args, *args)
    head, _arrow, body = result.stdout.partition(" => ")
    answer: dict[str, Any] = yaml.safe_load(textwrap.dedent(body))  # the yaml result format of ansible.cfg
    answer["_status"] = head.rsplit("|", 1)[-1].strip()
    return answer


def files(lab, host: str) -> dict[str, Any]:
    state = json.loads((lab.directory / "hosts" / f"{host}.json").read_text())
    return {path: entry for path, entry in state["files"].items() if path.startswith(CACHE)}


def test_check_mode_reports_the_copies_and_copies_nothing(installers_lab):
    answer = cache(installers_lab, "ic-01", "--check")
    assert answer["changed"] and answer["copied"] == ["agent", "dotnet48"], answer
    assert files(installers_lab, "ic-01") == {}


@pytest.mark.parametrize(("host", "connection"), [("ic-01", "winrm"), ("ic-02", "psrp")])
def test_both_connection_plugins_copy_the_installers_and_a_second_run_copies_nothing(installers_lab, host, connection):
    entries = manifest(installers_lab)
    first = cache(installers_lab, host, "-e", f"ansible_connection={connection}")
    assert first["_status"] == "CHANGED" and first["copied"] == ["agent", "dotnet48"], first
    on_host = files(installers_lab, host)
    for name in ("agent", "dotnet48"):
        entry = entries[name]
        path = f"{CACHE}\\{name}\\{entry['version']}\\{entry['file']}".lower()
        assert first["paths"][name].lower() == path and first["sha256"][name] == entry["sha256"]
        assert on_host[path]["sha256"] == entry["sha256"] and on_host[path]["product"]["kind"] in ("agent", "dotnet48")
        local = installers_lab.directory / "installers" / entry["file"]
        assert on_host[path]["size"] == local.stat().st_size
        assert hashlib.sha256(local.read_bytes()).hexdigest() == entry["sha256"]
    second = cache(installers_lab, host, "-e", f"ansible_connection={connection}")
    assert second["_status"] == "SUCCESS" and not second["changed"] and second["copied"] == []


def test_a_file_that_does_not_match_the_manifest_changes_nothing(installers_lab, tmp_path: Path):
    entries = manifest(installers_lab)
    entries["agent"]["source"] = str(installers_lab.directory / "installers" / entries["agent"]["file"])
    entries["agent"]["sha256"] = "0" * 64
    bad = tmp_path / "manifest.yml"
    bad.write_text(yaml.safe_dump({"installers": entries}))
    before = files(installers_lab, "ic-02")
    answer = cache(installers_lab, "ic-02", "-e", "ansible_connection=psrp", manifest_path=str(bad))
    assert answer["_status"] == "FAILED!" and f"not the manifest's {'0' * 64}" in answer["msg"]
    assert "installers.agent" in answer["msg"] and files(installers_lab, "ic-02") == before


def test_a_cache_a_standard_user_created_first_is_refused_and_nothing_is_copied(installers_lab):
    for check in ([], ["--check"]):
        answer = cache(installers_lab, "ic-03", *check)
        assert answer["_status"] == "FAILED!", answer
        assert answer["msg"].startswith("the installer cache on the host cannot be used: make_directory:"), answer
        assert "'C:\\ProgramData\\avdops' is owned by IC-03\\user01, not by an administrator" in answer["msg"]
        assert "nothing was created" in answer["msg"]
    state = json.loads((installers_lab.directory / "hosts" / "ic-03.json").read_text())
    assert files(installers_lab, "ic-03") == {} and state["owners"] == {"c:\\programdata\\avdops": "IC-03\\user01"}
    assert not [d for d in state["directories"] if d.startswith(CACHE)]


def test_the_cache_is_made_admin_only(installers_lab):
    cache(installers_lab, "ic-01")
    state = json.loads((installers_lab.directory / "hosts" / "ic-01.json").read_text())
    assert CACHE in state["admin_only"]
