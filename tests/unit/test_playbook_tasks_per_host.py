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


def test_the_pool_address_is_included_only_where_the_inventory_gave_live_data_or_a_static_value_disagrees():
    """With a static inventory that agrees there is nothing to say or set: each write playbook skips the include once
    per host, not its two tasks (test_live_pool_writes.py runs the live path, a stale static value beside it)."""
    for name in ("remediate.yml", "reinstall.yml", "move.yml"):
        tasks = [t for p in yaml.safe_load((PLAYBOOKS / name).read_text()) for t in p.get("tasks", [])]
        (include,) = [t for t in tasks if t.get("ansible.builtin.include_tasks") == "tasks/pool_address.yml"]
        assert include["vars"]["avd_pool_address"] == (
            "{{ hostvars[inventory_hostname] | avdops.sessionhost.avd_pool_address }}"
        ), name
        assert include["when"] == "avd_pool_address.live or avd_pool_address.static_disagrees | length > 0", name


def test_the_drain_role_begins_with_one_task_and_decides_whom_to_leave_alone_in_one():
    """The lock is one run_guard task (it names the host as its pool does, and warns where it undid an interrupted
    run's drain); the drain mode, the users and the two reasons to leave a host alone are one set_fact."""
    roles = REPO / "roles" / "drain" / "tasks"
    (begin,) = yaml.safe_load((roles / "begin.yml").read_text())
    (lock,) = begin["block"]
    assert lock["register"] == "drain_lock" and "name" not in lock["avdops.sessionhost.run_guard"]
    main = yaml.safe_load((roles / "main.yml").read_text())
    facts = [t for t in main if "ansible.builtin.set_fact" in t and "drain_lookup" in t.get("vars", {})]
    (remember,) = facts
    expression = remember["ansible.builtin.set_fact"]["drain_state"]
    assert "'not changed: ' ~ drain_lock.held_by" in expression and "the run cannot place" in expression
    assert not [t for t in main if t["name"].startswith("Leave a host that another run is changing alone")]
