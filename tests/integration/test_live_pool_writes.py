"""The inventory's live truth wins in the write playbooks too: a stale static avd_host_pool beside the host_pool
inventory (a user's own host_vars, or one left from before move.yml) never sends a write to the pool it names.

Three pools: lp-01 (an expired registration token) and lp-03 are in hp-live; a static inventory file (listed last,
so it outranks the plugin's variables, as static host_vars do) says their pool is hp-stale, where lp-02 is.
remediate.yml re-registers lp-01 and move.yml moves lp-03 to hp-target, each with its live pool: both in one
ansible-playbook run, between two reads of the pools.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, flat

pytestmark = pytest.mark.lab

SCENARIO = """
host_pools:
  - {name: hp-live}
  - {name: hp-stale}
  - {name: hp-target}
hosts:
  - {name: lp-01, faults: [expired_registration_token]}
  - {name: lp-02, pool: hp-stale}
  - {name: lp-03}
"""
STALE = {"all": {"hosts": {name: {"avd_host_pool": "hp-stale"} for name in ("lp-01", "lp-03")}}}
POOLS = ["hp-live", "hp-stale", "hp-target"]
INVENTORIES = ("hosts.yml", "hostpool.avd.yml", "stale.yml")  # the static file last: it outranks the plugin's
FAST = ("-e", "avd_settle_seconds=1", "-e", "avd_available_retries=6", "-e", "avd_available_delay=2")


@pytest.fixture(scope="module")
def live_lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("live-pool") / "lab.yml"
    scenario.write_text(SCENARIO)
    lab = lab_factory("live-pool-writes", "--scenario", str(scenario), "--first-address", "127.0.183.1")
    (lab.inventory / "stale.yml").write_text(yaml.safe_dump(STALE))
    return lab


def pools_play(name: str, out: Path) -> dict:
    """A play that keeps each pool as ARM lists it in ``out``: its session hosts and its registration key."""
    kept = (
        "{{ {'hosts': pools_read.results | items2dict(key_name='item', value_name='session_hosts'),"
        " 'keys': dict(pools_read.results | map(attribute='item') | zip(pools_read.results"
        " | map(attribute='host_pool') | map(attribute='registration_expiration_time')))} | to_json }}"
    )
    tasks = [
        {
            "name": "Pool",
            "avdops.sessionhost.host_pool_info": {"name": "{{ item }}", "resource_group": "rg-avdlab"},
            "loop": POOLS,
            "register": "pools_read",
        },
        # one module on the controller (command), where copy runs two (stat, then copy)
        {"name": "Keep", "ansible.builtin.command": {"argv": ["cp", "/dev/stdin", str(out)], "stdin": kept}},
    ]
    return {"name": name, "hosts": "localhost", "gather_facts": False, "connection": "local", "tasks": tasks}


def pools(out: Path) -> dict[str, dict]:
    """Each pool as ``pools_play`` kept it (status of each session host, the registration key's expiry)."""
    kept = json.loads(out.read_text())
    hosts, keys = kept["hosts"], kept["keys"]
    return {name: {"hosts": {h["short_name"]: h["status"] for h in hosts[name]}, "key": keys[name]} for name in hosts}


def between_reads(lab, directory: Path, imported: list[dict], *args: str):
    """The ``imported`` playbooks (``import_playbook`` entries, each with its own vars, as a user may import them)
    between two reads of the pools, all one ansible-playbook run: a run costs a CPU-second or more to start. Returns
    the run and the pools before and after it."""
    directory.mkdir(parents=True, exist_ok=True)
    before, after = directory / "before.json", directory / "after.json"
    wrapper = directory / "between_reads.yml"
    wrapper.write_text(
        yaml.safe_dump([pools_play("Pools before", before), *imported, pools_play("Pools after", after)])
    )
    result = lab.playbook(wrapper, *args, inventories=INVENTORIES)
    assert before.exists(), result.stdout[-3000:]
    return result, pools(before), pools(after) if after.exists() else None


@pytest.fixture(scope="module")
def run(live_lab, tmp_path_factory):
    """remediate.yml on lp-01, then move.yml of lp-03, between the reads of the pools: one run. Each playbook's own
    variables are its import's vars (the target, the report directory), the waits -e for both."""
    work = tmp_path_factory.mktemp("writes")
    remediate_vars = {"target": "lp-01", "avd_report_dir": str(work / "remediate")}
    move_vars = {"target": "lp-03", "avd_target_pool": "hp-target", "avd_report_dir": str(work / "move")}
    imported = [
        {"ansible.builtin.import_playbook": str(REPO / "playbooks" / "remediate.yml"), "vars": remediate_vars},
        {"ansible.builtin.import_playbook": str(REPO / "playbooks" / "move.yml"), "vars": move_vars},
    ]
    waits = ("-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1")
    result, before, after = between_reads(live_lab, work, imported, *waits, *FAST)
    return result, before, after, work


def test_remediate_registers_the_host_in_its_live_pool_and_never_writes_to_the_stale_one(run):
    result, before, after, work = run
    assert set(before["hp-live"]["hosts"]) == {"lp-01", "lp-03"} and set(before["hp-stale"]["hosts"]) == {"lp-02"}
    stale_key = before["hp-stale"]["key"]
    report = json.loads((work / "remediate" / "remediation.json").read_text())
    entry = report["hosts"]["lp-01"]
    assert entry["outcome"] == "fixed", result.stdout[-5000:]
    assert entry["roles"] == ["registration"] and entry["after"]["state"] == "healthy"
    assert after is not None, result.stdout[-5000:]
    assert after["hp-live"]["hosts"]["lp-01"] == "Available"
    # Nothing went to hp-stale: it lists only its own host, and no registration key was made there.
    assert set(after["hp-stale"]["hosts"]) == {"lp-02"} and after["hp-stale"]["key"] == stale_key
    assert after["hp-live"]["key"] is not None  # the key came from the host's own pool
    # The run says which static value it did not follow.
    shown = flat(result.stdout)
    assert "lp-01: avd_host_pool=hp-stale disagrees with the host pool" in shown, result.stdout[-3000:]
    assert "(avd_host_pool_id names hp-live): using hp-live" in shown
    assert result.returncode == 0, result.stdout[-3000:]


def test_move_takes_the_host_from_its_live_pool_and_never_writes_to_the_stale_one(run):
    result, before, after, _work = run
    assert "lp-03" in before["hp-live"]["hosts"] and "lp-03" not in before["hp-target"]["hosts"]
    assert result.returncode == 0, result.stdout[-5000:]
    assert after is not None, result.stdout[-5000:]
    # Removed from the pool Azure listed it in, registered in the target, and nothing written to hp-stale.
    assert "lp-03" not in after["hp-live"]["hosts"], result.stdout[-3000:]
    assert after["hp-target"]["hosts"].get("lp-03") == "Available", result.stdout[-3000:]
    assert set(after["hp-stale"]["hosts"]) == {"lp-02"} and after["hp-stale"]["key"] == before["hp-stale"]["key"]
    shown = flat(result.stdout)
    assert "lp-03: avd_host_pool=hp-stale disagrees with the host pool" in shown
