"""Installer files recognised by content, Ansible's winrm put_file, and the runtime's installer operations."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from labworld import world

from avdlab.ansible_put_file import SCRIPT_SHA256, WINRM_BOOTSTRAP_SHA256, AnsibleWinrmPutFile
from avdlab.auth import Account
from avdlab.commandline import parse_invocation
from avdlab.handlers import CommandContext
from avdlab.host import LabHost
from avdlab.model import HostSpec
from avdlab.runtime_handler import CollectionRuntime, RuntimeScripts, runtime_dir
from avdlab.windows import known as k
from avdlab.windows import operations as ops
from avdlab.windows.packages import lab_installers, package_bytes, read_package, write_installers

CACHE = "C:\\ProgramData\\avdops\\installers"


def lab_host(*faults: str) -> LabHost:
    model = world(HostSpec("sh-01", faults=list(faults)))
    return LabHost(name="sh-01", address="127.0.0.1", account=Account("avdadmin", "p"), model=model)


@pytest.fixture
def host() -> LabHost:
    return lab_host()


def run(host: LabHost, *operations: dict[str, Any]) -> list[dict[str, Any]]:
    scripts = RuntimeScripts(runtime_dir())
    request = {"version": scripts.version, "operations": [{"id": str(i), **op} for i, op in enumerate(operations)]}
    text = json.dumps({"runtime": scripts.runtime, "request": request})
    result = asyncio.run(CollectionRuntime(scripts).answer(host, scripts.bootstrap, text))
    assert result.rc == 0, result.stderr
    results: list[dict[str, Any]] = json.loads(result.stdout)["results"]
    return results


def installer(name: str) -> tuple[str, bytes, dict[str, str]]:
    file_name, info = lab_installers()[name]
    return file_name, package_bytes(info), info


# --- installer files -------------------------------------------------------------------
def test_an_installer_is_recognised_by_its_content_and_a_changed_byte_damages_it():
    _name, data, info = installer("agent")
    assert read_package(data) == ("package", info)
    assert read_package(data[:5000] + bytes([data[5000] ^ 1]) + data[5001:]) == ("damaged", None)
    assert read_package(data[:-10]) == ("damaged", None)
    assert read_package(b"MZ\x90\x00 any other program") == ("other", None)


def test_avdlab_writes_the_installers_and_a_manifest_of_their_sha256(tmp_path: Path):
    manifest = write_installers(tmp_path / "installers")
    entries = yaml.safe_load(manifest.read_text())["installers"]
    assert set(entries) == {"agent", "boot_loader", "sxs_stack", "geneva", "dotnet48"}
    for name, entry in entries.items():
        data = (manifest.parent / entry["source"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        kind, info = read_package(data)
        assert kind == "package" and info is not None
        assert entry.get("product_code", "") == info["product_code"], name
    assert entries["agent"]["version"] == k.AGENT_VERSION and entries["dotnet48"]["version"] == "4.8"
    assert "product_code" not in entries["dotnet48"] and entries["dotnet48"]["file"].endswith(".exe")


# --- Ansible's winrm put_file ------------------------------------------------------------
def winrm_put_file(
    host: LabHost, data: bytes, path: str, tmp_path: Path, edit: Any = None
) -> tuple[int, str, str, str | None]:
    """ansible-core's winrm Connection.put_file itself, its transport replaced by the lab's WinRS handler;
    the lab's answer and the error put_file raised (None when it accepted the copy)."""
    from ansible.errors import AnsibleError
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader

    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    connection = connection_loader.get("winrm", PlayContext(), None)
    connection._connected = True  # put_file's ensure_connect: the lab's handler stands in for the network
    connection._winrm_host = host.address
    answers: list[tuple[int, str, str]] = []

    def winrm_exec(command: str, args: Any = (), from_exec: bool = False, stdin_iterator: Any = None) -> Any:
        stdin = b"".join(chunk for chunk, _end in stdin_iterator)
        line = " ".join([command, *args])
        if edit is not None:
            line, stdin = edit(line, stdin)
        invocation = parse_invocation(line)
        handler = AnsibleWinrmPutFile()
        result = handler.run(CommandContext(host=host, invocation=invocation, owner="avdadmin", stdin=stdin))
        answers.append((result.rc, result.stdout.decode(), result.stderr.decode()))
        return result.rc, result.stdout, result.stderr

    connection._winrm_exec = winrm_exec
    try:
        connection.put_file(str(source), path)  # raises unless the lab answered the file's sha1
    except AnsibleError as exc:
        return (*answers[-1], str(exc))
    return (*answers[-1], None)


@pytest.mark.parametrize("size", [0, 10, 600_001])
def test_ansibles_winrm_put_file_writes_the_file_in_chunks(host, tmp_path, size):
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    rc, out, err, error = winrm_put_file(host, data, "C:\\Windows\\Temp\\upload.bin", tmp_path)
    assert (rc, err, error) == (0, "", None) and json.loads(out) == {"sha1": hashlib.sha1(data).hexdigest()}
    entry = host.state.files["c:\\windows\\temp\\upload.bin"]
    assert (entry.size, entry.sha256, entry.product) == (size, hashlib.sha256(data).hexdigest(), None)


