"""Command lines as WinRS receives them from each client generation."""

from __future__ import annotations

import base64

import pytest

from avdlab.commandline import CommandLineError, parse_invocation, split_windows


def enc(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


def test_ansible_219_form():
    inv = parse_invocation(
        "PowerShell", f"-NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand {enc('hostname')}"
    )
    assert inv.is_powershell and inv.script == "hostname"


def test_ansible_221_form_whole_line_lowercase():
    inv = parse_invocation(f"powershell -NoProfile -NonInteractive -InputFormat None -EncodedCommand {enc('whoami')}")
    assert inv.program == "powershell" and inv.script == "whoami"


COMMON = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted"


def test_ansible_before_219_form_the_line_as_the_script_of_another_powershell():
    """ansible-core 2.16/2.18's winrm exec_command encodes even a PowerShell command line once more."""
    inner = f"{COMMON} -EncodedCommand {enc('hostname')}"
    outer = f"{COMMON} -EncodedCommand {enc(inner)}"
    inv = parse_invocation("PowerShell", outer.removeprefix("PowerShell "))
    assert inv.is_powershell and inv.script == "hostname"
    assert inv.command_line == inner and inv.launched_by == outer


def test_only_a_script_that_is_one_powershell_call_is_what_it_starts():
    inner = f"{COMMON} -EncodedCommand {enc('hostname')}"
    for script in (f"{inner}\nwhoami", "hostname", f"cmd /c {inner}", f"{COMMON} -Command -"):
        inv = parse_invocation(f"{COMMON} -EncodedCommand {enc(script)}")
        assert inv.script == script and inv.launched_by is None, script
    once_more = f"{COMMON} -EncodedCommand {enc(f'{COMMON} -EncodedCommand {enc(inner)}')}"
    assert parse_invocation(once_more).launched_by is None  # one level, as Ansible sends it


@pytest.mark.parametrize("flag", ["-e", "-ec", "-enc", "-EncodedCommand", "-ENCODEDCOMMAND", "-encodedc"])
def test_encoded_command_prefixes(flag):
    assert parse_invocation(f"powershell.exe {flag} {enc('Write-Output ä')}").script == "Write-Output ä"


def test_execution_policy_value_is_not_taken_for_a_script():
    inv = parse_invocation("powershell -ExecutionPolicy -EncodedCommand")
    assert inv.script is None


def test_command_from_stdin_and_inline():
    assert parse_invocation("PowerShell", "-NoProfile -Command -").script_from_stdin
    assert parse_invocation("powershell -Command Get-Date -Format o").script == "Get-Date -Format o"


def test_full_path_and_cmd_programs():
    assert (
        parse_invocation(r'"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -enc ' + enc("x")).script == "x"
    )
    inv = parse_invocation(r"C:\Windows\System32\shutdown.exe", "/r /t 2")
    assert (inv.program, inv.arguments) == ("shutdown.exe", ("/r", "/t", "2"))


def test_bad_base64_is_an_error():
    with pytest.raises(CommandLineError, match="EncodedCommand"):
        parse_invocation("powershell -EncodedCommand %%%")
    with pytest.raises(CommandLineError, match="no value"):
        parse_invocation("powershell -EncodedCommand")
    with pytest.raises(CommandLineError, match="empty"):
        parse_invocation("  ")


@pytest.mark.parametrize(
    ("line", "argv"),
    [
        ('a "b c" d', ["a", "b c", "d"]),
        (r'a\\"b c" d', [r"a\b c", "d"]),
        (r"C:\dir\file.exe x", [r"C:\dir\file.exe", "x"]),
        (r"say \"hi\"", ["say", '"hi"']),
        ('""', [""]),
        ("  spaced   out  ", ["spaced", "out"]),
    ],
)
def test_split_windows(line, argv):
    assert split_windows(line) == argv
