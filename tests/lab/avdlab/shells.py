"""Windows Remote Shells and their commands on one lab host.

Mirrors the WinRS rules clients depend on: a shell per Create, commands
inside it, stdin streamed by Send, output drained by Receive in chunks,
Signal terminate ending a command, Delete ending the shell, and the two
quotas (shells per user; operations per shell, which a text shell never
gives back, so a long-lived shell eventually gets the quota fault).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from . import wsman
from .commandline import Invocation
from .psrp import LabRunspacePool

# What one ReceiveResponse carries at most per stream, so that envelopes stay
# well below the client's MaxEnvelopeSize (pywinrm asks for 153600 bytes).
RECEIVE_CHUNK = 48 * 1024


@dataclass
class CommandResult:
    stdout: bytes
    stderr: bytes
    rc: int
    refused: bool = False  # the lab does not run this (PSRP answers it with an error record of its own)


@dataclass
class Command:
    id: str
    invocation: Invocation
    stdin: bytearray = field(default_factory=bytearray)
    stdin_closed: asyncio.Event = field(default_factory=asyncio.Event)
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    exit_code: int | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def write_stdin(self, data: bytes, end: bool) -> None:
        self.stdin.extend(data)
        if end:
            self.stdin_closed.set()

    def finish(self, result: CommandResult) -> None:
        self.stdout.extend(result.stdout)
        self.stderr.extend(result.stderr)
        self.exit_code = result.rc
        self.changed.set()

    def take_output(self) -> tuple[list[tuple[str, bytes]], int | None]:
        """Drain up to one chunk per stream; the exit code once all output is taken."""
        out = bytes(self.stdout[:RECEIVE_CHUNK])
        err = bytes(self.stderr[:RECEIVE_CHUNK])
        del self.stdout[: len(out)]
        del self.stderr[: len(err)]
        if not self.stdout and not self.stderr and self.exit_code is None:
            self.changed.clear()
        finished = self.exit_code is not None and not self.stdout and not self.stderr
        return [("stdout", out), ("stderr", err)], (self.exit_code if finished else None)

    @property
    def has_news(self) -> bool:
        return bool(self.stdout or self.stderr or self.exit_code is not None)

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()


@dataclass
class PowerShellSession:
    """A PowerShell (PSRP) shell: its runspace pool, the pipelines' tasks, and what Receives wait on."""

    runspace: LabRunspacePool
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    tasks: dict[uuid.UUID, asyncio.Task[None]] = field(default_factory=dict)

    def cancel(self) -> None:
        for task in self.tasks.values():
            if not task.done():
                task.cancel()


@dataclass
class Shell:
    id: str
    owner: str
    commands: dict[str, Command] = field(default_factory=dict)
    operations: int = 0
    resource_uri: str = wsman.CMD_RESOURCE_URI
    powershell: PowerShellSession | None = None


class ShellTable:
    def __init__(self, max_shells_per_user: int = 30, max_operations_per_shell: int = 1500) -> None:
        self.max_shells_per_user = max_shells_per_user
        self.max_operations_per_shell = max_operations_per_shell
        self.shells: dict[str, Shell] = {}

    def create(
        self,
        owner: str,
        *,
        shell_id: str | None = None,
        resource_uri: str = wsman.CMD_RESOURCE_URI,
        powershell: PowerShellSession | None = None,
    ) -> Shell:
        """A new shell; PowerShell clients name it themselves (the runspace pool id), WinRS clients don't."""
        owned = sum(1 for shell in self.shells.values() if shell.owner.lower() == owner.lower())
        if owned >= self.max_shells_per_user:
            raise wsman.quota_shells_fault(self.max_shells_per_user)
        new_id = (shell_id or str(uuid.uuid4())).upper()
        if new_id in self.shells:
            raise wsman.WsmanFault(
                f"A shell with ShellId {new_id} already exists.", wsman_code=wsman.FAULT_INVALID_MESSAGE
            )
        shell = Shell(id=new_id, owner=owner, resource_uri=resource_uri, powershell=powershell)
        self.shells[shell.id] = shell
        return shell

    def count_operation(self, shell: Shell) -> None:
        """Every Command is an operation of its shell, counted against the per-shell quota."""
        if shell.operations >= self.max_operations_per_shell:
            raise wsman.quota_operations_fault(self.max_operations_per_shell)
        shell.operations += 1

    def get(self, shell_id: str | None) -> Shell:
        shell = self.shells.get((shell_id or "").upper())
        if shell is None:
            raise wsman.shell_not_found_fault(shell_id or "")
        return shell

    def add_command(self, shell: Shell, invocation: Invocation) -> Command:
        self.count_operation(shell)
        command = Command(id=str(uuid.uuid4()).upper(), invocation=invocation)
        shell.commands[command.id] = command
        return command

    @staticmethod
    def command(shell: Shell, command_id: str) -> Command:
        command = shell.commands.get(command_id.upper())
        if command is None:
            raise wsman.command_not_found_fault(command_id)
        return command

    def terminate(self, shell: Shell, command_id: str) -> None:
        command = shell.commands.pop(command_id.upper(), None)
        if command is None:
            raise wsman.command_not_found_fault(command_id)
        command.cancel()

    def delete(self, shell_id: str | None) -> None:
        shell = self.get(shell_id)
        for command in shell.commands.values():
            command.cancel()
        if shell.powershell is not None:
            shell.powershell.cancel()
        del self.shells[shell.id]

    def close_all(self) -> None:
        for shell_id in list(self.shells):
            self.delete(shell_id)
