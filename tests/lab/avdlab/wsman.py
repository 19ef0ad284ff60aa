"""WS-Management messages for the Windows Remote Shell, sans-IO.

Pure functions from request bytes to a parsed :class:`Request` and from
results to response bytes, shaped as a Windows WinRM service answers
(MS-WSMV): response actions, a fresh MessageID, RelatesTo the request,
and faults with a ``WSManFault`` detail that pywinrm maps to its
exceptions. No sockets, no clocks, no state: the shell table and the
server wrap these.
"""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
CMD_RESOURCE_URI = f"{SHELL_URI}/cmd"
# PowerShell Remoting (MS-PSRP 2.2.1): a shell per runspace pool under the session configuration's URI.
PSRP_RESOURCE_URI = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
PSRP_NS = "http://schemas.microsoft.com/powershell"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = f"{SHELL_URI}/Command"
ACTION_SEND = f"{SHELL_URI}/Send"
ACTION_RECEIVE = f"{SHELL_URI}/Receive"
ACTION_SIGNAL = f"{SHELL_URI}/Signal"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

SIGNAL_TERMINATE = f"{SHELL_URI}/signal/terminate"
SIGNAL_CTRL_C = f"{SHELL_URI}/signal/ctrl_c"
STATE_DONE = f"{SHELL_URI}/CommandState/Done"
STATE_RUNNING = f"{SHELL_URI}/CommandState/Running"

# A Receive without an OperationTimeout header waits this long (seconds) before the timeout fault.
DEFAULT_OPERATION_TIMEOUT = 60.0

# WSManFault codes a Windows host returns (decimal, as on the wire).
FAULT_OPERATION_TIMEOUT = 2150858793  # 0x80338029 ERROR_WSMAN_OPERATION_TIMEDOUT
FAULT_SHELL_NOT_FOUND = 2150858843  # 0x8033805B
FAULT_INVALID_COMMAND_ID = 2150858854  # 0x80338066 (lab: unknown CommandId)
FAULT_QUOTA_MAX_SHELLS = 2150859173  # 0x803381A5 ERROR_WSMAN_QUOTA_MAX_SHELLS
FAULT_QUOTA_MAX_OPERATIONS = 2150859174  # 0x803381A6 ERROR_WSMAN_QUOTA_MAX_OPERATIONS
FAULT_ACTION_NOT_SUPPORTED = 2150858771  # 0x80338013
FAULT_INVALID_MESSAGE = 2150858817  # 0x80338041 (malformed request)


