"""The installer manifest, the controller's checks and the host cache plan (plugin_utils/_installers.py)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _installers as inst
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import OperationResult

AGENT = b"agent installer bytes"
DOTNET = b"dotnet offline installer bytes"
CODE = "{3B7C4A5E-0000-4C6B-9A43-0123456789AB}"
CACHE = "C:\\ProgramData\\avdops\\installers"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entries() -> dict[str, Any]:
    return {
        "agent": {
            "file": "Microsoft.RDInfra.RDAgent.Installer-x64-1.0.10004.1300.msi",
            "version": "1.0.10004.1300",
            "sha256": sha(AGENT).upper(),  # either case is fine
            "product_code": CODE.lower(),
            "source": "Microsoft.RDInfra.RDAgent.Installer-x64-1.0.10004.1300.msi",
        },
        "dotnet48": {
            "file": "ndp48-x86-x64-allos-enu.exe",
            "version": 4.8,  # YAML reads an unquoted 4.8 as a number
            "sha256": sha(DOTNET),
            "source": "https://download.example.test/ndp48-x86-x64-allos-enu.exe",
        },
    }


def write(tmp_path: Path, document: Any) -> Path:
    (tmp_path / entries()["agent"]["file"]).write_bytes(AGENT)
    path = tmp_path / "manifest.yml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_a_good_manifest_reads_into_pinned_entries(tmp_path):
    manifest = inst.load_manifest(write(tmp_path, {"installers": entries()}))
    agent, dotnet = manifest.select(["agent", "dotnet48"])
    assert (agent.sha256, agent.product_code, agent.is_url) == (sha(AGENT), CODE.upper(), False)
    assert (dotnet.version, dotnet.product_code, dotnet.is_url) == ("4.8", None, True)


def bad(field: str, value: Any) -> dict[str, Any]:
    document = entries()
    document["agent"][field] = value
    return {"installers": document}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (["agent"], "one key, 'installers'"),
        ({"installers": {}, "extra": 1}, "one key, 'installers'"),
        ({"installers": {"fslogix": entries()["agent"]}}, "installers.fslogix: unknown installer name"),
        ({"installers": {"agent": "x.msi"}}, "installers.agent: must be a mapping"),
        (bad("signature", "x"), "installers.agent: unknown field(s) signature"),
        (bad("sha256", "abc"), "installers.agent.sha256: must be 64 hexadecimal digits"),
        (bad("sha256", None), "installers.agent.sha256: required"),
        (bad("file", "..\\..\\evil.msi"), "installers.agent.file: '..\\..\\evil.msi' must be a file name"),
        (bad("file", "agent.exe"), "installers.agent.file: 'agent.exe' is not an .msi file"),
        (bad("version", "1.0/../x"), "installers.agent.version: '1.0/../x' must be letters"),
        (bad("product_code", "3B7C4A5E"), "installers.agent.product_code: '3B7C4A5E' is not a product code"),
        (bad("source", "\\\\fs01\\installers\\agent.msi"), "installers.agent.source: UNC shares are not supported"),
        (bad("source", "http://example.test/agent.msi"), "installers.agent.source: use https://"),
        (bad("source", "ftp://example.test/agent.msi"), "is neither a path on the controller nor an https:// URL"),
    ],
)
def test_a_bad_manifest_names_the_entry_and_field(tmp_path, document, message):
    with pytest.raises(inst.InstallerError) as caught:
        inst.load_manifest(write(tmp_path, document))
    assert message in str(caught.value) and str(tmp_path / "manifest.yml") in str(caught.value)


def test_a_product_code_on_the_dotnet_installer_is_refused(tmp_path):
    document = entries()
    document["dotnet48"]["product_code"] = CODE
    with pytest.raises(inst.InstallerError, match=r"installers.dotnet48.product_code: .* no Windows Installer package"):
        inst.load_manifest(write(tmp_path, {"installers": document}))


def test_unreadable_and_broken_manifests_say_so(tmp_path):
    with pytest.raises(inst.InstallerError, match=r"cannot read the installer manifest"):
        inst.load_manifest(tmp_path / "nope.yml")
    (tmp_path / "broken.yml").write_text("installers: [")
    with pytest.raises(inst.InstallerError, match=r"is not valid YAML"):
        inst.load_manifest(tmp_path / "broken.yml")


def test_select_names_what_is_unknown_or_not_in_the_manifest(tmp_path):
    manifest = inst.load_manifest(write(tmp_path, {"installers": entries()}))
    with pytest.raises(inst.InstallerError, match=r"unknown installer name.*fslogix"):
        manifest.select(["fslogix"])
    with pytest.raises(inst.InstallerError, match=r"no entry for sxs_stack"):
        manifest.select(["agent", "sxs_stack"])


def test_a_local_source_is_hashed_on_the_controller(tmp_path):
    manifest = inst.load_manifest(write(tmp_path, {"installers": entries()}))
    (agent,) = manifest.select(["agent"])
    assert inst.controller_file(agent, tmp_path, tmp_path / "dl", never_called) == tmp_path / agent.file
    (tmp_path / agent.file).write_bytes(AGENT + b"tampered")
    with pytest.raises(
        inst.InstallerError, match=rf"installers.agent: .* has SHA-256 .*, not the manifest's {sha(AGENT)}"
    ):
        inst.controller_file(agent, tmp_path, tmp_path / "dl", never_called)
    (tmp_path / agent.file).unlink()
    with pytest.raises(inst.InstallerError, match=r"installers.agent.source: .* does not exist on the controller"):
        inst.controller_file(agent, tmp_path, tmp_path / "dl", never_called)
    (tmp_path / agent.file).mkdir()  # a source that names a folder says so, not "does not exist"
    with pytest.raises(inst.InstallerError, match=r"installers.agent.source: .* is a folder, not the installer file"):
        inst.controller_file(agent, tmp_path, tmp_path / "dl", never_called)


def never_called(url: str) -> io.BytesIO:
    raise AssertionError(f"downloaded {url}")


def test_an_https_source_is_downloaded_once_and_kept_only_when_its_hash_matches(tmp_path):
    manifest = inst.load_manifest(write(tmp_path, {"installers": entries()}))
    (dotnet,) = manifest.select(["dotnet48"])
    asked: list[str] = []

    def opener(url: str) -> io.BytesIO:
        asked.append(url)
        return io.BytesIO(DOTNET)

    path = inst.controller_file(dotnet, tmp_path, tmp_path / "dl", opener)
    assert path == tmp_path / "dl" / sha(DOTNET) / dotnet.file and path.read_bytes() == DOTNET
    assert inst.controller_file(dotnet, tmp_path, tmp_path / "dl", never_called) == path  # the cached copy
    assert asked == [dotnet.source]


def test_a_download_with_another_hash_or_an_error_leaves_nothing(tmp_path):
    manifest = inst.load_manifest(write(tmp_path, {"installers": entries()}))
    (dotnet,) = manifest.select(["dotnet48"])
    with pytest.raises(inst.InstallerError, match=r"has SHA-256 .*, not the manifest's .*; nothing was copied"):
        inst.controller_file(dotnet, tmp_path, tmp_path / "dl", lambda url: io.BytesIO(b"a proxy's error page"))

    def failing(url: str) -> io.BytesIO:
        raise OSError("Connection refused")

    with pytest.raises(inst.InstallerError, match=r"installers.dotnet48: cannot download .*Connection refused"):
        inst.controller_file(dotnet, tmp_path, tmp_path / "dl", failing)
    assert [p for p in (tmp_path / "dl").rglob("*") if p.is_file()] == []


def result(op_id: str, files: dict[str, str | None]) -> dict[str, OperationResult]:
    answer = [
        {"path": path, "exists": digest is not None, "size": 1, "sha256": digest} for path, digest in files.items()
    ]
    return {op_id: OperationResult(op_id, "file_hash", True, answer)}


def test_only_missing_or_different_copies_are_planned(tmp_path):
    manifest = inst.load_manifest(write(tmp_path, {"installers": entries()}))
    agent, dotnet = manifest.select(["agent", "dotnet48"])
    agent_path = f"{CACHE}\\agent\\1.0.10004.1300\\{agent.file}"
    dotnet_path = f"{CACHE}\\dotnet48\\4.8\\ndp48-x86-x64-allos-enu.exe"
    (probe,) = inst.probe_cache(CACHE, [agent, dotnet])
    assert (probe.op, probe.args) == ("file_hash", {"paths": [agent_path, dotnet_path]})
    # Windows paths compare case-insensitively
    same = result("probe.files", {agent_path.upper(): sha(AGENT), dotnet_path: sha(DOTNET)})
    assert inst.to_copy(same, CACHE, [agent, dotnet]) == []
    differs = result("probe.files", {agent_path: sha(b"old"), dotnet_path: None})
    assert inst.to_copy(differs, CACHE, [agent, dotnet]) == [agent, dotnet]
    (folders,) = inst.make_folders(CACHE, [agent, dotnet])
    paths = [f"{CACHE}\\agent\\1.0.10004.1300", f"{CACHE}\\dotnet48\\4.8"]
    assert (folders.id, folders.args) == ("apply.folders", {"paths": paths, "secure_root": CACHE})
    (check,) = inst.make_folders(CACHE, [agent, dotnet], check=True)
    assert (check.id, check.args) == ("probe.folders", {"paths": paths, "secure_root": CACHE, "check_mode": True})
    assert inst.verify_copies(result("verify.files", {agent_path: sha(AGENT)}), CACHE, [agent]) is None
    problem = inst.verify_copies(result("verify.files", {agent_path: sha(b"x")}), CACHE, [agent])
    assert problem is not None and agent_path in problem and sha(AGENT) in problem
    failed = {"probe.files": OperationResult("probe.files", "file_hash", False, error="Access denied")}
    with pytest.raises(inst.InstallerError, match=r"probe.files failed on the host: Access denied"):
        inst.to_copy(failed, CACHE, [agent])


def test_a_cache_a_standard_user_controls_is_refused_with_the_hosts_reason():
    owned = "make_directory: 'C:\\ProgramData\\avdops' is owned by SH-01\\user01, not by an administrator, ..."
    refused = {"probe.folders": OperationResult("probe.folders", "make_directory", False, error=owned)}
    with pytest.raises(inst.InstallerError, match=r"cannot be used: make_directory: .* is owned by SH-01"):
        inst.folders_to_change(refused)
    fine = {"probe.folders": OperationResult("probe.folders", "make_directory", True, {"changed": False})}
    assert inst.folders_to_change(fine) is False
    reset = {"probe.folders": OperationResult("probe.folders", "make_directory", True, {"changed": True})}
    assert inst.folders_to_change(reset) is True


@pytest.mark.parametrize("folder", ["installers", "\\\\fs01\\share", "C:relative", "D:\\cache*"])
def test_the_cache_dir_must_be_an_absolute_windows_folder(folder):
    with pytest.raises(inst.InstallerError, match=r"must be an absolute Windows folder"):
        inst.check_cache_dir(folder)
    assert inst.check_cache_dir("D:\\cache\\") == "D:\\cache"
