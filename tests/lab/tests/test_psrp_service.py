"""PowerShell Remoting on the lab's WinRM service without a network: unmodified pypsrp in, lab answers out.

pypsrp is the library under Ansible's psrp connection plugin; here its WSMan
transport is replaced by a call into the service, so every WS-Man and PSRP
message is the one pypsrp really builds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import xml.etree.ElementTree as ET

import pytest
from labworld import LoopThread, world
from pypsrp.complex_objects import PSInvocationState
from pypsrp.exceptions import WinRMTransportError, WSManFaultError
from pypsrp.host import PSHost, PSHostUserInterface
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from avdlab import wsman
from avdlab.ansible_put_file import SCRIPT_SHA256, NotPutFile, put_file_request
from avdlab.auth import Account
from avdlab.daemon import lab_handlers
from avdlab.host import LabHost
from avdlab.model import HostSpec
from avdlab.psrp import REFUSED_ERROR_ID
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
        self.answers: list[ET.Element] = []

    def send(self, message: bytes, **_kwargs: object) -> bytes:
        self.actions.append(wsman.parse_request(message).action.rsplit("/", 1)[-1])
        status, body = self.loop.run(
            self.service.handle(message, principal="avdadmin", client_ip="127.0.0.1", endpoint=self.endpoint)
        )
        self.answers.append(ET.fromstring(body))
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
    service = WinRMService(host, lab_handlers())
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
    _unused, transport = lab
    pool = client(transport)
    pool.open()
    try:
        assert pool.protocol_version == "2.3"
        table = pool.application_private_data.data["PSVersionTable"]  # type: ignore[union-attr]
        assert str(table["PSVersion"]).startswith("5.1.") and table["PSEdition"] == "Desktop"
    finally:
        pool.close()


def test_ansibles_raw_command_form_runs_the_command(lab):
    _unused, transport = lab
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
    _unused, transport = lab
    with client(transport, with_host=False) as pool:
        ps = run_script(pool, "Get-Item C:\\")
        assert [e.fq_error for e in ps.streams.error] == [REFUSED_ERROR_ID]
        assert ps.state == PSInvocationState.COMPLETED


def test_cmdlets_and_several_commands_are_refused(lab):
    _unused, transport = lab
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
    _unused, transport = lab
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
    _unused, transport = lab
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
    _unused, transport = lab
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


def ansible_put_file(pool: RunspacePool, data: bytes, path: str, buffer_size: int = 4096) -> PowerShell:
    """What ansible-core 2.19's psrp Connection.put_file sends (its own script builder, its input generator)."""
    from ansible.executor.powershell.module_manifest import _bootstrap_powershell_script

    script, in_data = _bootstrap_powershell_script("psrp_put_file.ps1", {"Path": path}, has_input=True)

    def read_gen():
        yield from in_data.decode().splitlines()
        chunks = [data[i : i + buffer_size] for i in range(0, len(data), buffer_size)]
        for chunk in chunks:
            yield [base64.b64encode(chunk).decode()]
        if not chunks:
            yield [""]

    ps = PowerShell(pool)
    ps.add_script(script, use_local_scope=True)
    ps.invoke(input=read_gen())
    return ps


@pytest.mark.parametrize("size", [0, 10, 100_000])
def test_ansibles_psrp_put_file_writes_the_file_and_answers_its_sha1(lab, size):
    host, transport = lab
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    with client(transport) as pool:
        ps = ansible_put_file(pool, data, "C:\\Windows\\Temp\\avd-agent.msi")
        assert not ps.streams.error, [str(e) for e in ps.streams.error]
        assert [json.loads(line) for line in ps.output] == [{"sha1": hashlib.sha1(data).hexdigest()}]
    entry = host.state.files["c:\\windows\\temp\\avd-agent.msi"]
    assert (entry.path, entry.size, entry.product) == ("C:\\Windows\\Temp\\avd-agent.msi", size, None)


def test_put_file_to_a_relative_path_fails_as_file_create_does(lab):
    host, transport = lab
    with client(transport) as pool:
        ps = ansible_put_file(pool, b"x", "agent.msi")
        (error,) = ps.streams.error
        assert "Could not find a part of the path 'agent.msi'" in str(error) and pool.host.rc == 1  # type: ignore[union-attr]
    assert "agent.msi" not in host.state.files


