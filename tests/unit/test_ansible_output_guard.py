"""The suite's guard on Ansible output (tests/conftest.py): a run that ends in success prints no [ERROR] on its
normal paths, and no run prints "Unknown error". The outputs below are ansible-core 2.19's default callback,
captured from small playbooks (an exhausted `until` with failed_when: false, an ignored failure, a rescued
failure, an ignored unreachable host)."""

from __future__ import annotations

from tests.conftest import errors_on_success, silent_failures

EXHAUSTED_WAIT = """\
TASK [avdops.sessionhost.boot_loader : Check the agent heartbeats again after the restart] ****
FAILED - RETRYING: [sh-01]: Check the agent heartbeats again after the restart (1 retries left).
[ERROR]: Task failed: Action failed: Unknown error.
Origin: roles/boot_loader/tasks/main.yml:48:3

ok: [sh-01 -> localhost]
"""
IGNORED_FAILURE = """\
TASK [ansible.builtin.fail] ****************************************************
[ERROR]: Task failed: Action failed: ignored failure
Origin: /tmp/rx/p.yml:4:7

4     - ansible.builtin.fail: {msg: ignored failure}
        ^ column 7

fatal: [localhost]: FAILED! => {"changed": false, "msg": "ignored failure"}
...ignoring
"""
RESCUED_FAILURE = """\
TASK [ansible.builtin.fail] ****************************************************
[ERROR]: Task failed: Action failed: rescued failure
Origin: /tmp/rx/p.yml:13:11

fatal: [localhost]: FAILED! => {"changed": false, "msg": "rescued failure"}

TASK [ansible.builtin.debug] ***************************************************
ok: [localhost] => {
    "msg": "rescued"
}
"""
IGNORED_UNREACHABLE = """\
TASK [Diagnose the session host] ***********************************************
[ERROR]: Task failed: Failed to connect to the host via PSRP: connection refused
Origin: playbooks/diagnose.yml:45:7

fatal: [sh-09]: UNREACHABLE! => {"changed": false, "msg": "Task failed: Failed to connect", "unreachable": true}
...ignoring
ok: [sh-01]
"""
IGNORED_UNREACHABLE_YAML = """\
TASK [Diagnose the session host] ***********************************************
[ERROR]: Task failed: ntlm: the specified credentials were rejected by the server
Origin: playbooks/diagnose.yml:45:7

fatal: [avd-21]: UNREACHABLE! =>
    changed: false
    msg: 'Task failed: ntlm: the specified credentials were rejected by the server'
    unreachable: true
...ignoring
"""
IGNORED_FAILURE_YAML = """\
TASK [Diagnose the session host] ***********************************************
[ERROR]: Task failed: Action failed: the runtime timed out
Origin: playbooks/diagnose.yml:45:7

fatal: [avd-21]: FAILED! =>
    changed: false
    msg: 'the runtime timed out'
...ignoring
"""
UNREACHABLE_NOT_IGNORED = """\
TASK [Reinstall] ***************************************************************
[ERROR]: Task failed: Failed to connect to the host via PSRP: connection refused
Origin: playbooks/reinstall.yml:45:7

fatal: [sh-09]: UNREACHABLE! => {"changed": false, "msg": "Task failed: Failed to connect", "unreachable": true}
"""


def test_an_error_in_a_run_that_ended_in_success_is_found_with_its_command_and_task():
    found = errors_on_success([("ansible-playbook remediate.yml", EXHAUSTED_WAIT, 0)], [])
    assert found == [
        "ansible-playbook remediate.yml: TASK [avdops.sessionhost.boot_loader : Check the agent heartbeats again after "
        "the restart]: [ERROR]: Task failed: Action failed: Unknown error."
    ]


def test_ignored_and_rescued_failures_in_a_successful_run_are_found():
    assert len(errors_on_success([("a", IGNORED_FAILURE, 0), ("b", RESCUED_FAILURE, 0)], [])) == 2


def test_a_run_that_failed_may_say_error():
    assert errors_on_success([("a", EXHAUSTED_WAIT + IGNORED_FAILURE, 2), ("b", RESCUED_FAILURE, None)], []) == []


def test_an_ignored_unreachable_host_is_a_real_error_a_successful_run_reports():
    assert errors_on_success([("diagnose", IGNORED_UNREACHABLE, 0)], []) == []
    # ... but only where the playbook ignores it: then the run goes on past a host that did not answer
    assert len(errors_on_success([("reinstall", UNREACHABLE_NOT_IGNORED, 0)], [])) == 1
    assert len(errors_on_success([("diagnose", IGNORED_UNREACHABLE + EXHAUSTED_WAIT, 0)], [])) == 1


def test_the_tests_allow_list_names_only_the_errors_it_expects():
    outputs = [("a", IGNORED_FAILURE + EXHAUSTED_WAIT, 0)]
    left = errors_on_success(outputs, [r"^TASK \[ansible\.builtin\.fail\]: \[ERROR\]: .*ignored failure"])
    assert len(left) == 1 and "Unknown error." in left[0]
    assert errors_on_success(outputs, [r"ignored failure", r"heartbeats again"]) == []


def test_unknown_error_is_found_whatever_the_exit_code():
    assert silent_failures([("a", EXHAUSTED_WAIT, 0)]) and silent_failures([("b", EXHAUSTED_WAIT, 2)])
    assert silent_failures([("c", IGNORED_FAILURE, 0)]) == []


def test_the_yaml_result_format_spans_lines_before_ignoring():
    assert errors_on_success([("diagnose", IGNORED_UNREACHABLE_YAML, 0)], []) == []
    assert len(errors_on_success([("diagnose", IGNORED_FAILURE_YAML, 0)], [])) == 1
    assert len(errors_on_success([("diagnose", IGNORED_UNREACHABLE_YAML + IGNORED_FAILURE_YAML, 0)], [])) == 1


def test_no_shipped_task_file_carries_the_message_less_failure_text():
    """ansible-core 2.19 prints the lines of a failed task's source around its origin: a comment there with Ansible's
    message-less failure text put those words in a user's output (a reinstall whose host dropped during the
    uninstall printed its comment line, and the suite's guard took it for a silent failure)."""
    from tests.conftest import REPO, SILENT_FAILURE

    sources = [
        path
        for folder in ("roles", "playbooks", "extensions")
        for path in (REPO / folder).rglob("*")
        if path.suffix in (".yml", ".yaml")
    ]
    assert len(sources) > 20  # the roles' tasks, the playbooks and the molecule scenarios
    assert [str(path.relative_to(REPO)) for path in sources if SILENT_FAILURE in path.read_text()] == []
