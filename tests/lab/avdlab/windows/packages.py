"""Installer files the lab recognises by their content, as Windows Installer opens a package.

A real MSI is a structured-storage file whose summary information and
Property table name the product (ProductName, ProductCode, ProductVersion);
Windows Installer refuses a damaged one with ERROR_INSTALL_PACKAGE_INVALID
(1620). The lab's stand-in is a small text header naming the same product
facts, filler bytes, and a SHA-256 trailer over everything before it: a file
with one byte changed no longer opens, as a damaged package would not. The
.NET Framework offline installer (an .exe) is written the same way with
kind ``dotnet48``.

``avdlab up`` writes these files into ``<labdir>/installers/`` with a
manifest of their sha256; a file written on a host over the connection
(``put_file``) is recognised from its bytes by :func:`read_package`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from . import known as k
from .image import product

MAGIC = b"AVDLAB-INSTALLER-PACKAGE 1\n"
TRAILER = b"\nSHA256 "
FILLER_BYTES = 300_000  # more than one put_file chunk over winrm (250,000 bytes) and psrp


def package_bytes(info: dict[str, str], filler: int = FILLER_BYTES) -> bytes:
    """The content of an installer for ``info`` (kind, display_name, display_version, product_code)."""
    header = json.dumps(info, sort_keys=True).encode() + b"\n"
    # Incompressible filler that differs with the product, as a real package's content does: SHAKE-256 of the
    # header (one call; a SHA-256 per 32 bytes cost 0.04 CPU-s for the five installers of every `avdlab up`).
    body = MAGIC + header + hashlib.shake_256(header).digest(filler)
    return body + TRAILER + hashlib.sha256(body).hexdigest().encode() + b"\n"


def read_package(data: bytes) -> tuple[str, dict[str, str] | None]:
    """``("package", info)`` for an intact installer, ``("damaged", None)`` for one whose bytes changed,
    ``("other", None)`` for a file that is no installer at all."""
    if not data.startswith(MAGIC):
        return "other", None
    cut = data.rfind(TRAILER)
    if cut < 0 or not data.endswith(b"\n"):
        return "damaged", None
    body, digest = data[:cut], data[cut + len(TRAILER) : -1]
    if hashlib.sha256(body).hexdigest().encode() != digest:
        return "damaged", None
    try:
        header = body[len(MAGIC) :].split(b"\n", 1)[0]
        info = json.loads(header)
    except ValueError:
        return "damaged", None
    if not isinstance(info, dict) or not all(isinstance(info.get(key), str) for key in ("kind", "display_name")):
        return "damaged", None
    return "package", {str(key): str(value) for key, value in info.items()}


def dotnet48_product() -> dict[str, str]:
    # The offline installer is an .exe bundle, not an MSI: no product code of its own.
    return {
        "kind": "dotnet48",
        "display_name": k.DOTNET48_PRODUCT,
        "display_version": k.DOTNET48_VERSION,
        "product_code": "",
    }


def lab_installers() -> dict[str, tuple[str, dict[str, str]]]:
    """The installers ``avdlab up`` provides: manifest name -> (file name, product), the versions the lab rolls out."""
    geneva = product("geneva", k.geneva_display_name(k.GENEVA_VERSION), k.GENEVA_VERSION)
    return {
        "agent": (
            f"Microsoft.RDInfra.RDAgent.Installer-x64-{k.AGENT_VERSION}.msi",
            product("agent", k.AGENT_PRODUCT, k.AGENT_VERSION),
        ),
        "boot_loader": (
            f"Microsoft.RDInfra.RDAgentBootLoader.Installer-x64-{k.BOOTLOADER_VERSION}.msi",
            product("bootloader", k.BOOTLOADER_PRODUCT, k.BOOTLOADER_VERSION),
        ),
        "sxs_stack": (f"SxSStack-{k.SXS_VERSION}.msi", product("sxs", k.SXS_PRODUCT, k.SXS_VERSION)),
        "geneva": (f"Microsoft.RDInfra.Geneva.Installer-x64-{k.GENEVA_VERSION}.msi", geneva),
        "dotnet48": (k.DOTNET48_INSTALLER, dotnet48_product()),
    }


def write_installers(directory: Path) -> Path:
    """The lab's installer files and ``manifest.yml`` (sources relative to it) in ``directory``; the manifest path."""
    directory.mkdir(parents=True, exist_ok=True)
    entries: dict[str, Any] = {}
    for name, (file_name, info) in lab_installers().items():
        data = package_bytes(info)
        (directory / file_name).write_bytes(data)
        entry: dict[str, Any] = {
            "file": file_name,
            "version": "4.8" if name == "dotnet48" else info["display_version"],
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        if info["product_code"]:
            entry["product_code"] = info["product_code"]
        entry["source"] = file_name
        entries[name] = entry
    manifest = directory / "manifest.yml"
    header = "# Written by `avdlab up`: the lab's installers (recognised by the lab's Windows Installer by content).\n"
    manifest.write_text(header + yaml.safe_dump({"installers": entries}, sort_keys=False))
    return manifest
