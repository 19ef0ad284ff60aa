"""The runtime's PowerShell (parsed by a real grammar) and the controller's client around it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell
from ansible.release import __version__ as ansible_core_version

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _runtime as r

PLUGIN_UTILS = Path(r.__file__).parent


def syntax_errors(source: bytes) -> list[str]:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    errors: list[str] = []

    def walk(node: tree_sitter.Node) -> None:
        if node.type == "ERROR" or node.is_missing:
            errors.append(f"line {node.start_point[0] + 1}: {node.text[:60]!r}")
        for child in node.children:
            walk(child)

    walk(parser.parse(source).root_node)
    return errors


@pytest.mark.parametrize("name", [r.RUNTIME_FILE, r.BOOTSTRAP_FILE])
def test_powershell_parses_without_errors(name):
    assert syntax_errors((PLUGIN_UTILS / name).read_bytes()) == []


def test_the_grammar_check_catches_a_broken_script():
    broken = (
        (PLUGIN_UTILS / r.RUNTIME_FILE)
        .read_bytes()
        .replace(b"function Invoke-Disk($Op) {", b"function Invoke-Disk($Op {")
    )
    assert syntax_errors(broken)


# What Windows PowerShell 5.1 lacks (PowerShell 7 additions, "What's New in PowerShell 7.x" on Microsoft Learn):
# commands that do not exist in 5.1, and parameters 5.1's versions of cmdlets do not have.
PS7_COMMANDS = {
    "get-error": "Get-Error (7.0)",
    "test-json": "Test-Json (6.1)",
    "join-string": "Join-String (6.2)",
    "get-uptime": "Get-Uptime (6.0)",
    "remove-service": "Remove-Service (6.0)",
    "convertfrom-markdown": "ConvertFrom-Markdown (6.1)",
}
PS7_PARAMETERS = {
    ("foreach-object", "-parallel"): "ForEach-Object -Parallel (7.0)",
    ("%", "-parallel"): "ForEach-Object -Parallel (7.0)",
    ("foreach", "-parallel"): "ForEach-Object -Parallel (7.0)",
    ("convertfrom-json", "-ashashtable"): "ConvertFrom-Json -AsHashtable (6.0)",
    ("convertfrom-json", "-depth"): "ConvertFrom-Json -Depth (6.2)",
    ("convertto-json", "-asarray"): "ConvertTo-Json -AsArray (6.2)",
    ("convertto-json", "-escapehandling"): "ConvertTo-Json -EscapeHandling (6.2)",
    ("invoke-webrequest", "-skipcertificatecheck"): "Invoke-WebRequest -SkipCertificateCheck (6.0)",
    ("invoke-webrequest", "-skiphttperrorcheck"): "Invoke-WebRequest -SkipHttpErrorCheck (7.0)",
    ("invoke-webrequest", "-statuscodevariable"): "Invoke-WebRequest -StatusCodeVariable (7.0)",
    ("invoke-restmethod", "-skipcertificatecheck"): "Invoke-RestMethod -SkipCertificateCheck (6.0)",
    ("get-content", "-asbytestream"): "Get-Content -AsByteStream (6.0)",
    ("set-content", "-asbytestream"): "Set-Content -AsByteStream (6.0)",
    ("start-process", "-environment"): "Start-Process -Environment (7.4)",
}


def powershell_51_problems(source: bytes) -> list[str]:
    """Walk the syntax tree; name what Windows PowerShell 5.1 can't run (the grammar is 5.1's, so 7's
    operators come out as errors, which are told apart by their text)."""
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    problems: list[str] = []

    def walk(node: tree_sitter.Node) -> None:
        line = node.start_point[0] + 1
        text = (node.text or b"").decode("utf-8", "replace")
        if node.type == "ERROR" or node.is_missing:
            if "??" in text:
                problems.append(f"line {line}: ?? or ??= (null-coalescing, 7.0)")
            elif "?" in text and node.parent is not None and node.parent.type in ("member_access", "element_access"):
                problems.append(f"line {line}: ?. or ?[] (null-conditional member access, 7.1)")
            elif "?" in text:
                problems.append(f"line {line}: ? : (ternary operator, 7.0)")
            elif any(child.type == "simple_name" and child.text.strip().lower() == b"clean" for child in node.children):
                problems.append(f"line {line}: clean block (7.3)")
            else:
                problems.append(f"line {line}: syntax error {text[:60]!r}")
            return
        if node.type == "pipeline_chain_tail":
            problems.append(f"line {line}: && or || pipeline chain (7.0)")
        if node.type == "command":
            name_node = node.child_by_field_name("command_name") or next(
                (child for child in node.children if child.type == "command_name"), None
            )
            name = (name_node.text or b"").decode().lower() if name_node is not None else ""
            if name in PS7_COMMANDS:
                problems.append(f"line {line}: {PS7_COMMANDS[name]}")
            for parameter in _descendants(node, "command_parameter"):
                given = (parameter.text or b"").decode().lower().rstrip(":")
                for (command, full), what in PS7_PARAMETERS.items():
                    if command == name and len(given) >= 4 and full.startswith(given):
                        problems.append(f"line {line}: {what}")
        for child in node.children:
            walk(child)

    walk(parser.parse(source).root_node)
    return problems


def _descendants(node: tree_sitter.Node, node_type: str) -> list[tree_sitter.Node]:
    found = []
    for child in node.children:
        if child.type == node_type:
            found.append(child)
        elif child.type not in ("script_block_expression", "command"):
            found.extend(_descendants(child, node_type))
    return found


@pytest.mark.parametrize("name", [r.RUNTIME_FILE, r.BOOTSTRAP_FILE])
def test_powershell_runs_on_windows_powershell_51(name):
    assert powershell_51_problems((PLUGIN_UTILS / name).read_bytes()) == []


@pytest.mark.parametrize(
    ("script", "named"),
    [
        ("$a = $b ? 1 : 2", "ternary"),
        ("$a = $b ?? 3", "null-coalescing"),
        ("$a ??= 3", "null-coalescing"),
        ("$a = $b?.Name", "null-conditional"),
        ("$a = ${b}?[0]", "null-conditional"),
        ("Get-Item x && Write-Output y", "pipeline chain"),
        ("Get-Item x || Write-Output y", "pipeline chain"),
        ("1..3 | ForEach-Object -Parallel { $_ }", "ForEach-Object -Parallel"),
        ("1..3 | % -Parallel { $_ }", "ForEach-Object -Parallel"),
        ("'{}' | ConvertFrom-Json -AsHashtable", "-AsHashtable"),
        ("'{}' | ConvertFrom-Json -AsHash", "-AsHashtable"),
        ("Get-Error", "Get-Error"),
        ("Invoke-WebRequest -Uri u -SkipHttpErrorCheck", "-SkipHttpErrorCheck"),
        ("function f { process { 1 } clean { 2 } }", "clean block"),
        ("function f { process { 1 } ", "syntax error"),
    ],
)
def test_the_51_check_names_what_51_lacks(script, named):
    problems = powershell_51_problems(script.encode())
    assert problems and named in problems[0], problems


def test_the_51_check_passes_what_51_has():
    script = b"$a = if ($b) { 1 } else { 2 }\n$c = [Text.UTF8Encoding]::new()\n1..3 | ForEach-Object { $_ }\n"
    assert powershell_51_problems(script) == []


def test_every_operation_is_defined_and_documented():
    runtime = r.load_script(r.RUNTIME_FILE)
    table = runtime[runtime.index("$Operations = @{") :]
    names = [line.split("=")[0].strip() for line in table.splitlines()[1:] if "'Invoke-" in line]
    assert len(names) == 21
    docs = (PLUGIN_UTILS.parents[1] / "docs" / "runtime.md").read_text()
    for line in table.splitlines()[1:]:
        if "'Invoke-" in line:
            name, function = (part.strip().strip("'") for part in line.split("="))
            assert f"function {function}(" in runtime, function
            assert f"`{name}`" in docs, f"docs/runtime.md does not document {name}"


def test_declared_version_matches_the_client():
    assert r.declared_version(r.load_script(r.RUNTIME_FILE)) == r.RUNTIME_VERSION


def test_the_token_is_never_read_back_by_the_runtime():
    runtime = r.load_script(r.RUNTIME_FILE)
    assert "$SecretValueNames = @('RegistrationToken')" in runtime
    start = runtime.index("if ($SecretValueNames -contains $Name)")
    secret_branch = runtime[start : runtime.index("elseif", start)]
    assert "$entry.set" in secret_branch and "$entry.length" in secret_branch and "$entry.data" not in secret_branch


def test_no_value_of_the_request_is_bound_to_a_cmdlet_or_put_on_a_command_line():
    """Module logging records cmdlet parameter bindings; msiexec.exe's command line is visible to any process."""
    bootstrap = r.load_script(r.BOOTSTRAP_FILE)
    runtime = r.load_script(r.RUNTIME_FILE)
    assert "ConvertFrom-Json" not in bootstrap and "JavaScriptSerializer" in bootstrap
    for cmdlet in ("New-ItemProperty", "Set-ItemProperty", "Start-Process", "msiexec.exe", "ConvertFrom-Json"):
        assert cmdlet not in runtime, cmdlet
    assert "[Microsoft.Win32.Registry]::SetValue(" in runtime and "MsiInstallProduct(" in runtime
    assert "MsiHiddenProperties" in runtime and "$SecretProperties = @('REGISTRATIONTOKEN')" in runtime


