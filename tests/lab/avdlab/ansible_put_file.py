"""ansible-core's psrp ``put_file``, recognised exactly and performed on the host model.

Ansible's psrp connection copies a file by running ``bootstrap_wrapper.ps1``
as the pipeline's script, with this input (ansible-core 2.19,
``module_manifest._bootstrap_powershell_script('psrp_put_file.ps1', {'Path': ...},
has_input=True)`` and ``Connection.put_file``)::

    {"name": "exec_wrapper", "script": "<exec_wrapper.ps1>", "params": {...}}
    "\\0\\0\\0\\0"
    {"scripts": {"psrp_put_file.ps1": {"path": ..., "script": "<base64 of psrp_put_file.ps1>"}},
     "actions": [{"name": "psrp_put_file.ps1", "params": {"Path": "<remote path>"}, ...}], ...}
    "\\0\\0\\0\\0"
    <base64 of the file, one chunk per input object; one empty string for an empty file>

and reads back ``{"sha1":"<hex>"}``, the SHA-1 of what was written. The lab
knows the three scripts by their SHA-256 (ansible-core 2.19.14, pinned in
requirements-dev.txt; a lab test compares them with the installed copy), so a
changed script is refused like any other PowerShell. Every other use of the
exec wrapper (modules, ``fetch_file``) is refused with the names of its actions.

Ansible's winrm connection copies a file the same way with ``winrm_put_file.ps1``
(``Connection.put_file`` and ``_put_file_stdin_iterator``): the bootstrap wrapper
goes on the command line as ``PowerShell <common args> -EncodedCommand <base64 of
UTF-16-LE>`` after ``PowerShellShell._encode_script(strict_mode=False,
preserve_rc=False)`` stripped every line and dropped the empty ones; stdin is
the same exec wrapper input ending ``"\\n\\0\\0\\0\\0\\n"``, then the file's bytes
as base64 in chunks of 250,000 bytes, each followed by ``"\\r\\n"`` (nothing for an
empty file). The lab knows that wrapper text and ``winrm_put_file.ps1`` by their
SHA-256 too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from typing import Any

from .commandline import Invocation
from .handlers import UNSUPPORTED_MESSAGE, CommandContext
from .shells import CommandResult
from .windows import operations as ops

ANSIBLE_CORE_VERSION = "2.19.14"
SCRIPT_SHA256 = {
    "bootstrap_wrapper.ps1": "d75c433e594b91245f61e4aa700018bb60e49a528c48c0e9c1c454d95c1f114b",
    "exec_wrapper.ps1": "03f8625c1950b5c7196c76665c4cee63183d26a2af122890b31f5b1ec86f2fe8",
    "psrp_put_file.ps1": "f1d2118cb36b8e2eff9a36c6f3eee5cd5ed652e8e83cbeb0f660dce95c9a880d",
    "winrm_put_file.ps1": "e2ab1cf8696a0b76741377d0497915ea8312573c6c4b5dd9c135ebc7b92b9605",
}
# bootstrap_wrapper.ps1 as the winrm plugin encodes it (each line stripped, empty lines dropped, joined by "\n").
WINRM_BOOTSTRAP_SHA256 = "2f39890f5fe6d1cc41d9ac0ea6fa105252b956792fd7827fdffbfdb0d64629ad"
WINRM_COMMAND_PREFIX = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand"
PUT_FILE = "psrp_put_file.ps1"
WINRM_PUT_FILE = "winrm_put_file.ps1"
SEPARATOR = "\0\0\0\0"


class NotPutFile(ValueError):
    """The exec wrapper's input is not exactly ansible-core's psrp put_file."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_bootstrap_wrapper(script: str) -> bool:
    return _sha256(script.encode("utf-8")) == SCRIPT_SHA256["bootstrap_wrapper.ps1"]


def is_winrm_bootstrap_wrapper(script: str) -> bool:
    return _sha256(script.encode("utf-8")) == WINRM_BOOTSTRAP_SHA256


