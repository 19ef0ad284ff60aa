"""The installer cache belongs to administrators (issue #19 item 5): a cache a standard user created first is
refused, a new one is made admin-only, and no installer runs from a folder a standard user owns."""

from __future__ import annotations

import hashlib
import json

import pytest
from labworld import world
from test_runtime_operations import only

from avdlab.auth import Account
from avdlab.host import LabHost
from avdlab.model import HostSpec, ScenarioError, parse_scenario
from avdlab.windows import known as k
from avdlab.windows import operations as ops
from avdlab.windows.packages import lab_installers, package_bytes

CACHE = r"C:\ProgramData\avdops\installers"
AGENT_FOLDER = rf"{CACHE}\agent\{k.AGENT_VERSION}"


def lab_host(**keys) -> LabHost:
    return LabHost(
        name="sh-01", address="127.0.0.1", account=Account("avdadmin", "p"), model=world(HostSpec("sh-01", **keys))
    )


def secure(host: LabHost, check_mode: bool = False) -> dict:
    return only(host, {"op": "make_directory", "paths": [AGENT_FOLDER], "secure_root": CACHE, "check_mode": check_mode})


def test_a_user_owned_cache_is_shown_with_its_owner_and_refused_and_nothing_is_created():
    host = lab_host(user_owned_cache=True)
    assert host.model.show("sh-01")["owners"] == {r"c:\programdata\avdops": r"SH-01\user01"}
    before = json.dumps(host.state.to_json(), sort_keys=True)
    for check_mode in (True, False):
        entry = secure(host, check_mode)
        assert entry["ok"] is False, entry
        assert r"'C:\ProgramData\avdops' is owned by SH-01\user01, not by an administrator" in entry["error"]
        assert "nothing was created" in entry["error"]
    assert json.dumps(host.state.to_json(), sort_keys=True) == before


def test_a_new_cache_is_made_admin_only_once_and_check_mode_creates_nothing():
    host = lab_host()
    assert secure(host, check_mode=True)["result"] == {"changed": True, "created": [AGENT_FOLDER], "secured": True}
    assert not ops.folder_exists(host.state, CACHE)
    assert secure(host)["result"] == {"changed": True, "created": [AGENT_FOLDER], "secured": True}
    assert CACHE.lower() in host.state.admin_only and ops.folder_exists(host.state, AGENT_FOLDER)
    assert secure(host)["result"] == {"changed": False, "created": [], "secured": False}


def test_a_file_a_standard_user_put_in_the_cache_refuses_it():
    host = lab_host()
    secure(host)
    planted = rf"{AGENT_FOLDER}\version.dll"
    ops.write_file(host.state, planted, b"MZ")
    host.state.owners[planted.lower()] = r"SH-01\user01"
    entry = secure(host)
    assert entry["ok"] is False and "is owned by SH-01\\user01" in entry["error"]


@pytest.mark.parametrize(
    ("root", "message"),
    [
        (r"C:\ProgramData\avdops\installers\ ", "is not a canonical absolute folder path"),
        (r"C:\ProgramData\avdops\..\avdops\installers", "is not a canonical absolute folder path"),
        (r"C:\Temp", "is not inside secure_root"),
    ],
)
def test_secure_root_must_be_canonical_and_hold_the_paths(root, message):
    entry = only(lab_host(), {"op": "make_directory", "paths": [AGENT_FOLDER], "secure_root": root})
    assert entry["ok"] is False and message in entry["error"], entry


def test_no_installer_runs_from_a_folder_a_standard_user_owns():
    host = lab_host(user_owned_cache=True)
    file_name, info = lab_installers()["agent"]
    data = package_bytes(info)
    package = rf"C:\ProgramData\avdops\{file_name}"
    ops.write_file(host.state, package, data)  # written there by an administrator: the folder is still the user's
    entry = only(
        host, {"op": "msiexec", "action": "install", "package": package, "sha256": hashlib.sha256(data).hexdigest()}
    )
    assert entry["ok"] is False and "who could swap it; nothing was run" in entry["error"], entry
    assert "is owned by SH-01\\user01" in entry["error"]
    assert not host.state.programs_named(k.AGENT_PRODUCT) or all(
        p.package != package for p in host.state.programs_named(k.AGENT_PRODUCT)
    )


def test_the_scenario_key_is_a_boolean():
    with pytest.raises(ScenarioError, match="user_owned_cache must be true or false"):
        parse_scenario("hosts:\n  - {name: sh-01, user_owned_cache: yes please}\n")
