"""The WinRM service without a network: unmodified pywinrm Protocol messages in, lab answers out."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import pytest
import winrm
from labworld import LoopThread
from winrm.exceptions import WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError

from avdlab import wsman
from avdlab.auth import Account
from avdlab.handlers import default_handlers
from avdlab.host import LabHost
from avdlab.service import WinRMService
from avdlab.shells import ShellTable


class ServiceTransport:
    """Stands in for pywinrm's HTTP transport; raises what the real one raises on HTTP errors."""

    def __init__(self, service: WinRMService, loop: LoopThread) -> None:
        self.service = service
        self.loop = loop
        self.requests: list[bytes] = []

    def send_message(self, message: str | bytes) -> bytes:
        data = message.encode() if isinstance(message, str) else message
        self.requests.append(data)
        status, body = self.loop.run(
            self.service.handle(data, principal="avdadmin", client_ip="127.0.0.1", endpoint="http://lab/wsman")
        )
        if status != 200:
            raise WinRMTransportError("http", status, body.decode())
        return body

    def close_session(self) -> None:
        pass


@pytest.fixture
def harness():
    loop = LoopThread()
    host = LabHost(name="sh-01", address="127.0.0.1", account=Account("avdadmin", "pw"), shells=ShellTable(30, 5))
    service = WinRMService(host, default_handlers())
    protocol = winrm.Protocol("http://lab/wsman", username="avdadmin", password="pw", transport="plaintext")
    transport = ServiceTransport(service, loop)
    protocol.transport = transport  # type: ignore[assignment]
    yield protocol, host, transport
    loop.stop()


def run(protocol: winrm.Protocol, command: str, args: tuple[str, ...] = ()) -> tuple[bytes, bytes, int]:
    shell = protocol.open_shell()
    try:
        command_id = protocol.run_command(shell, command, args)
        out, err, rc = protocol.get_command_output(shell, command_id)
        protocol.cleanup_command(shell, command_id)
        return out, err, rc
    finally:
        protocol.close_shell(shell)


def encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


def test_hostname_in_every_command_form(harness):
    protocol, _unused1, _unused2 = harness
    forms = [
        ("hostname", ()),  # cmd, as pywinrm run_cmd sends it
        (
            "PowerShell",
            (
                "-NoProfile",
                "-NonInteractive",
                "-ExecutionPolicy",
                "Unrestricted",
                "-EncodedCommand",
                encoded("hostname"),
            ),
        ),  # ansible-core 2.19
        (
            "powershell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted "
            f"-EncodedCommand {encoded('hostname')}",
            (),
        ),  # 2.21
        (f"powershell -encodedcommand {encoded('hostname')}", ()),  # pywinrm run_ps
        (
            "PowerShell",
            (
                "-NoProfile",
                "-NonInteractive",
                "-ExecutionPolicy",
                "Unrestricted",
                "-EncodedCommand",
                encoded(f"PowerShell -NoProfile -NonInteractive -EncodedCommand {encoded('hostname')}"),
            ),
        ),  # ansible-core 2.16/2.18: the line wrapped in another PowerShell
    ]
    for command, args in forms:
        assert run(protocol, command, args) == (b"sh-01\r\n", b"", 0), command


def test_other_powershell_is_refused_with_rc_1(harness):
    protocol, host, _unused = harness
    out, err, rc = run(protocol, f"powershell -EncodedCommand {encoded('Get-Service RDAgentBootLoader')}")
    assert rc == 1 and out == b""
    assert b"only runs the avdops.sessionhost runtime" in err and b"Get-Service RDAgentBootLoader" in err
    assert host.stats.errors == 1


def test_responses_relate_to_requests_and_carry_response_actions(harness):
    protocol, _unused, transport = harness
    run(protocol, "whoami")
    # pywinrm asserts RelatesTo itself on Signal and Delete; check every answer here.
    service = transport.service
    loop = transport.loop
    for request in transport.requests:
        parsed = wsman.parse_request(request)
        status, body = loop.run(service.handle(request, principal="avdadmin", client_ip="::1", endpoint="x"))
        root = ET.fromstring(body)
        relates = root.findtext("s:Header/a:RelatesTo", namespaces=wsman.NS)
        action = root.findtext("s:Header/a:Action", namespaces=wsman.NS)
        assert relates == parsed.message_id
        if status == 200:
            assert action == parsed.action + "Response"


def test_create_answers_a_selector_named_shellid(harness):
    protocol, host, _unused = harness
    shell_id = protocol.open_shell()
    assert shell_id in host.shells.shells


