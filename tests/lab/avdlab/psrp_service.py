"""PowerShell Remoting on a lab host's WinRM service: WS-Man actions on a PowerShell shell.

Create opens a runspace pool from ``creationXml``; Command starts a pipeline
(its CommandId is the pipeline id); Send brings pipeline input (``stdin``) and
host responses (``pr``); Receive waits for the pool's or a pipeline's messages
up to the OperationTimeout; Signal ``powershell/signal/crtl_c`` (the spelling
of MS-PSRP; pypsrp sends ``ctrl_c``) stops a running pipeline, ``Terminate``
closes one; Delete closes the pool. A pipeline that is one script runs
through the same handlers as a WinRS command line (the collection's runtime,
win_reboot's commands, Ansible's psrp put_file, hostname); anything else gets
an error record.
"""

from __future__ import annotations

import asyncio
import inspect
import logging

from . import wsman
from .commandline import script_invocation
from .handlers import UNSUPPORTED_MESSAGE, CommandContext, Handler, select
from .host import LabHost
from .psrp import LabPipeline, LabRunspacePool, PsrpError, describe, script_of
from .runtime_handler import CollectionRuntime
from .shells import CommandResult, PowerShellSession, Shell
from .windows import known as k

log = logging.getLogger(__name__)
DEFAULT_BUILD = 17763


def invalid(exc: Exception) -> wsman.WsmanFault:
    return wsman.WsmanFault(str(exc), wsman_code=wsman.FAULT_INVALID_MESSAGE)


