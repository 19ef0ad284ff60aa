"""The installer manifest and the host's cache, pinned where an installer is accepted, copied or refused
(issue 22): an empty manifest, an unreadable one, each required field, the copy's temporary file, the summary."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _installers as inst
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult

CACHE = "C:\\ProgramData\\avdops\\installers"
CODE = "{3B7C4A5E-0000-4C6B-9A43-0123456789AB}"
WHERE = Path("m.yml")


def agent(**fields: Any) -> dict[str, Any]:
    entry = {"file": "a.msi", "version": "1.0", "sha256": "ab" * 32, "product_code": CODE, "source": "a.msi"}
    return {**entry, **fields}


@pytest.mark.parametrize("installers", [{}, [], None, "agent"])
def test_a_manifest_without_entries_is_refused(installers):
    with pytest.raises(inst.InstallerError) as caught:
        inst.parse_manifest({"installers": installers}, WHERE)
    assert str(caught.value) == "m.yml: 'installers' must map installer names to their entries"


def test_one_entry_is_enough_and_keeps_its_name():
    manifest = inst.parse_manifest({"installers": {"agent": agent()}}, WHERE)
    assert manifest == inst.Manifest(
        path=WHERE,
        installers={
            "agent": inst.Installer(
                name="agent", file="a.msi", version="1.0", sha256="ab" * 32, source="a.msi", product_code=CODE
            )
        },
    )


def test_an_unreadable_manifest_says_why(tmp_path):
    with pytest.raises(inst.InstallerError) as caught:
        inst.load_manifest(tmp_path)  # a folder
    assert str(caught.value) == f"cannot read the installer manifest {tmp_path}: Is a directory"


@pytest.mark.parametrize("field", ["file", "version", "sha256", "source", "product_code"])
@pytest.mark.parametrize("value", [None, "", "  ", True, ["a.msi"]])
def test_each_required_field_must_be_a_non_empty_value(field, value):
    with pytest.raises(inst.InstallerError) as caught:
        inst.parse_entry("agent", agent(**{field: value}), WHERE)
    assert str(caught.value) == f"m.yml: installers.agent.{field}: required (a non-empty string)"


def test_numbers_are_read_as_text():
    found = inst.parse_entry("agent", agent(version=2), WHERE)
    assert found.version == "2"
    assert inst.parse_entry("agent", agent(file="A.MSI"), WHERE).file == "A.MSI"


@pytest.mark.parametrize("name", [".", "..", "a\\b.msi", "a/b.msi", "c:a.msi", "a?.msi"])
def test_a_file_must_be_a_plain_name(name):
    with pytest.raises(inst.InstallerError, match=r"\.file: .* must be a file name, without a folder"):
        inst.parse_entry("agent", agent(file=name), WHERE)


@pytest.mark.parametrize(
    ("version", "good"), [("1", True), ("a-1_b.2", True), ("-1", False), (".1", False), ("1 2", False)]
)
def test_a_version_is_one_plain_folder_level(version, good):
    if good:
        assert inst.parse_entry("agent", agent(version=version), WHERE).version == version
    else:
        with pytest.raises(inst.InstallerError, match=r"\.version: .* must be letters, digits"):
            inst.parse_entry("agent", agent(version=version), WHERE)


@pytest.mark.parametrize(("source", "good"), [("//fs/a.msi", False), ("HTTP://x/a.msi", False), ("s3://b/a.msi", False),
                                              ("HTTPS://x/a.msi", True), ("sub/a.msi", True), ("/abs/a.msi", True)])  # fmt: skip
def test_sources_the_controller_can_trust(source, good):
    if good:
        assert inst.parse_entry("agent", agent(source=source), WHERE).source == source
    else:
        with pytest.raises(inst.InstallerError, match=r"installers\.agent\.source: "):
            inst.parse_entry("agent", agent(source=source), WHERE)


def test_select_keeps_the_order_asked_once_each_and_names_all_that_is_wrong():
    manifest = inst.parse_manifest(
        {"installers": {"agent": agent(), "boot_loader": agent(file="b.msi", source="b.msi")}}, WHERE
    )
    assert [i.name for i in manifest.select(["boot_loader", "agent", "boot_loader"])] == ["boot_loader", "agent"]
    with pytest.raises(inst.InstallerError) as caught:
        manifest.select(["x", "y"])
    assert str(caught.value) == (
        "unknown installer name(s) x, y; the names are agent, boot_loader, sxs_stack, geneva, dotnet48"
    )
    with pytest.raises(inst.InstallerError) as caught:
        manifest.select(["geneva", "sxs_stack"])
    assert str(caught.value) == "m.yml: the manifest has no entry for geneva, sxs_stack"


def test_a_file_over_one_chunk_hashes_whole(tmp_path):
    data = b"x" * (inst.CHUNK + 1)
    (tmp_path / "big").write_bytes(data)
    assert inst.sha256_of(tmp_path / "big") == hashlib.sha256(data).hexdigest()


def test_a_download_goes_through_a_hidden_temporary_file_beside_its_target(tmp_path):
    data = b"y" * (inst.CHUNK + 3)
    installer = inst.Installer("dotnet48", "n.exe", "4.8", hashlib.sha256(data).hexdigest(), "https://x/n.exe")
    target = tmp_path / "dl" / "n.exe"
    seen: list[list[str]] = []

    class Response(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            seen.append(sorted(p.name for p in target.parent.iterdir()))
            assert size == inst.CHUNK
            return super().read(size)

    inst.download(installer, target, lambda url: Response(data))
    assert target.read_bytes() == data
    assert seen and all(len(names) == 1 and names[0].startswith(".download-") for names in seen)
    assert sorted(p.name for p in target.parent.iterdir()) == ["n.exe"]


def test_the_host_cache_operations_and_summary():
    installers = [
        inst.Installer("agent", "a.msi", "1.0", "ab" * 32, "a.msi", CODE),
        inst.Installer("dotnet48", "n.exe", "4.8", "cd" * 32, "n.exe"),
    ]
    assert inst.probe_cache(CACHE, installers) == [
        Operation("probe.files", "file_hash", {"paths": [rf"{CACHE}\agent\1.0\a.msi", rf"{CACHE}\dotnet48\4.8\n.exe"]})
    ]
    assert inst.make_folders(CACHE, installers + installers[:1]) == [
        Operation(
            "apply.folders",
            "make_directory",
            {"paths": [rf"{CACHE}\agent\1.0", rf"{CACHE}\dotnet48\4.8"], "secure_root": CACHE},
        )
    ]
    assert inst.summary(CACHE, installers) == {
        "paths": {"agent": rf"{CACHE}\agent\1.0\a.msi", "dotnet48": rf"{CACHE}\dotnet48\4.8\n.exe"},
        "versions": {"agent": "1.0", "dotnet48": "4.8"},
        "sha256": {"agent": "ab" * 32, "dotnet48": "cd" * 32},
        "product_codes": {"agent": CODE},
    }


def test_hashes_on_the_host_missing_files_and_missing_answers():
    answer = [{"path": "C:\\A", "exists": False, "sha256": "ab"}, {"path": "C:\\b", "exists": True, "sha256": "cd"}]
    found = {"probe.files": OperationResult("probe.files", "file_hash", True, answer)}
    assert inst.hashes_on_host(found, "probe.files") == {"c:\\a": None, "c:\\b": "cd"}
    with pytest.raises(inst.InstallerError) as caught:
        inst.hashes_on_host({}, "verify.files")
    assert str(caught.value) == "verify.files failed on the host: no answer"


def test_verify_copies_names_every_copy_that_differs():
    installers = [
        inst.Installer("agent", "a.msi", "1.0", "ab" * 32, "a.msi", CODE),
        inst.Installer("boot_loader", "b.msi", "2.0", "cd" * 32, "b.msi", CODE),
    ]
    answer = [
        {"path": rf"{CACHE.upper()}\AGENT\1.0\A.MSI", "exists": True, "sha256": "ee"},
        {"path": rf"{CACHE}\boot_loader\2.0\b.msi", "exists": False},
    ]
    found = {"verify.files": OperationResult("verify.files", "file_hash", True, answer)}
    assert inst.verify_copies(found, CACHE, installers) == (
        "the copy on the host does not match the manifest: "
        rf"{CACHE}\agent\1.0\a.msi has SHA-256 ee, not {'ab' * 32}; "
        rf"{CACHE}\boot_loader\2.0\b.msi has SHA-256 None, not {'cd' * 32}"
    )


@pytest.mark.parametrize(("folder", "kept"), [("D:\\", "D:"), ("D:\\c\\\\", "D:\\c"), ("d:\\x y", "d:\\x y")])
def test_a_cache_folder_loses_its_trailing_separators(folder, kept):
    assert inst.check_cache_dir(folder) == kept


def test_the_cache_probe_in_check_mode_is_the_same_operation_without_creating():
    installers = [inst.Installer("agent", "a.msi", "1.0", "ab" * 32, "a.msi", CODE)]
    assert inst.make_folders(CACHE, installers, check=True) == [
        Operation(
            "probe.folders",
            "make_directory",
            {"paths": [rf"{CACHE}\agent\1.0"], "secure_root": CACHE, "check_mode": True},
        )
    ]
    with pytest.raises(inst.InstallerError) as caught:
        inst.folders_to_change({})
    assert str(caught.value) == "the installer cache on the host cannot be used: no answer"


def test_an_entry_of_a_wrong_name_shape_or_fields_names_what_is_allowed():
    names = "agent, boot_loader, sxs_stack, geneva, dotnet48"
    fields = "file, version, sha256, product_code, source"
    for name, entry, message in (
        ("fslogix", agent(), f"m.yml: installers.fslogix: unknown installer name; the names are {names}"),
        ("agent", "a.msi", f"m.yml: installers.agent: must be a mapping of {fields}"),
        (
            "agent",
            agent(zeta=1, alpha=2),
            f"m.yml: installers.agent: unknown field(s) alpha, zeta; the fields are {fields}",
        ),
    ):
        with pytest.raises(inst.InstallerError) as caught:
            inst.parse_entry(name, entry, WHERE)
        assert str(caught.value) == message


def test_only_separators_are_stripped_from_the_cache_folder():
    assert inst.check_cache_dir("D:\\cacheX\\") == "D:\\cacheX"
