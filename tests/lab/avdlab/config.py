"""The lab's description on disk: ``DIR/lab.json``.

Written by ``avdlab up`` before the lab process starts, read by the lab
process, the ``avdlab`` commands and the tests. It names every endpoint,
the CA and the credentials, which is all a client needs.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HTTP_PORT = 5985
HTTPS_PORT = 5986
LAB_FILE = "lab.json"
DAEMON_FILE = "daemon.json"
ERROR_FILE = "daemon-error.json"  # what the lab process writes when it cannot start


@dataclass(frozen=True)
class HostConfig:
    name: str
    address: str
    http_port: int = HTTP_PORT
    https_port: int = HTTPS_PORT
    cert: str = ""
    key: str = ""

    @property
    def http_url(self) -> str:
        return f"http://{self.address}:{self.http_port}/wsman"

    @property
    def https_url(self) -> str:
        return f"https://{self.address}:{self.https_port}/wsman"


@dataclass(frozen=True)
class LabConfig:
    directory: str
    username: str
    password: str
    ca_cert: str
    hosts: list[HostConfig] = field(default_factory=list)
    allow_unencrypted: bool = False
    command_latency: float = 0.0
    max_shells_per_user: int = 30
    max_operations_per_shell: int = 1500
    reboot_seconds: float = 3.0
    inventory: str = ""
    scenario: dict[str, Any] = field(default_factory=dict)
    arm: dict[str, Any] = field(default_factory=dict)  # the simulated Azure endpoint: url, tenant, clients, cert

    def host(self, name: str) -> HostConfig:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(f"no lab host named {name!r}; hosts are {', '.join(h.name for h in self.hosts)}")

    def save(self) -> Path:
        path = Path(self.directory) / LAB_FILE
        data = asdict(self)
        for entry, host in zip(data["hosts"], self.hosts, strict=True):
            entry["http_url"] = host.http_url
            entry["https_url"] = host.https_url
        path.write_text(json.dumps(data, indent=2) + "\n")
        path.chmod(0o600)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> LabConfig:
        path = Path(directory) / LAB_FILE
        data = json.loads(path.read_text())
        hosts = [
            HostConfig(**{k: v for k, v in entry.items() if k not in ("http_url", "https_url")})
            for entry in data.pop("hosts")
        ]
        return cls(hosts=hosts, **data)


def host_names(count: int) -> list[str]:
    width = max(2, len(str(count)))
    return [f"sh-{index:0{width}d}" for index in range(1, count + 1)]


def host_addresses(count: int, first: str = "127.0.1.1") -> list[str]:
    """Loopback addresses from ``first`` on, skipping .0 and .255 of each /24."""
    start = ipaddress.IPv4Address(first)
    if not start.is_loopback:
        raise ValueError(f"{first} is not a loopback address (127.0.0.0/8)")
    addresses: list[str] = []
    current = start
    while len(addresses) < count:
        if int(current) & 0xFF not in (0, 255):
            addresses.append(str(current))
        current += 1
        if not current.is_loopback:
            raise ValueError(f"not enough loopback addresses after {first} for {count} hosts")
    return addresses
