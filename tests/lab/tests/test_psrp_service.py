"""PowerShell Remoting on the lab's WinRM service without a network: unmodified pypsrp in, lab answers out.

pypsrp is the library under Ansible's psrp connection plugin; here its WSMan
transport is replaced by a call into the service, so every WS-Man and PSRP
message is the one pypsrp really builds.
"""

from __future__ import annotations

import json

import pytest
from labworld import LoopThread, world
from pypsrp.complex_objects import PSInvocationState
from pypsrp.exceptions import WinRMTransportError, WSManFaultError
from pypsrp.host import PSHost, PSHostUserInterface
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from avdlab import wsman
from avdlab.auth import Account
from avdlab.handlers import default_handlers
from avdlab.host import LabHost
from avdlab.model import HostSpec
from avdlab.psrp import REFUSED_ERROR_ID
from avdlab.reboot_handlers import WinRebootCommands
from avdlab.runtime_handler import CollectionRuntime
from avdlab.service import WinRMService
from avdlab.shells import ShellTable


class ServiceTransport:
    """Stands in for pypsrp's HTTP transport; raises what the real one raises on HTTP errors."""

    endpoint = "http://lab/wsman"

    def __init__(self, service: WinRMService, loop: LoopThread) -> None:
        self.service = service
        self.loop = loop
        self.actions: list[str] = []

    def send(self, message: bytes, **_kwargs: object) -> bytes:
        self.actions.append(wsman.parse_request(message).action.rsplit("/", 1)[-1])
        status, body = self.loop.run(
            self.service.handle(message, principal="avdadmin", client_ip="127.0.0.1", endpoint=self.endpoint)
        )
        if status != 200:
            raise WinRMTransportError("http", status, body.decode())
        return body

    def close(self) -> None:
        pass


@pytest.fixture
def lab():
    loop = LoopThread()
    model = world(HostSpec(name="sh-01"))
    host = LabHost(name="sh-01", address="127.0.0.1", account=Account("avdadmin", "pw"), shells=ShellTable(30, 50))
    host.model = model
    service = WinRMService(host, [CollectionRuntime(), WinRebootCommands(), *default_handlers()])
    transport = ServiceTransport(service, loop)
    yield host, transport
    loop.stop()


def client(transport: ServiceTransport, with_host: bool = True) -> RunspacePool:
    connection = WSMan("lab", ssl=False, auth="basic", encryption="never", username="avdadmin", password="pw")
    connection.transport = transport  # type: ignore[assignment]
    host = PSHost(None, None, False, "Ansible PSRP Host", None, PSHostUserInterface(), None) if with_host else None
    return RunspacePool(connection, host=host)


def run_script(pool: RunspacePool, script: str, lines: list[str] | None = None) -> PowerShell:
    ps = PowerShell(pool)
    ps.add_script(script, use_local_scope=True)
    ps.invoke(input=lines)
    return ps


def test_open_run_close_counts_one_shell_and_one_command(lab):
    host, transport = lab
    with client(transport) as pool:
        ps = run_script(pool, "hostname")
        assert ps.output == ["sh-01"]
        assert ps.state == PSInvocationState.COMPLETED and not ps.had_errors and not ps.streams.error
    assert transport.actions[0] == "Create" and transport.actions[-1] == "Delete"
    assert host.stats.shells == 1 and host.stats.commands == 1 and host.stats.pipelines == 1
    assert host.shells.shells == {}


def test_the_pool_opens_as_windows_powershell_51(lab):
    _, transport = lab
    pool = client(transport)
    pool.open()
    try:
        assert pool.protocol_version == "2.3"
        table = pool.application_private_data.data["PSVersionTable"]  # type: ignore[union-attr]
        assert str(table["PSVersion"]).startswith("5.1.") and table["PSEdition"] == "Desktop"
    finally:
        pool.close()


def test_ansibles_raw_command_form_runs_the_command(lab):
    _, transport = lab
    with client(transport) as pool:
        # ansible's psrp plugin runs a raw command C as the script "C\nexit $LASTEXITCODE"
        assert run_script(pool, "hostname\nexit $LASTEXITCODE").output == ["sh-01"]
        assert run_script(pool, "whoami").output == ["sh-01\\avdadmin"]


