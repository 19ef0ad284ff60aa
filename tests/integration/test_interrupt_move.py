"""issue #18 (done when): move.yml interrupted at each step that changes something, by SIGINT (Ctrl-C) or SIGTERM
(AWX, CI), then run again: the host ends registered and Available in exactly one host pool, the target, not drained,
its users untouched (a host with users is left in its pool without consent), no lock or journal entry left. Two
move runs at once never move one host together: the second is refused for it, naming the run that holds it.

Each run is stopped exactly at its step by the lab's hold (a test control, docs/lab.md): the host's next matching
runtime operation waits, the run is interrupted while it waits, and the operation never runs. Each step's run has a
host of its own and they are interrupted one after another; then one run of the same move over all their hosts (and
im-02's, interrupted while waiting for its user) runs again, as a user would after the interruptions: a run costs a
CPU-second or more to start.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, flat
from tests.interrupting import Arm, hold, interrupt, journal, read_until, release, start, wait_held

pytestmark = pytest.mark.lab

SCENARIO = """
host_pools:
  - {name: hp-ia, max_session_limit: 4}
  - {name: hp-ib, max_session_limit: 4}
hosts:
  - {name: im-01}
  - {name: im-02, sessions: 1}
  - {name: im-03}
  - {name: im-04}
"""
PLAYBOOK = REPO / "playbooks" / "move.yml"
QUICK = ("-e", "avd_settle_seconds=2", "-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1")
QUICK += ("-e", "avd_available_delay=1")


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("interrupt-move") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("interrupt-move", "--scenario", str(scenario), "--first-address", "127.0.175.1")


def pools_of(arm: Arm, host: str) -> dict[str, dict]:
    """The host pools that list the host, with what each says of it."""
    return {pool: listed[host] for pool in ("hp-ia", "hp-ib") if host in (listed := arm.session_hosts(pool))}


def move_args(arm: Arm, tmp: Path) -> tuple[tuple[str, ...], str]:
    """im-01 goes back and forth between the two pools: its pool now is given as the inventory would give it."""
    source, to = ("hp-ia", "hp-ib") if "hp-ia" in pools_of(arm, "im-01") else ("hp-ib", "hp-ia")
    args = ("-e", "target=im-01", "-e", f"avd_host_pool={source}", "-e", f"avd_target_pool={to}")
    return (*args, "-e", f"avd_journal={tmp / 'drains.json'}", "-e", f"avd_report_dir={tmp}"), to


def moved(arm: Arm, host: str, tmp: Path, to: str) -> None:
    """In exactly one pool, ``to``, Available and taking sessions; no lock or journal entry left."""
    found = pools_of(arm, host)
    assert list(found) == [to], found
    assert found[to]["status"] == "Available" and found[to]["allowNewSession"] is True, found[to]
    for pool in ("hp-ia", "hp-ib"):
        assert not [name for name in arm.tags(pool) if name.startswith("avdops-run-")], arm.tags(pool)
    assert journal(tmp / "drains.json") == {}


# (step, its host, how the run is stopped right after it: a held runtime operation, or the task Ansible starts
# next, and the signal: SIGINT and SIGTERM in turn)
STEPS = [
    ("after the lock", "im-01", {"op": "*"}, None, signal.SIGINT),
    ("after the removal from the source pool", "im-03", {"op": "registry_write"}, None, signal.SIGTERM),
    (
        "before the drain is restored",
        "im-04",
        {"op": "qwinsta"},
        "Ask the target host pool until it lists the host Available",
        signal.SIGINT,
    ),
]
# Every move of the module's first runs: from hp-ia (the inventory's pool of every host) to hp-ib, with one journal
# and report directory, as a user runs them from one place.
TO = "hp-ib"


def move_of(hosts: str, tmp: Path) -> tuple[str, ...]:
    """The arguments of a move of ``hosts`` (a pattern) from their pool to TO, with ``tmp``'s journal and reports."""
    args = ("-e", f"target={hosts}", "-e", f"avd_target_pool={TO}", "-e", f"avd_journal={tmp / 'drains.json'}")
    return (*args, "-e", f"avd_report_dir={tmp}")


def interrupted_at(lab: Any, tmp: Path, step: str, host: str, held: dict, marker: str | None, sent: Any) -> dict:
    """The step's run, stopped there: its exit code and the pools that list its host right after."""
    if marker is None:
        hold(lab, host, **held)
    process = start(lab, "move.yml", *move_of(host, tmp), *QUICK)
    try:
        if marker is not None:
            read_until(process, marker)
            hold(lab, host, **held)
        wait_held(lab, host, process)
        out = interrupt(process, sent, f"move.yml interrupted {step}")
    finally:
        release(lab, host)
    return {"returncode": process.returncode, "out": out, "pools": pools_of(Arm(lab), host)}