# ansible-core before 2.19 (2.16, 2.18: make test-matrix) wraps a command line once more (winrm) and hands psrp its
# stdin as one string; from 2.19 on the line goes unchanged and stdin as lines.
CORE_2_19 = tuple(int(part) for part in ansible_core_version.split(".")[:2]) >= (2, 19)
OPS = [r.Operation("a", "qwinsta"), r.Operation("b", "disk", {"drive": "C:"})]


def test_stdin_is_one_ascii_json_line():
    stdin = r.build_stdin(OPS, "param($Request)\n'ünïcode'")
    assert stdin.endswith(b"\n") and stdin.count(b"\n") == 1
    payload = json.loads(stdin)
    assert payload["runtime"].endswith("'ünïcode'")
    assert payload["request"] == {
        "version": r.RUNTIME_VERSION,
        "operations": [{"id": "a", "op": "qwinsta"}, {"id": "b", "op": "disk", "drive": "C:"}],
    }
    with pytest.raises(ValueError, match="unique"):
        r.build_stdin([OPS[0], OPS[0]], "x")


def answer(results, version=r.RUNTIME_VERSION, **extra):
    return json.dumps({"version": version, "results": results, **extra})


def test_parse_output_per_operation_results():
    out = answer(
        [
            {"id": "a", "op": "qwinsta", "ok": True, "result": {"text": "x"}},
            {"id": "b", "op": "disk", "ok": False, "error": "Cannot find drive."},
        ]
    )
    results = r.parse_output(0, "#< CLIXML noise\r\n" + out + "\r\n", "", OPS)
    assert results["a"].ok and results["a"].result == {"text": "x"}
    assert not results["b"].ok and results["b"].error == "Cannot find drive."


