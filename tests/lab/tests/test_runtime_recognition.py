"""The lab recognises the collection's runtime by exact text and version, over any transport, and nothing else."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from labworld import world

from avdlab.auth import Account
from avdlab.commandline import parse_invocation
from avdlab.handlers import CommandContext
from avdlab.host import LabHost
from avdlab.model import HostSpec
from avdlab.runtime_handler import RUNTIME_COMMAND_PREFIX, CollectionRuntime, RuntimeScripts, runtime_dir

PREFIX = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand"


def encode(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


@pytest.fixture
def scripts() -> RuntimeScripts:
    return RuntimeScripts(runtime_dir())


@pytest.fixture
def host() -> LabHost:
    model = world(HostSpec(name="sh-01"))
    return LabHost(name="sh-01", address="127.0.0.1", account=Account("u", "p"), model=model)


def payload(scripts: RuntimeScripts, operations: list[dict[str, object]], version: str | None = None) -> str:
    request = {"version": version or scripts.version, "operations": operations}
    return json.dumps({"runtime": scripts.runtime, "request": request})


def answer(host: LabHost, script: str, input_text: str) -> tuple[int, str, str]:
    result = asyncio.run(CollectionRuntime().answer(host, script, input_text))
    return result.rc, result.stdout.decode(), result.stderr.decode()


def test_the_accepted_form_is_ansible_s_common_args_and_the_encoded_bootstrap(scripts):
    assert RUNTIME_COMMAND_PREFIX == PREFIX
    assert scripts.command_line == f"{PREFIX} {encode(scripts.bootstrap)}"


def test_answer_runs_the_exact_bootstrap_and_runtime(scripts, host):
    rc, out, err = answer(host, scripts.bootstrap, payload(scripts, [{"id": "d", "op": "disk", "drive": "C:"}]))
    document = json.loads(out)
    assert (rc, err) == (0, "")
    assert document["version"] == scripts.version
    assert document["results"][0]["ok"] and document["results"][0]["result"]["drive"] == "C:"


def test_psrp_input_lines_joined_read_the_same_as_stdin(scripts, host):
    """psrp sends stdin split into lines as pipeline input; the payload is one line, with or without its newline."""
    text = payload(scripts, [{"id": "q", "op": "qwinsta"}])
    assert answer(host, scripts.bootstrap, text)[1] == answer(host, scripts.bootstrap, text + "\n")[1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s, p: (s.bootstrap.replace("$input", "$Input"), p), "not this collection's avd_bootstrap.ps1"),
        (lambda s, p: (s.bootstrap + "\n# one more line", p), "not this collection's avd_bootstrap.ps1"),
        (
            lambda s, p: (s.bootstrap, p.replace("RuntimeVersion", "RuntimeVersiom")),
            "not this collection's avd_runtime",
        ),
        (lambda s, p: (s.bootstrap, p[:-1]), "Invalid JSON primitive"),
        (lambda s, p: (s.bootstrap, "[1]"), "not the bootstrap's {runtime, request}"),
    ],
)
def test_anything_else_is_refused_with_a_clear_error(scripts, host, change, message):
    script, text = change(scripts, payload(scripts, [{"id": "d", "op": "disk"}]))
    rc, out, err = answer(host, script, text)
    assert rc == 1 and out == "" and message in err


def test_a_request_for_another_version_gets_the_runtime_s_own_refusal(scripts, host):
    rc, out, _unused = answer(host, scripts.bootstrap, payload(scripts, [], version="0.1"))
    assert rc == 1 and json.loads(out)["error"].startswith("The controller sent a request for runtime 0.1")


def run_line(host: LabHost, line: str, stdin: str) -> tuple[int, str, str]:
    runtime = CollectionRuntime()
    invocation = parse_invocation(line)
    assert runtime.accepts(invocation)
    context = CommandContext(host=host, invocation=invocation, owner="u", stdin=stdin.encode())
    result = asyncio.run(runtime.run(context))
    return result.rc, result.stdout.decode(), result.stderr.decode()


def test_over_winrm_only_the_exact_command_line_is_run(scripts, host):
    stdin = payload(scripts, [{"id": "d", "op": "disk"}]) + "\n"
    assert run_line(host, scripts.command_line, stdin)[0] == 0
    # the same bootstrap sent another way (pywinrm's run_ps, or without the common arguments) is refused
    rc, _unused, err = run_line(host, f"powershell -encodedcommand {encode(scripts.bootstrap)}", stdin)
    assert rc == 1 and f"must arrive as exactly '{PREFIX}" in err


def test_an_older_bootstrap_is_recognised_as_ours_and_refused(scripts, host):
    stale = "# avdops.sessionhost bootstrap: the command line of every runtime call.\n$payload = 1"
    rc, _unused, err = run_line(host, f"{PREFIX} {encode(stale)}", payload(scripts, []))
    assert rc == 1 and "not this collection's avd_bootstrap.ps1" in err


def test_other_powershell_is_not_taken_for_the_runtime():
    runtime = CollectionRuntime()
    assert not runtime.accepts(parse_invocation(f"{PREFIX} {encode('Get-Service RDAgentBootLoader')}"))
    assert not runtime.is_runtime_script("hostname")


def test_the_lab_reads_the_files_the_collection_ships():
    plugin_utils = Path(__file__).resolve().parents[3] / "plugins" / "plugin_utils"
    assert runtime_dir() == plugin_utils or runtime_dir().samefile(plugin_utils)
