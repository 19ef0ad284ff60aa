"""move.yml checks what it can before it drains a host or removes it from its pool.

On today's main a VM that is off, or one without an agent to re-register, was removed from its pool first and then
could not join the target pool: in no pool at all. Now each is refused before anything changes, with what to do.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.conftest import REPO, flat
from tests.interrupting import Arm

pytestmark = pytest.mark.lab

SCENARIO = """
host_pools:
  - {name: hp-src, max_session_limit: 4}
  - {name: hp-dst, max_session_limit: 4}
hosts:
  - {name: mp-01}
  - {name: mp-02, faults: [agent_not_installed]}
  - {name: mp-03}
"""
FAST = ["-e", "avd_settle_seconds=2", "-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1"]


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("move-preflight") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("move-preflight", "--scenario", str(scenario), "--first-address", "127.0.152.1")


def pools(lab) -> dict[str, dict[str, bool]]:
    """Each host pool's session hosts and whether each lets new sessions in, read as any ARM client would."""
    arm = Arm(lab)
    return {
        pool: {name: entry["allowNewSession"] for name, entry in arm.session_hosts(pool).items()}
        for pool in ("hp-src", "hp-dst")
    }


def move(lab, *extra: str) -> subprocess.CompletedProcess[str]:
    """With the host_pool inventory source too: its power state tells a VM that is off from one that drops."""
    return lab.playbook(REPO / "playbooks" / "move.yml", *FAST, *extra, inventories=("hosts.yml", "hostpool.avd.yml"))


Run = tuple[subprocess.CompletedProcess[str], dict[str, dict[str, bool]]]


def refused(lab) -> Run:
    """mp-01 off and mp-02 without an agent, both moved in one run (each refused before anything changes)."""
    lab.power("mp-01", "off")
    try:
        result = move(lab, "-e", "avd_target_pool=hp-dst", "-e", "target=mp-01:mp-02")
    finally:
        lab.power("mp-01", "on")
    return result, pools(lab)


def no_target_then_healthy(lab) -> tuple[Run, Run]:
    """mp-03: the move to a pool that does not exist, then to one that does (each with the pools right after)."""
    nope = move(lab, "-e", "avd_target_pool=hp-nope", "-e", "target=mp-03")
    nope_pools = pools(lab)
    result = move(lab, "-e", "avd_target_pool=hp-dst", "-e", "target=mp-03", "-e", "avd_available_delay=1")
    return (nope, nope_pools), (result, pools(lab))


@pytest.fixture(scope="module")
def runs(lab) -> dict[str, Future]:
    """The runs of the tests at once, on their own hosts (each waits on its hosts and the pools, not on the other):
    the two refusals one run (a run costs a CPU-second or more to start), mp-03's two runs one after the other."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return {"refused": pool.submit(refused, lab), "mp-03": pool.submit(no_target_then_healthy, lab)}


def test_a_vm_that_is_off_is_refused_before_it_leaves_its_pool(runs):
    result, listed = runs["refused"].result()
    assert result.returncode != 0
    assert "mp-01: not moved: the VM is stopped" in flat(result.stdout), result.stdout[-4000:]
    assert "start it, then run again" in flat(result.stdout)
    assert "avdops.sessionhost.drain : Drain the host" not in result.stdout
    assert listed["hp-src"].get("mp-01") is True and "mp-01" not in listed["hp-dst"]


def test_a_host_without_an_agent_is_refused_before_it_leaves_its_pool(runs):
    result, listed = runs["refused"].result()
    assert result.returncode != 0
    assert "mp-02: not moved: the agent is not installed, so it cannot be re-registered" in flat(result.stdout)
    assert "avdops.sessionhost.drain : Drain the host" not in result.stdout
    assert listed["hp-src"].get("mp-02") is True and "mp-02" not in listed["hp-dst"]


def test_a_target_pool_that_does_not_exist_changes_nothing(runs):
    result, listed = runs["mp-03"].result()[0]
    assert result.returncode != 0
    assert "hp-nope" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert listed["hp-src"].get("mp-03") is True


def test_a_healthy_host_still_moves(runs):
    result, listed = runs["mp-03"].result()[1]
    assert result.returncode == 0, result.stdout[-3000:]
    assert "mp-03" not in listed["hp-src"] and listed["hp-dst"].get("mp-03") is True
