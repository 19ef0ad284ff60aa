"""Ansible forks a worker for every task and host, a skipped task too (its condition is evaluated in the worker):
remediate.yml's steps that most runs skip are one include per host, not one task each."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import REPO

PLAYBOOKS = REPO / "playbooks"


def play(name: str) -> dict[str, Any]:
    plays = yaml.safe_load((PLAYBOOKS / "remediate.yml").read_text())
    return next(p for p in plays if p["name"] == name)


def test_the_rollout_gates_check_is_one_include_its_conditions_on_the_include():
    gate = next(t for t in play("Remediate")["tasks"] if t["name"].startswith("Check the host after its fix"))
    assert gate["ansible.builtin.include_tasks"] == "tasks/rollout_gate.yml"
    assert "block" not in gate
    assert "avd_max_fail_percentage | default(100) | int < 100" in gate["when"]  # a run without batches: skipped
    included = yaml.safe_load((PLAYBOOKS / "tasks" / "rollout_gate.yml").read_text())
    assert [t["register"] for t in included if "register" in t] == ["avd_pool_now", "avd_after_fix"]
    assert "avd_after" in included[2]["ansible.builtin.set_fact"]  # the diagnosis after, kept for the report


def test_the_batch_and_the_reach_are_noted_by_one_task():
    tasks = play("Remediate")["tasks"]
    note = next(t for t in tasks if t["name"].startswith("Note the batch the host runs in"))
    assert "'reached': true" in note["ansible.builtin.set_fact"]["avd_run"]
    block = yaml.safe_load((PLAYBOOKS / "tasks" / "remediate_host.yml").read_text())[0]["block"]
    assert "ansible.builtin.include_role" in block[0]  # the drain comes first: nothing left to note before it


def test_a_host_with_nothing_to_fix_skips_the_fix_with_one_include():
    """Five tasks (drain, note, the roles, restore, note) and the block's rescue are one include per host, its
    condition on the include: a converged host's worker is forked once for them, not five times."""
    fix = next(t for t in play("Remediate")["tasks"] if t["name"] == "Remediate the session host")
    assert fix["ansible.builtin.include_tasks"] == "tasks/remediate_host.yml"
    assert fix["when"] == "avd_plan.roles | length > 0"
    assert "block" not in fix
    (included,) = yaml.safe_load((PLAYBOOKS / "tasks" / "remediate_host.yml").read_text())
    assert included["ignore_unreachable"] is True  # a host that drops is reported; its drain mode still restored
    assert [t["name"].split(" (")[0] for t in included["always"]] == [
        "Restore the drain mode after the fix",
        "Note the restore",
    ]
    assert "ansible.builtin.set_fact" in included["rescue"][0]  # what failed is recorded; the pool goes on


def test_the_diagnosis_after_is_read_by_the_report_without_a_task_per_host_to_copy_it():
    tasks = play("Diagnose again and report before and after")["tasks"]
    assert not any("set_fact" in key for task in tasks for key in task)
    diagnose = next(t for t in tasks if "avdops.sessionhost.diagnose" in t)
    assert diagnose["register"] == "avd_after_run" and diagnose["when"] == "avd_after is not defined"
    report = next(t for t in tasks if "avdops.sessionhost.remediation_report" in t)
    after = report["avdops.sessionhost.remediation_report"]["after"]
    # each host's own diagnosis after, the rollout gate's (avd_after) over the skipped one where the gate checked it
    assert after.index("avd_after_run") < after.index("combine(") < after.index("attribute='avd_after')")


def test_a_host_move_yml_leaves_alone_skips_the_move_with_one_include():
    """move.yml: a host already in the target pool (a rerun) or held by another run skips the move's 13 tasks with
    one include; the key is still asked for once, for the hosts that move."""
    plays = yaml.safe_load((PLAYBOOKS / "move.yml").read_text())
    tasks = next(p for p in plays if p["name"] == "Move session hosts to another host pool")["tasks"]
    move = next(t for t in tasks if t["name"] == "Move the session host")
    assert move["ansible.builtin.include_tasks"] == "tasks/move_host.yml"
    assert move["when"] == "avd_move.needed"
    (included,) = yaml.safe_load((PLAYBOOKS / "tasks" / "move_host.yml").read_text())
    assert included["ignore_unreachable"] is True  # a host that drops is reported; its drain mode still restored
    key = next(t for t in included["block"] if "avdops.sessionhost.registration_token" in t)
    assert key["run_once"] is True
    assert [t["name"].split(" (")[0] for t in included["always"]][-1].startswith("Let new sessions in again")
