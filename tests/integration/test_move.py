"""Several host pools against the lab: the host_pool inventory plugin lists each, and playbooks/move.yml moves
session hosts between them (old pool no longer lists them, the new one lists them Available), leaves hosts with
users alone without consent, changes nothing in check mode or on a second run, and never shows the key."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO, run_ansible
from tests.interrupting import Arm

pytestmark = pytest.mark.lab

SCENARIO = """
host_pools:
  - {name: hp-old, max_session_limit: 4}
  - {name: hp-new, max_session_limit: 6}
hosts:
  - {name: mv-01}
  - {name: mv-02}
  - {name: mv-03, sessions: 1}
  - {name: mv-04, pool: hp-new}
  - {name: mv-05}
"""
MOVED = ["mv-01", "mv-02", "mv-05"]
LIMIT = "mv-01,mv-02,mv-03,mv-04,mv-05"
FAST = ["-e", "avd_settle_seconds=2", "-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1"]
FAST += ["-e", "avd_available_delay=1"]


@pytest.fixture(scope="module")
def pools_lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("pools") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("pools", "--scenario", str(scenario), "--first-address", "127.0.23.1")


def pools(lab) -> dict[str, dict[str, dict]]:
    """Each host pool's session hosts: status and drain mode, read as any ARM client would."""
    arm = Arm(lab)
    return {
        pool: {
            name: {"status": entry["status"], "allow_new_session": entry["allowNewSession"]}
            for name, entry in arm.session_hosts(pool).items()
        }
        for pool in ("hp-old", "hp-new")
    }


def registries(lab) -> dict[str, dict]:
    return {
        h["name"]: json.loads((lab.directory / "hosts" / f"{h['name']}.json").read_text())["registry"]
        for h in lab.hosts
    }


def move(lab, *extra: str, limit: str = LIMIT):
    return lab.playbook(
        REPO / "playbooks" / "move.yml", "-e", "avd_target_pool=hp-new", "--limit", limit, *FAST, *extra
    )


@pytest.fixture(scope="module")
def planted_token(pools_lab) -> str:
    """A key of the target pool generated before the runs (as an admin does in the portal): move.yml reuses it, so
    the test knows what to look for."""
    token = Arm(pools_lab).generate_key(6, "hp-new")
    assert token.count(".") == 2
    return token


@pytest.fixture(scope="module")
def prepared(pools_lab, planted_token):
    """mv-02 drained before the move; mv-05 already removed from hp-old (a run that stopped midway): through the
    lab's ARM, as the portal would."""
    arm = Arm(pools_lab)
    arm.drain("mv-02", "hp-old")
    arm.remove("mv-05", "hp-old")


@pytest.fixture(scope="module")
def check_run(pools_lab, prepared):
    before = (registries(pools_lab), pools(pools_lab))
    result = move(pools_lab, "--check", "--diff")
    return before, result, (registries(pools_lab), pools(pools_lab))


@pytest.fixture(scope="module")
def first_run(pools_lab, check_run):
    return move(pools_lab, "--diff", "-vvv")


@pytest.fixture(scope="module")
def second_run(pools_lab, first_run):
    before = (registries(pools_lab), pools(pools_lab))
    result = move(pools_lab, "--diff")
    return before, result, (registries(pools_lab), pools(pools_lab))


def test_inventory_lists_the_hosts_of_each_pool_with_their_pools_variables(pools_lab):
    result = run_ansible("ansible-inventory", "-i", str(pools_lab.inventory / "hostpool.avd.yml"), "--list")
    assert result.returncode == 0, result.stderr
    inventory = json.loads(
        result.stdout, object_hook=lambda d: d["__ansible_unsafe"] if set(d) == {"__ansible_unsafe"} else d
    )
    hostvars = inventory["_meta"]["hostvars"]
    assert hostvars["mv-01"]["avd_host_pool"] == "hp-old" and hostvars["mv-01"]["avd_max_session_limit"] == 4
    assert hostvars["mv-04"]["avd_host_pool"] == "hp-new" and hostvars["mv-04"]["avd_max_session_limit"] == 6
    assert hostvars["mv-03"]["avd_sessions"] == 1
    assert set(inventory["avd_host_pool_hp_old"]["hosts"]) == {"mv-01", "mv-02", "mv-03", "mv-05"}
    assert inventory["avd_host_pool_hp_new"]["hosts"] == ["mv-04"]
    static = run_ansible("ansible-inventory", "-i", str(pools_lab.inventory / "hosts.yml"), "--host", "mv-04")
    assert json.loads(static.stdout)["avd_host_pool"] == "hp-new"  # the static inventory agrees


