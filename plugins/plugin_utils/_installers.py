"""Installers from a source the admin controls: the manifest, the controller's checks, the host's cache.

The manifest (YAML) pins each installer the remediation roles may run::

    installers:
      agent:       {file: ..., version: ..., sha256: <64 hex>, product_code: "{GUID}", source: ...}
      boot_loader: {...}
      sxs_stack:   {...}   # optional
      geneva:      {...}   # optional
      dotnet48:    {file: ndp48-x86-x64-allos-enu.exe, version: "4.8", sha256: ..., source: ...}

``source`` is a path on the controller (relative to the manifest's folder, or
absolute) or an ``https://`` URL (downloaded once into a controller cache).
Each file is hashed on the controller before it is copied, copied over the
host's own connection (``put_file``) into ``<cache_dir>\\<name>\\<version>\\<file>``
only when the host's copy is missing or differs, and hashed again on the host
after the copy; the runtime hashes it once more right before it runs it.
Everything here is pure but for reading and writing files on the controller.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

from ._runtime import Operation, OperationResult

# The names a manifest may use, and whether each is a Windows Installer package (with a product code).
INSTALLER_NAMES: dict[str, str] = {
    "agent": ".msi",
    "boot_loader": ".msi",
    "sxs_stack": ".msi",
    "geneva": ".msi",
    "dotnet48": ".exe",
}
ENTRY_FIELDS = ("file", "version", "sha256", "product_code", "source")
DEFAULT_CACHE_DIR = "C:\\ProgramData\\avdops\\installers"
SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
PRODUCT_CODE = re.compile(r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$")
# A file or version that is one folder level on Windows: no separators, no characters Windows refuses.
PLAIN_NAME = re.compile(r'^[^\\/:*?"<>|\x00-\x1f]+$')
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
WINDOWS_FOLDER = re.compile(r'^[A-Za-z]:\\[^*?"<>|\x00-\x1f]*$')
CHUNK = 1024 * 1024


class InstallerError(ValueError):
    """A manifest, a source or a file is not what it must be; the message names the entry and what is wrong."""


@dataclass(frozen=True)
class Installer:
    name: str
    file: str
    version: str
    sha256: str  # lower-case hex
    source: str
    product_code: str | None = None

    @property
    def is_url(self) -> bool:
        return self.source.lower().startswith("https://")


@dataclass(frozen=True)
class Manifest:
    path: Path
    installers: dict[str, Installer]

    def select(self, names: Iterable[str]) -> list[Installer]:
        """The entries asked for, in the order asked; InstallerError naming what the manifest lacks."""
        wanted = list(dict.fromkeys(names))
        unknown = [name for name in wanted if name not in INSTALLER_NAMES]
        if unknown:
            raise InstallerError(
                f"unknown installer name(s) {', '.join(unknown)}; the names are {', '.join(INSTALLER_NAMES)}"
            )
        missing = [name for name in wanted if name not in self.installers]
        if missing:
            raise InstallerError(f"{self.path}: the manifest has no entry for {', '.join(missing)}")
        return [self.installers[name] for name in wanted]


# --- the manifest --------------------------------------------------------------------
def load_manifest(path: str | Path) -> Manifest:
    manifest_path = Path(path).expanduser()
    try:
        text = manifest_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InstallerError(f"cannot read the installer manifest {manifest_path}: {exc.strerror or exc}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InstallerError(f"{manifest_path} is not valid YAML: {exc}") from exc
    return parse_manifest(document, manifest_path)


def parse_manifest(document: Any, path: Path) -> Manifest:
    """Check every entry; InstallerError naming the first bad entry and field."""
    if not isinstance(document, Mapping) or set(document) != {"installers"}:
        raise InstallerError(f"{path}: the manifest must be a mapping with one key, 'installers'")
    entries = document["installers"]
    if not isinstance(entries, Mapping) or not entries:
        raise InstallerError(f"{path}: 'installers' must map installer names to their entries")
    installers: dict[str, Installer] = {}
    for name, entry in entries.items():
        installers[str(name)] = parse_entry(str(name), entry, path)
    return Manifest(path=path, installers=installers)


def parse_entry(name: str, entry: Any, path: Path) -> Installer:
    where = f"{path}: installers.{name}"
    if name not in INSTALLER_NAMES:
        raise InstallerError(f"{where}: unknown installer name; the names are {', '.join(INSTALLER_NAMES)}")
    if not isinstance(entry, Mapping):
        raise InstallerError(f"{where}: must be a mapping of {', '.join(ENTRY_FIELDS)}")
    unknown = sorted(str(key) for key in entry if key not in ENTRY_FIELDS)
    if unknown:
        fields = ", ".join(ENTRY_FIELDS)
        raise InstallerError(f"{where}: unknown field(s) {', '.join(unknown)}; the fields are {fields}")
    is_msi = INSTALLER_NAMES[name] == ".msi"
    for field_name in ("file", "version", "sha256", "source") + (("product_code",) if is_msi else ()):
        value = entry.get(field_name)
        if not isinstance(value, str | int | float) or isinstance(value, bool) or not str(value).strip():
            raise InstallerError(f"{where}.{field_name}: required (a non-empty string)")
    file_name = str(entry["file"])
    if not PLAIN_NAME.match(file_name) or file_name in (".", ".."):
        raise InstallerError(f"{where}.file: '{file_name}' must be a file name, without a folder")
    if not file_name.lower().endswith(INSTALLER_NAMES[name]):
        raise InstallerError(f"{where}.file: '{file_name}' is not an {INSTALLER_NAMES[name]} file")
    version = str(entry["version"])
    if not VERSION.match(version):
        raise InstallerError(f"{where}.version: '{version}' must be letters, digits, '.', '_' or '-'")
    digest = str(entry["sha256"])
    if not SHA256.match(digest):
        raise InstallerError(f"{where}.sha256: must be 64 hexadecimal digits (the file's SHA-256)")
    product_code = entry.get("product_code")
    if is_msi and not PRODUCT_CODE.match(str(product_code)):
        raise InstallerError(f"{where}.product_code: '{product_code}' is not a product code like {{01234567-...}}")
    if not is_msi and product_code is not None:
        raise InstallerError(f"{where}.product_code: the {name} installer is no Windows Installer package")
    source = str(entry["source"])
    check_source(source, where)
    return Installer(
        name=name,
        file=file_name,
        version=version,
        sha256=digest.lower(),
        source=source,
        product_code=str(product_code).upper() if is_msi else None,
    )


def check_source(source: str, where: str) -> None:
    lowered = source.lower()
    if source.startswith("\\\\") or source.startswith("//"):
        raise InstallerError(
            f"{where}.source: UNC shares are not supported: a WinRM logon's credentials do not reach a share (no "
            "delegation), so a host could not read it; copy the file next to the manifest or serve it over https"
        )
    if lowered.startswith("http://"):
        raise InstallerError(f"{where}.source: use https:// (an http download can be altered on the way)")
    if re.match(r"^[a-z][a-z0-9+.-]*://", lowered) and not lowered.startswith("https://"):
        raise InstallerError(f"{where}.source: '{source}' is neither a path on the controller nor an https:// URL")


# --- the controller's copy -------------------------------------------------------------
def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


Opener = Callable[[str], IO[bytes]]


def controller_file(installer: Installer, manifest_dir: Path, download_dir: Path, opener: Opener) -> Path:
    """The installer's file on the controller with its hash checked: a local source, or a download cached by hash."""
    where = f"installers.{installer.name}"
    if installer.is_url:
        target = download_dir / installer.sha256 / installer.file
        if target.is_file() and sha256_of(target) == installer.sha256:
            return target
        download(installer, target, opener)
        return target
    local = Path(installer.source).expanduser()
    if not local.is_absolute():
        local = manifest_dir / local
    if local.is_dir():
        raise InstallerError(f"{where}.source: {local} is a folder, not the installer file")
    if not local.is_file():
        raise InstallerError(f"{where}.source: {local} does not exist on the controller")
    found = sha256_of(local)
    if found != installer.sha256:
        raise InstallerError(
            f"{where}: {local} has SHA-256 {found}, not the manifest's {installer.sha256}; nothing was copied"
        )
    return local


