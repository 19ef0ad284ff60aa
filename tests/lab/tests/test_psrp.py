"""The lab's PSRP layer, sans-IO: psrpcore's client objects talk to LabRunspacePool through bytes only."""

from __future__ import annotations

import psrpcore
import pytest

from avdlab.psrp import PAYLOAD_SIZE, RECEIVE_BUDGET, LabRunspacePool, PsrpError, describe, script_of


def drain(client: psrpcore.ClientRunspacePool) -> bytes:
    data = b""
    while (payload := client.data_to_send()) is not None:
        data += payload.data
    return data


def events(client: psrpcore.ClientRunspacePool, payloads: list[bytes]) -> list:
    found = []
    for data in payloads:
        client.receive_data(psrpcore.PSRPPayload(data, psrpcore.StreamType.default, None))
        while (event := client.next_event()) is not None:
            found.append(event)
    return found


def opened() -> tuple[psrpcore.ClientRunspacePool, LabRunspacePool]:
    client = psrpcore.ClientRunspacePool()
    client.open()
    server = LabRunspacePool(build=20348)
    server.open(drain(client))
    answers = events(client, server.take())
    assert client.state == psrpcore.types.RunspacePoolState.Opened
    table = next(e for e in answers if isinstance(e, psrpcore.ApplicationPrivateDataEvent)).data["PSVersionTable"]
    assert str(table["PSVersion"]) == "5.1.20348.1" and str(table["BuildVersion"]) == "10.0.20348.1"
    return client, server


def start(client: psrpcore.ClientRunspacePool, server: LabRunspacePool, ps: psrpcore.ClientPowerShell):
    ps.start()
    return server.add_pipeline(str(ps.pipeline_id).upper(), drain(client))


def test_a_script_pipeline_with_input_becomes_ready_at_end_of_input():
    client, server = opened()
    ps = psrpcore.ClientPowerShell(client, no_input=False)
    ps.add_script("$input")
    pipeline = start(client, server, ps)
    assert script_of(pipeline.definition) == "$input" and not pipeline.ready
    ps.send("line 1")
    ps.send("line 2")
    ps.send_eof()
    server.receive(drain(client), pipeline.id)
    assert pipeline.ready and pipeline.input_text == "line 1\nline 2"


def test_results_come_back_as_objects_error_records_and_state():
    client, server = opened()
    ps = psrpcore.ClientPowerShell(client)
    ps.add_script("something")
    pipeline = start(client, server, ps)
    server.start(pipeline)
    server.finish(pipeline, '{"a": 1}\r\nsecond\r\n', "it went wrong\r\n", 0)
    assert pipeline.finished and not server.has_output(None)
    received = events(client, server.take(pipeline))
    outputs = [e.data for e in received if isinstance(e, psrpcore.PipelineOutputEvent)]
    errors = [e.record for e in received if isinstance(e, psrpcore.ErrorRecordEvent)]
    assert outputs == ['{"a": 1}', "second"]
    assert [(e.FullyQualifiedErrorId, str(e)) for e in errors] == [("NativeCommandError", "it went wrong")]
    assert ps.state == psrpcore.types.PSInvocationState.Completed


@pytest.mark.parametrize(
    ("host", "calls"),
    [
        (None, []),  # no client host: `exit` has no one to tell
        (
            psrpcore.types.HostInfo(IsHostNull=False, IsHostUINull=False, IsHostRawUINull=True),
            [(psrpcore.types.HostMethodIdentifier.SetShouldExit, [5])],
        ),
    ],
)
def test_a_non_zero_exit_code_goes_through_the_clients_host(host, calls):
    client = psrpcore.ClientRunspacePool(host=host)
    client.open()
    server = LabRunspacePool(build=19045)
    server.open(drain(client))
    events(client, server.take())
    ps = psrpcore.ClientPowerShell(client)
    ps.add_script("exit 5")
    pipeline = start(client, server, ps)
    server.start(pipeline)
    server.finish(pipeline, "", "", 5)
    received = events(client, server.take(pipeline))
    assert [
        (e.method_identifier, e.method_parameters) for e in received if isinstance(e, psrpcore.PipelineHostCallEvent)
    ] == calls
    assert ps.state == psrpcore.types.PSInvocationState.Completed


def test_big_output_is_fragmented_and_spread_over_receives_within_the_budget():
    client, server = opened()
    ps = psrpcore.ClientPowerShell(client)
    ps.add_script("big")
    pipeline = start(client, server, ps)
    server.start(pipeline)
    line = "x" * 300_000
    server.finish(pipeline, line + "\r\n", "", 0)
    answers = []
    while server.has_output(pipeline):
        taken = server.take(pipeline)
        assert all(len(payload) <= PAYLOAD_SIZE for payload in taken)
        assert sum(len(payload) for payload in taken) <= RECEIVE_BUDGET
        answers.extend(taken)
    assert len(answers) > 300_000 // RECEIVE_BUDGET
    outputs = [e.data for e in events(client, answers) if isinstance(e, psrpcore.PipelineOutputEvent)]
    assert outputs == [line]


def test_pool_and_pipeline_messages_are_kept_apart():
    client, server = opened()
    ps = psrpcore.ClientPowerShell(client)
    ps.add_script("a")
    pipeline = start(client, server, ps)
    server.start(pipeline)
    assert server.take(None) == []
    assert server.has_output(pipeline)  # the pipeline's Running state


def test_not_one_script_is_described_for_the_refusal():
    client, server = opened()
    ps = psrpcore.ClientPowerShell(client)
    ps.add_command("Get-Service").add_parameter("Name", "RDAgentBootLoader")
    ps.add_command("Select-Object")
    pipeline = start(client, server, ps)
    assert script_of(pipeline.definition) is None
    assert describe(pipeline.definition) == "Get-Service -Name | Select-Object"
    scripted = psrpcore.ClientPowerShell(client)
    scripted.add_script("param($a) $a").add_argument("x")
    assert script_of(start(client, server, scripted).definition) is None


def test_bad_client_data_is_a_psrp_error():
    with pytest.raises(PsrpError):
        LabRunspacePool(build=1).open(b"\x00" * 30)
    client, server = opened()
    with pytest.raises(PsrpError, match="not a pipeline id"):
        server.add_pipeline("not-a-guid", b"")
    ps = psrpcore.ClientPowerShell(client)
    ps.add_script("a")
    pipeline = start(client, server, ps)
    with pytest.raises(PsrpError, match="already exists"):
        server.add_pipeline(str(pipeline.id), b"")


def test_ctrl_c_stops_a_pipeline_still_waiting_for_input_and_leaves_a_finished_one():
    client, server = opened()
    waiting = psrpcore.ClientPowerShell(client, no_input=False)
    waiting.add_script("$input")
    pipeline = start(client, server, waiting)
    server.stop(pipeline)
    assert pipeline.started and pipeline.server.state == psrpcore.types.PSInvocationState.Stopped
    events(client, server.take(pipeline))
    assert waiting.state == psrpcore.types.PSInvocationState.Stopped
    done = psrpcore.ClientPowerShell(client)
    done.add_script("a")
    finished = start(client, server, done)
    server.start(finished)
    server.finish(finished, "a\r\n", "", 0)
    server.take(finished)
    server.stop(finished)
    assert finished.server.state == psrpcore.types.PSInvocationState.Completed and not server.has_output(finished)
