"""The runtime's PowerShell (parsed by a real grammar) and the controller's client around it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell

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


def test_every_operation_is_defined_and_documented():
    runtime = r.load_script(r.RUNTIME_FILE)
    table = runtime[runtime.index("$Operations = @{") :]
    names = [line.split("=")[0].strip() for line in table.splitlines()[1:] if "'Invoke-" in line]
    assert len(names) == 15
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
    assert cmd == r.load_script(r.BOOTSTRAP_FILE)
    assert json.loads(kwargs["in_data"])["runtime"] == r.load_script(r.RUNTIME_FILE)
