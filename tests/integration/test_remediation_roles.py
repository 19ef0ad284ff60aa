"""The remediation roles against the lab: each fix ends Available, check mode and a second run change nothing,
and the registration key the roles hand to the agent appears in no output at any verbosity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.interrupting import Arm

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-roles, max_session_limit: 4}
hosts:
  - {name: rr-01, faults: [invalid_registration_token]}
  - {name: rr-02, faults: [bootloader_stopped]}
  - {name: rr-03, faults: [endpoint_not_found]}
  - {name: rr-04, faults: [expired_registration_token]}
  - {name: rr-05}
"""
ROLES = {"rr-01": "registration", "rr-02": "boot_loader", "rr-03": "registration", "rr-04": "registration"}


def play(tmp_path: Path, hosts: str, tasks: list[dict]) -> Path:
    path = tmp_path / f"play-{len(list(tmp_path.iterdir()))}.yml"
    path.write_text(yaml.safe_dump([{"name": "Lab", "hosts": hosts, "gather_facts": False, "tasks": tasks}]))
    return path


@pytest.fixture(scope="module")
def roles_lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("roles") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("roles", "--scenario", str(scenario), "--first-address", "127.0.28.1")


def host_state(lab, name: str) -> dict:
    return json.loads((lab.directory / "hosts" / f"{name}.json").read_text())


def registry_value(state: dict, key_suffix: str, name: str):
    for key, values in state["registry"].items():
        if key.lower().endswith(key_suffix.lower()):
            for value in values:
                if value["name"] == name:
                    return value["data"]
    return None


def snapshot(lab) -> dict:
    """Every host's registry and services, and the host pool as its session hosts see it."""
    hosts = {h["name"]: host_state(lab, h["name"]) for h in lab.hosts}
    return {
        name: {
            "registry": state["registry"],
            # A failing boot loader that is about to stop (stop_at) has stopped by the time anyone looks.
            "services": {
                key: {**svc, "state": "Stopped" if svc["stop_at"] else svc["state"], "stop_at": None}
                for key, svc in state["services"].items()
            },
            "programs": state["programs"],
        }
        for name, state in hosts.items()
    }


def apply_roles(lab, tmp_path: Path, *extra: str):
    tasks = [
        {
            "name": "Fix",
            "ansible.builtin.include_role": {"name": "avdops.sessionhost.{{ avd_test_roles[inventory_hostname] }}"},
            "vars": {"avd_settle_seconds": 2},
        }
    ]
    playbook = play(tmp_path, ",".join(ROLES), tasks)
    return lab.playbook(playbook, "-e", json.dumps({"avd_test_roles": ROLES}), *extra)


@pytest.fixture(scope="module")
def planted_token(roles_lab) -> str:
    """A registration key generated before the run: the roles reuse it, so the test knows what to look for."""
    token = Arm(roles_lab).generate_key(6)  # as an admin does in the portal
    assert token.count(".") == 2
    return token


@pytest.fixture(scope="module")
def check_run(roles_lab, planted_token, tmp_path_factory):
    before = snapshot(roles_lab)
    result = apply_roles(roles_lab, tmp_path_factory.mktemp("check"), "--check", "--diff")
    return before, result, snapshot(roles_lab)


@pytest.fixture(scope="module")
def first_run(roles_lab, check_run, tmp_path_factory):
    return apply_roles(roles_lab, tmp_path_factory.mktemp("first"), "--diff", "-vvvvv")


@pytest.fixture(scope="module")
def second_run(roles_lab, first_run, tmp_path_factory):
    before = snapshot(roles_lab)
    result = apply_roles(roles_lab, tmp_path_factory.mktemp("second"), "--diff")
    return before, result, snapshot(roles_lab)


def test_check_mode_changes_nothing_and_says_what_it_would_do(check_run):
    before, result, after = check_run
    assert result.returncode == 0, result.stdout[-4000:]
    assert before == after
    assert "RegistrationToken: (secret)" in result.stdout
    assert "service RDAgentBootLoader: Running" in result.stdout


def test_each_host_is_fixed_registered_and_available(roles_lab, first_run):
    assert first_run.returncode == 0, first_run.stdout[-6000:]
    for name in ROLES:
        state = host_state(roles_lab, name)
        assert registry_value(state, r"\RDInfraAgent", "IsRegistered") == 1, name
        assert registry_value(state, r"\RDInfraAgent", "RegistrationToken") == "", name  # emptied by the agent
    statuses = {name: host["status"] for name, host in Arm(roles_lab).session_hosts().items()}  # as ARM lists them
    assert statuses == {f"rr-0{i}": "Available" for i in range(1, 6)}


def test_second_run_changes_nothing(second_run):
    before, result, after = second_run
    assert result.returncode == 0, result.stdout[-4000:]
    assert "changed=0" in result.stdout and "changed=1" not in result.stdout
    assert {n: s["registry"] for n, s in before.items()} == {n: s["registry"] for n, s in after.items()}


def test_planted_token_is_in_no_output_at_any_verbosity(planted_token, check_run, first_run, second_run):
    outputs = [check_run[1].stdout, check_run[1].stderr, first_run.stdout, first_run.stderr]
    outputs += [second_run[1].stdout, second_run[1].stderr]
    assert "WINRM RESULT" in first_run.stdout  # the run really was at -vvvvv
    for text in outputs:
        assert planted_token not in text
        assert planted_token.split(".")[1][:24] not in text


def test_unknown_host_pool_is_a_clear_error_and_nothing_changes(roles_lab, tmp_path):
    before = snapshot(roles_lab)
    tasks = [{"name": "Fix", "ansible.builtin.include_role": {"name": "avdops.sessionhost.registration"}}]
    result = roles_lab.playbook(
        play(tmp_path, "rr-05", tasks),
        "-e",
        "avd_host_pool=hp-nope",
        "-e",
        "registration_reregister=true",
        "-e",
        "avd_settle_seconds=1",
    )
    assert result.returncode != 0
    assert "hp-nope" in result.stdout and "not found" in result.stdout.lower()
    assert snapshot(roles_lab) == before