def put_file_request(input_text: str, put_file: str = PUT_FILE) -> tuple[str, list[str]]:
    """The remote path and the base64 chunks of a put_file input, or :class:`NotPutFile` saying what differs.

    ``put_file`` names the script the connection runs: ``psrp_put_file.ps1`` or ``winrm_put_file.ps1``.
    """
    lines = input_text.split("\n")
    if SEPARATOR not in lines:
        raise NotPutFile("the exec wrapper's input has no manifest")
    first = lines.index(SEPARATOR)
    second = lines.index(SEPARATOR, first + 1) if SEPARATOR in lines[first + 1 :] else len(lines)
    try:
        wrapper: dict[str, Any] = json.loads("\n".join(lines[:first]))
        manifest: dict[str, Any] = json.loads("\n".join(lines[first + 1 : second]))
    except ValueError as exc:
        raise NotPutFile(f"the exec wrapper's input is not JSON: {exc}") from exc
    if (
        wrapper.get("name") != "exec_wrapper"
        or _sha256(str(wrapper.get("script", "")).encode()) != SCRIPT_SHA256["exec_wrapper.ps1"]
    ):
        raise NotPutFile(f"the exec wrapper is not ansible-core {ANSIBLE_CORE_VERSION}'s exec_wrapper.ps1")
    actions = [str(action.get("name")) for action in manifest.get("actions") or []]
    if actions != [put_file]:
        raise NotPutFile(f"ansible exec wrapper actions {', '.join(actions) or 'none'} (only {put_file} is run)")
    try:
        script = base64.b64decode(manifest["scripts"][put_file]["script"], validate=True)
    except (KeyError, TypeError, binascii.Error) as exc:
        raise NotPutFile(f"the manifest does not carry {put_file}") from exc
    if _sha256(script) != SCRIPT_SHA256[put_file]:
        raise NotPutFile(f"{put_file} is not ansible-core {ANSIBLE_CORE_VERSION}'s")
    path = (manifest["actions"][0].get("params") or {}).get("Path")
    if not isinstance(path, str) or not path:
        raise NotPutFile(f"{put_file} has no Path")
    return path, lines[second + 1 :]


class AnsiblePsrpPutFile:
    """The exec wrapper running psrp_put_file.ps1: the file lands in the host's model, its SHA-1 comes back."""

    name = "ansible psrp put_file"

    def accepts(self, invocation: Invocation) -> bool:
        return invocation.is_powershell and invocation.script is not None and is_bootstrap_wrapper(invocation.script)

    def reads_stdin(self, invocation: Invocation) -> bool:
        return True

    def run(self, context: CommandContext) -> CommandResult:
        return write_request(context, lambda: put_file_request(context.stdin.decode("utf-8")))


class AnsibleWinrmPutFile:
    """The winrm plugin's put_file: the encoded bootstrap wrapper running winrm_put_file.ps1 on stdin's chunks."""

    name = "ansible winrm put_file"

    def accepts(self, invocation: Invocation) -> bool:
        return (
            invocation.is_powershell and invocation.script is not None and is_winrm_bootstrap_wrapper(invocation.script)
        )

    def reads_stdin(self, invocation: Invocation) -> bool:
        return True

    def run(self, context: CommandContext) -> CommandResult:
        script = context.invocation.script or ""
        expected = f"{WINRM_COMMAND_PREFIX} {base64.b64encode(script.encode('utf-16-le')).decode()}"
        if context.invocation.command_line != expected:
            what = f"a put_file command line other than ansible-core {ANSIBLE_CORE_VERSION}'s winrm plugin sends"
            return CommandResult(b"", UNSUPPORTED_MESSAGE.format(what=what).encode() + b"\r\n", 1, refused=True)

        def request() -> tuple[str, list[str]]:
            # PowerShell reads stdin as lines ($input); "\r\n" and "\n" both end one.
            lines = context.stdin.decode("utf-8").split("\n")
            return put_file_request("\n".join(line.removesuffix("\r") for line in lines), WINRM_PUT_FILE)

        return write_request(context, request)


def write_request(context: CommandContext, request: Callable[[], tuple[str, list[str]]]) -> CommandResult:
    """Write what a put_file input carries into the host's model; answer ``{"sha1": ...}`` as both scripts do."""
    try:
        path, chunks = request()
        data = b"".join(base64.b64decode(chunk, validate=True) for chunk in chunks if chunk)
    except (NotPutFile, UnicodeDecodeError, binascii.Error) as exc:
        message = UNSUPPORTED_MESSAGE.format(what=str(exc))
        return CommandResult(b"", message.encode() + b"\r\n", 1, refused=True)
    host = context.host
    try:
        ops.write_file(host.state, path, data)
    except ops.OperationError as exc:
        error = f'Exception calling "Create" with "1" argument(s): "{exc}"'
        return CommandResult(b"", error.encode() + b"\r\n", 1)
    if host.model is not None:
        host.model.save(host.state)
    answer = json.dumps({"sha1": hashlib.sha1(data, usedforsecurity=False).hexdigest()}, separators=(",", ":"))
    return CommandResult(answer.encode() + b"\r\n", b"", 0)
