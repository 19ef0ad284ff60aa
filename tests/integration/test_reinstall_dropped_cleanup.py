"""reinstall.yml when the host drops while the keys the uninstallers leave are deleted, after the uninstall and the
restart: the cleanup's first key deletion held on the host, the host crashed under it for 20 s. The run says in
words what happened and what to do (the runtime's account of a dropped command, not a bare failure), lets new
sessions in again, writes the report, fails, and a rerun once the host is back completes the reinstall. On a lab of
its own."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import REPO, flat, record_output
from tests.interrupting import Arm, hold, release, start, wait_held

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-reinstall-drop, max_session_limit: 4}
hosts:
  - {name: rd-01}
"""
FAST = ["-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1", "-e", "avd_available_delay=1"]
PLAYBOOK = REPO / "playbooks" / "reinstall.yml"
DOWN = 20.0  # seconds the crashed host is off the network


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("reinstall-drop") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory(
        "reinstall-drop", "--scenario", str(scenario), "--first-address", "127.0.153.1", "--reboot-seconds", "1"
    )


def test_a_host_that_drops_in_the_cleanup_is_reported_in_words_and_a_rerun_reinstalls_it(lab, tmp_path):
    run = start(
        lab, "reinstall.yml", *FAST, "-e", "avd_reinstall_healthy=true", "-e", f"avd_report_dir={tmp_path / 'a'}"
    )
    hold(lab, "rd-01", op="registry_delete")  # the cleanup's first key deletion (nothing before it deletes a key)
    wait_held(lab, "rd-01", run)
    lab.crash("rd-01", DOWN)
    back = time.monotonic() + DOWN
    release(lab, "rd-01")  # the held deletion fails unrun: the host is left as the crash found it
    output, _unused = run.communicate(timeout=600)
    record_output(
        "ansible-playbook reinstall.yml (rd-01 crashed in the cleanup)", output, "", returncode=run.returncode
    )
    text = flat(output)
    assert run.returncode != 0, text[-4000:]
    said = "rd-01: the connection to the host dropped while the avdops runtime ran ("
    assert said in text, text[-4000:]
    assert "then run again: the next run reads the state the host is in" in text, text[-4000:]
    assert "Error while resolving" not in text and "has no attribute" not in text, text[-4000:]
    hosts = json.loads((tmp_path / "a" / "reinstall.json").read_text())["hosts"]
    assert hosts["rd-01"]["outcome"] == "failed" and hosts["rd-01"]["drain_restored"] is True, hosts["rd-01"]
    assert hosts["rd-01"]["error"].startswith("the connection to the host dropped"), hosts["rd-01"]
    assert Arm(lab).session_hosts()["rd-01"]["allowNewSession"] is True  # the run's drain is undone

    time.sleep(max(0.0, back - time.monotonic()) + 2)  # the host is back
    again = lab.playbook(PLAYBOOK, *FAST, "-e", f"avd_report_dir={tmp_path / 'b'}")
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    assert "rd-01: reinstalled: uninstalled 0 program instance(s), removed from hp-reinstall-drop" in flat(
        again.stdout
    ), flat(again.stdout)[-4000:]
    listed = Arm(lab).session_hosts()
    assert listed["rd-01"]["status"] == "Available" and listed["rd-01"]["allowNewSession"] is True, listed
