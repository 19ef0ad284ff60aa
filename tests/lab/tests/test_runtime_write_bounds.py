"""What the write operations may touch: the registry keys the collection owns, cleanup paths as Windows
normalises them, agent folders only when the boot loader's DefaultAgent is known (issue #19 items 2, 4, 9)."""

from __future__ import annotations

import json

import pytest
from test_runtime_operations import full_host, only

from avdlab.windows import known as k
from avdlab.windows import operations as ops
from avdlab.windows.paths import full_path

TEMP = r"C:\Windows\Temp"


def snapshot(host) -> str:
    return json.dumps(host.state.to_json(), sort_keys=True)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion", None),
        (r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations", None),
        (r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full", "Release"),
        (r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDInfraAgent", "BrokerURI"),  # the key may go, not its values
        (r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\Installer", None),  # the value, not the key
        (r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDInfraAgent\\", None),
        (r"HKEY_USERS\.DEFAULT\Software\Policies\Microsoft\Windows\System\x", "DisableCMD"),
    ],
)
def test_registry_delete_refuses_what_the_collection_does_not_own_and_deletes_nothing(path, name):
    host = full_host()
    before = snapshot(host)
    op = {"op": "registry_delete", "path": path, **({"name": name} if name else {})}
    entry = only(host, op)
    assert entry["ok"] is False and "is not one the collection owns" in entry["error"], entry
    assert "nothing was deleted" in entry["error"]
    assert snapshot(host) == before


def test_registry_delete_deletes_the_keys_and_values_the_collection_owns():
    host = full_host()
    registry = host.state.registry
    registry.set(r"HKEY_USERS\.DEFAULT\Software\Policies\Microsoft\Windows\System", "DisableCMD", "REG_DWORD", 1)
    user_value = {"path": r"hkey_users\.DEFAULT\Software\Policies\Microsoft\Windows\System", "name": "disablecmd"}
    assert only(host, {"op": "registry_delete", **user_value})["result"] == {"changed": True}
    assert only(host, {"op": "registry_delete", "path": k.RDINFRA_AGENT})["result"] == {"changed": True}
    assert not host.state.registry.key_exists(k.RDINFRA_AGENT)


def test_windows_opens_a_path_as_its_normalised_full_path():
    # The .NET "File path formats" rules: trailing dots and spaces of the last part go, . and .. are resolved.
    assert full_path("C:\\Windows\\Temp\\ ") == TEMP
    assert full_path("C:\\Windows\\Temp\\. ") == TEMP
    assert full_path("C:\\windows\\temp\\x\\..") == "C:\\windows\\temp"
    assert full_path("C:\\Windows\\Temp.\\a...") == "C:\\Windows\\Temp\\a"
    host = full_host()
    inside = [path for path in host.state.files if path.startswith(TEMP.lower() + "\\")]
    assert inside
    ops.delete_item(host.state, "C:\\Windows\\Temp\\ ")  # Remove-Item on that text empties the whole folder
    assert not [path for path in host.state.files if path.startswith(TEMP.lower() + "\\")]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("C:\\Windows\\Temp\\ ", "parts ending in a dot or a space"),
        ("C:\\Windows\\Temp\\. ", "parts ending in a dot or a space"),
        ("C:\\Windows\\Temp\\MpSigStub.log.", "parts ending in a dot or a space"),
        ("C:\\Windows\\Temp\\x\\..", "parts ending in a dot or a space"),
        (
            "C:\\Windows\\Temp\\\\MpSigStub.log",
            "is not a canonical path (Windows opens it as 'C:\\Windows\\Temp\\MpSigStub.log')",
        ),
        ("C:/Windows/Temp/MpSigStub.log", "is not a full local path"),
        ("C:\\Windows\\Temp\\", "is a location itself"),
        ("C:\\WINDOWS\\SoftwareDistribution\\Download", "is a location itself"),
        ("C:\\Windows\\Temp\\MpSigStub.log:secret", "streams"),
        ("\\\\server\\share\\Temp\\x", "is not a full local path"),
    ],
)
def test_cleanup_delete_compares_the_path_windows_opens_and_never_takes_a_location(path, message):
    host = full_host()
    before = snapshot(host)
    entry = only(host, {"op": "cleanup_delete", "paths": [path]})
    assert entry["ok"] is False and message in entry["error"] and "nothing was deleted" in entry["error"], entry
    assert snapshot(host) == before


def test_cleanup_delete_takes_a_canonical_path_in_another_case():
    host = full_host()
    result = only(host, {"op": "cleanup_delete", "paths": ["c:\\WINDOWS\\temp\\mpsigstub.log"]})["result"]
    assert [d["size"] for d in result["deleted"]] == [1024**2]


def test_no_agent_folder_may_go_when_the_boot_loaders_default_agent_is_unknown():
    host = full_host()
    host.state.registry.delete_value(k.BOOTLOADER, "DefaultAgent")
    older = rf"{k.RDINFRA_DIR}\RDAgent_{k.AGENT_OLDER_VERSION}"
    candidates = only(host, {"op": "cleanup_candidates"})["result"]
    assert candidates["agents_known"] is False
    before = snapshot(host)
    entry = only(host, {"op": "cleanup_delete", "paths": [older]})
    assert entry["ok"] is False and "DefaultAgent could not be read (unknown means keep)" in entry["error"]
    assert snapshot(host) == before
    host.state.registry.delete_key(k.BOOTLOADER)
    assert only(host, {"op": "cleanup_candidates"})["result"]["agents_known"] is False
    assert only(host, {"op": "cleanup_delete", "paths": [older]})["ok"] is False