class PowerShellService:
    """The PSRP half of one host's WinRM service (the WinRS half is :class:`avdlab.service.WinRMService`)."""

    def __init__(self, host: LabHost, handlers: list[Handler]) -> None:
        self.host = host
        self.handlers = handlers

    def _build(self) -> int:
        if self.host.model is None:
            return DEFAULT_BUILD
        text = str(self.host.state.registry.get_data(k.WINDOWS_NT, "CurrentBuild", "") or "")
        return int(text) if text.isdigit() else DEFAULT_BUILD

    async def dispatch(self, request: wsman.Request, principal: str, client_ip: str, endpoint: str) -> bytes:
        shells = self.host.shells
        action = request.action
        if action == wsman.ACTION_CREATE:
            shell_id, creation = wsman.shell_creation(request)
            if creation is None:
                raise wsman.WsmanFault(
                    "A PowerShell shell needs creationXml (the runspace pool's first PSRP messages).",
                    wsman_code=wsman.FAULT_INVALID_MESSAGE,
                )
            runspace = LabRunspacePool(self._build())
            try:
                runspace.open(creation)
            except PsrpError as exc:
                raise invalid(exc) from exc
            shell = shells.create(
                principal,
                shell_id=shell_id,
                resource_uri=wsman.PSRP_RESOURCE_URI,
                powershell=PowerShellSession(runspace),
            )
            self.host.stats.shells += 1
            return wsman.create_response(
                request,
                shell.id,
                endpoint,
                principal,
                client_ip,
                resource_uri=wsman.PSRP_RESOURCE_URI,
                input_streams="stdin pr",
                output_streams="stdout",
            )
        shell = shells.get(request.shell_id)
        session = shell.powershell
        if session is None:
            raise wsman.shell_not_found_fault(request.shell_id or "")
        runspace = session.runspace
        if action == wsman.ACTION_COMMAND:
            command_id, data = wsman.psrp_command(request)
            shells.count_operation(shell)
            try:
                pipeline = runspace.add_pipeline(command_id, data)
            except PsrpError as exc:
                raise invalid(exc) from exc
            self.host.stats.commands += 1
            self.host.stats.pipelines += 1
            await self._advance(shell, session, pipeline)
            return wsman.command_response(request, command_id.upper())
        if action == wsman.ACTION_SEND:
            for chunk in wsman.send_chunks(request):
                target = self._pipeline(session, chunk.command_id) if chunk.command_id else None
                try:
                    runspace.receive(chunk.data, target.id if target else None, prompt_response=chunk.stream == "pr")
                except PsrpError as exc:
                    raise invalid(exc) from exc
                if target is not None:
                    await self._advance(shell, session, target)
            return wsman.empty_response(request)
        if action == wsman.ACTION_RECEIVE:
            command_id = wsman.receive_command_id(request)
            return await self._receive(request, session, self._pipeline(session, command_id) if command_id else None)
        if action == wsman.ACTION_SIGNAL:
            command_id, code = wsman.signal(request)
            pipeline = self._pipeline(session, command_id)
            task = session.tasks.pop(pipeline.id, None)
            if task is not None and not task.done():
                task.cancel()
            if code.lower().endswith(("/ctrl_c", "/crtl_c")):
                runspace.stop(pipeline)  # its Stopped state can still be received
            else:
                runspace.close_pipeline(pipeline)
            await self._notify(session)
            return wsman.empty_response(request)
        if action == wsman.ACTION_DELETE:
            shells.delete(shell.id)
            return wsman.empty_response(request)
        raise wsman.WsmanFault(
            f"The WS-Management service does not support the action {action}.",
            wsman_code=wsman.FAULT_ACTION_NOT_SUPPORTED,
            subcode="w:ActionNotSupported",
        )

    @staticmethod
    def _pipeline(session: PowerShellSession, command_id: str) -> LabPipeline:
        pipeline = session.runspace.pipeline(command_id)
        if pipeline is None:
            raise wsman.command_not_found_fault(command_id)
        return pipeline

    @staticmethod
    async def _notify(session: PowerShellSession) -> None:
        async with session.changed:
            session.changed.notify_all()

    async def _advance(self, shell: Shell, session: PowerShellSession, pipeline: LabPipeline) -> None:
        """Start a pipeline once its definition and all its input are in."""
        if pipeline.ready and not pipeline.started:
            session.runspace.start(pipeline)
            session.tasks[pipeline.id] = asyncio.get_running_loop().create_task(self._execute(shell, session, pipeline))
        await self._notify(session)

    async def _receive(self, request: wsman.Request, session: PowerShellSession, pipeline: LabPipeline | None) -> bytes:
        runspace = session.runspace

        def ready() -> bool:
            return runspace.has_output(pipeline) or (pipeline is not None and pipeline.finished)

        if not ready():
            timeout = request.operation_timeout or wsman.DEFAULT_OPERATION_TIMEOUT
            try:
                async with session.changed:
                    await asyncio.wait_for(session.changed.wait_for(ready), timeout)
            except TimeoutError:
                raise wsman.operation_timeout_fault() from None
        payloads = runspace.take(pipeline)
        done = pipeline is not None and pipeline.finished and not runspace.has_output(pipeline)
        return wsman.psrp_receive_response(request, str(pipeline.id).upper() if pipeline else None, payloads, done)

    async def _execute(self, shell: Shell, session: PowerShellSession, pipeline: LabPipeline) -> None:
        assert pipeline.definition is not None
        if self.host.command_latency > 0:
            await asyncio.sleep(self.host.command_latency)
        script = script_of(pipeline.definition)
        if script is None:
            what = " ".join(describe(pipeline.definition).split())
            result = CommandResult(b"", UNSUPPORTED_MESSAGE.format(what=_shorten(what)).encode(), 1, refused=True)
        else:
            invocation = script_invocation(script)
            handler = select(self.handlers, invocation)
            context = CommandContext(
                host=self.host, invocation=invocation, owner=shell.owner, stdin=pipeline.input_text.encode("utf-8")
            )
            try:
                if isinstance(handler, CollectionRuntime):
                    # The runtime's one entry for both transports: (script, input text).
                    result = await handler.answer(self.host, script, pipeline.input_text)
                else:
                    outcome = handler.run(context)
                    result = await outcome if inspect.isawaitable(outcome) else outcome
            except Exception as exc:  # a lab bug must reach the client, not kill the server
                log.exception("handler %s failed on %s", handler.name, self.host.name)
                result = CommandResult(b"", f"avdlab internal error in {handler.name}: {exc}\r\n".encode(), 1)
        if result.rc != 0:
            self.host.stats.errors += 1
        session.runspace.finish(
            pipeline,
            result.stdout.decode("utf-8", errors="replace"),
            result.stderr.decode("utf-8", errors="replace"),
            result.rc,
            refused=result.refused,
        )
        await self._notify(session)


def _shorten(text: str) -> str:
    return text if len(text) <= 120 else text[:117] + "..."
