"""ChangeAction.wait, the loop a remediation module runs while Windows completes a change in its own time (issue
22): how long it waits, how often it reads the verification again, when it stops, and what it says."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _change as c
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._plans import Change, Plan
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import Operation, OperationResult

READ = Operation("verify.agent", "registry_read", {"path": "HKLM", "names": ["IsRegistered"]})


class Registering(c.ChangeAction):
    """A module whose verification reads 'pending' a number of times, then 'done' (or never)."""

    WAITS = True

    def __init__(self, pending: int) -> None:  # no ActionBase state: wait() uses none of it
        self.pending = pending

    def verify(self, results: Any, args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        assert list(results) == ["verify.agent"]  # the plan's verifying reads, sent again
        self.pending -= 1
        state = "pending" if self.pending > 0 else "done"
        return {"state": state}, None if state == "done" else f"the agent is {state}"

    def still_on_its_way(self, verification: dict[str, Any]) -> str | None:
        return "registration pending" if verification["state"] == "pending" else None

    def check_arguments(self, args: dict[str, Any]) -> None:
        raise AssertionError("not called by wait")

    def probe(self, args: dict[str, Any]) -> list[Operation]:
        raise AssertionError("not called by wait")

    def plan(self, results: Any, args: dict[str, Any], check_mode: bool) -> Plan:
        raise AssertionError("not called by wait")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A clock that moves only when the loop sleeps; the pauses slept and the lines displayed."""
    seen: dict[str, Any] = {"now": 1000.0, "pauses": [], "lines": [], "reads": 0}

    def sleep(seconds: float) -> None:
        seen["pauses"].append(seconds)
        seen["now"] += seconds

    class Display:
        def display(self, line: str) -> None:
            seen["lines"].append(line)

    def execute(action: Any, operations: list[Operation]) -> dict[str, OperationResult]:
        seen["reads"] += 1
        return {op.id: OperationResult(op.id, op.op, True, {}) for op in operations}

    monkeypatch.setattr(c.time, "monotonic", lambda: seen["now"])
    monkeypatch.setattr(c.time, "sleep", sleep)
    monkeypatch.setattr(c, "Display", Display)
    monkeypatch.setattr(c, "execute", execute)
    return seen


def wait(pending: int, wait_seconds: int, poll_seconds: int) -> tuple[dict[str, Any], str | None]:
    module = Registering(pending)
    args = {"wait_seconds": wait_seconds, "poll_seconds": poll_seconds}
    return module.wait("host1", Plan(verify=[READ]), {"state": "pending"}, "the agent is pending", args)


def test_it_polls_every_poll_seconds_and_the_last_pause_only_up_to_wait_seconds(clock):
    verification, problem = wait(pending=99, wait_seconds=25, poll_seconds=10)
    assert clock["pauses"] == [10, 10, 5] and clock["reads"] == 3
    assert verification == {"state": "pending"}
    assert problem == "the agent is pending (still so after waiting 25 s; wait_seconds 25)"
    assert clock["lines"] == [
        "host1: registration pending; looking again in 10 s (0 of wait_seconds 25 s)",
        "host1: registration pending; looking again in 10 s (10 of wait_seconds 25 s)",
        "host1: registration pending; looking again in 5 s (20 of wait_seconds 25 s)",
    ]


def test_it_stops_at_the_first_read_that_holds(clock):
    assert wait(pending=3, wait_seconds=600, poll_seconds=10) == ({"state": "done"}, None)
    assert clock["pauses"] == [10, 10, 10] and clock["reads"] == 3


def test_a_wait_that_fits_exactly_reads_once_more_at_the_end(clock):
    assert wait(pending=2, wait_seconds=20, poll_seconds=10) == ({"state": "done"}, None)
    assert clock["pauses"] == [10, 10]


def test_wait_seconds_0_reads_nothing_again_and_says_so(clock):
    verification, problem = wait(pending=99, wait_seconds=0, poll_seconds=10)
    assert (clock["pauses"], clock["reads"], clock["lines"]) == ([], 0, [])
    assert verification == {"state": "pending"}
    assert problem == "the agent is pending (still so after waiting 0 s; wait_seconds 0)"