def test_other_powershell_gets_an_error_record_and_exit_code_1(lab):
    host, transport = lab
    pool = client(transport)
    with pool:
        ps = run_script(pool, "Get-Service RDAgentBootLoader")
        assert ps.output == []
        (error,) = ps.streams.error
        assert error.fq_error == REFUSED_ERROR_ID
        assert "only runs the avdops.sessionhost runtime" in str(error) and "Get-Service RDAgentBootLoader" in str(
            error
        )
        assert pool.host.rc == 1  # type: ignore[union-attr]  # exit 1 through the client's host (SetShouldExit)
    assert host.stats.errors == 1


def test_without_a_client_host_there_is_no_host_call(lab):
    _, transport = lab
    with client(transport, with_host=False) as pool:
        ps = run_script(pool, "Get-Item C:\\")
        assert [e.fq_error for e in ps.streams.error] == [REFUSED_ERROR_ID]
        assert ps.state == PSInvocationState.COMPLETED


def test_cmdlets_and_several_commands_are_refused(lab):
    _, transport = lab
    with client(transport) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Service").add_parameter("Name", "RDAgentBootLoader")
        ps.invoke()
        (error,) = ps.streams.error
        assert "Get-Service -Name" in str(error)
        ps = PowerShell(pool)
        ps.add_script("hostname").add_cmdlet("Out-String")
        ps.invoke()
        assert [e.fq_error for e in ps.streams.error] == [REFUSED_ERROR_ID]


def test_the_runtime_runs_with_its_input_as_pipeline_input(lab):
    _, transport = lab
    runtime = CollectionRuntime()
    scripts = runtime.scripts
    payload = json.dumps(
        {
            "runtime": scripts.runtime,
            "request": {"version": scripts.version, "operations": [{"id": "b", "op": "boot_time"}]},
        }
    )
    with client(transport) as pool:
        ps = run_script(pool, scripts.bootstrap, payload.splitlines())
        assert not ps.streams.error
        (line,) = ps.output
        answer = json.loads(line)
        assert answer["version"] == scripts.version
        assert answer["results"][0]["ok"] is True and answer["results"][0]["result"]["boot_time"].endswith("Z")


def test_a_finished_pipeline_takes_ctrl_c_and_the_pool_goes_on(lab):
    """Ansible stops its previous pipeline (already completed) before each new one."""
    host, transport = lab
    with client(transport) as pool:
        first = run_script(pool, "hostname")
        first.state = PSInvocationState.RUNNING
        first.stop()
        assert transport.actions[-1] == "Signal"
        assert run_script(pool, "hostname").output == ["sh-01"]
    assert host.stats.pipelines == 2


def test_an_idle_pool_receive_times_out_as_windows_does(lab):
    _, transport = lab
    with client(transport) as pool:
        with pytest.raises(WSManFaultError) as raised:
            pool._receive(timeout=1)
        assert raised.value.code == wsman.FAULT_OPERATION_TIMEOUT


def test_a_powershell_shell_is_not_a_winrs_shell(lab):
    host, transport = lab
    with client(transport) as pool:
        shell_id = pool.shell.id
        status, body = transport.loop.run(
            transport.service.handle(
                _winrs_receive(shell_id), principal="avdadmin", client_ip="127.0.0.1", endpoint="x"
            )
        )
        assert status == 500 and str(wsman.FAULT_SHELL_NOT_FOUND).encode() in body
    assert host.shells.shells == {}


def test_other_session_configurations_are_refused(lab):
    _, transport = lab
    connection = WSMan("lab", ssl=False, auth="basic", encryption="never", username="avdadmin", password="pw")
    connection.transport = transport  # type: ignore[assignment]
    pool = RunspacePool(connection, configuration_name="Microsoft.PowerShell32")
    with pytest.raises(WSManFaultError) as raised:
        pool.open()
    assert "Microsoft.PowerShell" in str(raised.value.reason)


def _winrs_receive(shell_id: str) -> bytes:
    return (
        f'<s:Envelope xmlns:s="{wsman.NS["s"]}" xmlns:a="{wsman.NS["a"]}" xmlns:w="{wsman.NS["w"]}" '
        f'xmlns:rsp="{wsman.NS["rsp"]}"><s:Header>'
        f"<a:Action>{wsman.ACTION_RECEIVE}</a:Action><a:MessageID>uuid:1</a:MessageID>"
        f"<w:ResourceURI>{wsman.CMD_RESOURCE_URI}</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
        "</s:Header><s:Body><rsp:Receive><rsp:DesiredStream>stdout stderr</rsp:DesiredStream></rsp:Receive>"
        "</s:Body></s:Envelope>"
    ).encode()
