"""The installer_cache action (plugin_utils/_installers.py's plan) over a host held in memory (issue 22).

The real action plugin runs with Ansible's own ``ActionBase``; only the WinRM command (``execute``) and the
connection's ``put_file`` are replaced by a host that keeps its cache's files and folders, so a copy really
changes what the verifying read sees. A copy is made only of a file whose hash on the host is not the
manifest's (one character off is copied, the same hash in either case is left), the copies are read back
exactly when something was copied, and check mode sends nothing but the probe.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from ansible_collections.avdops.sessionhost.plugins.action import installer_cache
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult

AGENT = b"agent installer bytes"
LOADER = b"boot loader installer bytes"
CACHE = "C:\\ProgramData\\avdops\\installers"
FILES = {"agent": "Microsoft.RDInfra.RDAgent.Installer-x64-1.0.10004.1300.msi",
         "boot_loader": "Microsoft.RDInfra.RDAgentBootLoader.Installer-x64-1.0.9023.1100.msi"}  # fmt: skip
VERSIONS = {"agent": "1.0.10004.1300", "boot_loader": "1.0.9023.1100"}
CONTENT = {"agent": AGENT, "boot_loader": LOADER}
CODES = {"agent": "{3B7C4A5E-0000-4C6B-9A43-0123456789AB}", "boot_loader": "{41439A3F-0000-4B8C-8C36-0123456789AB}"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def on_host(name: str) -> str:
    return f"{CACHE}\\{name}\\{VERSIONS[name]}\\{FILES[name]}"


class Host:
    """A session host's installer cache: its files by path, whether its folders need creating or securing."""

    def __init__(self, files: dict[str, bytes], folders_change: bool = False, corrupt: bool = False) -> None:
        self.files = {path.lower(): data for path, data in files.items()}
        self.folders_change = folders_change
        self.corrupt = corrupt  # put_file lands a different file (a broken transfer)
        self.commands: list[list[Operation]] = []
        self.put: list[str] = []

    def execute(self, runner: Any, operations: list[Operation]) -> dict[str, OperationResult]:
        assert isinstance(runner, installer_cache.ActionModule)
        self.commands.append(list(operations))
        return {op.id: OperationResult(op.id, op.op, True, self.answer(op)) for op in operations}

    def answer(self, op: Operation) -> Any:
        if op.op == "make_directory":
            changed = self.folders_change
            if not op.args.get("check_mode"):
                self.folders_change = False
            return {"changed": changed}
        assert op.op == "file_hash"
        found = []
        for path in op.args["paths"]:
            data = self.files.get(path.lower())
            found.append({"path": path, "exists": data is not None, "sha256": None if data is None else sha(data)})
        return found

    def put_file(self, local: str, remote: str) -> None:
        self.put.append(remote)
        self.files[remote.lower()] = Path(local).read_bytes() + (b"!" if self.corrupt else b"")

    @property
    def ids(self) -> list[list[str]]:
        return [[op.id for op in command] for command in self.commands]


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    entries = {}
    for name, file in FILES.items():
        (tmp_path / file).write_bytes(CONTENT[name])
        entries[name] = {"file": file, "version": VERSIONS[name], "sha256": sha(CONTENT[name]), "source": file,
                         "product_code": CODES[name]}  # fmt: skip
    path = tmp_path / "manifest.yml"
    path.write_text(yaml.safe_dump({"installers": entries}))
    return path


def run(host: Host, manifest: Path, monkeypatch: pytest.MonkeyPatch, check_mode: bool = False) -> dict[str, Any]:
    monkeypatch.setattr(installer_cache, "execute", host.execute)
    args = {"manifest": str(manifest), "installers": ["agent", "boot_loader"], "cache_dir": CACHE,
            "download_dir": str(manifest.parent / "downloads")}  # fmt: skip
    task = SimpleNamespace(args=args, check_mode=check_mode, diff=False, async_val=0, action="installer_cache")
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir="C:\\Windows\\Temp\\ansible"), put_file=host.put_file)
    action = installer_cache.ActionModule(task, connection, None, None, None, None)
    result: dict[str, Any] = action.run(task_vars={})
    return result


