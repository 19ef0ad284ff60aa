"""issue #18 (done when), reinstall.yml: a reinstall interrupted after the host left its pool is finished by the next
run of remediate.yml too; an interrupt while the run waits for users leaves them and the admin's drain as they were;
two reinstall runs at once never change one host together (the second is refused for it, naming the first).

Runs are stopped at an exact step by the lab's hold (a test control, docs/lab.md). The three tests run at once, each
on a host of its own (rr-01, rr-02, rr-03), each waiting on its host and the pool.
"""

from __future__ import annotations

import json
import signal
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import REPO, flat
from tests.interrupting import Arm, converged, hold, interrupt, read_until, release, start, wait_held

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-rr, max_session_limit: 4}
hosts:
  - {name: rr-01}
  - {name: rr-02, sessions: 1}
  - {name: rr-03}
"""
PLAYBOOK = REPO / "playbooks" / "reinstall.yml"
QUICK = ("-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1", "-e", "avd_available_delay=1")


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("interrupt-rerun") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory(
        "interrupt-rerun", "--scenario", str(scenario), "--first-address", "127.0.176.1", "--reboot-seconds", "1"
    )


def stop_after_removal(lab, tmp_path: Path, host: str) -> None:
    """A reinstall of ``host`` stopped (Ctrl-C) after its uninstall and its removal from the pool."""
    args = (
        "-e",
        f"target={host}",
        "-e",
        "avd_reinstall_healthy=true",
        "-e",
        f"avd_journal={tmp_path / 'drains.json'}",
        "-e",
        f"avd_report_dir={tmp_path}",
    )
    hold(lab, host, op="msiexec", action="install")
    process = start(lab, "reinstall.yml", *args, *QUICK)
    try:
        wait_held(lab, host, process)
        interrupt(process, signal.SIGINT, "reinstall.yml interrupted after the removal")
    finally:
        release(lab, host)
    assert host not in Arm(lab).session_hosts()


def finish_with_remediate(lab, tmp_path: Path) -> None:
    """rr-01 is left without its agent, with the key the install wrote, outside its pool: remediate.yml reinstalls
    it (AGENT_NOT_INSTALLED: role reinstall) and it is fixed."""
    stop_after_removal(lab, tmp_path, "rr-01")
    report = tmp_path / "report"
    again = lab.playbook(
        REPO / "playbooks" / "remediate.yml",
        *("-e", "target=rr-01", "-e", f"avd_journal={tmp_path / 'drains.json'}", "-e", f"avd_report_dir={report}"),
        *QUICK,
    )
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    converged(Arm(lab), "rr-01", tmp_path / "drains.json", again.stdout)
    outcome = json.loads((report / "remediation.json").read_text())["hosts"]["rr-01"]
    assert outcome["outcome"] == "fixed", outcome


def admin_drain_and_users_across_an_interrupt(lab, tmp_path: Path) -> None:
    """rr-02 has a user and its admin drained it: the interrupted run (waiting for the user) and the rerun leave
    the user signed in, the host drained as its admin left it, and no lock."""
    arm = Arm(lab)
    arm.drain("rr-02")
    args = (
        "-e",
        "target=rr-02",
        "-e",
        "avd_reinstall_healthy=true",
        "-e",
        f"avd_journal={tmp_path / 'drains.json'}",
        "-e",
        f"avd_report_dir={tmp_path}",
    )
    waiting = ("-e", "avd_session_wait_retries=60", "-e", "avd_session_wait_delay=2")
    process = start(lab, "reinstall.yml", *args, *waiting)
    read_until(process, "FAILED - RETRYING: [rr-02 -> localhost]: Wait (bounded) for the sessions")
    interrupt(process, signal.SIGTERM, "reinstall.yml interrupted waiting for the users")
    again = lab.playbook(PLAYBOOK, *args, *QUICK)
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    assert "nothing disruptive without -e avd_force=true" in flat(again.stdout)
    listed = arm.session_hosts()["rr-02"]
    assert listed["sessions"] == 1 and listed["status"] == "Available", listed
    converged(arm, "rr-02", tmp_path / "drains.json", again.stdout, drained_by_admin=True)


def two_reinstalls_at_once(lab, tmp_path: Path) -> None:
    """Run A is stopped on rr-03's install (uninstalled, out of its pool); run B of the same host is refused for it,
    naming A, and changes nothing; A, released, finishes the reinstall."""
    arm = Arm(lab)
    args = (
        "-e",
        "target=rr-03",
        "-e",
        "avd_reinstall_healthy=true",
        "-e",
        f"avd_journal={tmp_path / 'drains.json'}",
        "-e",
        f"avd_report_dir={tmp_path}",
    )
    hold(lab, "rr-03", op="msiexec", action="install")
    first = start(lab, "reinstall.yml", *args, *QUICK)
    try:
        wait_held(lab, "rr-03", first)
        lab.reset_stats()
        second = lab.playbook(PLAYBOOK, *args, *QUICK)
        commands = lab.stats()["rr-03"]["commands"]
        lab.control("/hosts/rr-03/release?run=1", method="POST")
        out, _unused = first.communicate(timeout=600)
    finally:
        release(lab, "rr-03")
        if first.poll() is None:
            first.kill()
            first.wait()
    text = flat(second.stdout)
    assert second.returncode == 0, text[-4000:]
    assert "rr-03: skipped: not changed: another run holds this host" in text and f":{first.pid}:" in text, text
    assert commands == 0  # run B sent the host nothing
    assert first.returncode == 0, flat(out)[-4000:]
    converged(arm, "rr-03", tmp_path / "drains.json", out)


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory) -> dict[str, Future]:
    """The three tests' runs at once, each on its host; each test's checks run in its thread and the test reports
    them. The pool's key is generated first, so no run replaces another's."""
    Arm(lab).generate_key(6)
    remediate, drain, twice = (tmp_path_factory.mktemp(name) for name in ("remediate", "admin-drain", "two-runs"))
    with ThreadPoolExecutor(max_workers=3) as pool:
        return {
            "remediate": pool.submit(finish_with_remediate, lab, remediate),
            "admin drain": pool.submit(admin_drain_and_users_across_an_interrupt, lab, drain),
            "two at once": pool.submit(two_reinstalls_at_once, lab, twice),
        }


def test_remediate_finishes_a_reinstall_interrupted_after_the_removal(runs):
    """rr-01: interrupted after the removal from its pool, finished by remediate.yml."""
    runs["remediate"].result()


def test_an_admin_drain_stays_and_users_stay_untouched_across_an_interrupt(runs):
    """rr-02 has a user and its admin drained it: the interrupted run (waiting for the user) and the rerun leave
    the user signed in, the host drained as its admin left it, and no lock."""
    runs["admin drain"].result()


def test_two_reinstalls_at_once_never_change_one_host_together(runs):
    """Run A is stopped on rr-03's install (uninstalled, out of its pool); run B of the same host is refused for it,
    naming A, and changes nothing; A, released, finishes the reinstall."""
    runs["two at once"].result()
