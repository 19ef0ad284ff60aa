"""The remediation modules' common run (``_change.ChangeAction``) against a lab host, in-process.

The real action plugins (``agent_registration``, ``boot_loader``) run with Ansible's own
``ActionBase``; only the WinRM command is replaced: each runtime operation is answered by
the lab's model of a session host (``chainlab``), so a write really changes the host the
verifying read then sees. What an administrator relies on: check mode sends no write, the
diff is only there when asked for, a host that did not take the fix is a failure, and the
registration key never appears in anything the module returns, whatever the host says.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from ansible.errors import AnsibleActionFail
from chainlab import HOST, OPTIONS, _answer, lab

from ansible_collections.avdops.sessionhost.plugins.action import agent_registration, boot_loader
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _change
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _facts as facts
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _runtime as rt
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._change import scrub
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import SECRET, Change, Plan
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._replay import capture
from avdlab.windows import known as lab_known


class Host:
    """One fresh lab host answering the runtime's operations; every command sent is kept."""

    def __init__(self, *faults: str) -> None:
        self.model, self.state = lab(*faults, hours_ago=1, fresh=True)
        self.commands: list[list[rt.Operation]] = []
        self.say: dict[str, str] = {}  # operation id -> an error the host answers instead (e.g. with the key in it)

    def execute(self, runner: Any, operations: list[rt.Operation]) -> dict[str, rt.OperationResult]:
        assert isinstance(runner, _change.ChangeAction)  # over the task's own connection
        self.commands.append(list(operations))
        results = []
        for op in operations:
            entry = _answer(self.model, self.state, op)
            if op.id in self.say:
                entry = {"id": op.id, "op": op.op, "ok": False, "error": self.say[op.id]}
            results.append(entry)
        body = json.dumps({"version": rt.RUNTIME_VERSION, "results": results})
        return rt.parse_output(0, body + "\r\n", "", operations)

    @property
    def writes(self) -> list[str]:
        return [op.id for command in self.commands for op in command if op.id.startswith("apply.")]

    def value(self, name: str) -> Any:
        value = self.state.registry.get(lab_known.RDINFRA_AGENT, name)
        return None if value is None else value.data


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Host]:
    """A fresh lab host with these faults; the module run next talks to it. A sleep moves the clock (the module's
    and the lab host's) forward at once: the registration module's wait for a registration still under way
    (poll_seconds 10, wait_seconds 600 by default) and the lab's own durations (a boot loader that stops after a
    failed registration) play out as on Windows, without the real seconds (a mutant that waits the 600 s is
    decided in an instant, not by a timeout)."""
    ahead = [0.0]
    real_time, real_monotonic = time.time, time.monotonic

    def sleep(seconds: float) -> None:
        ahead[0] += seconds

    monkeypatch.setattr(time, "time", lambda: real_time() + ahead[0])
    monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + ahead[0])
    monkeypatch.setattr(time, "sleep", sleep)

    def make(*faults: str) -> Host:
        made = Host(*faults)
        monkeypatch.setattr(_change, "execute", made.execute)
        return made

    return make


def run(module: Any, args: dict[str, Any], check_mode: bool = False, diff: bool = False) -> dict[str, Any]:
    task = SimpleNamespace(
        args=args, check_mode=check_mode, diff=diff, async_val=0, action=module.__name__.rpartition(".")[2]
    )
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir="C:\\Windows\\Temp\\ansible"))
    action = module.ActionModule(task, connection, None, None, None, None)  # ansible-core < 2.19: shared_loader_obj
    result: dict[str, Any] = action.run(task_vars={})
    return result


def new_key(made: Host) -> str:
    """A registration key the lab's pool accepts."""
    token: str = made.model.pool.set_token(time.time() + 3600)
    return token


# --- registration: the article's re-registration, the key never shown ---------------------------
def test_an_unregistered_host_is_registered_and_the_key_is_shown_nowhere(host: Any) -> None:
    made = host("invalid_registration_token")
    token = new_key(made)
    result = run(agent_registration, {"registration_token": token, "settle_seconds": 0}, diff=True)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert made.writes == ["apply.token", "apply.bootloader"]  # IsRegistered is 0 already
    assert result["verification"]["registered"] is True and made.value("IsRegistered") == 1
    assert result["diff"]["after"][r"HKLM\SOFTWARE\Microsoft\RDInfraAgent\RegistrationToken"] == SECRET
    assert token not in json.dumps(result) and token not in json.dumps(made.commands[0], default=str)
    assert token in json.dumps([op.args for op in made.commands[1]])  # it travels only in the write


def test_check_mode_sends_no_write_and_needs_no_key(host: Any) -> None:
    made = host("invalid_registration_token")
    result = run(agent_registration, {"settle_seconds": 0}, check_mode=True, diff=True)
    assert result["changed"] is True and not result.get("failed")
    assert len(made.commands) == 1 and made.writes == []
    assert made.value("IsRegistered") != 1
    assert [c["target"] for c in result["changes"]][-1] == "service RDAgentBootLoader"
    assert "diff" in result and "verification" not in result