PROBE = ["probe.folders", "probe.files"]


def test_a_cache_that_holds_the_manifest_s_files_is_left_and_nothing_is_read_back(manifest, monkeypatch):
    host = Host({on_host("agent"): AGENT, on_host("boot_loader"): LOADER})
    result = run(host, manifest, monkeypatch)
    assert (result["changed"], result["copied"], result["secured"]) == (False, [], False)
    assert not result.get("failed")
    assert host.ids == [PROBE] and host.put == []


def test_a_file_one_byte_off_is_copied_alone_and_read_back_alone(manifest, monkeypatch):
    host = Host({on_host("agent"): AGENT[:-1] + b"T", on_host("boot_loader"): LOADER})
    result = run(host, manifest, monkeypatch)
    assert (result["changed"], result["copied"], result["secured"]) == (True, ["agent"], False)
    assert not result.get("failed"), result
    assert host.ids == [PROBE, ["apply.folders"], ["verify.files"]]
    assert host.commands[2][0] == Operation("verify.files", "file_hash", {"paths": [on_host("agent")]})
    assert host.put == [on_host("agent")]
    assert host.files[on_host("agent").lower()] == AGENT


def test_missing_files_are_copied_and_every_copy_read_back(manifest, monkeypatch):
    host = Host({})
    result = run(host, manifest, monkeypatch)
    assert result["copied"] == ["agent", "boot_loader"] and result["changed"] is True
    assert host.ids == [PROBE, ["apply.folders"], ["verify.files"]]
    assert host.commands[2][0].args == {"paths": [on_host("agent"), on_host("boot_loader")]}
    assert not result.get("failed")


def test_folders_secured_with_every_file_in_place_copy_nothing_and_read_no_file_back(manifest, monkeypatch):
    host = Host({on_host("agent"): AGENT, on_host("boot_loader"): LOADER}, folders_change=True)
    result = run(host, manifest, monkeypatch)
    assert (result["changed"], result["copied"], result["secured"]) == (True, [], True)
    assert host.ids == [PROBE, ["apply.folders"]] and host.put == []
    assert not result.get("failed")


def test_check_mode_sends_only_the_probe(manifest, monkeypatch):
    host = Host({}, folders_change=True)
    result = run(host, manifest, monkeypatch, check_mode=True)
    assert (result["changed"], result["copied"], result["secured"]) == (True, ["agent", "boot_loader"], True)
    assert host.ids == [PROBE] and host.put == [] and host.files == {}
    assert host.commands[0][0].args["check_mode"] is True


def test_a_copy_that_does_not_match_after_the_transfer_is_a_failure_naming_it(manifest, monkeypatch):
    host = Host({on_host("boot_loader"): LOADER}, corrupt=True)
    result = run(host, manifest, monkeypatch)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"] == (
        f"the copy on the host does not match the manifest: {on_host('agent')} has SHA-256 "
        f"{sha(AGENT + b'!')}, not {sha(AGENT)}"
    )
    assert host.ids[-1] == ["verify.files"]


def test_a_cache_the_host_refuses_is_a_failure_before_anything_is_copied(manifest, monkeypatch):
    host = Host({})

    def refuse(runner: Any, operations: list[Operation]) -> dict[str, OperationResult]:
        host.commands.append(list(operations))
        return {op.id: OperationResult(op.id, op.op, op.id != "probe.folders", [], "owned by a standard user")
                for op in operations}  # fmt: skip

    host.execute = refuse  # type: ignore[method-assign]
    result = run(host, manifest, monkeypatch)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "the installer cache on the host cannot be used: owned by a standard user"
    assert host.ids == [PROBE] and host.put == []
