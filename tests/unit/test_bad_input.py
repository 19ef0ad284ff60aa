"""Errors, not exceptions: bad input to every module, the filter, the inventory plugin and the report.

Each case runs the real action plugin (or filter, or inventory plugin) in-process and expects a
message that names what is wrong. No AttributeError, KeyError or TypeError may reach the user,
and nothing changes: the task's host is never contacted, Azure gets no changing call, no report
is written.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
import yaml
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task

from ansible_collections.avdops.sessionhost.plugins.filter.avd import avd_diagnose
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _azure_action
from tests.conftest import ansible_env, run_ansible

PYTHON_ERRORS = ("AttributeError", "KeyError", "TypeError", "object has no attribute", "Traceback")
AZURE = {"subscription_id": "00000000-0000-0000-0000-000000000000", "auth_source": "cli"}
POOL = {**AZURE, "host_pool": "hp-demo", "resource_group": "rg-avd"}
HEALTHY_FINDING = {
    "id": "DISK_SPACE_LOW",
    "severity": "warning",
    "title": "t",
    "evidence": [],
    "remediation": "r",
    "doc": "d",
}


class FakeAzure:
    """The SDK client's surface the modules read; any changing call is recorded (and must not happen)."""

    def __init__(self) -> None:
        self.changes: list[str] = []
        host = SimpleNamespace(name="hp-demo/sh-01.contoso.com", sessions=2, allow_new_session=True)
        session = SimpleNamespace(
            name="hp-demo/sh-01.contoso.com/1",
            user_principal_name="u@contoso.com",
            active_directory_user_name="u",
            session_state="Active",
            application_type="Desktop",
            create_time=None,
        )
        change = self.change
        self.host_pools = SimpleNamespace(update=change("host_pools.update"))
        self.session_hosts = SimpleNamespace(
            list=lambda *a, **k: [host], update=change("session_hosts.update"), delete=change("session_hosts.delete")
        )
        self.user_sessions = SimpleNamespace(
            list=lambda *a, **k: [session],
            delete=change("user_sessions.delete"),
            disconnect=change("user_sessions.disconnect"),
            send_message=change("user_sessions.send_message"),
        )

    def change(self, name: str) -> Any:
        return lambda *args, **kwargs: self.changes.append(name)