def test_no_diff_unless_asked_and_nothing_to_do_on_a_registered_host(host: Any) -> None:
    made = host()
    result = run(agent_registration, {"registration_token": new_key(made), "settle_seconds": 0}, diff=True)
    assert result["changed"] is False and result["changes"] == [] and "diff" not in result
    assert len(made.commands) == 1 and made.writes == []
    assert result["facts"]["is_registered_before"] == 1
    assert result["notes"] and not result.get("failed")
    made = host("invalid_registration_token")
    result = run(agent_registration, {"registration_token": new_key(made), "settle_seconds": 0})
    assert result["changed"] is True and "diff" not in result


def test_a_host_that_does_not_register_is_a_failure(host: Any) -> None:
    made = host("invalid_registration_token")
    result = run(agent_registration, {"registration_token": "not.a.key.the.pool.issued", "settle_seconds": 0})
    assert result["failed"] is True and result["changed"] is True
    assert result["verification"]["registered"] is False
    assert "did not register" in result["msg"]
    # the boot loader stops after a failed registration (the article): final at once, no wait for it
    assert "the boot loader stopped" in result["msg"] and "waiting" not in result["msg"]
    assert "not.a.key.the.pool.issued" not in json.dumps(result)
    assert made.writes == ["apply.token", "apply.bootloader"]  # IsRegistered is 0 already


def test_a_failed_write_is_a_failure_naming_it_and_the_key_is_scrubbed_from_the_hosts_words(host: Any) -> None:
    made = host("invalid_registration_token")
    token = new_key(made)
    made.say["apply.token"] = f"Access is denied writing RegistrationToken={token}"
    result = run(agent_registration, {"registration_token": token, "settle_seconds": 0})
    assert result["failed"] is True
    assert result["msg"] == f"apply.token failed on the host: Access is denied writing RegistrationToken={SECRET}"
    assert "verification" not in result
    assert token not in json.dumps(result)


def test_a_failed_verifying_read_is_not_a_failed_write(host: Any) -> None:
    made = host("invalid_registration_token")
    made.say["verify.bootloader"] = "the service control manager did not answer"
    result = run(agent_registration, {"registration_token": new_key(made), "settle_seconds": 0})
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "verify.bootloader failed on the host: the service control manager did not answer"


def test_bad_input_is_refused_before_anything_reaches_the_host(host: Any) -> None:
    made = host("invalid_registration_token")
    result = run(agent_registration, {"registration_token": "two words", "settle_seconds": 0})
    assert result == {"changed": False, "failed": True, "msg": result["msg"]}
    assert "spaces" in result["msg"] and "two words" not in result["msg"]
    assert made.commands == []


def test_a_probe_the_host_cannot_answer_is_a_failure_with_its_message(host: Any) -> None:
    made = host("bootloader_stopped")
    made.say["probe.bootloader"] = "Get-Service: the RPC server is unavailable"
    result = run(boot_loader, {"settle_seconds": 0})
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "probe.bootloader failed on the host: Get-Service: the RPC server is unavailable"
    assert made.writes == []


# --- the boot loader: started, then looked at again ---------------------------------------------
def test_a_stopped_boot_loader_is_started_and_verified(host: Any) -> None:
    made = host("bootloader_stopped")
    result = run(boot_loader, {"settle_seconds": 0}, diff=True)
    assert not result.get("failed"), result
    assert made.writes == ["apply.bootloader"]
    assert result["verification"]["running"] is True
    assert result["diff"] == {
        "before": {"service RDAgentBootLoader": "Stopped"},
        "after": {"service RDAgentBootLoader": "Running"},
    }
    again = run(boot_loader, {"settle_seconds": 0})
    assert again["changed"] is False and len(made.commands) == 3


# --- scrub -------------------------------------------------------------------------------------
def test_scrub_reaches_keys_lists_tuples_and_nested_values() -> None:
    secret = "eyJ.planted.sig"
    value = {
        f"key {secret}": [f"a {secret} b", (secret, 3), {"deep": [secret]}],
        "n": 1,
        "none": None,
        "flag": True,
    }
    scrubbed = scrub(value, [secret, "other"])
    assert scrubbed == {
        f"key {SECRET}": [f"a {SECRET} b", [SECRET, 3], {"deep": [SECRET]}],
        "n": 1,
        "none": None,
        "flag": True,
    }
    assert scrub(f"{secret}{secret}", [secret]) == SECRET + SECRET
    assert scrub("x", []) == "x"