def interrupted_waiting(lab: Any, tmp: Path) -> dict:
    """im-02 has a user: the run drains it and waits; interrupted there (whether it was drained while waiting)."""
    waiting = ("-e", "avd_session_wait_retries=60", "-e", "avd_session_wait_delay=2", "-e", "avd_settle_seconds=2")
    process = start(lab, "move.yml", *move_of("im-02", tmp), *waiting)
    read_until(process, "FAILED - RETRYING: [im-02 -> localhost]: Wait (bounded) for the sessions")
    drained = Arm(lab).allow_new_session("im-02", "hp-ia") is False
    interrupt(process, signal.SIGINT, "move.yml interrupted waiting for the users")
    return {"drained while waiting": drained}


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory) -> dict[str, Any]:
    """Each step's run interrupted on its host and im-02's while it waits for its user, one after another; then the
    same move run again over the four hosts at once (without consent)."""
    tmp = tmp_path_factory.mktemp("interrupted")
    seen: dict[str, Any] = {step[0]: interrupted_at(lab, tmp, *step) for step in STEPS}
    seen["users"] = interrupted_waiting(lab, tmp)
    hosts = ":".join([*(step[1] for step in STEPS), "im-02"])
    seen["again"] = lab.playbook(PLAYBOOK, *move_of(hosts, tmp), *QUICK)
    seen["tmp"] = tmp
    return seen


@pytest.mark.parametrize(("step", "host"), [step[:2] for step in STEPS], ids=[step[0] for step in STEPS])
def test_move_interrupted_at_each_step_converges_when_run_again(lab, runs, step, host):
    arm = Arm(lab)
    stopped = runs[step]
    assert stopped["returncode"] != 0, stopped["out"][-3000:]
    if step == "after the removal from the source pool":
        assert stopped["pools"] == {}  # in no pool: the rerun must finish the move
    again: subprocess.CompletedProcess[str] = runs["again"]
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    moved(arm, host, runs["tmp"], TO)


def test_a_move_interrupted_while_waiting_for_users_leaves_them_and_the_source_pool(lab, runs):
    """im-02 has a user: the run drains it and waits; interrupted there and run again without consent, the host is
    still in its pool with its user, taking sessions again."""
    arm = Arm(lab)
    assert runs["users"]["drained while waiting"]
    again = runs["again"]
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    assert "im-02: skipped: 1 user session(s) still on the host; nothing disruptive without -e avd_force=true" in (
        flat(again.stdout)
    ), flat(again.stdout)[-4000:]
    found = pools_of(arm, "im-02")
    assert list(found) == ["hp-ia"] and found["hp-ia"]["sessions"] == 1, found
    assert found["hp-ia"]["allowNewSession"] is True and found["hp-ia"]["status"] == "Available", found
    assert "avdops-run-im-02" not in arm.tags("hp-ia")


def test_two_moves_at_once_never_move_one_host_together(lab, runs, tmp_path):
    """Run A is stopped on im-01's re-registration (after its removal from the source); run B of the same host is
    refused for it, naming A, and changes nothing; A, released, finishes the move."""
    arm = Arm(lab)
    args, to = move_args(arm, tmp_path)
    hold(lab, "im-01", op="registry_write")
    first = start(lab, "move.yml", *args, *QUICK)
    try:
        wait_held(lab, "im-01", first)
        holder = {**arm.tags("hp-ia"), **arm.tags("hp-ib")}
        lab.reset_stats()
        second = lab.playbook(PLAYBOOK, *args, *QUICK)
        commands = lab.stats()["im-01"]["commands"]
        lab.control("/hosts/im-01/release?run=1", method="POST")
        out, _unused = first.communicate(timeout=600)
    finally:
        release(lab, "im-01")
        if first.poll() is None:
            first.kill()
            first.wait()
    assert "avdops-run-im-01" in holder, holder
    assert second.returncode == 0, flat(second.stdout)[-4000:]
    text = flat(second.stdout)
    assert "im-01: skipped: not changed: another run holds this host" in text and f":{first.pid}:" in text, text
    assert commands == 0  # run B sent the host nothing
    assert first.returncode == 0, flat(out)[-4000:]
    moved(arm, "im-01", tmp_path, to)