def test_other_uses_of_ansibles_exec_wrapper_are_refused_by_name(lab):
    from ansible.executor.powershell.module_manifest import _bootstrap_powershell_script

    _unused, transport = lab
    script, in_data = _bootstrap_powershell_script("psrp_fetch_file.ps1", {"Path": "C:\\x", "BufferSize": 1024})
    with client(transport) as pool:
        ps = run_script(pool, script, in_data.decode().splitlines())
        (error,) = ps.streams.error
        assert error.fq_error == REFUSED_ERROR_ID and "psrp_fetch_file.ps1" in str(error)


def test_the_lab_knows_the_installed_ansible_cores_scripts():
    import pkgutil

    for name, digest in SCRIPT_SHA256.items():
        script = pkgutil.get_data("ansible.executor.powershell", name)
        assert script is not None and hashlib.sha256(script).hexdigest() == digest, (
            f"ansible-core's {name} changed: update avdlab/ansible_put_file.py after checking the new script"
        )


def test_a_put_file_with_another_script_is_not_put_file():
    from ansible.executor.powershell.module_manifest import _bootstrap_powershell_script

    _unused, in_data = _bootstrap_powershell_script("psrp_put_file.ps1", {"Path": "C:\\x"}, has_input=True)
    assert put_file_request(in_data.decode() + "eHl6\n") == ("C:\\x", ["eHl6", ""])
    wrapper, separator, manifest, *rest = in_data.decode().split("\n")
    edited = json.loads(manifest)
    script = base64.b64decode(edited["scripts"]["psrp_put_file.ps1"]["script"]) + b"\n# edited\n"
    edited["scripts"]["psrp_put_file.ps1"]["script"] = base64.b64encode(script).decode()
    with pytest.raises(NotPutFile, match=re.escape("psrp_put_file.ps1 is not ansible-core 2.19.14's")):
        put_file_request("\n".join([wrapper, separator, json.dumps(edited), *rest]))
    with pytest.raises(NotPutFile, match="exec wrapper is not"):
        put_file_request("\n".join([wrapper.replace("Ansible", "Ansibel"), separator, manifest, *rest]))


def test_ctrl_c_stops_a_running_pipeline_before_it_runs_anything(lab):
    host, transport = lab
    host.command_latency = 30  # the "process" is still starting when ctrl_c comes
    with client(transport) as pool:
        ps = PowerShell(pool)
        ps.add_script("hostname")
        ps.begin_invoke()
        ps.stop()
        (shell,) = host.shells.shells.values()
        assert shell.powershell is not None
        (pipeline,) = shell.powershell.runspace.pipelines.values()
        assert pipeline.server.state.name == "Stopped"
        host.command_latency = 0
        assert run_script(pool, "hostname").output == ["sh-01"]
    assert host.stats.errors == 0


def test_answers_have_the_shape_of_windows_captures(lab):
    """The shapes of pypsrp's recorded Windows answers (jborean93/pypsrp,
    tests/tests_pypsrp/responses/test_psrp_open_runspace.yml and test_psrp_error_failed.yml):
    the Create names the client's ShellId, streams "stdin pr"/"stdout"; a pool Receive has
    stdout streams without CommandId and no CommandState; a pipeline's last Receive ends with
    CommandState Done and ExitCode 0."""
    _, transport = lab
    with client(transport) as pool:
        run_script(pool, "hostname")
        shell_id = pool.id
    create, pool_receive = transport.answers[0], transport.answers[1]
    ns = wsman.NS
    assert create.findtext(".//a:ReferenceParameters/w:ResourceURI", namespaces=ns) == wsman.PSRP_RESOURCE_URI
    assert create.findtext(".//w:SelectorSet/w:Selector[@Name='ShellId']", namespaces=ns) == shell_id
    assert create.findtext(".//rsp:Shell/rsp:ShellId", namespaces=ns) == shell_id
    assert create.findtext(".//rsp:Shell/rsp:InputStreams", namespaces=ns) == "stdin pr"
    assert create.findtext(".//rsp:Shell/rsp:OutputStreams", namespaces=ns) == "stdout"
    streams = pool_receive.findall(".//rsp:ReceiveResponse/rsp:Stream", ns)
    assert streams and all(s.get("Name") == "stdout" and s.get("CommandId") is None for s in streams)
    assert pool_receive.find(".//rsp:CommandState", ns) is None
    last_receive = [a for a, action in zip(transport.answers, transport.actions, strict=True) if action == "Receive"][
        -1
    ]
    state = last_receive.find(".//rsp:ReceiveResponse/rsp:CommandState", ns)
    assert state is not None and state.get("State") == wsman.STATE_DONE
    assert state.findtext("rsp:ExitCode", namespaces=ns) == "0"
    assert all(s.get("CommandId") == state.get("CommandId") for s in last_receive.findall(".//rsp:Stream", ns))
