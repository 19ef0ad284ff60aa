"""issue #18 (done when): move.yml interrupted at each step that changes something, by SIGINT (Ctrl-C) or SIGTERM
(AWX, CI), then run again: the host ends registered and Available in exactly one host pool, the target, not drained,
its users untouched (a host with users is left in its pool without consent), no lock or journal entry left. Two
move runs at once never move one host together: the second is refused for it, naming the run that holds it.

Each run is stopped exactly at its step by the lab's hold (a test control, docs/lab.md): the host's next matching
runtime operation waits, the run is interrupted while it waits, and the operation never runs. Each step has a host
of its own (im-01, im-03, im-04; im-02 has the user; im-05 for the two moves at once), and their runs and reruns run
at once (each waits most of its time on its host and the pools).
"""

from __future__ import annotations

import signal
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
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
  - {name: im-03}
  - {name: im-04}
  - {name: im-05}
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


def move_args(arm: Arm, tmp: Path, host: str) -> tuple[tuple[str, ...], str]:
    """The host's pool now (given as the inventory would give it) as the source, the other pool as the target."""
    source, to = ("hp-ia", "hp-ib") if "hp-ia" in pools_of(arm, host) else ("hp-ib", "hp-ia")
    args = ("-e", f"target={host}", "-e", f"avd_host_pool={source}", "-e", f"avd_target_pool={to}")
    return (*args, "-e", f"avd_journal={tmp / 'drains.json'}", "-e", f"avd_report_dir={tmp}"), to


def moved(arm: Arm, host: str, tmp: Path, to: str) -> None:
    """In exactly one pool, ``to``, Available and taking sessions; no lock or journal entry left."""
    found = pools_of(arm, host)
    assert list(found) == [to], found
    assert found[to]["status"] == "Available" and found[to]["allowNewSession"] is True, found[to]
    for pool in ("hp-ia", "hp-ib"):
        assert not [name for name in arm.tags(pool) if name.startswith("avdops-run-")], arm.tags(pool)
    assert journal(tmp / "drains.json") == {}


# (step, its host, how the run is stopped right after it: a held runtime operation, or the task Ansible starts next,
# and the signal: SIGINT and SIGTERM in turn)
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


def interrupted_then_run_again(
    lab, tmp_path: Path, step: str, host: str, held: dict[str, str], marker: str | None, sent: signal.Signals
) -> tuple[int | None, str, dict[str, dict], subprocess.CompletedProcess[str], str]:
    """The move of ``host`` stopped at its step, then the same command again: the interrupted run's exit code and
    output, the pools that listed the host in between, the rerun, and the pool it was moving to."""
    arm = Arm(lab)
    args, to = move_args(arm, tmp_path, host)
    if held is not None and marker is None:
        hold(lab, host, **held)
    process = start(lab, "move.yml", *args, *QUICK)
    try:
        if marker is not None:
            read_until(process, marker)
            hold(lab, host, **held)
        wait_held(lab, host, process)
        out = interrupt(process, sent, f"move.yml interrupted {step}")
    finally:
        release(lab, host)
        if process.poll() is None:  # read_until or wait_held failed: the run is not left behind
            interrupt(process, signal.SIGKILL, f"move.yml {step}, stopped")
    between = pools_of(arm, host)
    # The same command again.
    return process.returncode, out, between, lab.playbook(PLAYBOOK, *args, *QUICK), to


def users_across_an_interrupt(lab, tmp_path: Path) -> None:
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


def two_moves_at_once(
    lab, tmp_path: Path
) -> tuple[dict[str, str], subprocess.CompletedProcess[str], int, int, str, int | None, str]:
    """Run A stopped on im-05's re-registration (after its removal from the source), run B of the same host beside
    it, then A released: who held im-05 while A waited, B's run, the commands B sent im-05, A's pid, A's output and
    exit code, and the pool A moved im-05 to."""
    arm = Arm(lab)
    args, to = move_args(arm, tmp_path, "im-05")
    hold(lab, "im-05", op="registry_write")
    first = start(lab, "move.yml", *args, *QUICK)
    try:
        wait_held(lab, "im-05", first)
        holder = {**arm.tags("hp-ia"), **arm.tags("hp-ib")}
        lab.reset_stats()
        second = lab.playbook(PLAYBOOK, *args, *QUICK)
        commands = lab.stats()["im-05"]["commands"]
        lab.control("/hosts/im-05/release?run=1", method="POST")
        out, _unused = first.communicate(timeout=600)
    finally:
        release(lab, "im-05")
        if first.poll() is None:
            first.kill()
            first.wait()
    return holder, second, commands, first.pid, out, first.returncode, to


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory) -> dict[str, tuple[Future, Path]]:
    """Every step's interrupted run and its rerun, im-02's, and im-05's two moves at once, each on its host; the
    pools' keys generated first, so no run generates one that replaces another's (a key not the pool's current one
    no longer registers)."""
    arm = Arm(lab)
    for pool in ("hp-ia", "hp-ib"):
        arm.generate_key(6, pool)
    with ThreadPoolExecutor(max_workers=len(STEPS) + 2) as pool:
        started = {}
        for step, host, held, marker, sent in STEPS:
            tmp = tmp_path_factory.mktemp(host)
            started[step] = (pool.submit(interrupted_then_run_again, lab, tmp, step, host, held, marker, sent), tmp)
        users = tmp_path_factory.mktemp("im-02")
        started["users"] = (pool.submit(users_across_an_interrupt, lab, users), users)
        twice = tmp_path_factory.mktemp("two-moves")
        started["two at once"] = (pool.submit(two_moves_at_once, lab, twice), twice)
    return started


@pytest.mark.parametrize(("step", "host"), [step[:2] for step in STEPS], ids=[step[0] for step in STEPS])
def test_move_interrupted_at_each_step_converges_when_run_again(lab, runs, step, host):
    future, tmp_path = runs[step]
    returncode, out, between, again, to = future.result()
    assert returncode != 0, out[-3000:]
    if step == "after the removal from the source pool":
        assert between == {}  # in no pool: the rerun must finish the move
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    moved(Arm(lab), host, tmp_path, to)


def test_a_move_interrupted_while_waiting_for_users_leaves_them_and_the_source_pool(runs):
    """im-02 has a user: the run drains it and waits; interrupted there and run again without consent, the host is
    still in its pool with its user, taking sessions again."""
    runs["users"][0].result()


def test_two_moves_at_once_never_move_one_host_together(lab, runs):
    """Run A is stopped on im-05's re-registration (after its removal from the source); run B of the same host is
    refused for it, naming A, and changes nothing; A, released, finishes the move."""
    future, tmp_path = runs["two at once"]
    holder, second, commands, pid, out, returncode, to = future.result()
    assert "avdops-run-im-05" in holder, holder
    assert second.returncode == 0, flat(second.stdout)[-4000:]
    text = flat(second.stdout)
    assert "im-05: skipped: not changed: another run holds this host" in text and f":{pid}:" in text, text
    assert commands == 0  # run B sent the host nothing
    assert returncode == 0, flat(out)[-4000:]
    moved(Arm(lab), "im-05", tmp_path, to)