@pytest.mark.parametrize(
    ("rc", "stdout", "stderr", "message"),
    [
        (
            1,
            "",
            "avdlab: this simulated session host only runs the avdops.sessionhost runtime",
            "did not run on the host (exit code 1): avdlab: this simulated",
        ),
        (1, "", "", "no output"),
        (0, "not json at all", "", "did not run on the host"),
        (0, answer([], version="0.9"), "", "runtime '0.9' but the controller speaks"),
        (1, answer([], error="The controller sent a request for runtime 2"), "", "runtime failed: The controller sent"),
        (0, answer([{"id": "a", "op": "qwinsta", "ok": True}]), "", "no result for: b"),
        (
            1,
            json.dumps({"version": None, "error": "PowerShell runs in ConstrainedLanguage mode here", "results": []}),
            "",
            "runtime failed: PowerShell runs in ConstrainedLanguage mode here",
        ),
    ],
)
def test_parse_output_errors_say_what_happened(rc, stdout, stderr, message):
    with pytest.raises(r.RuntimeCallError, match=message.replace("(", r"\(").replace(")", r"\)")):
        r.parse_output(rc, stdout, stderr, OPS)


class FakeRunner:
    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def _low_level_execute_command(self, cmd, **kwargs):
        self.calls.append((cmd, kwargs))
        return self.answer


