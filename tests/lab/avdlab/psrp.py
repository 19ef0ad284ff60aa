"""PowerShell Remoting Protocol (MS-PSRP) inside a lab host's WinRM service, sans-IO.

A PowerShell shell is one runspace pool: the Create carries its first
messages (SESSION_CAPABILITY, INIT_RUNSPACEPOOL) in ``creationXml``, each
Command starts a pipeline whose CreatePipeline message comes in the
Command's arguments, Send brings pipeline input (stdin) and host responses
(pr), Receive returns the server's messages as base64 ``stdout`` streams.
psrpcore's server side (``ServerRunspacePool``/``ServerPipeline``) does the
fragments, messages and serialization; this module keeps one pool's
outgoing payloads per target (the pool, each pipeline) so a Receive for one
never returns another's, and turns a pipeline into the one script it runs.

The lab interprets no PowerShell: a pipeline is accepted only as one script
(``AddScript``), which the service hands to the same handlers as a WinRS
command line; whatever they answer is written back as PowerShell would over
PSRP: output lines as string objects, stderr as error records, a non-zero
exit code through the host's ``SetShouldExit`` (only when the client has a
host, as ``exit`` does in a remote runspace).
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import psrpcore
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    HostMethodIdentifier,
    NETException,
    PSInvocationState,
    PSVersion,
    RunspacePoolState,
)

# One rsp:Stream element holds one payload of at most this many bytes; one Receive answers
# with at most RECEIVE_BUDGET bytes, so that envelopes stay below the client's
# MaxEnvelopeSize (pypsrp and Ansible ask for 153600 bytes) after base64.
PAYLOAD_SIZE = 32 * 1024
RECEIVE_BUDGET = 96 * 1024
REFUSED_ERROR_ID = "AvdLabScriptNotInterpreted"


class PsrpError(ValueError):
    """The client's PSRP data can't be processed (malformed, out of order, for an unknown pipeline)."""


def application_private_data(build: int) -> dict[str, Any]:
    """``$PSVersionTable`` of Windows PowerShell 5.1 on a Windows build, as a 2018 capture shows its shape."""
    ps_version = PSVersion(f"5.1.{build}.1")
    return {
        "PSVersionTable": {
            "PSVersion": ps_version,
            "PSEdition": "Desktop",
            "PSCompatibleVersions": [
                PSVersion("1.0"),
                PSVersion("2.0"),
                PSVersion("3.0"),
                PSVersion("4.0"),
                PSVersion("5.0"),
                ps_version,
            ],
            "CLRVersion": PSVersion("4.0.30319.42000"),
            "BuildVersion": PSVersion(f"10.0.{build}.1"),
            "WSManStackVersion": PSVersion("3.0"),
        }
    }


def describe(pipeline: psrpcore.PowerShell) -> str:
    """A pipeline's commands as one line, for error messages."""
    parts = []
    for command in pipeline.commands:
        text = " ".join(str(command.command_text).split())
        args = " ".join(f"-{name}" if name else str(value) for name, value in command.parameters)
        parts.append(f"{text} {args}".strip())
    return " | ".join(parts)


def script_of(pipeline: psrpcore.PowerShell) -> str | None:
    """The one script a pipeline runs (``add_script``, no arguments), or None when it is anything else."""
    if len(pipeline.commands) != 1:
        return None
    command = pipeline.commands[0]
    if not command.is_script or command.parameters:
        return None
    return str(command.command_text)


@dataclass
class LabPipeline:
    """One pipeline of a runspace pool, from CreatePipeline to its last message."""

    id: uuid.UUID
    server: psrpcore.ServerPipeline
    definition: psrpcore.PowerShell | None = None
    input: list[Any] = field(default_factory=list)
    input_ended: bool = False
    started: bool = False

    @property
    def ready(self) -> bool:
        """CreatePipeline has arrived and so has all input (none, or EndOfPipelineInput)."""
        return self.definition is not None and (self.definition.no_input or self.input_ended)

    @property
    def finished(self) -> bool:
        return self.server.state in (
            PSInvocationState.Completed,
            PSInvocationState.Failed,
            PSInvocationState.Stopped,
        )

    @property
    def input_text(self) -> str:
        """The input objects as text lines, as ``@($input) -join "`n"`` would join them."""
        return "\n".join("" if item is None else str(item) for item in self.input)