# --- the base class's contract, with a module of its own ---------------------------------------
class Recording(_change.ChangeAction):
    """A module that writes two values and records what the base class hands its steps."""

    OPTIONS: ClassVar[dict[str, Any]] = {"name": {"type": "str", "required": True}}
    seen: ClassVar[list[tuple[str, Any]]] = []

    def probe(self, args: dict[str, Any]) -> list[rt.Operation]:
        self.seen.append(("probe", args))
        return [rt.Operation("probe.agent", "registry_read", {"path": lab_known.RDINFRA_AGENT})]

    def plan(self, results: Any, args: dict[str, Any], check_mode: bool) -> Plan:
        self.seen.append(("plan", (sorted(results), args, check_mode)))
        path = lab_known.RDINFRA_AGENT
        return Plan(
            changes=[
                Change(rt.Operation(f"apply.{n}", "registry_write", {"path": path, "name": n}), n, None, 1)
                for n in ("first", "second")
            ]
        )

    def verify(self, results: Any, args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        self.seen.append(("verify", args))
        return {}, None


def test_every_step_gets_the_validated_options_and_every_failed_write_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[list[str]] = []

    def execute(runner: Any, operations: list[rt.Operation]) -> dict[str, rt.OperationResult]:
        assert isinstance(runner, Recording)  # over the task's own connection
        sent.append([op.id for op in operations])
        return {
            op.id: rt.OperationResult(op.id, op.op, ok=op.id == "probe.agent", result={}, error="denied")
            for op in operations
        }

    monkeypatch.setattr(_change, "execute", execute)
    Recording.seen.clear()
    task = SimpleNamespace(args={"name": "x"}, check_mode=False, diff=False, async_val=0, action="recording")
    action = Recording(task, SimpleNamespace(_shell=SimpleNamespace(tmpdir="t")), None, None, None, None)
    result = action.run(task_vars={})
    assert sent == [["probe.agent"], ["apply.first", "apply.second"]]
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"] == "apply.first failed on the host: denied; apply.second failed on the host: denied"
    assert Recording.seen == [("probe", {"name": "x"}), ("plan", (["probe.agent"], {"name": "x"}, False))]


def test_an_async_task_is_refused(host: Any) -> None:
    made = host("bootloader_stopped")
    task = SimpleNamespace(args={}, check_mode=False, diff=False, async_val=30, action="boot_loader")
    action = boot_loader.ActionModule(task, SimpleNamespace(_shell=SimpleNamespace(tmpdir="t")), None, None, None, None)
    # Ansible's own words: "... does not support async" (2.19), "async is not supported for this task." (2.16)
    with pytest.raises(AnsibleActionFail, match=r"does not support async|async is not supported"):
        action.run(task_vars={})
    assert made.commands == []


def test_a_capture_that_cannot_be_used_is_said_and_the_host_probed(host: Any) -> None:
    made = host("bootloader_stopped")
    result = run(boot_loader, {"settle_seconds": 0, "capture": {"format": "other"}, "capture_max_age": 120}, True)
    assert "probed the host: the capture is not a diagnosis capture" in result["notes"]
    assert not any(note.startswith("the host's state") for note in result["notes"])
    assert len(made.commands) == 1 and made.writes == []
    without = run(boot_loader, {"settle_seconds": 0}, check_mode=True)
    assert not any("capture" in note for note in without["notes"])


def diagnosis_of(made: Host, seconds_ago: int) -> dict[str, Any]:
    """What diagnose(return_capture=true) said of the host that many seconds ago."""
    operations = facts.plan(frozenset(facts.SUBSETS), OPTIONS)
    answer = {"version": rt.RUNTIME_VERSION, "results": [_answer(made.model, made.state, op) for op in operations]}
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds_ago)
    return capture(HOST, OPTIONS, operations, answer, when)


def test_a_fresh_capture_is_read_instead_of_probing_and_the_fix_still_verified(host: Any) -> None:
    made = host("bootloader_stopped")
    document = diagnosis_of(made, 30)
    result = run(boot_loader, {"settle_seconds": 0, "capture": document, "capture_max_age": 120})
    assert not result.get("failed"), result
    assert result["changed"] is True and result["facts"]["state_before"] == "Stopped"
    said = [note for note in result["notes"] if "capture" in note or "diagnosis" in note or "probed" in note]
    assert len(said) == 1 and re.fullmatch(r"the host's state read from the diagnosis gathered 3[01] s ago", said[0])
    assert len(made.commands) == 1  # no probe: the one command writes and reads back
    assert [op.id for op in made.commands[0]] == ["apply.bootloader", "verify.bootloader", "verify.agent"]


def test_a_capture_older_than_capture_max_age_is_not_read_the_host_is_probed(host: Any) -> None:
    made = host("bootloader_stopped")
    result = run(boot_loader, {"settle_seconds": 0, "capture": diagnosis_of(made, 200), "capture_max_age": 120}, True)
    assert any(note.startswith("probed the host: the capture is 20") for note in result["notes"])
    assert len(made.commands) == 1 and made.writes == []  # the probe, nothing written in check mode
    kept = run(boot_loader, {"settle_seconds": 0, "capture": diagnosis_of(made, 200), "capture_max_age": 300}, True)
    assert any(note.startswith("the host's state read from the diagnosis") for note in kept["notes"])
    assert len(made.commands) == 1  # read from the capture: no command at all in check mode
