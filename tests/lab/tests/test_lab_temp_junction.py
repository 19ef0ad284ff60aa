"""A standard user's junction and folder in C:\\Windows\\Temp (issue #19 item 3): a recursive delete by path can
be made to delete elsewhere; the runtime's delete never follows a link and keeps what a standard user owns."""

from __future__ import annotations

import pytest
from labworld import world
from test_runtime_operations import only

from avdlab.auth import Account
from avdlab.host import LabHost
from avdlab.model import HostSpec, ScenarioError, parse_scenario
from avdlab.windows import known as k
from avdlab.windows import operations as ops

TARGET = r"C:\Windows\System32\config"
LINK = rf"{k.WINDOWS_TEMP}\UserLink"
USER_FOLDER = rf"{k.WINDOWS_TEMP}\UserScratch"


def lab_host() -> LabHost:
    model = world(HostSpec("sh-01", faults=["disk_full"], temp_junction=TARGET))
    return LabHost(name="sh-01", address="127.0.0.1", account=Account("avdadmin", "p"), model=model)


def target_files(host: LabHost) -> list[str]:
    return sorted(path for path in host.state.files if path.startswith(TARGET.lower() + "\\"))


def test_avdlab_show_lists_the_junction_its_target_and_the_users_folder():
    host = lab_host()
    shown = host.model.show("sh-01")
    assert shown["links"][LINK.lower()]["target"] == TARGET and shown["links"][LINK.lower()]["owner"] == r"SH-01\user01"
    assert shown["owners"][USER_FOLDER.lower()] == r"SH-01\user01"
    assert len([path for path in shown["files"] if path.startswith(TARGET.lower() + "\\")]) == 3
    temp = {loc["location"]: loc for loc in only(host, {"op": "cleanup_candidates"})["result"]["locations"]}
    kinds = {item["name"]: item["kind"] for item in temp["windows_temp"]["items"]}
    assert kinds["UserLink"] == "link" and kinds["UserScratch"] == "folder"


def test_a_recursive_delete_by_path_follows_the_users_swap_into_the_target():
    # What [IO.Directory]::Delete(path, $true) did (runtime 1.2.0): the user swaps its folder for a junction
    # while the delete reopens subfolders by path, and the target's files go.
    host = lab_host()
    ops.delete_item(host.state, USER_FOLDER)
    assert target_files(host) == []


def test_cleanup_delete_keeps_what_a_standard_user_owns_and_never_follows_a_link():
    host = lab_host()
    before = target_files(host)
    paths = [USER_FOLDER, LINK, rf"{k.WINDOWS_TEMP}\MpSigStub.log"]
    result = only(host, {"op": "cleanup_delete", "paths": paths})["result"]
    assert result["deleted"] == [{"path": paths[2], "size": 1024**2}] and result["freed"] == 1024**2
    (kept, link) = result["failed"]
    assert kept["path"] == USER_FOLDER and kept["freed"] == 0
    assert "1 item(s) kept" in kept["error"] and r"owned by SH-01\user01, not an administrator: kept" in kept["error"]
    assert link == {"path": LINK, "error": "a link (reparse point): not followed, not deleted"}
    assert target_files(host) == before and LINK.lower() in host.state.links
    assert ops.folder_exists(host.state, USER_FOLDER)


def test_inside_an_administrators_folder_a_users_item_is_kept_and_an_administrators_link_removed_not_followed():
    host = lab_host()
    state = host.state
    folder = rf"{k.WINDOWS_TEMP}\2E4C7A1B-9F3D-4E8A-B6C5-D1F0A9E8B7C6"
    user_sub = rf"{folder}\user"
    state.directories.append(user_sub.lower())
    state.owners[user_sub.lower()] = r"SH-01\user01"
    admin_link = rf"{folder}\link"
    state.links[admin_link.lower()] = {"path": admin_link, "target": TARGET, "owner": "", "created": 0.0}
    before = target_files(host)
    result = only(host, {"op": "cleanup_delete", "paths": [folder]})["result"]
    (kept,) = result["failed"]
    assert kept["path"] == folder and kept["freed"] > 1024**3 and "user" in kept["error"]
    assert target_files(host) == before and admin_link.lower() not in state.links
    assert ops.folder_exists(state, user_sub) and ops.folder_exists(state, folder)


@pytest.mark.parametrize("value", [r"C:\Windows\Temp\x", "relative", r"C:\bad*"])
def test_the_scenario_key_is_a_folder_outside_temp(value):
    with pytest.raises(ScenarioError, match="temp_junction must be a folder"):
        parse_scenario(f"hosts:\n  - {{name: sh-01, temp_junction: '{value}'}}\n")
