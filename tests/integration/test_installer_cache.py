"""installer_cache against the lab: the files `avdlab up` provides reach a host over winrm and over psrp,
checked by SHA-256 on both sides; check mode and a second run copy nothing; a bad file changes nothing; a cache
a standard user created first is refused and nothing is copied into it.

The calls of several tests are one ad-hoc run on several hosts (a run costs a CPU-second or more to start): each
host its own connection (``CONNECTIONS``, host variables of an inventory file beside the lab's), each test reading
its host's result from the run's output."""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ansible_env, run_ansible

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-installers, max_session_limit: 4}
hosts:
  - {name: ic-01}
  - {name: ic-02}
  - {name: ic-03, user_owned_cache: true}
"""
CACHE = "c:\\programdata\\avdops\\installers"
CONNECTIONS = {"ic-01": "winrm", "ic-02": "psrp"}
# The start of each host's result in an ad-hoc run's output (the yaml result format of ansible.cfg).
RESULT = re.compile(r"(\S+) \| (\S+) => ?$")


@pytest.fixture(scope="module")
def installers_lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("installers") / "lab.yml"
    scenario.write_text(SCENARIO)
    lab = lab_factory("installers", "--scenario", str(scenario), "--first-address", "127.0.52.1")
    hosts = {name: {"ansible_connection": connection} for name, connection in CONNECTIONS.items()}
    (lab.inventory / "connections.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return lab


def manifest(lab) -> dict[str, Any]:
    entries: dict[str, Any] = yaml.safe_load((lab.directory / "installers" / "manifest.yml").read_text())["installers"]
    return entries


def cache(lab, hosts: str, *args: str, manifest_path: str = "{{ avd_installer_manifest }}") -> dict[str, dict]:
    """installer_cache on ``hosts`` (a pattern) in one ad-hoc run: each host's answer, with its status."""
    module_args = json.dumps({"manifest": manifest_path, "installers": ["agent", "dotnet48"]})
    result = run_ansible(
        "ansible",
        "-i",
        str(lab.inventory / "hosts.yml"),
        "-i",
        str(lab.inventory / "connections.yml"),
        hosts,
        "-m",
        "avdops.sessionhost.installer_cache",
        "-a",
        module_args,
        *args,
        env=ansible_env(**lab.azure_env),
    )
    answers = {}
    lines = result.stdout.splitlines()
    for index, line in enumerate(lines):
        if found := RESULT.match(line):
            # the result's indented lines (the next host's, or an [ERROR] line before it, start at the margin)
            end = next((n for n in range(index + 1, len(lines)) if lines[n][:1] not in ("", " ")), len(lines))
            answer: dict[str, Any] = yaml.safe_load(textwrap.dedent("\n".join(lines[index + 1 : end])))
            answer["_status"] = found[2]
            answers[found[1]] = answer
    assert sorted(answers) == sorted(hosts.split(":")), result.stdout[-3000:]
    return answers


def files(lab, host: str) -> dict[str, Any]:
    state = json.loads((lab.directory / "hosts" / f"{host}.json").read_text())
    return {path: entry for path, entry in state["files"].items() if path.startswith(CACHE)}


@pytest.fixture(scope="module")
def runs(installers_lab) -> dict[str, Any]:
    """Check mode on ic-01 and ic-03, then a copy on all three and a second on ic-01 and ic-02 (three runs), with
    the cache files ic-01 had after check mode and ic-01 and ic-02 after the first copy."""
    check = cache(installers_lab, "ic-01:ic-03", "--check")
    after_check = files(installers_lab, "ic-01")
    first = cache(installers_lab, "ic-01:ic-02:ic-03")
    after_first = {host: files(installers_lab, host) for host in CONNECTIONS}
    second = cache(installers_lab, "ic-01:ic-02")
    return {"check": check, "after check": after_check, "first": first, "after first": after_first, "second": second}


def test_check_mode_reports_the_copies_and_copies_nothing(runs):
    answer = runs["check"]["ic-01"]
    assert answer["changed"] and answer["copied"] == ["agent", "dotnet48"], answer
    assert runs["after check"] == {}


@pytest.mark.parametrize(("host", "connection"), list(CONNECTIONS.items()))
def test_both_connection_plugins_copy_the_installers_and_a_second_run_copies_nothing(
    installers_lab, runs, host, connection
):
    entries = manifest(installers_lab)
    assert CONNECTIONS[host] == connection  # the host's ansible_connection in connections.yml
    first = runs["first"][host]
    assert first["_status"] == "CHANGED" and first["copied"] == ["agent", "dotnet48"], first
    on_host = runs["after first"][host]
    for name in ("agent", "dotnet48"):
        entry = entries[name]
        path = f"{CACHE}\\{name}\\{entry['version']}\\{entry['file']}".lower()
        assert first["paths"][name].lower() == path and first["sha256"][name] == entry["sha256"]
        assert on_host[path]["sha256"] == entry["sha256"] and on_host[path]["product"]["kind"] in ("agent", "dotnet48")
        local = installers_lab.directory / "installers" / entry["file"]
        assert on_host[path]["size"] == local.stat().st_size
        assert hashlib.sha256(local.read_bytes()).hexdigest() == entry["sha256"]
    second = runs["second"][host]
    assert second["_status"] == "SUCCESS" and not second["changed"] and second["copied"] == []


def test_a_file_that_does_not_match_the_manifest_changes_nothing(installers_lab, runs, tmp_path: Path):
    entries = manifest(installers_lab)
    entries["agent"]["source"] = str(installers_lab.directory / "installers" / entries["agent"]["file"])
    entries["agent"]["sha256"] = "0" * 64
    bad = tmp_path / "manifest.yml"
    bad.write_text(yaml.safe_dump({"installers": entries}))
    before = files(installers_lab, "ic-02")
    answer = cache(installers_lab, "ic-02", manifest_path=str(bad))["ic-02"]
    assert answer["_status"] == "FAILED!" and f"not the manifest's {'0' * 64}" in answer["msg"]
    assert "installers.agent" in answer["msg"] and files(installers_lab, "ic-02") == before


def test_a_cache_a_standard_user_created_first_is_refused_and_nothing_is_copied(installers_lab, runs):
    for answer in (runs["first"]["ic-03"], runs["check"]["ic-03"]):
        assert answer["_status"] == "FAILED!", answer
        assert answer["msg"].startswith("the installer cache on the host cannot be used: make_directory:"), answer
        assert "'C:\\ProgramData\\avdops' is owned by IC-03\\user01, not by an administrator" in answer["msg"]
        assert "nothing was created" in answer["msg"]
    state = json.loads((installers_lab.directory / "hosts" / "ic-03.json").read_text())
    assert files(installers_lab, "ic-03") == {} and state["owners"] == {"c:\\programdata\\avdops": "IC-03\\user01"}
    assert not [d for d in state["directories"] if d.startswith(CACHE)]


def test_the_cache_is_made_admin_only(installers_lab, runs):
    assert runs["first"]["ic-01"]["_status"] == "CHANGED"  # the cache was made by the copy
    state = json.loads((installers_lab.directory / "hosts" / "ic-01.json").read_text())
    assert CACHE in state["admin_only"]