def run_action(module: str, args: dict[str, Any], task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
    plugin = importlib.import_module(f"ansible_collections.avdops.sessionhost.plugins.action.{module}")
    task = Task()
    task.args = args
    task.action = f"avdops.sessionhost.{module}"
    task.check_mode = False
    task.diff = False
    task.async_val = 0
    connection = mock.MagicMock()
    connection.exec_command.side_effect = AssertionError("the host was contacted")
    connection.put_file.side_effect = AssertionError("the host was contacted")
    action = plugin.ActionModule(
        task=task,
        connection=connection,
        play_context=PlayContext(),
        loader=DataLoader(),
        templar=None,
        shared_loader_obj=None,
    )
    action._load_name = task.action  # the plugin loader sets it; ansible-core < 2.19 names the module with it
    azure = FakeAzure()
    with mock.patch.object(_azure_action, "client", lambda settings: azure):
        try:
            result = action.run(task_vars=task_vars or {})
        except AnsibleError as exc:  # Ansible shows these as the task's failure message
            result = {"failed": True, "msg": str(exc)}
    assert azure.changes == [], f"Azure was changed: {azure.changes}"
    assert not connection.exec_command.called and not connection.put_file.called
    return result


def run_filter(*args: Any) -> dict[str, Any]:
    try:
        return avd_diagnose(*args)
    except AnsibleError as exc:
        return {"failed": True, "msg": str(exc)}


def run_inventory(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """ansible-inventory on a bad *.avd.yml (the plugin resolves only through Ansible's collection loader)."""
    source = tmp_path / "bad.avd.yml"
    source.write_text(yaml.safe_dump({"plugin": "avdops.sessionhost.host_pool", **config}))
    result = run_ansible(
        "ansible-inventory", "-i", str(source), "--list", env=ansible_env(ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1")
    )
    return {"failed": result.returncode != 0, "msg": " ".join((result.stdout + result.stderr).split())}


def facts(**sections: Any) -> dict[str, Any]:
    return {"schema_version": 1, **sections}


# (what, how to run it, what the message must say)
CASES: list[tuple[str, str, Any, str]] = [
    # --- registration_token
    (
        "token: expiry 0 h",
        "registration_token",
        {**POOL, "expiration_hours": 0},
        "expiration_hours must be from 1 to 648",
    ),
    ("token: expiry 700 h", "registration_token", {**POOL, "expiration_hours": 700}, "expiration_hours must be from 1"),
    ("token: min over expiry", "registration_token", {**POOL, "min_valid_hours": 30}, "min_valid_hours must be"),
    ("token: negative min", "registration_token", {**POOL, "min_valid_hours": -1}, "min_valid_hours must be"),
    ("token: unknown state", "registration_token", {**POOL, "state": "gone"}, "state must be one of"),
    ("token: no resource group", "registration_token", {**AZURE, "host_pool": "hp"}, "resource_group"),
    ("token: expiry a word", "registration_token", {**POOL, "expiration_hours": "soon"}, "expiration_hours"),
    ("token: no subscription", "registration_token", {**POOL, "subscription_id": ""}, "subscription_id is required"),
    (
        "token: credential without secret",
        "registration_token",
        {**POOL, "auth_source": "credential", "client_id": "c", "tenant": "t"},
        "auth_source=credential needs secret",
    ),
    ("token: unknown cloud", "registration_token", {**POOL, "cloud_environment": "Mars"}, "cloud_environment 'Mars'"),
    ("token: negative retries", "registration_token", {**POOL, "retries": -1}, "retries must not be negative"),
    ("token: unknown option", "registration_token", {**POOL, "token": "x"}, "Unsupported parameters"),
    # --- session_host
    (
        "host: drain a word",
        "session_host",
        {**POOL, "name": "sh-01", "allow_new_session": "maybe"},
        "allow_new_session",
    ),
    ("host: remove with users", "session_host", {**POOL, "name": "sh-01", "state": "absent"}, "2 user session(s)"),
    (
        "host: not in the pool",
        "session_host",
        {**POOL, "name": "sh-99", "allow_new_session": False},
        "'sh-99' is not in",
    ),
    ("host: no name", "session_host", {**POOL}, "missing required arguments: name"),
    # --- user_session
    ("session: title only", "user_session", {**POOL, "session_host": "sh-01", "message_title": "t"}, "go together"),
    ("session: unknown id", "user_session", {**POOL, "session_host": "sh-01", "ids": ["9"]}, "no user session 9"),
    ("session: unknown state", "user_session", {**POOL, "session_host": "sh-01", "state": "signed_out"}, "state must"),
    ("session: no host", "user_session", {**POOL}, "missing required arguments: session_host"),
    # --- host_pool_info
    (
        "info: no host pool",
        "host_pool_info",
        {**AZURE, "resource_group": "rg"},
        "missing required arguments: host_pool",
    ),
    (
        "info: retries a word",
        "host_pool_info",
        {**AZURE, "resource_group": "rg", "name": "hp", "retries": "x"},
        "retries",
    ),
    # --- diagnose
    ("diagnose: facts a string", "diagnose", {"facts": "x"}, "facts"),
    ("diagnose: agent garbage", "diagnose", {"facts": facts(agent="garbage")}, "facts.agent: expected a mapping"),
    ("diagnose: events of strings", "diagnose", {"facts": facts(events=["x"])}, "facts.events[0]: expected an event"),
    ("diagnose: no schema", "diagnose", {"facts": {"agent": {}}}, "facts.schema_version: expected 1"),
    ("diagnose: schema 2", "diagnose", {"facts": {"schema_version": 2}}, "schema version 1, got 2"),
    ("diagnose: schema a string", "diagnose", {"facts": {"schema_version": "1"}}, "facts.schema_version"),
    ("diagnose: disk bytes a word", "diagnose", {"facts": facts(disk={"free_bytes": "lots"})}, "facts.disk.free_bytes"),
    (
        "diagnose: service a string",
        "diagnose",
        {"facts": facts(services={"RDAgent": "Running"})},
        "facts.services['RDAgent']",
    ),
    (
        "diagnose: errors without operation",
        "diagnose",
        {"facts": facts(errors=[{"operation": 5}])},
        "facts.errors[0].operation",
    ),
    (
        "diagnose: limit a word",
        "diagnose",
        {"facts": facts(), "host_pool": {"max_session_limit": "eight"}},
        "host_pool.max_session_limit",
    ),
    ("diagnose: pool a list", "diagnose", {"facts": facts(), "host_pool": [1]}, "host_pool"),
    ("diagnose: unknown subset", "diagnose", {"gather_subset": ["bogus"]}, "unknown subset 'bogus'"),
    ("diagnose: events age 0", "diagnose", {"events_max_age": 0}, "events_max_age must be at least 1"),
    ("diagnose: probe not a URL", "diagnose", {"probe_urls": ["ftp://x"]}, "probe_urls[0]: expected an http"),
    # --- session_host_facts
    ("facts: unknown exclusion", "session_host_facts", {"gather_subset": ["!bogus"]}, "unknown subset '!bogus'"),
    ("facts: probe timeout 0", "session_host_facts", {"probe_timeout": 0}, "probe_timeout must be at least 1"),
    ("facts: count a word", "session_host_facts", {"events_max_count": "many"}, "events_max_count"),
    # --- diagnosis_report
    ("report: result a string", "diagnosis_report", {"results": {"sh-01": "healthy"}}, "results['sh-01']: expected"),
    (
        "report: unknown severity",
        "diagnosis_report",
        {"results": {"sh-01": {"diagnosis": {"findings": [{**HEALTHY_FINDING, "severity": "high"}]}}}},
        "findings[0].severity: expected one of critical, warning, info",
    ),
    (
        "report: unknown state",
        "diagnosis_report",
        {"results": {"sh-01": {"diagnosis": {"state": "fine"}}}},
        "diagnosis.state: expected one of",
    ),
    ("report: results a list", "diagnosis_report", {"results": ["sh-01"]}, "results"),
    ("report: unknown fail_on", "diagnosis_report", {"results": {}, "fail_on": "high"}, "fail_on must be one of"),
    # --- image_check
    ("image: agent garbage", "image_check", {"facts": facts(agent="garbage")}, "facts.agent: expected a mapping"),
    ("image: probe timeout 0", "image_check", {"probe_timeout": 0}, "probe_timeout must be at least 1"),
    # --- remediation modules
    ("boot loader: unknown state", "boot_loader", {"state": "stopped"}, "state must be one of"),
    ("boot loader: settle 1000 s", "boot_loader", {"settle_seconds": 1000}, "settle_seconds must be between 0 and 300"),
    (
        "registration: token with spaces",
        "agent_registration",
        {"registration_token": "a b"},
        "registration_token is empty or has spaces",
    ),
    ("policy: unknown policy", "local_policy", {"remove": ["NoSuchPolicy"]}, "remove"),
]
FILTER_CASES: list[tuple[str, tuple[Any, ...], str]] = [
    ("filter: facts a string", ("x",), "facts: expected the avd_session_host facts"),
    ("filter: agent garbage", (facts(agent="garbage"),), "facts.agent: expected a mapping"),
    ("filter: events of strings", (facts(events=["x"]),), "facts.events[0]"),
    ("filter: event id a string", (facts(events=[{"id": "3277"}]),), "facts.events[0].id"),
    ("filter: negative sessions", (facts(), {"sessions": -1}), "host_pool.sessions: expected a whole number"),
]
INVENTORY_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("inventory: pools a string", {"host_pools": "hp-demo"}, "host_pools[0] must be a mapping with name and resource"),
    ("inventory: no resource group", {"host_pools": [{"name": "hp"}]}, "host_pools[0] needs resource_group"),
    (
        "inventory: misspelt key",
        {"host_pools": [{"name": "hp", "resource_group": "rg", "resourcegroup": "rg"}]},
        "unknown key(s) resourcegroup",
    ),
    ("inventory: no pools", {"host_pools": []}, "host_pools must be a list of host pools"),
    ("inventory: pools missing", {}, "host_pools"),
    ("inventory: empty name", {"host_pools": [{"name": " ", "resource_group": "rg"}]}, "host_pools[0] needs name"),
]


def test_the_table_is_big_enough():
    assert len(CASES) + len(FILTER_CASES) + len(INVENTORY_CASES) >= 40


def assert_clear_refusal(result: dict[str, Any], expected: str) -> None:
    assert result.get("failed") is True, result
    message = str(result.get("msg"))
    assert expected in message, message
    assert not any(error in message for error in PYTHON_ERRORS), message
    assert not result.get("changed")


@pytest.mark.parametrize(("what", "module", "args", "expected"), CASES, ids=[c[0] for c in CASES])
def test_modules_refuse_bad_input_clearly_and_change_nothing(what, module, args, expected, tmp_path, monkeypatch):
    for variable in ("AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_SECRET", "AZURE_TENANT"):
        monkeypatch.delenv(variable, raising=False)
    if module == "diagnosis_report":
        args = {"report_dir": str(tmp_path / "reports"), **args}
    assert_clear_refusal(run_action(module, args), expected)
    assert not (tmp_path / "reports").exists()  # no report written from bad input


def test_bad_host_pool_variables_are_named(tmp_path):
    result = run_action("diagnose", {"facts": facts()}, {"avd_max_session_limit": "lots"})
    assert_clear_refusal(result, "avd_max_session_limit: expected a whole number")


@pytest.mark.parametrize(("what", "args", "expected"), FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
def test_the_filter_refuses_bad_facts_clearly(what, args, expected):
    assert_clear_refusal(run_filter(*args), expected)


@pytest.mark.parametrize(("what", "config", "expected"), INVENTORY_CASES, ids=[c[0] for c in INVENTORY_CASES])
def test_the_inventory_plugin_refuses_bad_config_before_calling_azure(what, config, expected, tmp_path):
    assert_clear_refusal(run_inventory(tmp_path, {"subscription_id": "s", **config}), expected)


def test_a_module_that_changed_something_then_failed_says_changed_and_what_it_did():
    """user_session signing out sessions 2 and 3: 2 is signed out, 3 fails; the result says changed and names 2."""
    from azure.core.exceptions import HttpResponseError

    plugin = importlib.import_module("ansible_collections.avdops.sessionhost.plugins.action.user_session")
    azure = FakeAzure()
    sessions = [
        SimpleNamespace(
            name=f"hp-demo/sh-01.contoso.com/{sid}",
            user_principal_name=f"u{sid}@contoso.com",
            active_directory_user_name=f"u{sid}",
            session_state="Active",
            application_type="Desktop",
            create_time=None,
        )
        for sid in ("2", "3")
    ]

    def sign_out(resource_group, pool, host, sid, force):
        if sid == "3":
            raise HttpResponseError(message="the session host did not answer")
        azure.changes.append(f"signed out {sid}")

    azure.user_sessions = SimpleNamespace(list=lambda *a, **k: sessions, delete=sign_out)
    task = Task()
    task.args = {**POOL, "session_host": "sh-01", "state": "logged_off", "ids": ["2", "3"]}
    task.action, task.check_mode, task.diff, task.async_val = "avdops.sessionhost.user_session", False, False, 0
    action = plugin.ActionModule(
        task=task,
        connection=mock.MagicMock(),
        play_context=PlayContext(),
        loader=DataLoader(),
        templar=None,
        shared_loader_obj=None,
    )
    with mock.patch.object(_azure_action, "client", lambda settings: azure):
        result = action.run(task_vars={})
    assert azure.changes == ["signed out 2"]
    assert result["failed"] is True and result["changed"] is True
    assert result["logged_off"] == ["2"] and result["session_host"] == "sh-01.contoso.com"
    assert "sign out session 3 on sh-01.contoso.com" in result["msg"]
    assert "already done on sh-01.contoso.com: logged_off 2" in result["msg"]


def test_a_token_generated_but_not_read_back_is_reported_changed():
    """registration_token: the update went through, reading the new key back failed: changed, with its expiry."""
    from azure.core.exceptions import ServiceRequestError

    plugin = importlib.import_module("ansible_collections.avdops.sessionhost.plugins.action.registration_token")
    azure = FakeAzure()
    reads = []

    def retrieve(resource_group, pool):
        reads.append(pool)
        if len(reads) > 1:
            raise ServiceRequestError("Connection reset by peer")
        return SimpleNamespace(token=None, expiration_time=None)

    def update(resource_group, pool, patch):
        azure.changes.append("host_pools.update")
        expiry = patch.registration_info.expiration_time
        return SimpleNamespace(registration_info=SimpleNamespace(token=None, expiration_time=expiry))

    azure.host_pools = SimpleNamespace(retrieve_registration_token=retrieve, update=update)
    task = Task()
    task.args = {**POOL, "expiration_hours": 4}
    task.action, task.check_mode, task.diff, task.async_val = "avdops.sessionhost.registration_token", False, False, 0
    action = plugin.ActionModule(
        task=task,
        connection=mock.MagicMock(),
        play_context=PlayContext(),
        loader=DataLoader(),
        templar=None,
        shared_loader_obj=None,
    )
    with mock.patch.object(_azure_action, "client", lambda settings: azure):
        result = action.run(task_vars={})
    assert azure.changes == ["host_pools.update"]
    assert result["failed"] is True and result["changed"] is True and result["expiration_time"]
    assert "generated a new registration token for host pool 'hp-demo'" in result["msg"]
    assert "could not read it back" in result["msg"] and "token" not in result
