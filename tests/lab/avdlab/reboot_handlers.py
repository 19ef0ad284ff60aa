"""The commands ansible.windows.win_reboot sends (plugin_utils/_reboot.py), and nothing more.

win_reboot wraps each command as ``<command>; If (-not $?) { ... exit ... }``
and sends it encoded. The lab recognises its three commands: the boot time
query, the shutdown script, ``shutdown.exe /a``, and its default test command.
"""

from __future__ import annotations

import json
import re

from .commandline import Invocation
from .handlers import CommandContext
from .shells import CommandResult

_RC_SUFFIX = re.compile(
    r";\s*If \(-not \$\?\) \{ If \(Get-Variable LASTEXITCODE -ErrorAction SilentlyContinue\) "
    r"\{ exit \$LASTEXITCODE \} Else \{ exit 1 \} \}\s*$"
)
BOOT_TIME_COMMAND = (
    "(Get-CimInstance -ClassName Win32_OperatingSystem -Property LastBootUpTime).LastBootUpTime.ToFileTime()"
)
_SHUTDOWN = re.compile(
    r"^\$ErrorActionPreference = 'Continue'\s+if \(\$(?P<remove>True|False)\) \{\s+"
    r"Remove-Item -LiteralPath '(?P<key>[^']+)' -Force -ErrorAction SilentlyContinue\s+\}\s+"
    r"\$stdout = \$null\s+"
    r"\$stderr = \. \{ C:\\Windows\\System32\\shutdown\.exe /r /t (?P<delay>\d+) /c (?P<msg>.+?) "
    r"\| Set-Variable stdout \} 2>&1 \| ForEach-Object ToString\s+"
    r"ConvertTo-Json -Compress -InputObject @\{\s+stdout = \(@\(\$stdout\) -join \"`n\"\)\s+"
    r"stderr = \(@\(\$stderr\) -join \"`n\"\)\s+rc = \$LASTEXITCODE\s+\}\s*$",
    re.S,
)
_ABORT = re.compile(r"^C:\\Windows\\System32\\shutdown\.exe /a$", re.I)
_TEST = re.compile(r"^Get-Item -LiteralPath '(?P<key>[^']+)' -ErrorAction Stop; '(?P<marker>success-[0-9a-f-]{36})'$")
FILETIME_EPOCH_OFFSET = 11644473600


def win_reboot_script(invocation: Invocation) -> str | None:
    """The command inside win_reboot's wrapper, or None when it is not one."""
    if not invocation.is_powershell or invocation.script is None:
        return None
    script = invocation.script.replace("\r\n", "\n")
    stripped = _RC_SUFFIX.sub("", script)
    return stripped.strip() if stripped != script else None


def filetime(epoch_seconds: float) -> int:
    return int((epoch_seconds + FILETIME_EPOCH_OFFSET) * 10_000_000)


class WinRebootCommands:
    name = "win_reboot"

    def accepts(self, invocation: Invocation) -> bool:
        script = win_reboot_script(invocation)
        return script is not None and (
            script == BOOT_TIME_COMMAND
            or bool(_SHUTDOWN.match(script))
            or bool(_ABORT.match(script))
            or bool(_TEST.match(script))
        )

    def reads_stdin(self, invocation: Invocation) -> bool:
        return False

    def run(self, context: CommandContext) -> CommandResult:
        host = context.host
        state = host.state
        script = win_reboot_script(context.invocation) or ""
        if script == BOOT_TIME_COMMAND:
            return CommandResult(f"{filetime(state.boot_time)}\r\n".encode(), b"", 0)
        if match := _ABORT.match(script):
            if host.power is not None and host.power.abort_restart():
                return CommandResult(b"", b"", 0)
            message = "Unable to abort the system shutdown because no shutdown was in progress.(1116)"
            return CommandResult(b"", message.encode() + b"\r\n", 1116)
        if match := _TEST.match(script):
            if state.registry.key_exists(match["key"]):
                name = match["key"].rsplit("\\", 1)[-1]
                listing = f"\r\n    Hive: {match['key'].rsplit(chr(92), 1)[0]}\r\n\r\nName\r\n----\r\n{name}\r\n"
                return CommandResult(f"{listing}{match['marker']}\r\n".encode(), b"", 0)
            error = (
                f"Get-Item : Cannot find path '{match['key']}' because it does not exist.\r\n"
                "    + CategoryInfo          : ObjectNotFound\r\n"
            )
            return CommandResult(b"", error.encode(), 1)
        match = _SHUTDOWN.match(script)
        assert match is not None
        if match["remove"] == "True" and state.registry.key_exists(match["key"]):
            state.registry.delete_key(match["key"])
        if state.shutdown_at is not None:
            body = {"stdout": "", "stderr": "A system shutdown has already been scheduled.(1190)", "rc": 1190}
        else:
            assert host.power is not None
            host.power.schedule_restart(float(match["delay"]))
            body = {"stdout": "", "stderr": "", "rc": 0}
        if host.model is not None:
            host.model.save(state)
        return CommandResult(json.dumps(body, separators=(",", ":")).encode() + b"\r\n", b"", 0)