def test_unknown_shell_is_the_windows_fault(harness):
    protocol, _unused1, _unused2 = harness
    with pytest.raises(WSManFaultError) as caught:
        protocol.run_command("6B0D7E1A-0000-4000-8000-000000000000", "hostname")
    assert caught.value.wsman_fault_code == wsman.FAULT_SHELL_NOT_FOUND
    assert caught.value.code == 500
    assert "shell was not found on the server" in caught.value.reason


def test_unknown_command_is_a_fault(harness):
    protocol, _unused1, _unused2 = harness
    shell = protocol.open_shell()
    with pytest.raises(WSManFaultError) as caught:
        protocol.get_command_output(shell, "6B0D7E1A-0000-4000-8000-000000000000")
    assert caught.value.wsman_fault_code == wsman.FAULT_INVALID_COMMAND_ID


def test_operations_quota_is_the_fault_ansible_recreates_the_shell_on(harness):
    protocol, _unused1, _unused2 = harness  # the harness host allows 5 operations per shell
    shell = protocol.open_shell()
    for _unused in range(5):
        command_id = protocol.run_command(shell, "hostname")
        protocol.get_command_output(shell, command_id)
        protocol.cleanup_command(shell, command_id)  # a text shell does not give the operation back
    with pytest.raises(WSManFaultError) as caught:
        protocol.run_command(shell, "hostname")
    assert caught.value.wmierror_code == 0x803381A6  # what ansible's winrm plugin checks
    assert "maximum number of 5 concurrent operations" in caught.value.reason


def test_shell_quota(harness):
    protocol, host, _unused = harness
    host.shells.max_shells_per_user = 2
    protocol.open_shell()
    protocol.open_shell()
    with pytest.raises(WSManFaultError) as caught:
        protocol.open_shell()
    assert caught.value.wsman_fault_code == wsman.FAULT_QUOTA_MAX_SHELLS


def test_receive_times_out_with_the_retryable_fault(harness):
    protocol, host, _transport = harness
    host.command_latency = 1.5
    protocol.operation_timeout_sec = 1
    shell = protocol.open_shell()
    command_id = protocol.run_command(shell, "hostname")
    with pytest.raises(WinRMOperationTimeoutError):
        protocol._raw_get_command_output(shell, command_id)
    # pywinrm's loop retries the fault and gets the output.
    assert protocol.get_command_output(shell, command_id) == (b"sh-01\r\n", b"", 0)
    assert host.stats.receive_timeouts >= 1
    assert host.stats.errors == 0


def test_stdin_reaches_the_command_and_terminate_ends_it(harness):
    protocol, host, _unused = harness
    shell = protocol.open_shell()
    command_id = protocol.run_command(
        shell, f"powershell -EncodedCommand {encoded('hostname')}", console_mode_stdin=False
    )
    protocol.send_command_input(shell, command_id, b"x" * 10, end=True)
    command = host.shells.get(shell).commands[command_id]
    assert bytes(command.stdin) == b"x" * 10 and command.stdin_closed.is_set()
    protocol.cleanup_command(shell, command_id)
    assert command_id not in host.shells.get(shell).commands


def test_large_output_comes_in_several_receives(harness):
    protocol, _host, transport = harness
    from avdlab import handlers
    from avdlab.shells import RECEIVE_CHUNK, CommandResult

    class Big:
        name = "big"

        def accepts(self, invocation):
            return invocation.program == "big"

        def reads_stdin(self, invocation):
            return False

        def run(self, context):
            return CommandResult(stdout=b"a" * (RECEIVE_CHUNK * 3 + 7), stderr=b"e", rc=3)

    transport.service.handlers = [Big(), *handlers.default_handlers()]
    before = len(transport.requests)
    out, err, rc = run(protocol, "big")
    assert (len(out), err, rc) == (RECEIVE_CHUNK * 3 + 7, b"e", 3)
    receives = [r for r in transport.requests[before:] if b"/windows/shell/Receive<" in r]
    assert len(receives) == 4


def test_malformed_envelopes_get_a_fault_not_a_crash(harness):
    _unused, _host, transport = harness
    for body in (
        b"not xml",
        b"<a/>",
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/></s:Envelope>',
    ):
        status, answer = transport.loop.run(transport.service.handle(body, principal="u", client_ip="", endpoint=""))
        assert status == 400
        assert b"WSManFault" in answer


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT20S", 20.0), ("PT0.500S", 0.5), ("P0DT0H1M0S", 60.0), ("P1DT2H", 93600.0), ("pt60.000s", 60.0)],
)
def test_parse_duration(text, seconds):
    assert wsman.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["20", "PTS", "PT1X", "P1S"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="xs:duration"):
        wsman.parse_duration(text)