def download(installer: Installer, target: Path, opener: Opener) -> None:
    """Stream the URL into a temporary file beside ``target``; keep it only when its SHA-256 is the manifest's."""
    where = f"installers.{installer.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".download-")
    try:
        with os.fdopen(handle, "wb") as out:
            try:
                response = opener(installer.source)
                for block in iter(lambda: response.read(CHUNK), b""):
                    digest.update(block)
                    out.write(block)
            except Exception as exc:  # open_url raises many kinds (URLError, HTTPError, SSLError, OSError)
                raise InstallerError(f"{where}: cannot download {installer.source}: {exc}") from exc
        if digest.hexdigest() != installer.sha256:
            raise InstallerError(
                f"{where}: {installer.source} has SHA-256 {digest.hexdigest()}, not the manifest's "
                f"{installer.sha256}; nothing was copied"
            )
        Path(temporary).replace(target)
    finally:
        Path(temporary).unlink(missing_ok=True)


# --- the host's cache -----------------------------------------------------------------------
def check_cache_dir(cache_dir: str) -> str:
    folder = cache_dir.rstrip("\\")
    if not WINDOWS_FOLDER.match(folder + "\\"):
        raise InstallerError(f"cache_dir '{cache_dir}' must be an absolute Windows folder like {DEFAULT_CACHE_DIR}")
    return folder