class WsmanFault(Exception):
    """A SOAP fault to send back instead of a response."""

    def __init__(
        self,
        reason: str,
        *,
        wsman_code: int,
        code: str = "s:Sender",
        subcode: str = "w:InvalidParameter",
        wmi_error: bool = False,
        http_status: int = 500,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wsman_code = wsman_code
        self.code = code
        self.subcode = subcode
        self.wmi_error = wmi_error
        self.http_status = http_status


def operation_timeout_fault() -> WsmanFault:
    return WsmanFault(
        "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
        wsman_code=FAULT_OPERATION_TIMEOUT,
        code="s:Receiver",
        subcode="w:TimedOut",
    )


def shell_not_found_fault(shell_id: str) -> WsmanFault:
    return WsmanFault(
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because "
        "the shell was not found on the server. Possible causes are: the specified ShellId "
        "is incorrect or the shell no longer exists on the server. Provide the correct "
        "ShellId or create a new shell and retry the operation.",
        wsman_code=FAULT_SHELL_NOT_FOUND,
        subcode="w:InvalidSelectors",
    )


def command_not_found_fault(command_id: str) -> WsmanFault:
    return WsmanFault(
        f"The Windows Remote Shell received a request to perform an operation on command "
        f"identifier {command_id} that does not exist. Either the command has completed "
        "execution or the client specified an invalid command identifier.",
        wsman_code=FAULT_INVALID_COMMAND_ID,
        subcode="w:InvalidParameter",
    )


def quota_operations_fault(limit: int) -> WsmanFault:
    # Ansible recreates the shell on exactly this code, read from MSFT_WmiError.
    return WsmanFault(
        f"The WS-Management service cannot process the request. This user is allowed a "
        f"maximum number of {limit} concurrent operations, which has been exceeded. Close "
        "existing operations for this user, or raise the quota for this user.",
        wsman_code=FAULT_QUOTA_MAX_OPERATIONS,
        code="s:Receiver",
        subcode="w:QuotaLimit",
        wmi_error=True,
    )


def quota_shells_fault(limit: int) -> WsmanFault:
    return WsmanFault(
        f"The WS-Management service cannot process the request. This user is allowed a "
        f"maximum number of {limit} concurrent shells, which has been exceeded. Close "
        "existing shells or raise the quota for this user.",
        wsman_code=FAULT_QUOTA_MAX_SHELLS,
        code="s:Receiver",
        subcode="w:QuotaLimit",
        wmi_error=True,
    )


@dataclass(frozen=True)
class Request:
    action: str
    message_id: str
    resource_uri: str
    shell_id: str | None
    operation_timeout: float | None
    options: dict[str, str]
    body: ET.Element | None = field(repr=False)


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def parse_duration(text: str) -> float:
    """Parse an xs:duration as WinRM uses it (``PT20S``, ``PT0.500S``, ``P0DT0H1M0S``)."""
    value = text.strip().upper()
    if not value.startswith("P"):
        raise ValueError(f"not an xs:duration: {text!r}")
    date_part, _unused, time_part = value[1:].partition("T")
    seconds = 0.0
    number = ""
    for part, units in ((date_part, {"D": 86400.0}), (time_part, {"H": 3600.0, "M": 60.0, "S": 1.0})):
        for char in part:
            if char.isdigit() or char == ".":
                number += char
            elif char in units and number:
                seconds += float(number) * units[char]
                number = ""
            else:
                raise ValueError(f"not an xs:duration: {text!r}")
    if number:
        raise ValueError(f"not an xs:duration: {text!r}")
    return seconds


def parse_request(data: bytes) -> Request:
    """Parse a WS-Man request envelope; raise :class:`WsmanFault` when it is not one."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise WsmanFault(f"The request is not well-formed XML: {exc}", wsman_code=FAULT_INVALID_MESSAGE) from exc
    header = root.find("s:Header", NS)
    if root.tag != _q("s", "Envelope") or header is None:
        raise WsmanFault("The request is not a SOAP 1.2 envelope.", wsman_code=FAULT_INVALID_MESSAGE)
    action = (header.findtext("a:Action", default="", namespaces=NS)).strip()
    message_id = (header.findtext("a:MessageID", default="", namespaces=NS)).strip()
    if not action or not message_id:
        raise WsmanFault("The request has no Action or MessageID header.", wsman_code=FAULT_INVALID_MESSAGE)
    timeout_text = header.findtext("w:OperationTimeout", default="", namespaces=NS)
    try:
        operation_timeout = parse_duration(timeout_text) if timeout_text.strip() else None
    except ValueError as exc:
        raise WsmanFault(str(exc), wsman_code=FAULT_INVALID_MESSAGE) from exc
    shell_id = None
    for selector in header.findall("w:SelectorSet/w:Selector", NS):
        if selector.get("Name") == "ShellId":
            shell_id = (selector.text or "").strip()
    options = {
        option.get("Name", ""): (option.text or "").strip() for option in header.findall("w:OptionSet/w:Option", NS)
    }
    body = root.find("s:Body", NS)
    first = next(iter(body), None) if body is not None else None
    return Request(
        action=action,
        message_id=message_id,
        resource_uri=(header.findtext("w:ResourceURI", default="", namespaces=NS)).strip(),
        shell_id=shell_id,
        operation_timeout=operation_timeout,
        options=options,
        body=first,
    )


def shell_creation(request: Request) -> tuple[str | None, bytes | None]:
    """The client's ``ShellId`` and decoded ``creationXml`` of a Create (both None for a plain WinRS shell)."""
    body = request.body
    if body is None or body.tag != _q("rsp", "Shell"):
        raise WsmanFault("The Create request has no rsp:Shell.", wsman_code=FAULT_INVALID_MESSAGE)
    shell_id = (body.get("ShellId") or "").strip() or None
    node = body.find(f"{{{PSRP_NS}}}creationXml")
    if node is None:
        return shell_id, None
    try:
        return shell_id, base64.b64decode(node.text or "", validate=True)
    except ValueError as exc:
        raise WsmanFault("The creationXml is not base64.", wsman_code=FAULT_INVALID_MESSAGE) from exc


def psrp_command(request: Request) -> tuple[str, bytes]:
    """A PSRP Command: the client's ``CommandId`` (the pipeline id) and the first CreatePipeline fragments."""
    body = request.body
    if body is None or body.tag != _q("rsp", "CommandLine"):
        raise WsmanFault("The Command request has no rsp:CommandLine.", wsman_code=FAULT_INVALID_MESSAGE)
    command_id = (body.get("CommandId") or "").strip()
    if not command_id:
        raise WsmanFault("A PowerShell Command names no CommandId (the pipeline id).", wsman_code=FAULT_INVALID_MESSAGE)
    try:
        data = b"".join(base64.b64decode(node.text or "", validate=True) for node in body.findall("rsp:Arguments", NS))
    except ValueError as exc:
        raise WsmanFault("The Command's rsp:Arguments are not base64.", wsman_code=FAULT_INVALID_MESSAGE) from exc
    return command_id, data


def command_line(request: Request) -> tuple[str, str]:
    """The ``rsp:Command`` and ``rsp:Arguments`` texts of a Command request."""
    body = request.body
    if body is None or body.tag != _q("rsp", "CommandLine"):
        raise WsmanFault("The Command request has no rsp:CommandLine.", wsman_code=FAULT_INVALID_MESSAGE)
    command = (body.findtext("rsp:Command", default="", namespaces=NS)).strip()
    arguments = " ".join((node.text or "").strip() for node in body.findall("rsp:Arguments", NS))
    if command.startswith('"') and command.endswith('"') and len(command) > 1:
        command = command[1:-1]
    return command, arguments


@dataclass(frozen=True)
class SendChunk:
    command_id: str
    stream: str
    data: bytes
    end: bool


def send_chunks(request: Request) -> list[SendChunk]:
    body = request.body
    if body is None or body.tag != _q("rsp", "Send"):
        raise WsmanFault("The Send request has no rsp:Send.", wsman_code=FAULT_INVALID_MESSAGE)
    chunks = []
    for stream in body.findall("rsp:Stream", NS):
        try:
            data = base64.b64decode(stream.text or "", validate=True)
        except ValueError as exc:
            raise WsmanFault("A Send stream is not base64.", wsman_code=FAULT_INVALID_MESSAGE) from exc
        chunks.append(
            SendChunk(
                command_id=stream.get("CommandId", ""),
                stream=stream.get("Name", ""),
                data=data,
                end=stream.get("End", "false").lower() == "true",
            )
        )
    return chunks


def receive_command_id(request: Request) -> str:
    body = request.body
    stream = body.find("rsp:DesiredStream", NS) if body is not None else None
    if stream is None:
        raise WsmanFault("The Receive request has no rsp:DesiredStream.", wsman_code=FAULT_INVALID_MESSAGE)
    return stream.get("CommandId", "")


def signal(request: Request) -> tuple[str, str]:
    body = request.body
    if body is None or body.tag != _q("rsp", "Signal"):
        raise WsmanFault("The Signal request has no rsp:Signal.", wsman_code=FAULT_INVALID_MESSAGE)
    return body.get("CommandId", ""), (body.findtext("rsp:Code", default="", namespaces=NS)).strip()


# --- responses -------------------------------------------------------------

_ENVELOPE_NS = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NS.items())


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    return (
        f'<s:Envelope xml:lang="en-US" {_ENVELOPE_NS}>'
        "<s:Header>"
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        "</s:Header>"
        f"<s:Body>{body}</s:Body>"
        "</s:Envelope>"
    ).encode()


