"""A typed Windows registry: keys and values compared case-insensitively, case preserved."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

REG_SZ = "REG_SZ"
REG_EXPAND_SZ = "REG_EXPAND_SZ"
REG_MULTI_SZ = "REG_MULTI_SZ"
REG_DWORD = "REG_DWORD"
REG_QWORD = "REG_QWORD"
REG_BINARY = "REG_BINARY"
TYPES = (REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ, REG_DWORD, REG_QWORD, REG_BINARY)

HIVE_ALIASES = {
    "HKLM": "HKEY_LOCAL_MACHINE",
    "HKCU": "HKEY_CURRENT_USER",
    "HKU": "HKEY_USERS",
    "HKCR": "HKEY_CLASSES_ROOT",
}


class RegistryError(KeyError):
    """A key or value that does not exist, or data that does not fit its type."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "registry error"


def normalize_path(path: str) -> str:
    """``HKLM:\\SOFTWARE\\x`` / ``HKEY_LOCAL_MACHINE\\SOFTWARE\\x`` -> ``HKEY_LOCAL_MACHINE\\SOFTWARE\\x``."""
    text = path.replace("/", "\\").strip().strip("\\")
    hive, _unused, rest = text.partition("\\")
    hive = hive.rstrip(":").upper()
    hive = HIVE_ALIASES.get(hive, hive)
    parts = [part for part in rest.split("\\") if part]
    return "\\".join([hive, *parts])


def check_data(value_type: str, data: Any) -> Any:
    """Validate (and normalise) data for a registry type, as RegSetValueEx would accept it."""
    if value_type in (REG_SZ, REG_EXPAND_SZ):
        if not isinstance(data, str):
            raise RegistryError(f"{value_type} data must be a string, got {type(data).__name__}")
        return data
    if value_type == REG_MULTI_SZ:
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise RegistryError("REG_MULTI_SZ data must be a list of strings")
        return list(data)
    if value_type in (REG_DWORD, REG_QWORD):
        bits = 32 if value_type == REG_DWORD else 64
        if isinstance(data, bool) or not isinstance(data, int):
            raise RegistryError(f"{value_type} data must be an integer, got {type(data).__name__}")
        if not 0 <= data < 2**bits:
            raise RegistryError(f"{value_type} data {data} is outside 0..{2**bits - 1}")
        return data
    if value_type == REG_BINARY:
        if not isinstance(data, bytes | bytearray):
            raise RegistryError("REG_BINARY data must be bytes")
        return bytes(data)
    raise RegistryError(f"unknown registry type {value_type!r}")


@dataclass
class Value:
    name: str
    type: str
    data: Any

    def to_json(self) -> dict[str, Any]:
        data = base64.b64encode(self.data).decode() if self.type == REG_BINARY else self.data
        return {"name": self.name, "type": self.type, "data": data}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Value:
        data = base64.b64decode(raw["data"]) if raw["type"] == REG_BINARY else raw["data"]
        return cls(raw["name"], raw["type"], data)


@dataclass
class Key:
    path: str  # as created, case preserved
    values: dict[str, Value] = field(default_factory=dict)  # lower-case name -> value


class Registry:
    def __init__(self) -> None:
        self._keys: dict[str, Key] = {}  # lower-case normalised path -> key

    # keys ------------------------------------------------------------------
    def key_exists(self, path: str) -> bool:
        return normalize_path(path).lower() in self._keys

    def create_key(self, path: str) -> Key:
        """Create the key and any missing parents (like New-Item -Force)."""
        full = normalize_path(path)
        parts = full.split("\\")
        key = None
        for depth in range(1, len(parts) + 1):
            sub = "\\".join(parts[:depth])
            key = self._keys.get(sub.lower())
            if key is None:
                key = self._keys[sub.lower()] = Key(sub)
        assert key is not None
        return key

    def key(self, path: str) -> Key:
        key = self._keys.get(normalize_path(path).lower())
        if key is None:
            raise RegistryError(f"registry key {normalize_path(path)} does not exist")
        return key

    def subkeys(self, path: str) -> list[str]:
        """Names of the direct subkeys of ``path``."""
        parent = self.key(path).path.lower() + "\\"
        names = {
            key.path[len(parent) :].split("\\", 1)[0]
            for lowered, key in self._keys.items()
            if lowered.startswith(parent)
        }
        return sorted(names, key=str.lower)

    def delete_key(self, path: str) -> None:
        """Delete a key and everything below it (like Remove-Item -Recurse)."""
        target = self.key(path).path.lower()
        for lowered in [k for k in self._keys if k == target or k.startswith(target + "\\")]:
            del self._keys[lowered]

    # values ----------------------------------------------------------------
    def get(self, path: str, name: str) -> Value:
        value = self.key(path).values.get(name.lower())
        if value is None:
            raise RegistryError(f"registry value {name!r} does not exist in {normalize_path(path)}")
        return value

    def get_data(self, path: str, name: str, default: Any = None) -> Any:
        try:
            return self.get(path, name).data
        except RegistryError:
            return default

    def set(self, path: str, name: str, value_type: str, data: Any) -> Value:
        key = self.create_key(path)
        existing = key.values.get(name.lower())
        value = Value(existing.name if existing else name, value_type, check_data(value_type, data))
        key.values[name.lower()] = value
        return value

    def delete_value(self, path: str, name: str) -> None:
        key = self.key(path)
        if name.lower() not in key.values:
            raise RegistryError(f"registry value {name!r} does not exist in {key.path}")
        del key.values[name.lower()]

    def values(self, path: str) -> list[Value]:
        return list(self.key(path).values.values())

    # persistence -------------------------------------------------------------
    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        return {key.path: [value.to_json() for value in key.values.values()] for key in self._keys.values()}

    @classmethod
    def from_json(cls, raw: dict[str, list[dict[str, Any]]]) -> Registry:
        registry = cls()
        for path, values in raw.items():
            key = registry.create_key(path)
            for value in values:
                parsed = Value.from_json(value)
                key.values[parsed.name.lower()] = parsed
        return registry
