"""move.yml checks what it can before it drains a host or removes it from its pool.

On today's main a VM that is off, or one without an agent to re-register, was removed from its pool first and then
could not join the target pool: in no pool at all. Now each is refused before anything changes, with what to do.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, avdlab, flat

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


def pools(lab, tmp_path: Path) -> dict[str, dict[str, bool]]:
    """Each host pool's session hosts and whether each lets new sessions in."""
    out = tmp_path / "pools.json"
    play = [
        {
            "name": "Read the pools",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Pool",
                    "avdops.sessionhost.host_pool_info": {
                        "name": "{{ item }}",
                        "resource_group": "{{ avd_resource_group }}",
                    },
                    "loop": ["hp-src", "hp-dst"],
                    "register": "info",
                },
                {
                    "name": "Keep",
                    "ansible.builtin.copy": {
                        "content": "{{ dict(info.results | map(attribute='item') | zip(info.results"
                        " | map(attribute='session_hosts'))) | to_json }}",
                        "dest": str(out),
                    },
                },
            ],
        }
    ]
    path = tmp_path / "read-pools.yml"
    path.write_text(yaml.safe_dump(play))
    result = lab.playbook(path, "-c", "local")
    assert result.returncode == 0, result.stdout[-3000:]
    return {
        pool: {h["short_name"]: h["allow_new_session"] for h in hosts}
        for pool, hosts in json.loads(out.read_text()).items()
    }


def move(lab, *extra: str) -> subprocess.CompletedProcess[str]:
    """With the host_pool inventory source too: its power state tells a VM that is off from one that drops."""
    return lab.playbook(REPO / "playbooks" / "move.yml", *FAST, *extra, inventories=("hosts.yml", "hostpool.avd.yml"))


def test_a_vm_that_is_off_is_refused_before_it_leaves_its_pool(lab, tmp_path):
    avdlab("power", "mp-01", "off", "--dir", str(lab.directory))
    try:
        result = move(lab, "-e", "avd_target_pool=hp-dst", "-e", "target=mp-01")
    finally:
        avdlab("power", "mp-01", "on", "--dir", str(lab.directory))
    assert result.returncode != 0
    assert "mp-01: not moved: the VM is stopped" in flat(result.stdout), result.stdout[-4000:]
    assert "start it, then run again" in flat(result.stdout)
    assert "avdops.sessionhost.drain : Drain the host" not in result.stdout
    listed = pools(lab, tmp_path)
    assert listed["hp-src"].get("mp-01") is True and "mp-01" not in listed["hp-dst"]


def test_a_host_without_an_agent_is_refused_before_it_leaves_its_pool(lab, tmp_path):
    result = move(lab, "-e", "avd_target_pool=hp-dst", "-e", "target=mp-02")
    assert result.returncode != 0
    assert "mp-02: not moved: the agent is not installed, so it cannot be re-registered" in flat(result.stdout)
    assert "avdops.sessionhost.drain : Drain the host" not in result.stdout
    listed = pools(lab, tmp_path)
    assert listed["hp-src"].get("mp-02") is True and "mp-02" not in listed["hp-dst"]


def test_a_target_pool_that_does_not_exist_changes_nothing(lab, tmp_path):
    result = move(lab, "-e", "avd_target_pool=hp-nope", "-e", "target=mp-03")
    assert result.returncode != 0
    assert "hp-nope" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    listed = pools(lab, tmp_path)
    assert listed["hp-src"].get("mp-03") is True


def test_a_healthy_host_still_moves(lab, tmp_path):
    result = move(lab, "-e", "avd_target_pool=hp-dst", "-e", "target=mp-03", "-e", "avd_available_delay=1")
    assert result.returncode == 0, result.stdout[-3000:]
    listed = pools(lab, tmp_path)
    assert "mp-03" not in listed["hp-src"] and listed["hp-dst"].get("mp-03") is True