def host_folder(cache_dir: str, installer: Installer) -> str:
    return f"{cache_dir}\\{installer.name}\\{installer.version}"


def host_path(cache_dir: str, installer: Installer) -> str:
    return f"{host_folder(cache_dir, installer)}\\{installer.file}"


def probe_cache(cache_dir: str, installers: list[Installer], op_id: str = "probe.files") -> list[Operation]:
    """One runtime read: size and SHA-256 of each installer's place in the host's cache."""
    return [Operation(op_id, "file_hash", {"paths": [host_path(cache_dir, i) for i in installers]})]


def hashes_on_host(results: Mapping[str, OperationResult], op_id: str) -> dict[str, str | None]:
    entry = results.get(op_id)
    if entry is None or not entry.ok:
        raise InstallerError(f"{op_id} failed on the host: {entry.error if entry else 'no answer'}")
    return {str(item.get("path")).lower(): item.get("sha256") if item.get("exists") else None for item in entry.result}


def to_copy(results: Mapping[str, OperationResult], cache_dir: str, installers: list[Installer]) -> list[Installer]:
    """The installers whose copy on the host is missing or differs from the manifest's hash."""
    found = hashes_on_host(results, "probe.files")
    return [i for i in installers if found.get(host_path(cache_dir, i).lower()) != i.sha256]


def make_folders(cache_dir: str, installers: list[Installer], check: bool = False) -> list[Operation]:
    """The cache's folders, the cache itself admin-only (``secure_root``: the runtime refuses a cache that a
    standard user owns or has put something in, and creates or resets it with an admin-only owner and
    permissions). ``check``: only what would change (the probe; nothing is created)."""
    folders = list(dict.fromkeys(host_folder(cache_dir, i) for i in installers))
    args: dict[str, Any] = {"paths": folders, "secure_root": cache_dir}
    if check:
        return [Operation("probe.folders", "make_directory", {**args, "check_mode": True})]
    return [Operation("apply.folders", "make_directory", args)]


def folders_to_change(results: Mapping[str, OperationResult]) -> bool:
    """Whether the cache's folders must be created or made admin-only; InstallerError (with the host's reason)
    when the cache is not under administrators' control, so nothing is copied into it nor run from it."""
    entry = results.get("probe.folders")
    if entry is None or not entry.ok:
        raise InstallerError(f"the installer cache on the host cannot be used: {entry.error if entry else 'no answer'}")
    return bool((entry.result or {}).get("changed"))


def verify_copies(results: Mapping[str, OperationResult], cache_dir: str, installers: list[Installer]) -> str | None:
    """The failure message when a copied file's hash on the host is not the manifest's (None when all match)."""
    found = hashes_on_host(results, "verify.files")
    wrong = [
        f"{host_path(cache_dir, i)} has SHA-256 {found.get(host_path(cache_dir, i).lower())}, not {i.sha256}"
        for i in installers
        if found.get(host_path(cache_dir, i).lower()) != i.sha256
    ]
    return "the copy on the host does not match the manifest: " + "; ".join(wrong) if wrong else None


def summary(cache_dir: str, installers: list[Installer]) -> dict[str, Any]:
    return {
        "paths": {i.name: host_path(cache_dir, i) for i in installers},
        "versions": {i.name: i.version for i in installers},
        "sha256": {i.name: i.sha256 for i in installers},
        "product_codes": {i.name: i.product_code for i in installers if i.product_code},
    }
