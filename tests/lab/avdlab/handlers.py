"""The programs a lab host can run.

The lab does not interpret PowerShell. It recognises a fixed set of
command lines (``hostname`` and ``whoami``, the first things an
operator runs to check a connection) and answers everything else with
exit code 1 and a stderr that says so.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from .commandline import Invocation
from .host import LabHost
from .shells import CommandResult

UNSUPPORTED_MESSAGE = (
    "avdlab: this simulated session host only runs the avdops.sessionhost runtime "
    "(and win_reboot, hostname, whoami, winrm and psrp put_file); it does not interpret other PowerShell or programs. Received: {what}"
)


@dataclass(frozen=True)
class CommandContext:
    host: LabHost
    invocation: Invocation
    owner: str
    stdin: bytes


class Handler(Protocol):
    name: str

    def accepts(self, invocation: Invocation) -> bool: ...

    def reads_stdin(self, invocation: Invocation) -> bool: ...

    def run(self, context: CommandContext) -> CommandResult | Awaitable[CommandResult]: ...


def simple_command(invocation: Invocation) -> str | None:
    """The bare command a line runs, from cmd or as a one-line PowerShell script."""
    if invocation.is_powershell:
        if invocation.script is None:
            return None
        script = invocation.script.strip()
        return script.lower() if script and "\n" not in script else None
    if invocation.arguments:
        return None
    return invocation.program


def _ok(text: str) -> CommandResult:
    return CommandResult(stdout=f"{text}\r\n".encode(), stderr=b"", rc=0)


class Hostname:
    name = "hostname"

    def accepts(self, invocation: Invocation) -> bool:
        return simple_command(invocation) in ("hostname", "hostname.exe")

    def reads_stdin(self, invocation: Invocation) -> bool:
        return False

    def run(self, context: CommandContext) -> CommandResult:
        return _ok(context.host.computer_name)


class Whoami:
    name = "whoami"

    def accepts(self, invocation: Invocation) -> bool:
        return simple_command(invocation) in ("whoami", "whoami.exe")

    def reads_stdin(self, invocation: Invocation) -> bool:
        return False

    def run(self, context: CommandContext) -> CommandResult:
        user = context.owner.rsplit("\\", 1)[-1]
        return _ok(f"{context.host.computer_name}\\{user}".lower())


class Unsupported:
    name = "unsupported"

    def accepts(self, invocation: Invocation) -> bool:
        return True

    def reads_stdin(self, invocation: Invocation) -> bool:
        return False

    def run(self, context: CommandContext) -> CommandResult:
        inv = context.invocation
        what = inv.script if inv.script is not None else inv.command_line
        what = " ".join(what.split())
        if len(what) > 120:
            what = what[:117] + "..."
        message = UNSUPPORTED_MESSAGE.format(what=what).encode() + b"\r\n"
        return CommandResult(stdout=b"", stderr=message, rc=1, refused=True)


def default_handlers() -> list[Handler]:
    return [Hostname(), Whoami()]


def select(handlers: list[Handler], invocation: Invocation) -> Handler:
    return next((handler for handler in handlers if handler.accepts(invocation)), Unsupported())
