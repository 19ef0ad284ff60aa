"""The controller's side of the runtime: build one request, run it over the task's connection, read the answer.

Every call is one command on the host's connection: the fixed bootstrap
(avd_bootstrap.ps1) as a ready ``PowerShell ... -EncodedCommand`` line and, on
stdin, the runtime (avd_runtime.ps1) plus a JSON list of operations. Ansible's
winrm plugin sends such a line as it is, and its psrp plugin decodes it and runs
the script in its runspace with stdin as pipeline input: the same line works over
both. Whatever goes wrong comes back as a :class:`RuntimeCallError` whose
message says what happened on which side; a connection failure is left to
Ansible, which reports the host unreachable.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

RUNTIME_VERSION = "1.6.0"
BOOTSTRAP_FILE = "avd_bootstrap.ps1"
RUNTIME_FILE = "avd_runtime.ps1"
# ansible-core's PowerShell shell plugin's common arguments (plugins/shell/powershell.py ``_common_args``):
# both connection plugins recognise a line that starts with them followed by -EncodedCommand.
POWERSHELL_COMMAND_PREFIX = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand"


class RuntimeCallError(Exception):
    """The runtime call as a whole failed (not one operation)."""


@dataclass(frozen=True)
class Operation:
    id: str
    op: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def to_request(self) -> dict[str, Any]:
        return {"id": self.id, "op": self.op, **self.args}


@dataclass(frozen=True)
class OperationResult:
    id: str
    op: str
    ok: bool
    result: Any = None
    error: str | None = None


class CommandRunner(Protocol):
    """What an action plugin offers: ActionBase._low_level_execute_command."""

    def _low_level_execute_command(self, cmd: str, **kwargs: Any) -> dict[str, Any]: ...


@functools.cache
def load_script(name: str) -> str:
    """The PowerShell files ship beside this module, in the collection's plugin_utils."""
    return (Path(__file__).parent / name).read_text(encoding="utf-8-sig")


def declared_version(runtime_text: str) -> str | None:
    match = re.search(r"^\$RuntimeVersion = '([^']+)'", runtime_text, re.M)
    return match.group(1) if match else None


def command_line(script: str) -> str:
    """The ready command line that runs ``script``: base64 of its UTF-16-LE text after -EncodedCommand."""
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    return f"{POWERSHELL_COMMAND_PREFIX} {encoded}"


def build_stdin(operations: Iterable[Operation], runtime_text: str) -> bytes:
    ops = list(operations)
    ids = [op.id for op in ops]
    if len(set(ids)) != len(ids):
        raise ValueError(f"operation ids must be unique: {ids}")
    payload = {
        "runtime": runtime_text,
        "request": {"version": RUNTIME_VERSION, "operations": [op.to_request() for op in ops]},
    }
    # ASCII-only JSON on one line. The bootstrap reads it as $input: over winrm the lines of the process's
    # stdin, decoded in the console's input code page; over psrp the plugin's stdin split into lines and sent
    # as pipeline input. One ASCII line reads the same in every code page and over both.
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


def _json_line(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        candidate = line.strip()
        if candidate.startswith("{"):
            try:
                parsed = json.loads(candidate)
            except ValueError:
                continue
            if isinstance(parsed, dict) and "version" in parsed:
                return parsed
    return None


def _excerpt(text: str, limit: int = 400) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def parse_output(rc: int, stdout: str, stderr: str, operations: Iterable[Operation]) -> dict[str, OperationResult]:
    """Turn what the host printed into one result per operation, or raise RuntimeCallError."""
    return read_results(answer_document(rc, stdout, stderr), operations)


def answer_document(rc: int, stdout: str, stderr: str) -> dict[str, Any]:
    """The runtime's answer (the JSON document it printed), or RuntimeCallError when it did not run."""
    document = _json_line(stdout)
    if document is None:
        detail = _excerpt(stderr) or _excerpt(stdout) or "no output"
        raise RuntimeCallError(f"the avdops runtime did not run on the host (exit code {rc}): {detail}")
    return document


def read_results(document: Mapping[str, Any], operations: Iterable[Operation]) -> dict[str, OperationResult]:
    """One result per operation from an answer document, live or saved; RuntimeCallError when it can't be."""
    if document.get("error"):
        # A refusal as a whole (another request version, Constrained Language Mode) explains itself.
        raise RuntimeCallError(f"the avdops runtime failed: {document['error']}")
    if document.get("version") != RUNTIME_VERSION:
        raise RuntimeCallError(
            f"the host ran runtime {document.get('version')!r} but the controller speaks {RUNTIME_VERSION!r}"
        )
    results: dict[str, OperationResult] = {}
    for entry in document.get("results") or []:
        results[str(entry.get("id"))] = OperationResult(
            id=str(entry.get("id")),
            op=str(entry.get("op")),
            ok=bool(entry.get("ok")),
            result=entry.get("result"),
            error=entry.get("error"),
        )
    missing = [op.id for op in operations if op.id not in results]
    if missing:
        raise RuntimeCallError(f"the avdops runtime returned no result for: {', '.join(missing)}")
    return results


def connection_lost(operations: list[Operation], error: BaseException) -> str:
    """What a command whose connection dropped mid-way means, in words: Ansible ends the command on the host when
    its connection fails (winrm: Signal terminate), so what the runtime had not done yet is not done."""
    return (
        f"the connection to the host dropped while the avdops runtime ran ({error}); Ansible ended the command "
        "there, so what it had not done yet was not done and what it did stays done "
        f"(operations sent: {', '.join(op.id for op in operations)}). Check the host's network and WinRM, then run "
        "again: the next run reads the state the host is in (services a disk cleanup stopped are started again)"
    )


def call(runner: CommandRunner, operations: list[Operation]) -> dict[str, Any]:
    """Run all operations in one command on the task's host; the runtime's answer document as it printed it."""
    stdin = build_stdin(operations, load_script(RUNTIME_FILE))
    try:
        answer = runner._low_level_execute_command(command_line(load_script(BOOTSTRAP_FILE)), in_data=stdin)
    except OSError as exc:  # the connection plugins' HTTP errors (requests') are OSErrors
        raise RuntimeCallError(connection_lost(operations, exc)) from exc
    return answer_document(int(answer.get("rc") or 0), str(answer.get("stdout") or ""), str(answer.get("stderr") or ""))


def execute(runner: CommandRunner, operations: list[Operation]) -> dict[str, OperationResult]:
    """Run all operations in one command on the task's host."""
    return read_results(call(runner, operations), operations)