def test_an_installer_copied_with_winrm_put_file_is_recognised(host, tmp_path):
    _name, data, info = installer("boot_loader")
    assert winrm_put_file(host, data, "C:\\Windows\\Temp\\bl.msi", tmp_path)[3] is None
    assert host.state.files["c:\\windows\\temp\\bl.msi"].product == info


def test_the_lab_knows_the_installed_ansible_cores_winrm_put_file():
    import pkgutil

    from ansible.executor.powershell.module_manifest import _bootstrap_powershell_script
    from ansible.plugins.loader import shell_loader

    script = pkgutil.get_data("ansible.executor.powershell", "winrm_put_file.ps1")
    assert script is not None and hashlib.sha256(script).hexdigest() == SCRIPT_SHA256["winrm_put_file.ps1"]
    wrapper, _stdin = _bootstrap_powershell_script("winrm_put_file.ps1", {"Path": "C:\\x"}, has_input=True)
    parts = shell_loader.get("powershell")._encode_script(wrapper, as_list=True, strict_mode=False, preserve_rc=False)
    encoded = base64.b64decode(parts[-1]).decode("utf-16-le")
    assert hashlib.sha256(encoded.encode()).hexdigest() == WINRM_BOOTSTRAP_SHA256, (
        "ansible-core's winrm put_file wrapper changed: update avdlab/ansible_put_file.py after checking it"
    )


def edited_script(line: str, stdin: bytes) -> tuple[str, bytes]:
    wrapper, separator, manifest, rest = stdin.split(b"\n", 3)
    document = json.loads(manifest)
    script = base64.b64decode(document["scripts"]["winrm_put_file.ps1"]["script"]) + b"\n# edited\n"
    document["scripts"]["winrm_put_file.ps1"]["script"] = base64.b64encode(script).decode()
    return line, b"\n".join([wrapper, separator, json.dumps(document).encode(), rest])


def psrp_script_over_winrm(line: str, stdin: bytes) -> tuple[str, bytes]:
    return line, stdin.replace(b"winrm_put_file.ps1", b"psrp_put_file.ps1")


def other_command_line(line: str, stdin: bytes) -> tuple[str, bytes]:
    return line.replace("-ExecutionPolicy Unrestricted ", "-ExecutionPolicy Bypass "), stdin


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (edited_script, "winrm_put_file.ps1 is not ansible-core 2.19.14's"),
        (psrp_script_over_winrm, "psrp_put_file.ps1"),
        (other_command_line, "a put_file command line other than"),
    ],
)
def test_a_changed_winrm_put_file_is_refused_and_writes_nothing(host, tmp_path, edit, named):
    rc, out, err, error = winrm_put_file(host, b"data", "C:\\Windows\\Temp\\x.bin", tmp_path, edit)
    assert rc == 1 and out == "" and named in err and error is not None and named in error
    assert "c:\\windows\\temp\\x.bin" not in host.state.files


def test_put_file_into_a_missing_folder_fails_as_file_create_does(host, tmp_path):
    rc, _out, err, error = winrm_put_file(host, b"x", f"{CACHE}\\agent\\1\\a.msi", tmp_path)
    assert rc == 1 and "Could not find a part of the path" in err and error is not None


