"""issue #18 (done when): move.yml interrupted at each step that changes something, by SIGINT (Ctrl-C) or SIGTERM
(AWX, CI), then run again: the host ends registered and Available in exactly one host pool, the target, not drained,
its users untouched (a host with users is left in its pool without consent), no lock or journal entry left. Two
move runs at once never move one host together: the second is refused for it, naming the run that holds it.

Each run is stopped exactly at its step by the lab's hold (a test control, docs/lab.md): the host's next matching
runtime operation waits, the run is interrupted while it waits, and the operation never runs.
"""

from __future__ import annotations

import signal
from pathlib import Path

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


# (step, how the run is stopped right after it: a held runtime operation, or the task Ansible starts next,
# and the signal: SIGINT and SIGTERM in turn)
STEPS = [
    ("after the lock", {"op": "*"}, None, signal.SIGINT),
    ("after the removal from the source pool", {"op": "registry_write"}, None, signal.SIGTERM),
    (
        "before the drain is restored",
        {"op": "qwinsta"},
        "Ask the target host pool until it lists the host Available",
        signal.SIGINT,
    ),
]


@pytest.mark.parametrize(("step", "held", "marker", "sent"), STEPS, ids=[step[0] for step in STEPS])
def test_move_interrupted_at_each_step_converges_when_run_again(lab, tmp_path, step, held, marker, sent):
    arm = Arm(lab)
    args, to = move_args(arm, tmp_path)
    if held is not None and marker is None:
        hold(lab, "im-01", **held)
    process = start(lab, "move.yml", *args, *QUICK)
    try:
        if marker is not None:
            read_until(process, marker)
            hold(lab, "im-01", **held)
        wait_held(lab, "im-01", process)
        out = interrupt(process, sent, f"move.yml interrupted {step}")
    finally:
        release(lab, "im-01")
    assert process.returncode != 0, out[-3000:]
    if step == "after the removal from the source pool":
        assert pools_of(arm, "im-01") == {}  # in no pool: the rerun must finish the move
    # The same command again.
    again = lab.playbook(PLAYBOOK, *args, *QUICK)
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    moved(arm, "im-01", tmp_path, to)


def test_a_move_interrupted_while_waiting_for_users_leaves_them_and_the_source_pool(lab, tmp_path):
    """im-02 has a user: the run drains it and waits; interrupted there and run again without consent, the host is
    still in its pool with its user, taking sessions again."""
    arm = Arm(lab)
    args = (
        "-e",
        "target=im-02",
        "-e",
        "avd_target_pool=hp-ib",
        "-e",
        f"avd_journal={tmp_path / 'drains.json'}",
        "-e",
        f"avd_report_dir={tmp_path}",
    )
    waiting = ("-e", "avd_session_wait_retries=60", "-e", "avd_session_wait_delay=2", "-e", "avd_settle_seconds=2")
    process = start(lab, "move.yml", *args, *waiting)
    read_until(process, "FAILED - RETRYING: [im-02 -> localhost]: Wait (bounded) for the sessions")
    assert arm.allow_new_session("im-02", "hp-ia") is False
    interrupt(process, signal.SIGINT, "move.yml interrupted waiting for the users")
    again = lab.playbook(PLAYBOOK, *args, *QUICK)
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    assert "nothing disruptive without -e avd_force=true" in flat(again.stdout)
    found = pools_of(arm, "im-02")
    assert list(found) == ["hp-ia"] and found["hp-ia"]["sessions"] == 1, found
    assert found["hp-ia"]["allowNewSession"] is True and found["hp-ia"]["status"] == "Available", found
    assert "avdops-run-im-02" not in arm.tags("hp-ia")


def test_two_moves_at_once_never_move_one_host_together(lab, tmp_path):
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