class LabRunspacePool:
    """A runspace pool's protocol state: psrpcore's server pool plus outgoing payloads kept per target."""

    def __init__(self, build: int) -> None:
        self.pool = psrpcore.ServerRunspacePool(application_private_data=application_private_data(build))
        self.pipelines: dict[uuid.UUID, LabPipeline] = {}
        self._outbox: dict[uuid.UUID | None, deque[bytes]] = {}

    @property
    def opened(self) -> bool:
        return self.pool.state == RunspacePoolState.Opened

    @property
    def client_has_host(self) -> bool:
        host = getattr(self.pool, "host", None)
        return host is not None and not host.IsHostNull

    # --- data in -------------------------------------------------------------
    def open(self, creation: bytes) -> None:
        """Process the Create's creationXml; the pool must then be Opened."""
        self.receive(creation)
        if not self.opened:
            raise PsrpError(
                "The creationXml did not open a runspace pool (SESSION_CAPABILITY and INIT_RUNSPACEPOOL expected)."
            )

    def add_pipeline(self, pipeline_id: str, data: bytes) -> LabPipeline:
        """A Command: a new pipeline and the first fragments of its CreatePipeline message."""
        if not self.opened:
            raise PsrpError(f"The runspace pool is {self.pool.state.name}, not Opened.")
        try:
            pid = uuid.UUID(pipeline_id)
        except ValueError as exc:
            raise PsrpError(f"The CommandId {pipeline_id!r} is not a pipeline id (a GUID).") from exc
        if pid in self.pipelines:
            raise PsrpError(f"A pipeline with id {pid} already exists in this runspace pool.")
        pipeline = LabPipeline(id=pid, server=psrpcore.ServerPipeline(self.pool, pid))
        self.pipelines[pid] = pipeline
        self.receive(data, pipeline_id=pid)
        return pipeline

    def pipeline(self, pipeline_id: str) -> LabPipeline | None:
        try:
            return self.pipelines.get(uuid.UUID(pipeline_id))
        except ValueError:
            return None

    def receive(self, data: bytes, pipeline_id: uuid.UUID | None = None, prompt_response: bool = False) -> None:
        """Feed fragments from the client and process every complete message."""
        stream = psrpcore.StreamType.prompt_response if prompt_response else psrpcore.StreamType.default
        try:
            self.pool.receive_data(psrpcore.PSRPPayload(data, stream, pipeline_id))
            while (event := self.pool.next_event()) is not None:
                self._route(event)
        except PsrpError:
            raise
        except Exception as exc:  # psrpcore raises its own and parsing errors on bad client data
            raise PsrpError(f"Cannot process the PSRP data: {type(exc).__name__}: {exc}") from exc
        self._collect()

    def _route(self, event: psrpcore.PSRPEvent[Any, Any]) -> None:
        if isinstance(event, (psrpcore.SetMaxRunspacesEvent, psrpcore.SetMinRunspacesEvent)):
            self.pool.runspace_availability_response(event.ci, True)
            return
        if isinstance(event, psrpcore.ResetRunspaceStateEvent):
            self.pool.runspace_availability_response(event.ci, True)
            return
        if isinstance(event, psrpcore.GetAvailableRunspacesEvent):
            self.pool.runspace_availability_response(event.ci, self.pool.max_runspaces)
            return
        if event.pipeline_id is None:
            return
        pipeline = self.pipelines.get(event.pipeline_id)
        if pipeline is None:
            raise PsrpError(f"PSRP message for unknown pipeline {event.pipeline_id}.")
        if isinstance(event, psrpcore.CreatePipelineEvent):
            pipeline.definition = event.pipeline
        elif isinstance(event, psrpcore.PipelineInputEvent):
            pipeline.input.append(event.data)
        elif isinstance(event, psrpcore.EndOfPipelineInputEvent):
            pipeline.input_ended = True

    # --- pipeline results ----------------------------------------------------
    def start(self, pipeline: LabPipeline) -> None:
        pipeline.started = True
        pipeline.server.start()
        self._collect()

    def finish(self, pipeline: LabPipeline, stdout: str, stderr: str, rc: int, refused: bool = False) -> None:
        """Write a program's result as the pipeline's messages and complete it."""
        server = pipeline.server
        if server.state != PSInvocationState.Running:
            return  # stopped meanwhile: nothing more is sent
        text = stdout[:-2] if stdout.endswith("\r\n") else stdout.removesuffix("\n")
        if text:
            for line in text.replace("\r\n", "\n").split("\n"):
                server.write_output(line)
        message = stderr.strip()
        if message:
            if refused:
                server.write_error(
                    NETException(Message=message),
                    ErrorCategoryInfo(Category=ErrorCategory.NotImplemented, Reason="NotSupportedException"),
                    fully_qualified_error_id=REFUSED_ERROR_ID,
                )
            else:
                # A program's stderr reaches a remote pipeline as NativeCommandError records.
                exception = NETException(Message=message)
                exception.PSObject.type_names = [
                    "System.Management.Automation.RemoteException",
                    "System.Exception",
                    "System.Object",
                ]
                server.write_error(
                    exception,
                    ErrorCategoryInfo(Category=ErrorCategory.NotSpecified, Reason="RemoteException"),
                    fully_qualified_error_id="NativeCommandError",
                )
        if rc != 0 and self.client_has_host:
            server.host_call(HostMethodIdentifier.SetShouldExit, [rc])
        server.complete()
        self._collect()

    def stop(self, pipeline: LabPipeline) -> None:
        """Ctrl+C: a running pipeline stops (PipelineStoppedException); a finished one is left as it is."""
        if not pipeline.started:  # still waiting for its definition or input: it never runs now
            self.start(pipeline)
        if pipeline.server.state == PSInvocationState.Running:
            pipeline.server.stop()
            self._collect()

    def close_pipeline(self, pipeline: LabPipeline) -> None:
        if pipeline.server.state == PSInvocationState.Running:
            pipeline.server.stop()
        self.pipelines.pop(pipeline.id, None)
        self.pool.pipeline_table.pop(pipeline.id, None)
        self._outbox.pop(pipeline.id, None)

    # --- data out ------------------------------------------------------------
    def _collect(self) -> None:
        while (payload := self.pool.data_to_send(PAYLOAD_SIZE)) is not None:
            self._outbox.setdefault(payload.pipeline_id, deque()).append(payload.data)

    def has_output(self, pipeline: LabPipeline | None = None) -> bool:
        return bool(self._outbox.get(pipeline.id if pipeline else None))

    def take(self, pipeline: LabPipeline | None = None) -> list[bytes]:
        """Payloads for one Receive of the pool (None) or a pipeline, up to RECEIVE_BUDGET bytes."""
        queue = self._outbox.get(pipeline.id if pipeline else None)
        taken: list[bytes] = []
        size = 0
        while queue and (not taken or size + len(queue[0]) <= RECEIVE_BUDGET):
            data = queue.popleft()
            taken.append(data)
            size += len(data)
        return taken