# --- the runtime's installer operations ---------------------------------------------------
def test_file_hash_and_make_directory(host):
    _name, data, _info = installer("agent")
    folder = f"{CACHE}\\agent\\{k.AGENT_VERSION}"
    path = f"{folder}\\agent.msi"
    (made_check,) = run(host, {"op": "make_directory", "paths": [folder], "check_mode": True})
    assert made_check["result"] == {"changed": True, "created": [folder], "secured": False}
    with pytest.raises(ops.OperationError, match="Could not find a part of the path"):
        ops.write_file(host.state, path, data)  # check mode created nothing
    made, again = run(host, {"op": "make_directory", "paths": [folder]}, {"op": "make_directory", "paths": [folder]})
    assert made["result"]["changed"] and again["result"] == {"changed": False, "created": [], "secured": False}
    ops.write_file(host.state, path, data)
    host.model.save(host.state)
    (hashes,) = run(host, {"op": "file_hash", "paths": [path.upper(), f"{folder}\\nope.msi"]})
    assert hashes["result"] == [
        {"path": path.upper(), "exists": True, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
        {"path": f"{folder}\\nope.msi", "exists": False, "size": None, "sha256": None},
    ]
    (bad,) = run(host, {"op": "make_directory", "paths": ["relative\\folder"]})
    assert not bad["ok"] and "is not an absolute folder path" in bad["error"]


def put(host: LabHost, path: str, data: bytes) -> None:
    ops.make_directories(host.state, [path.rsplit("\\", 1)[0]])
    ops.write_file(host.state, path, data)
    host.model.save(host.state)


def test_msiexec_checks_the_packages_hash_right_before_installing(host):
    _name, data, info = installer("geneva")
    path = f"{CACHE}\\geneva\\{k.GENEVA_VERSION}\\geneva.msi"
    put(host, path, data)
    for program in host.state.programs_named(info["display_name"]):
        ops.uninstall_product(host.state, program)
    host.model.save(host.state)
    wrong, missing, damaged, absent = (
        {"op": "msiexec", "action": "install", "package": path, "sha256": "0" * 64},
        {"op": "msiexec", "action": "install", "package": path[:-4] + "x.msi", "sha256": "0" * 64},
        {"op": "msiexec", "action": "install", "package": f"{CACHE}\\damaged.msi"},
        {"op": "msiexec", "action": "install", "package": f"{CACHE}\\absent.msi"},
    )
    put(host, f"{CACHE}\\damaged.msi", data[:-1] + b"X")
    answers = run(host, wrong, missing, damaged, absent)
    assert (
        not answers[0]["ok"]
        and f"has SHA-256 {hashlib.sha256(data).hexdigest()}, not the expected" in answers[0]["error"]
    )
    assert not answers[1]["ok"] and "does not exist; nothing was run" in answers[1]["error"]
    assert answers[2]["result"] == {"exit_code": k.MSI_PACKAGE_INVALID}
    assert answers[3]["result"] == {"exit_code": k.MSI_PACKAGE_OPEN_FAILED}
    assert host.state.programs_named(info["display_name"]) == []  # nothing installed
    (good,) = run(host, {**wrong, "sha256": hashlib.sha256(data).hexdigest().upper()})
    assert good["result"] == {"exit_code": 0} and host.state.programs_named(info["display_name"])


DOTNET_PATH = f"{CACHE}\\dotnet48\\4.8\\ndp48-x86-x64-allos-enu.exe"


def dotnet_host(*faults: str) -> tuple[LabHost, str]:
    host = lab_host("dotnet_outdated", *faults)
    _name, data, _info = installer("dotnet48")
    put(host, DOTNET_PATH, data)
    return host, hashlib.sha256(data).hexdigest()


def release(host: LabHost) -> int:
    return int(host.state.registry.get_data(k.NDP_V4_FULL, "Release"))


def test_the_dotnet_installer_asks_for_a_restart_and_the_release_changes_with_it():
    host, digest = dotnet_host()
    assert release(host) == k.DOTNET_47_RELEASE
    (installed,) = run(host, {"op": "dotnet_install", "path": DOTNET_PATH, "sha256": digest})
    assert installed["result"] == {"exit_code": 3010, "ran_as": "SH-01\\avdadmin"}
    assert release(host) == k.DOTNET_47_RELEASE  # pending until Windows restarts
    (again,) = run(host, {"op": "dotnet_install", "path": DOTNET_PATH, "sha256": digest})
    assert again["result"] == {"exit_code": 0, "ran_as": "SH-01\\avdadmin"}
    host.model.reboot(host.state)
    assert release(host) == 528449  # Windows 11 (build 22631) as the facts list it
    assert host.state.registry.get_data(k.NDP_V4_FULL, "Version") == k.DOTNET48_VERSION


def test_the_dotnet_installer_fails_with_its_documented_codes():
    host, digest = dotnet_host()
    host.state.disk.free = 2 * 1024**3  # below the 4.5 GB .NET Framework 4.8 needs
    host.model.save(host.state)
    op = {"op": "dotnet_install", "path": DOTNET_PATH, "sha256": digest}
    assert run(host, op)[0]["result"]["exit_code"] == k.DOTNET_REQUIREMENTS_NOT_MET
    host.state.disk.free = 80 * 1024**3
    host.state.installer_busy = True
    host.model.save(host.state)
    assert run(host, op)[0]["result"]["exit_code"] == k.MSI_ANOTHER_INSTALL
    assert host.state.pending_dotnet_release is None and release(host) == k.DOTNET_47_RELEASE


def test_the_dotnet_installer_runs_only_the_pinned_installer():
    host, digest = dotnet_host()
    _name, agent, _info = installer("agent")
    put(host, f"{CACHE}\\agent.exe", agent)
    answers = run(
        host,
        {"op": "dotnet_install", "path": DOTNET_PATH, "sha256": "f" * 64},
        {"op": "dotnet_install", "path": DOTNET_PATH},
        {"op": "dotnet_install", "path": f"{CACHE}\\agent.exe", "sha256": hashlib.sha256(agent).hexdigest()},
        {"op": "dotnet_install", "path": DOTNET_PATH[:-4] + ".msi", "sha256": digest},
    )
    assert "not the expected ffff" in answers[0]["error"]
    assert "argument 'sha256' is required" in answers[1]["error"]
    assert "not a valid application" in answers[2]["error"]
    assert "is not an .exe file" in answers[3]["error"]
    assert not any(answer["ok"] for answer in answers) and host.state.pending_dotnet_release is None