def create_response(
    request: Request,
    shell_id: str,
    endpoint: str,
    owner: str,
    client_ip: str,
    *,
    resource_uri: str = CMD_RESOURCE_URI,
    input_streams: str = "stdin",
    output_streams: str = "stdout stderr",
) -> bytes:
    body = (
        "<x:ResourceCreated>"
        f"<a:Address>{escape(endpoint)}</a:Address>"
        "<a:ReferenceParameters>"
        f"<w:ResourceURI>{escape(resource_uri)}</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{escape(shell_id)}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters>"
        "</x:ResourceCreated>"
        "<rsp:Shell>"
        f"<rsp:ShellId>{escape(shell_id)}</rsp:ShellId>"
        f"<rsp:ResourceUri>{escape(resource_uri)}</rsp:ResourceUri>"
        f"<rsp:Owner>{escape(owner)}</rsp:Owner>"
        f"<rsp:ClientIP>{escape(client_ip)}</rsp:ClientIP>"
        "<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
        f"<rsp:InputStreams>{escape(input_streams)}</rsp:InputStreams>"
        f"<rsp:OutputStreams>{escape(output_streams)}</rsp:OutputStreams>"
        "<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>"
        "<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
        "</rsp:Shell>"
    )
    return _envelope(f"{ACTION_CREATE}Response", request.message_id, body)