def test_check_mode_previews_each_step_and_changes_nothing(check_run):
    before, result, after = check_run
    assert result.returncode == 0, result.stdout[-4000:]
    assert before == after
    assert "mv-01: would move from hp-old to hp-new" in result.stdout
    assert "mv-05: would move from no host pool to hp-new" in result.stdout
    assert "mv-04: already in hp-new" in result.stdout
    assert "RegistrationToken: (secret)" in result.stdout


def test_hosts_move_to_the_new_pool_available_and_leave_the_old_one(pools_lab, first_run):
    assert first_run.returncode == 0, first_run.stdout[-6000:]
    listed = pools(pools_lab)
    for name in MOVED:
        assert name not in listed["hp-old"], name
        assert listed["hp-new"][name]["status"] == "Available", name
    assert listed["hp-new"]["mv-02"]["allow_new_session"] is False  # drained before, drained after
    assert listed["hp-new"]["mv-01"]["allow_new_session"] is True
    assert "mv-01: moved from hp-old to hp-new" in first_run.stdout
    state = json.loads((pools_lab.directory / "hosts" / "mv-01.json").read_text())
    agent = {v["name"]: v["data"] for k, v in state["registry"].items() if k.endswith("RDInfraAgent") for v in v}
    assert agent["IsRegistered"] == 1 and agent["RegistrationToken"] == ""
    assert agent["HostPoolArmPath"].endswith("/hostPools/hp-new")


def test_a_host_with_users_is_skipped_without_consent(pools_lab, first_run):
    listed = pools(pools_lab)
    assert "mv-03" in listed["hp-old"] and "mv-03" not in listed["hp-new"]
    assert listed["hp-old"]["mv-03"]["allow_new_session"] is True  # drained for the wait, then let in again
    assert "mv-03: skipped: 1 user session(s) still on the host" in first_run.stdout
    state = json.loads((pools_lab.directory / "hosts" / "mv-03.json").read_text())
    assert state["sessions"][0]["messages"], "the user was told"


def test_second_run_changes_nothing(second_run):
    before, result, after = second_run
    assert result.returncode == 0, result.stdout[-4000:]
    recap = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("mv-0")}
    for name in [*MOVED, "mv-04"]:
        assert " changed=0 " in recap[name], recap[name]
    # The host skipped for its user is drained, told and opened again on every run, as remediate.yml does.
    assert "mv-03: skipped: 1 user session(s)" in result.stdout
    assert before == after


def test_planted_token_is_in_no_output_log_or_host_file(pools_lab, planted_token, check_run, first_run, second_run):
    assert "<127.0." in first_run.stdout or "ESTABLISH WINRM" in first_run.stdout  # the run really was at -vvv
    texts = [check_run[1].stdout, check_run[1].stderr, first_run.stdout, first_run.stderr]
    texts += [second_run[1].stdout, second_run[1].stderr, (pools_lab.directory / "lab.log").read_text()]
    texts += [path.read_text() for path in (pools_lab.directory / "hosts").glob("*.json")]
    for text in texts:
        assert planted_token not in text
        assert planted_token.split(".")[1][:24] not in text


def test_a_host_that_is_off_stays_in_its_pool_and_a_rerun_moves_it(pools_lab, second_run):
    """mv-03 is off when the move starts: refused before the drain and the removal (once it left hp-old it could
    not join hp-new: in no pool), so it stays in hp-old, open; once it is back, running again moves it."""
    pools_lab.control("/hosts/mv-03/power?state=off", method="POST")
    try:
        dropped = move(pools_lab, "-e", "avd_force=true", "-e", "avd_available_retries=2", limit="mv-03")
    finally:
        pools_lab.control("/hosts/mv-03/power?state=on", method="POST")
    assert dropped.returncode != 0
    assert "mv-03: not moved:" in dropped.stdout
    listed = pools(pools_lab)
    assert listed["hp-old"]["mv-03"]["allow_new_session"] is True and "mv-03" not in listed["hp-new"]
    rerun = move(pools_lab, "-e", "avd_force=true", limit="mv-03")
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert "mv-03: moved from hp-old to hp-new" in rerun.stdout
    assert pools(pools_lab)["hp-new"]["mv-03"]["status"] == "Available"
