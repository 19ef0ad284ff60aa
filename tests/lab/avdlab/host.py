"""A lab session host as the WinRM service sees it: identity, account, counters, and its Windows state."""

from __future__ import annotations

import asyncio
import fnmatch
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

from .auth import Account
from .shells import ShellTable

if TYPE_CHECKING:
    from .model import LabModel
    from .windows.state import HostState


class Power(Protocol):
    """What a host's shutdown.exe asks of the lab process."""

    def schedule_restart(self, delay: float) -> None: ...

    def abort_restart(self) -> bool: ...

    def drop_connections(self) -> None: ...


@dataclass
class HostStats:
    requests: int = 0
    commands: int = 0  # WinRS commands and PowerShell pipelines: every WS-Man Command
    pipelines: int = 0  # the PowerShell (PSRP) pipelines among them
    shells: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    errors: int = 0  # faults other than Receive's OperationTimeout, and failed commands
    auth_failures: int = 0
    receive_timeouts: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class Hold:
    """A test control, not Windows behaviour: the next runtime operation whose fields match ``match`` waits until
    the test releases it (``run``: then it runs; else it fails unrun, as a command that never reached the host);
    each field's value is a pattern (``fnmatch``: ``op=*`` is the next operation, whatever it is).
    Tests use it to stop a playbook at an exact step (docs/lab.md, "Test controls")."""

    match: dict[str, str]
    waiting: bool = False
    run: bool = False
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, op: dict[str, object]) -> bool:
        return all(fnmatch.fnmatchcase(str(op.get(name)), value) for name, value in self.match.items())


@dataclass
class LabHost:
    name: str
    address: str
    account: Account
    allow_unencrypted: bool = False
    command_latency: float = 0.0  # seconds before a command's process "starts"
    shells: ShellTable = field(default_factory=ShellTable)
    stats: HostStats = field(default_factory=HostStats)
    model: LabModel | None = None
    power: Power | None = None
    hold: Hold | None = None

    @property
    def computer_name(self) -> str:
        return self.name

    @property
    def state(self) -> HostState:
        if self.model is None:
            raise RuntimeError(f"lab host {self.name} has no Windows model")
        return self.model.host(self.name)
