"""What a WinRM Command asks Windows to run, sans-IO.

WinRS joins ``rsp:Command`` and ``rsp:Arguments`` into one command line.
Ansible 2.19/2.20 send ``PowerShell`` plus arguments; 2.21 and pywinrm's
``run_ps`` send the whole line in ``rsp:Command`` (lower-case
``powershell``). PowerShell accepts any unambiguous prefix of a parameter
name, case-insensitively; ``-EncodedCommand`` is base64 of UTF-16-LE.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, replace

POWERSHELL_NAMES = {"powershell", "powershell.exe", "pwsh", "pwsh.exe"}
# Parameters of powershell.exe that take a value (so their value is skipped).
_VALUE_PARAMETERS = (
    "-executionpolicy",
    "-inputformat",
    "-outputformat",
    "-windowstyle",
    "-configurationname",
    "-file",
    "-psconsolefile",
    "-version",
    "-encodedarguments",
)


class CommandLineError(ValueError):
    """The command line can't be understood (e.g. broken base64)."""


@dataclass(frozen=True)
class Invocation:
    command_line: str
    program: str  # lower-case program name without directory, e.g. "powershell", "hostname"
    arguments: tuple[str, ...]
    script: str | None = None  # the PowerShell script, when one was given inline or encoded
    script_from_stdin: bool = False  # powershell -Command -
    # The outer command line when this PowerShell was started by another one whose whole script was this call
    # (ansible-core before 2.19 wraps every command line so over winrm): see parse_invocation.
    launched_by: str | None = None

    @property
    def is_powershell(self) -> bool:
        return self.program in POWERSHELL_NAMES


def split_windows(command_line: str) -> list[str]:
    """Split a command line the way CommandLineToArgvW does for the common cases."""
    args: list[str] = []
    current: list[str] = []
    in_quotes = False
    started = False
    backslashes = 0
    for char in command_line:
        if char == "\\":
            backslashes += 1
            started = True
            continue
        if char == '"':
            current.append("\\" * (backslashes // 2))
            if backslashes % 2:
                current.append('"')
            else:
                in_quotes = not in_quotes
            backslashes = 0
            started = True
            continue
        current.append("\\" * backslashes)
        backslashes = 0
        if char in " \t" and not in_quotes:
            if started:
                args.append("".join(current))
            current = []
            started = False
            continue
        current.append(char)
        started = True
    current.append("\\" * backslashes)
    if started:
        args.append("".join(current))
    return args


def _program_name(path: str) -> str:
    return path.replace("/", "\\").rsplit("\\", 1)[-1].lower()


def _is_prefix_of(arg: str, full: str, minimum: int) -> bool:
    return len(arg) >= minimum and full.startswith(arg)


def decode_encoded_command(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-16-le")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise CommandLineError(f"-EncodedCommand is not base64 of UTF-16-LE text: {exc}") from exc


def parse_invocation(command: str, arguments: str = "") -> Invocation:
    line = f"{command} {arguments}".strip()
    argv = split_windows(line)
    if not argv:
        raise CommandLineError("empty command line")
    program = _program_name(argv[0])
    rest = tuple(argv[1:])
    if program not in POWERSHELL_NAMES:
        return Invocation(command_line=line, program=program, arguments=rest)
    script: str | None = None
    from_stdin = False
    index = 0
    while index < len(rest):
        arg = rest[index].lower()
        if arg == "-ec" or _is_prefix_of(arg, "-encodedcommand", 2):
            if index + 1 >= len(rest):
                raise CommandLineError("-EncodedCommand has no value")
            script = decode_encoded_command(rest[index + 1])
            index += 2
            continue
        if _is_prefix_of(arg, "-command", 2):
            tail = rest[index + 1 :]
            if tail == ("-",):
                from_stdin = True
            else:
                script = " ".join(tail)
            break
        if any(_is_prefix_of(arg, name, 4) for name in _VALUE_PARAMETERS):
            index += 2
            continue
        index += 1
    invocation = Invocation(
        command_line=line, program=program, arguments=rest, script=script, script_from_stdin=from_stdin
    )
    return _launched(invocation) or invocation


def _launched(outer: Invocation) -> Invocation | None:
    """The PowerShell an outer PowerShell starts when its whole script is one ``powershell`` call that carries a
    script (``-EncodedCommand``, ``-Command``), else None.

    ansible-core's winrm plugin before 2.19 encodes every command line as the script of another PowerShell
    (``exec_command``: ``_encode_script(cmd, strict_mode=False, preserve_rc=False)``), its own ``PowerShell
    -NoProfile ... -EncodedCommand ...`` lines included. Windows runs that script's one native command with the
    outer process's stdin (no pipeline input) and output; the outer exit code is 0 when the command succeeded and
    1 when it did not (about_PowerShell_exe, -Command), which is the inner one's for every answer of the lab (0 or
    1), so the inner command's result is the command's.
    """
    if outer.script is None or not outer.is_powershell or "\n" in outer.script.strip():
        return None
    try:
        inner = parse_invocation(outer.script.strip())
    except CommandLineError:
        return None
    if not inner.is_powershell or inner.script is None or inner.launched_by is not None:
        return None
    return replace(inner, launched_by=outer.command_line)


# Ansible's psrp connection runs a command that is not its own -EncodedCommand line as this script.
PSRP_RAW_SUFFIX = "\nexit $LASTEXITCODE"


def script_invocation(script: str) -> Invocation:
    """A script run in a PowerShell runspace (PSRP) as the handlers see a command line.

    Ansible's psrp plugin decodes its ``-EncodedCommand`` lines and runs the script; any
    other command ``C`` it runs as the script ``C`` + ``PSRP_RAW_SUFFIX``, i.e. the one-line
    script ``C`` whose exit code becomes the pipeline's.
    """
    command = script.replace("\r\n", "\n").removesuffix(PSRP_RAW_SUFFIX)
    if command != script.replace("\r\n", "\n") and "\n" not in command:
        return Invocation(command_line=script, program="powershell", arguments=(), script=command)
    return Invocation(command_line=script, program="powershell", arguments=(), script=script)
