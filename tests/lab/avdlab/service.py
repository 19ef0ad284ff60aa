"""The WinRM service of one lab host: WS-Man requests in, responses out.

Async only where Windows blocks: Receive waits for output up to the
request's OperationTimeout, and commands run as tasks.
"""

from __future__ import annotations

import asyncio
import inspect
import logging

from . import wsman
from .commandline import CommandLineError, parse_invocation
from .handlers import CommandContext, Handler, select
from .host import LabHost
from .psrp_service import PowerShellService
from .shells import Command, CommandResult

log = logging.getLogger(__name__)


class WinRMService:
    def __init__(self, host: LabHost, handlers: list[Handler]) -> None:
        self.host = host
        self.handlers = handlers
        self.powershell = PowerShellService(host, handlers)

    async def handle(self, data: bytes, *, principal: str, client_ip: str, endpoint: str) -> tuple[int, bytes]:
        """Answer one SOAP message: (HTTP status, response envelope)."""
        stats = self.host.stats
        try:
            request = wsman.parse_request(data)
        except wsman.WsmanFault as fault:
            stats.errors += 1
            return 400, wsman.fault_response(fault, None, self.host.computer_name)
        try:
            return 200, await self._dispatch(request, principal, client_ip, endpoint)
        except wsman.WsmanFault as fault:
            if fault.wsman_code == wsman.FAULT_OPERATION_TIMEOUT:
                stats.receive_timeouts += 1
            else:
                stats.errors += 1
            return fault.http_status, wsman.fault_response(fault, request.message_id, self.host.computer_name)

    async def _dispatch(self, request: wsman.Request, principal: str, client_ip: str, endpoint: str) -> bytes:
        resource = request.resource_uri.lower()
        if resource == wsman.PSRP_RESOURCE_URI.lower():
            return await self.powershell.dispatch(request, principal, client_ip, endpoint)
        if resource != wsman.CMD_RESOURCE_URI.lower():
            raise wsman.WsmanFault(
                f"The lab serves only the Windows Remote Shell resource {wsman.CMD_RESOURCE_URI} and the "
                f"PowerShell session configuration {wsman.PSRP_RESOURCE_URI}; got {request.resource_uri or 'none'}.",
                wsman_code=wsman.FAULT_ACTION_NOT_SUPPORTED,
                subcode="w:ActionNotSupported",
            )
        shells = self.host.shells
        action = request.action
        if action == wsman.ACTION_CREATE:
            shell = shells.create(principal)
            self.host.stats.shells += 1
            return wsman.create_response(request, shell.id, endpoint, principal, client_ip)
        shell = shells.get(request.shell_id)
        if shell.powershell is not None:
            raise wsman.shell_not_found_fault(request.shell_id or "")
        if action == wsman.ACTION_COMMAND:
            command_text, arguments = wsman.command_line(request)
            try:
                invocation = parse_invocation(command_text, arguments)
            except CommandLineError as exc:
                raise wsman.WsmanFault(str(exc), wsman_code=wsman.FAULT_INVALID_MESSAGE) from exc
            command = shells.add_command(shell, invocation)
            self.host.stats.commands += 1
            command.task = asyncio.get_running_loop().create_task(self._execute(command, shell.owner))
            return wsman.command_response(request, command.id)
        if action == wsman.ACTION_SEND:
            for chunk in wsman.send_chunks(request):
                shells.command(shell, chunk.command_id).write_stdin(chunk.data, chunk.end)
            return wsman.empty_response(request)
        if action == wsman.ACTION_RECEIVE:
            command = shells.command(shell, wsman.receive_command_id(request))
            return await self._receive(request, command)
        if action == wsman.ACTION_SIGNAL:
            command_id, _code = wsman.signal(request)
            # terminate and ctrl_c both end a lab command.
            shells.terminate(shell, command_id)
            return wsman.empty_response(request)
        if action == wsman.ACTION_DELETE:
            shells.delete(shell.id)
            return wsman.empty_response(request)
        raise wsman.WsmanFault(
            f"The WS-Management service does not support the action {action}.",
            wsman_code=wsman.FAULT_ACTION_NOT_SUPPORTED,
            subcode="w:ActionNotSupported",
        )

    async def _receive(self, request: wsman.Request, command: Command) -> bytes:
        if not command.has_news:
            timeout = request.operation_timeout or wsman.DEFAULT_OPERATION_TIMEOUT
            try:
                await asyncio.wait_for(command.changed.wait(), timeout)
            except TimeoutError:
                raise wsman.operation_timeout_fault() from None
        streams, exit_code = command.take_output()
        return wsman.receive_response(request, command.id, streams, exit_code)

    async def _execute(self, command: Command, owner: str) -> None:
        handler = select(self.handlers, command.invocation)
        if self.host.command_latency > 0:
            await asyncio.sleep(self.host.command_latency)
        if handler.reads_stdin(command.invocation):
            await command.stdin_closed.wait()
        context = CommandContext(host=self.host, invocation=command.invocation, owner=owner, stdin=bytes(command.stdin))
        try:
            outcome = handler.run(context)
            result = await outcome if inspect.isawaitable(outcome) else outcome
        except Exception as exc:  # a lab bug must reach the client, not kill the server
            log.exception("handler %s failed on %s", handler.name, self.host.name)
            result = CommandResult(
                stdout=b"", stderr=f"avdlab internal error in {handler.name}: {exc}\r\n".encode(), rc=1
            )
        if result.rc != 0:
            self.host.stats.errors += 1
        command.finish(result)
