"""issue #18 (done when), reinstall.yml: a reinstall interrupted after the host left its pool is finished by the next
run of remediate.yml too; an interrupt while the run waits for users leaves them and the admin's drain as they were;
two reinstall runs at once never change one host together (the second is refused for it, naming the first).

Runs are stopped at an exact step by the lab's hold (a test control, docs/lab.md). Each test has a host of its own
(rr-01, rr-02, rr-03); rr-01's runs go at once with the others, and rr-02's rerun is the second of the two runs at
once on rr-03 (run B: rr-02 run again, rr-03 refused), so one ansible-playbook run does both.
"""

from __future__ import annotations

import json
import signal
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

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


def reinstall_args(host: str, journal: Path, report: Path) -> tuple[str, ...]:
    return (
        *("-e", f"target={host}", "-e", "avd_reinstall_healthy=true"),
        *("-e", f"avd_journal={journal}", "-e", f"avd_report_dir={report}"),
    )


def admin_drain_then_two_runs_at_once(lab, tmp_path: Path) -> dict[str, Any]:
    """rr-02 has a user and its admin drained it: a reinstall waiting for the user is interrupted. Then run A of
    rr-03 is stopped on its install (uninstalled, out of its pool), and run B of rr-02 and rr-03 runs while A waits:
    B runs rr-02 again, and is refused rr-03, naming A, sending it nothing; A, released, finishes the reinstall. The
    runs share the controller's journal of drains, as runs on one controller do."""
    journal = tmp_path / "drains.json"
    Arm(lab).drain("rr-02")
    waiting = ("-e", "avd_session_wait_retries=60", "-e", "avd_session_wait_delay=2")
    process = start(lab, "reinstall.yml", *reinstall_args("rr-02", journal, tmp_path), *waiting)
    read_until(process, "FAILED - RETRYING: [rr-02 -> localhost]: Wait (bounded) for the sessions")
    interrupt(process, signal.SIGTERM, "reinstall.yml interrupted waiting for the users")
    hold(lab, "rr-03", op="msiexec", action="install")
    first = start(lab, "reinstall.yml", *reinstall_args("rr-03", journal, tmp_path), *QUICK)
    try:
        wait_held(lab, "rr-03", first)
        lab.reset_stats()
        second = lab.playbook(PLAYBOOK, *reinstall_args("rr-02:rr-03", journal, tmp_path), *QUICK)
        commands = lab.stats()["rr-03"]["commands"]
        lab.control("/hosts/rr-03/release?run=1", method="POST")
        out, _unused = first.communicate(timeout=600)
    finally:
        release(lab, "rr-03")
        if first.poll() is None:
            first.kill()
            first.wait()
    return {"journal": journal, "second": second, "commands": commands, "first": first, "first output": out}


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory) -> dict[str, Future]:
    """The tests' runs at once: rr-01's in one thread, rr-02's and rr-03's in another (run B runs rr-02 again and
    is refused rr-03); each test checks its part. The pool's key is generated first, so no run replaces another's."""
    Arm(lab).generate_key(6)
    remediate, shared = (tmp_path_factory.mktemp(name) for name in ("remediate", "admin-drain-and-two-runs"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        return {
            "remediate": pool.submit(finish_with_remediate, lab, remediate),
            "admin drain and two at once": pool.submit(admin_drain_then_two_runs_at_once, lab, shared),
        }


def test_remediate_finishes_a_reinstall_interrupted_after_the_removal(runs):
    """rr-01: interrupted after the removal from its pool, finished by remediate.yml."""
    runs["remediate"].result()


def test_an_admin_drain_stays_and_users_stay_untouched_across_an_interrupt(lab, runs):
    """rr-02 has a user and its admin drained it: the interrupted run (waiting for the user) and the rerun (run B)
    leave the user signed in, the host drained as its admin left it, and no lock."""
    ran = runs["admin drain and two at once"].result()
    again = ran["second"]
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    assert "nothing disruptive without -e avd_force=true" in flat(again.stdout)
    arm = Arm(lab)
    listed = arm.session_hosts()["rr-02"]
    assert listed["sessions"] == 1 and listed["status"] == "Available", listed
    converged(arm, "rr-02", ran["journal"], again.stdout, drained_by_admin=True)


def test_two_reinstalls_at_once_never_change_one_host_together(lab, runs):
    """Run A is stopped on rr-03's install (uninstalled, out of its pool); run B of the same host is refused for it,
    naming A, and changes nothing; A, released, finishes the reinstall."""
    ran = runs["admin drain and two at once"].result()
    second, first, out = ran["second"], ran["first"], ran["first output"]
    text = flat(second.stdout)
    assert second.returncode == 0, text[-4000:]
    assert "rr-03: skipped: not changed: another run holds this host" in text and f":{first.pid}:" in text, text
    assert ran["commands"] == 0  # run B sent the host nothing
    assert first.returncode == 0, flat(out)[-4000:]
    converged(Arm(lab), "rr-03", ran["journal"], out)