def command_response(request: Request, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
    return _envelope(f"{ACTION_COMMAND}Response", request.message_id, body)


def receive_response(
    request: Request,
    command_id: str,
    streams: list[tuple[str, bytes]],
    exit_code: int | None,
) -> bytes:
    """A ReceiveResponse; ``exit_code`` None means the command is still running."""
    cid = quoteattr(command_id)
    parts = [
        f"<rsp:Stream Name={quoteattr(name)} CommandId={cid}>{base64.b64encode(data).decode()}</rsp:Stream>"
        for name, data in streams
        if data
    ]
    if exit_code is None:
        parts.append(f"<rsp:CommandState CommandId={cid} State={quoteattr(STATE_RUNNING)}/>")
    else:
        parts.append(f'<rsp:Stream Name="stdout" CommandId={cid} End="true"/>')
        parts.append(f'<rsp:Stream Name="stderr" CommandId={cid} End="true"/>')
        parts.append(
            f"<rsp:CommandState CommandId={cid} State={quoteattr(STATE_DONE)}>"
            f"<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>"
        )
    body = f"<rsp:ReceiveResponse>{''.join(parts)}</rsp:ReceiveResponse>"
    return _envelope(f"{ACTION_RECEIVE}Response", request.message_id, body)


def psrp_receive_response(request: Request, command_id: str | None, payloads: list[bytes], done: bool) -> bytes:
    """A ReceiveResponse of a PowerShell shell: one ``stdout`` stream element per PSRP payload.

    Pool-level receives (no CommandId) carry no CommandState; a pipeline's last answer says
    Done with exit code 0 (PowerShell reports its own exit code in PSRP messages), as Windows does.
    """
    cid = f" CommandId={quoteattr(command_id)}" if command_id else ""
    parts = [f'<rsp:Stream Name="stdout"{cid}>{base64.b64encode(data).decode()}</rsp:Stream>' for data in payloads]
    if done and command_id:
        parts.append(
            f"<rsp:CommandState{cid} State={quoteattr(STATE_DONE)}><rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState>"
        )
    body = f"<rsp:ReceiveResponse>{''.join(parts)}</rsp:ReceiveResponse>"
    return _envelope(f"{ACTION_RECEIVE}Response", request.message_id, body)


def empty_response(request: Request) -> bytes:
    """The answer to Send, Signal and Delete: the action's Response, RelatesTo the request."""
    bodies = {
        ACTION_SEND: "<rsp:SendResponse/>",
        ACTION_SIGNAL: "<rsp:SignalResponse/>",
        ACTION_DELETE: "",
    }
    return _envelope(f"{request.action}Response", request.message_id, bodies.get(request.action, ""))


def fault_response(fault: WsmanFault, relates_to: str | None, machine: str) -> bytes:
    wmi = ""
    if fault.wmi_error:
        wmi = (
            '<p:MSFT_WmiError xmlns:p="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError" '
            'xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="p:MSFT_WmiError_Type">'
            f"<p:Message>{escape(fault.reason)}</p:Message>"
            f"<p:error_Code>{fault.wsman_code}</p:error_Code>"
            "<p:error_Type>HRESULT</p:error_Type>"
            "<p:error_WindowsErrorMessage>"
            f"{escape(fault.reason)}</p:error_WindowsErrorMessage>"
            "</p:MSFT_WmiError>"
        )
    body = (
        "<s:Fault>"
        f"<s:Code><s:Value>{fault.code}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
        "<s:Detail>"
        f"<f:WSManFault Code={quoteattr(str(fault.wsman_code))} Machine={quoteattr(machine)}>"
        f"<f:Message>{escape(fault.reason)}</f:Message></f:WSManFault>"
        f"{wmi}"
        "</s:Detail>"
        "</s:Fault>"
    )
    return _envelope(ACTION_FAULT, relates_to or "", body)