def test_a_problem_that_is_not_on_its_way_is_returned_as_it_is_without_waiting(clock):
    module = Registering(pending=99)
    args = {"wait_seconds": 600, "poll_seconds": 10}
    failed = {"state": "failed"}
    assert module.wait("host1", Plan(verify=[READ]), failed, "the agent failed", args) == (failed, "the agent failed")
    assert (clock["pauses"], clock["reads"]) == ([], 0)


def test_poll_seconds_longer_than_wait_seconds_pauses_wait_seconds_once(clock):
    verification, problem = wait(pending=99, wait_seconds=1, poll_seconds=300)
    assert clock["pauses"] == [1] and clock["reads"] == 1 and verification == {"state": "pending"}
    assert problem == "the agent is pending (still so after waiting 1 s; wait_seconds 1)"


class Taking(Registering):
    """Registering run whole through ChangeAction.run: one change, the plan's read, then the wait."""

    OPTIONS: ClassVar[dict[str, Any]] = {}

    def __init__(self, pending: int) -> None:
        task = SimpleNamespace(args={"wait_seconds": 30, "poll_seconds": 10}, check_mode=False, diff=False,
                               async_val=0, action="taking")  # fmt: skip
        connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir="C:\\Windows\\Temp\\ansible"))
        # Registering's own __init__ skips ActionBase's state, which ChangeAction.run needs
        c.ChangeAction.__init__(self, task, connection, None, None, None, None)  # pylint: disable=non-parent-init-called
        self.pending = pending

    def check_arguments(self, args: dict[str, Any]) -> None:
        pass

    def probe(self, args: dict[str, Any]) -> list[Operation]:
        return [Operation("probe.agent", "registry_read", {"path": "HKLM", "names": ["IsRegistered"]})]

    def plan(self, results: Any, args: dict[str, Any], check_mode: bool) -> Plan:
        write = Operation("apply.agent", "registry_write", {"path": "HKLM", "name": "IsRegistered", "data": 1})
        return Plan(changes=[Change(write, "IsRegistered", 0, 1)], verify=[READ])

    def verify(self, results: Any, args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        return super().verify({"verify.agent": results["verify.agent"]}, args)


def test_each_line_of_the_wait_names_the_task_s_host(clock):
    """Hosts run at once print their waits between each other's lines: each says which host it is."""
    result = Taking(pending=2).run(task_vars={"inventory_hostname": "sh-01"})
    assert not result.get("failed") and result["verification"] == {"state": "done"}
    assert clock["lines"] == ["sh-01: registration pending; looking again in 10 s (0 of wait_seconds 30 s)"]


def test_a_change_still_on_its_way_after_wait_seconds_fails_with_the_verification_s_words(clock):
    result = Taking(pending=99).run(task_vars={"inventory_hostname": "sh-01"})
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"] == "the agent is pending (still so after waiting 30 s; wait_seconds 30)"
    assert clock["pauses"] == [10, 10, 10] and result["verification"] == {"state": "pending"}


class Failing(Taking):
    """A verification that fails and is not on its way (a failure, not a change in progress)."""

    def verify(self, results: Any, args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        return {"state": "failed"}, "the agent failed"


class Holding(Taking):
    """A verification that holds, though still_on_its_way would call its state pending."""

    def verify(self, results: Any, args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        return {"state": "pending"}, None


def test_a_failure_that_is_not_on_its_way_fails_at_once_and_a_verification_that_holds_is_final(clock):
    failed = Failing(pending=99).run(task_vars={"inventory_hostname": "sh-01"})
    assert (failed["failed"], failed["msg"], failed["notes"]) == (True, "the agent failed", [])
    assert (clock["pauses"], clock["lines"]) == ([], [])
    held = Holding(pending=99).run(task_vars={"inventory_hostname": "sh-01"})
    assert not held.get("failed") and held["verification"] == {"state": "pending"} and held["notes"] == []
    assert (clock["pauses"], clock["lines"]) == ([], [])