def test_execute_sends_the_bootstrap_and_the_runtime_on_stdin_once():
    runner = FakeRunner(
        {
            "rc": 0,
            "stdout": answer(
                [
                    {"id": "a", "op": "qwinsta", "ok": True, "result": {}},
                    {"id": "b", "op": "disk", "ok": True, "result": {}},
                ]
            ),
            "stderr": "",
        }
    )
    r.execute(runner, OPS)
    ((cmd, kwargs),) = runner.calls
    prefix, encoded = cmd.rsplit(" ", 1)
    assert prefix == "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand"
    assert base64.b64decode(encoded).decode("utf-16-le") == r.load_script(r.BOOTSTRAP_FILE)
    assert json.loads(kwargs["in_data"])["runtime"] == r.load_script(r.RUNTIME_FILE)


def test_the_command_line_is_what_both_ansible_connection_plugins_take_as_encoded():
    """winrm sends a line with its shell's common args + -EncodedCommand unchanged (split on spaces);
    psrp decodes the last space-separated word and runs it in its runspace."""
    from ansible.plugins.shell.powershell import _common_args

    line = r.command_line("Write-Output 'ä'")
    assert line.startswith(" ".join(_common_args) + " -EncodedCommand ")
    assert base64.b64decode(line.rsplit(" ", maxsplit=1)[-1]).decode("utf-16-le") == "Write-Output 'ä'"
    assert len(line.split(" ")) == len(_common_args) + 2


def test_the_bootstrap_line_stays_far_below_the_windows_command_line_limit():
    assert len(r.command_line(r.load_script(r.BOOTSTRAP_FILE))) < 8191


def _connection(name, **attributes):
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader, shell_loader

    connection = connection_loader.get(name, PlayContext())
    connection._shell = shell_loader.get("powershell")
    connection._connected = True
    for key, value in attributes.items():
        setattr(connection, key, value)
    return connection


def test_ansible_s_psrp_plugin_runs_the_decoded_bootstrap_with_stdin_as_input_lines():
    """ansible-core's psrp plugin: the bootstrap text itself runs in the runspace, the stdin line is its $input."""
    calls = []
    psrp = _connection("psrp", _psrp_host="sh-01")
    psrp._exec_psrp_script = lambda script, input_data=None, **_: calls.append((script, input_data)) or (0, b"", b"")
    stdin = r.build_stdin(OPS, "param($Request)")
    psrp.exec_command(r.command_line(r.load_script(r.BOOTSTRAP_FILE)), in_data=stdin)
    ((script, input_data),) = calls
    assert script == r.load_script(r.BOOTSTRAP_FILE)
    assert input_data == ([stdin.decode().rstrip("\n")] if CORE_2_19 else stdin.decode())


def test_ansible_s_winrm_plugin_sends_the_line_unchanged_with_stdin():
    calls = []
    winrm = _connection("winrm", _winrm_host="sh-01")
    winrm._winrm_exec = lambda command, args=(), stdin_iterator=None, **_: (
        calls.append((command, list(args), list(stdin_iterator or []))) or (0, b"", b"")
    )
    stdin = r.build_stdin(OPS, "param($Request)")
    line = r.command_line(r.load_script(r.BOOTSTRAP_FILE))
    winrm.exec_command(line, in_data=stdin)
    ((command, args, chunks),) = calls
    if CORE_2_19:
        assert " ".join([command, *args]) == line
    else:  # the line is the one-line script of another PowerShell, which starts it with the same stdin
        assert [command, *args[:-1]] == line.split(" ")[:-1]
        assert base64.b64decode(args[-1]).decode("utf-16-le") == line
    assert b"".join(chunk for chunk, _last in chunks) == stdin
