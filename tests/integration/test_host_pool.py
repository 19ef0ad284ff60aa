"""The host pool modules and the host_pool inventory plugin against the lab's ARM endpoint."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.conftest import REPO, ansible_env, run_ansible

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-arm, max_session_limit: 4}
hosts:
  - {name: ph-01, sessions: 2}
  - {name: ph-02}
  - {name: ph-03, faults: [bootloader_stopped]}
  - {name: ph-04, sessions: 1}
"""


@pytest.fixture(scope="module")
def arm_lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("arm") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("hostpool", "--scenario", str(scenario), "--first-address", "127.0.11.1")


def azure_env(lab, **overrides) -> dict[str, str]:
    arm = lab.config["arm"]
    env = {
        **ansible_env(ANSIBLE_STDOUT_CALLBACK="json"),
        "AZURE_SUBSCRIPTION_ID": arm["subscription_id"],
        "AZURE_CLIENT_ID": arm["client_id"],
        "AZURE_SECRET": arm["client_secret"],
        "AZURE_TENANT": arm["tenant_id"],
        "AZURE_ARM_ENDPOINT": arm["url"],
        "AZURE_AUTHORITY_HOST": arm["url"],
        "AZURE_CA_BUNDLE": lab.config["ca_cert"],
    }
    env.update(overrides)
    return env


def play(lab, tmp_path, module: str, args: dict, *extra: str, env: dict | None = None, callback: str = "json"):
    """One module call as a run of its own, for a test that needs its own environment or output: ``steps`` with one
    task. Returns the run and the call's registered result."""
    result, (registered,) = steps(lab, tmp_path, [call(module, args)], *extra, env=env, callback=callback)
    return result, registered


def call(module: str, args: dict, *, check: bool = False, diff: bool = False, refused: bool = False) -> dict:
    """One module call, a task of ``steps``'s playbook: in check mode or with its diff as --check or --diff would
    run it, and going on from its failure when it is ``refused`` (the test reads the failure from its result)."""
    task: dict = {f"avdops.sessionhost.{module}": args}
    if check:
        task["check_mode"] = True
    if diff:
        task["diff"] = True
    if refused:
        task["ignore_errors"] = True
    return task


def control(lab, route: str, method: str = "GET") -> dict:
    """A request to the lab's control endpoint (``lab.control``) as a task of ``steps``'s playbook."""
    url = json.loads((lab.directory / "daemon.json").read_text())["control_url"] + route
    return {"ansible.builtin.uri": {"url": url, "method": method, "timeout": 30, "return_content": True}}


def steps(lab, tmp_path, tasks: list[dict], *extra: str, env: dict | None = None, callback: str = "json", always=()):
    """Run ``tasks`` in order as the tasks ("Step 0", "Step 1"...) of ONE ansible-playbook run, where ``play`` runs
    one: a run costs about 1.5 CPU-s, mostly ansible-core starting. Returns the run and each task's registered
    result (None for a task the run did not reach); the ``always`` tasks run after them whatever happened."""
    named = [{"name": f"Step {index}", **task, "register": f"step_{index}"} for index, task in enumerate(tasks)]
    results = "{{ [" + ", ".join(f"step_{index} | default(None)" for index in range(len(tasks))) + "] | to_json }}"
    keep = {
        "name": "Keep",
        "ansible.builtin.command": {"argv": ["cp", "/dev/stdin", str(tmp_path / "steps.json")], "stdin": results},
        "no_log": True,
        "check_mode": False,
    }
    playbook = tmp_path / "steps.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Host pool",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "connection": "local",
                    "tasks": [{"name": "Steps", "block": named, "always": [*always, keep]}],
                }
            ]
        )
    )
    environment = env or azure_env(lab)
    environment["ANSIBLE_STDOUT_CALLBACK"] = callback
    result = run_ansible("ansible-playbook", str(playbook), *extra, env=environment)
    registered = json.loads((tmp_path / "steps.json").read_text())
    (tmp_path / "steps.json").unlink()
    return result, registered


def section(stdout: str, index: int) -> str:
    """What the default callback printed for task "Step <index>" of a ``steps`` run."""
    start = stdout.index(f"TASK [Step {index}]")
    end = stdout.find("TASK [", start + 1)
    return stdout[start : end if end != -1 else len(stdout)]


POOL = {"host_pool": "hp-arm", "resource_group": "rg-avdlab"}


def arm_requests(lab) -> int:
    return lab.control("/arm/stats")["requests"]


EXPIRIES = [0, 649, 700]


@pytest.fixture(scope="module")
def pool_reads(api_calls):
    """The pool read and the refused expiries, the lab's ARM requests read before and after each refusal."""
    return api_calls[0], api_calls[1]["reads"]


def test_host_pool_info(pool_reads):
    result, (out, *_unused) = pool_reads
    assert result.returncode == 0, result.stdout
    assert out["host_pool"]["max_session_limit"] == 4 and out["host_pool"]["host_pool_type"] == "Pooled"
    hosts = {h["short_name"]: h for h in out["session_hosts"]}
    assert hosts["ph-01"]["sessions"] == 2 and hosts["ph-01"]["status"] == "Available"
    assert hosts["ph-03"]["status"] == "Unavailable"
    assert hosts["ph-02"]["health_checks"] and hosts["ph-02"]["agent_version"]
    assert "token" not in json.dumps(out["host_pool"]).lower().replace("registration_expiration_time", "")


@pytest.fixture(scope="module")
def token_steps(api_calls):
    """The token's life (made, reused, rotated, revoked twice), then check mode on a pool without one."""
    return api_calls[0], api_calls[1]["token"]


def test_registration_token_reuse_rotation_and_revocation(token_steps):
    result, (first, again, rotated, revoked, absent, *_unused) = token_steps
    assert result.returncode == 0, result.stdout
    token = first["token"]
    assert first["changed"] and not first["reused"] and len(token) > 100
    assert token not in result.stdout and token not in result.stderr
    assert again["changed"] is False and again["reused"] is True and again["token"] == token
    assert rotated["changed"] is True and rotated["token"] != token
    assert revoked["changed"] is True and "token_set" in json.dumps(revoked["diff"])  # in the output too
    assert rotated["token"] not in result.stdout
    assert absent["changed"] is False


@pytest.mark.parametrize("hours", EXPIRIES)
def test_expiry_outside_the_documented_range_is_refused_before_any_call(pool_reads, hours):
    index = 1 + 2 * EXPIRIES.index(hours)
    before, refused, after = pool_reads[1][index : index + 3]
    assert refused["failed"] is True
    assert "expiration_hours must be from 1 to 648 (1 hour to 27 days)" in refused["msg"]
    assert json.loads(after["content"])["requests"] == json.loads(before["content"])["requests"]


def test_token_check_mode_changes_nothing(token_steps):
    result, (*_unused, out, info) = token_steps
    assert result.returncode == 0 and out["changed"] is True and out["token"] is None
    assert info["host_pool"]["registration_expiration_time"] is None


def test_planted_token_in_no_output_with_vvv(arm_lab, tmp_path):
    result, out = play(
        arm_lab, tmp_path, "registration_token", {**POOL, "expiration_hours": 3}, "-vvv", "--diff", callback="default"
    )
    assert result.returncode == 0
    token = out["token"]
    for text in (result.stdout, result.stderr):
        assert token not in text and token[:32] not in text
    assert "censored" in result.stdout or "hidden" in result.stdout


@pytest.fixture(scope="module")
def api_calls(arm_lab, tmp_path_factory):
    """The module calls of the tests that need neither an environment nor a text output of their own, in this order,
    as one run (the json callback's): the pool read and the refused expiries, the token's life, the removal, the
    user sessions, the 401, 404 and throttled reads and the Reader's write. The token's calls and the hosts' touch
    different things (the pool's key; ph-04, ph-01's sessions). Returns the run and each test's results."""
    ph01 = {**POOL, "session_host": "ph-01"}
    message = {"message_title": "Maintenance", "message_body": "Please save your work"}
    arm = arm_lab.config["arm"]
    hp_arm = {"name": "hp-arm", "resource_group": "rg-avdlab"}
    # credentials as the module's options (with a client_id option, auto takes the options alone, not AZURE_*)
    principal = {"subscription_id": arm["subscription_id"], "tenant": arm["tenant_id"], "client_id": arm["client_id"]}
    reader = {**principal, "client_id": arm["reader_client_id"], "secret": arm["reader_client_secret"]}
    reads = [call("host_pool_info", POOL)]
    for hours in EXPIRIES:
        refusal = call("registration_token", {**POOL, "expiration_hours": hours}, refused=True)
        reads += [control(arm_lab, "/arm/stats"), refusal]
    tests = {
        "reads": [*reads, control(arm_lab, "/arm/stats")],
        "token": [
            call("registration_token", {**POOL, "expiration_hours": 6}),
            call("registration_token", {**POOL, "expiration_hours": 6, "min_valid_hours": 2}),
            call("registration_token", {**POOL, "expiration_hours": 24, "min_valid_hours": 12}),
            call("registration_token", {**POOL, "state": "absent"}, diff=True),
            call("registration_token", {**POOL, "state": "absent"}),
            # test_token_check_mode_changes_nothing
            call("registration_token", {**POOL, "state": "absent"}),
            call("registration_token", {**POOL}, check=True),
            call("host_pool_info", {"host_pool": "hp-arm", "resource_group": "rg-avdlab"}),
        ],
        "removal": [
            call("session_host", {**POOL, "name": "ph-04", "state": "absent"}, refused=True),
            call("session_host", {**POOL, "name": "ph-04.lab.avd.test", "state": "absent", "force": True}),
            call("session_host", {**POOL, "name": "ph-04", "state": "absent"}),
            call("session_host", {**POOL, "name": "ph-04", "allow_new_session": False}, refused=True),
        ],
        "sessions": [
            call("user_session", ph01),
            call("user_session", {**ph01, **message}),
            control(arm_lab, "/hosts/ph-01"),  # the lab's own view of the host (avdlab show)
            call("user_session", {**ph01, "ids": ["3"], "state": "disconnected"}),
            call("user_session", {**ph01, "ids": ["3"], "state": "disconnected"}),
            call("user_session", {**ph01, "state": "logged_off"}),
            call("user_session", {**ph01, "ids": ["99"]}, refused=True),
        ],
        "errors": [
            call("host_pool_info", {**hp_arm, **principal, "secret": "wrong-secret"}, refused=True),
            call("host_pool_info", {"name": "hp-nope", "resource_group": "rg-avdlab"}, refused=True),
            control(arm_lab, "/arm/throttle?count=2", method="POST"),
            call("host_pool_info", {"name": "hp-arm", "resource_group": "rg-avdlab"}),
            control(arm_lab, "/arm/throttle?count=50", method="POST"),
            call("host_pool_info", {"name": "hp-arm", "resource_group": "rg-avdlab", "retries": 1}, refused=True),
            control(arm_lab, "/arm/throttle?count=0", method="POST"),
        ],
        "reader": [call("session_host", {**POOL, "name": "ph-02", "allow_new_session": False, **reader}, refused=True)],
    }
    result, registered = steps(
        arm_lab,
        tmp_path_factory.mktemp("calls"),
        [task for tasks in tests.values() for task in tasks],
        always=[control(arm_lab, "/arm/throttle?count=0", method="POST")],
    )
    results: dict[str, list] = {}
    start = 0
    for name, tasks in tests.items():
        results[name] = registered[start : start + len(tasks)]
        start += len(tasks)
    return result, results


def test_removal_refused_with_sessions_and_done_with_force(api_calls):
    result, (refused, removed, again, missing) = api_calls[0], api_calls[1]["removal"]
    assert result.returncode == 0, result.stdout
    assert refused["failed"] is True and "1 user session(s)" in refused["msg"]
    assert removed["changed"] is True and removed["removed"] == "ph-04.lab.avd.test"
    assert again["changed"] is False
    assert missing["failed"] is True and "is not in host pool 'hp-arm'" in missing["msg"]


def test_user_sessions_message_disconnect_log_off(api_calls):
    result, (listed, sent, shown, disconnected, again, logged_off, bad) = api_calls[0], api_calls[1]["sessions"]
    assert result.returncode == 0, result.stdout
    assert listed["changed"] is False and [s["state"] for s in listed["sessions"]] == ["Active", "Active"]
    assert sent["messaged"] == ["2", "3"]
    sessions = json.loads(shown["content"])["sessions"]
    assert [s["messages"][0]["body"] for s in sessions] == ["Please save your work"] * 2
    assert disconnected["disconnected"] == ["3"]
    assert again["changed"] is False
    assert logged_off["logged_off"] == ["2", "3"] and logged_off["sessions"] == []
    assert bad["failed"] is True and "no user session 99" in bad["msg"]


def test_401_404_and_429_are_clear(api_calls):
    result, (wrong, missing, _throttled, retried, _throttled_more, exhausted, _reset) = (
        api_calls[0],
        api_calls[1]["errors"],
    )
    assert result.returncode == 0, result.stdout
    assert (
        wrong["failed"] is True and "authentication failed" in wrong["msg"] and "Invalid client secret" in wrong["msg"]
    )
    assert missing["failed"] is True and "not found (HTTP 404" in missing["msg"] and "hp-nope" in missing["msg"]
    assert not retried.get("failed"), retried  # retried after Retry-After
    assert exhausted["failed"] is True and "HTTP 429" in exhausted["msg"]


def test_403_names_the_missing_permission(api_calls):
    result, (refused,) = api_calls[0], api_calls[1]["reader"]
    assert result.returncode == 0, result.stdout
    assert refused["failed"] is True and "permission denied (HTTP 403" in refused["msg"]


@pytest.fixture(scope="module")
def custom_inventory(arm_lab, tmp_path_factory):
    """The lab's host_pool source with groups, compose and a cache added, listed (a contributor's credentials)."""
    cache = tmp_path_factory.mktemp("inventory") / "cache"
    config = yaml.safe_load((arm_lab.inventory / "hostpool.avd.yml").read_text())
    config.update(
        {
            "keyed_groups": [{"key": "avd_status", "prefix": "status"}],
            "groups": {"busy": "avd_sessions | int > 0"},
            "compose": {"avd_label": "avd_host_pool ~ '/' ~ inventory_hostname"},
            "cache": True,
            "cache_plugin": "ansible.builtin.jsonfile",
            "cache_connection": str(cache),
        }
    )
    source = arm_lab.inventory / "custom.avd.yml"
    source.write_text(yaml.safe_dump(config))
    result = run_ansible("ansible-inventory", "-i", str(source), "--list")
    source.unlink()
    return result, cache


def test_inventory_plugin(arm_lab, custom_inventory):
    result, cache = custom_inventory
    assert result.returncode == 0, result.stderr
    inventory = json.loads(
        result.stdout, object_hook=lambda d: d["__ansible_unsafe"] if set(d) == {"__ansible_unsafe"} else d
    )
    hostvars = inventory["_meta"]["hostvars"]
    assert {"ph-01", "ph-02", "ph-03"} <= set(hostvars)
    assert hostvars["ph-03"]["avd_status"] == "Unavailable" and hostvars["ph-01"]["avd_max_session_limit"] == 4
    assert hostvars["ph-02"]["ansible_host"] == arm_lab.config["hosts"][1]["address"]  # lab host_vars (DNS stand-in)
    assert hostvars["ph-02"]["avd_label"] == "hp-arm/ph-02"
    assert "avd_registration_expiration_time" in hostvars["ph-02"]
    assert (
        "ph-03" in inventory["avd_status_unavailable"]["hosts"] and "ph-03" in inventory["status_Unavailable"]["hosts"]
    )
    assert "avd_host_pool_hp_arm" in inventory
    assert list(cache.iterdir())  # the cache was written


def test_diagnose_uses_the_pools_view(arm_lab, tmp_path):
    result = arm_lab.playbook(
        REPO / "playbooks" / "diagnose.yml", "-e", f"avd_report_dir={tmp_path}", inventories=("hostpool.avd.yml",)
    )
    assert result.returncode == 0, result.stdout[-3000:]
    report = json.loads((tmp_path / "diagnosis.json").read_text())
    ph03 = report["hosts"]["ph-03"]
    assert ph03["findings"][0]["id"] == "BOOTLOADER_NOT_RUNNING"
    assert "host pool reports status=Unavailable" in " ".join(ph03["findings"][0]["evidence"])
    assert not report["hosts"]["ph-02"]["unchecked"]  # the session limit came from the pool


def test_a_reader_inventory_says_the_key_could_not_be_checked_not_that_there_is_none(arm_lab, custom_inventory):
    arm = arm_lab.config["arm"]
    config = yaml.safe_load((arm_lab.inventory / "hostpool.avd.yml").read_text())
    # the reader service principal in the inventory file, with where the lab's Azure is
    config.update(
        {
            "client_id": arm["reader_client_id"],
            "secret": arm["reader_client_secret"],
            "tenant": arm["tenant_id"],
            "subscription_id": arm["subscription_id"],
            "arm_endpoint": arm["url"],
            "authority": arm["url"],
            "ca_bundle": arm_lab.config["ca_cert"],
        }
    )
    source = arm_lab.inventory / "reader.avd.yml"
    source.write_text(yaml.safe_dump(config))
    writer = custom_inventory[0]  # the same source with a contributor's credentials (nothing wrote since)
    result = run_ansible("ansible-inventory", "-i", str(source), "--list")
    source.unlink()
    assert result.returncode == 0 and writer.returncode == 0, result.stderr + writer.stderr

    def hostvars(out: str) -> dict:
        unsafe = json.loads(out, object_hook=lambda d: d["__ansible_unsafe"] if set(d) == {"__ansible_unsafe"} else d)
        return unsafe["_meta"]["hostvars"]["ph-02"]

    as_reader, as_contributor = hostvars(result.stdout), hostvars(writer.stdout)
    assert as_reader["avd_status"] == "Available"  # the Reader still reads the pool and its hosts
    assert as_reader["avd_registration_key_checked"] is False and as_reader["avd_registration_expiration_time"] is None
    assert "permission denied (HTTP 403" in as_reader["avd_registration_key_error"]
    assert "listRegistrationTokens/action" in as_reader["avd_registration_key_error"]
    assert (
        as_contributor["avd_registration_key_checked"] is True and as_contributor["avd_registration_key_error"] is None
    )


@pytest.fixture(scope="module")
def diff_steps(arm_lab, tmp_path_factory):
    """The token's diff (made, then revoked), then ph-02 drained in preview, drained twice and undrained twice: one
    run, with the text the default callback prints of each diff. The drain leaves ph-02 as it found it (open to new
    sessions), so it may come last of the tests that read the pool."""
    args = {**POOL, "name": "ph-02", "allow_new_session": False}
    undrain = {**args, "allow_new_session": True}
    return steps(
        arm_lab,
        tmp_path_factory.mktemp("diff"),
        [
            call("registration_token", {**POOL, "state": "absent"}),
            call("registration_token", {**POOL, "expiration_hours": 5}, diff=True),
            call("registration_token", {**POOL, "state": "absent"}, diff=True),
            # test_drain_on_and_off_is_idempotent_and_previewable
            call("session_host", args, check=True, diff=True),
            call("host_pool_info", {"name": "hp-arm", "resource_group": "rg-avdlab"}),
            call("session_host", args),
            call("session_host", args),
            call("session_host", undrain),
            call("session_host", undrain),
        ],
        callback="default",
    )


def test_token_diff_shows_the_expiry_before_and_after_never_the_token(diff_steps):
    result, (_absent, out, _revoked, *_unused) = diff_steps
    assert result.returncode == 0, result.stdout
    created, revoked = section(result.stdout, 1), section(result.stdout, 2)
    assert "-expiration_time: None" in created and f"+expiration_time: {out['expiration_time']}" in created
    assert "-token_set: false" in created and "+token_set: true" in created
    assert out["token"] not in result.stdout and out["token"][:32] not in result.stdout + result.stderr
    assert f"-expiration_time: {out['expiration_time']}" in revoked and "+token_set: false" in revoked


def test_drain_on_and_off_is_idempotent_and_previewable(diff_steps):
    result, (*_unused, out, info, drained, again, undrained, still) = diff_steps
    assert result.returncode == 0 and out["changed"] is True
    assert "allow_new_session" in section(result.stdout, 3)
    assert next(h for h in info["session_hosts"] if h["short_name"] == "ph-02")["allow_new_session"] is True
    assert drained["changed"] is True
    assert again["changed"] is False
    assert undrained["changed"] is True
    assert still["session_host"]["allow_new_session"] is True


def test_a_certificate_azure_cannot_verify_is_reported_as_tls_not_as_credentials(arm_lab, tmp_path):
    untrusted = azure_env(arm_lab)
    del untrusted["AZURE_CA_BUNDLE"]  # the lab's CA is not in the default trust store, as with a TLS-inspecting proxy
    before = arm_requests(arm_lab)
    result, registered = play(
        arm_lab, tmp_path, "host_pool_info", {"name": "hp-arm", "resource_group": "rg-avdlab"}, env=untrusted
    )
    assert result.returncode != 0 and registered["failed"] is True
    assert "TLS verification failed talking to" in result.stdout and "ca_bundle" in result.stdout, result.stdout
    assert "client_id" not in result.stdout and "secret" not in result.stdout.replace("AZURE_SECRET", "")
    assert arm_requests(arm_lab) == before  # no request got through


def test_a_vm_powered_off_is_stopped_not_contacted_and_fails_only_when_asked(arm_lab, tmp_path):
    arm_lab.power("ph-02", "off")
    try:
        arm_lab.reset_stats()
        args = ("-e", f"avd_report_dir={tmp_path}", "-e", "target=ph-01:ph-02", "-e", "avd_fail_on=critical")
        result = arm_lab.playbook(REPO / "playbooks" / "diagnose.yml", *args, inventories=("hostpool.avd.yml",))
        assert result.returncode == 0, result.stdout[-3000:]  # a VM autoscaling turned off is not a failure
        report = json.loads((tmp_path / "diagnosis.json").read_text())
        stopped = report["hosts"]["ph-02"]
        # Azure's own word on the VM (its instance view), the pool's Shutdown beside it.
        assert stopped["state"] == "stopped" and stopped["reason"].startswith("the VM is deallocated")
        assert stopped["details"]["status"] == "Shutdown"
        assert report["hosts"]["ph-01"]["state"] == "healthy"
        assert report["summary"]["stopped"] == 1 and report["summary"]["diagnosed"] == 1
        assert arm_lab.stats()["ph-02"]["commands"] == 0  # not contacted
        asked = arm_lab.playbook(
            REPO / "playbooks" / "diagnose.yml",
            *args,
            "-e",
            "avd_fail_on_stopped=true",
            inventories=("hostpool.avd.yml",),
        )
        assert asked.returncode != 0 and "ph-02" in asked.stdout
    finally:
        arm_lab.power("ph-02", "on")


def test_the_workers_of_host_pool_tasks_use_the_token_the_inventory_got(arm_lab, tmp_path):
    """The host_pool inventory gets a token in the controller's main process; the workers Ansible forks from it for
    each host pool task and host inherit that credential and its token instead of asking Entra ID again."""
    playbook = tmp_path / "pool.yml"
    task = {"avdops.sessionhost.host_pool_info": {"host_pool": "{{ avd_host_pool }}", "resource_group": "rg-avdlab"}}
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Every host asks the pool twice",
                    "hosts": "all",
                    "gather_facts": False,
                    "tasks": [{"name": "First", **task}, {"name": "Second", **task}],
                }
            ]
        )
    )
    before = arm_lab.control("/arm/stats")
    result = arm_lab.playbook(playbook, inventories=("hostpool.avd.yml",))
    assert result.returncode == 0, result.stdout[-3000:]
    hosts = re.findall(r"^(ph-\d+) +: ok=2 ", result.stdout, re.MULTILINE)  # the pool's hosts (a test removed one)
    assert len(hosts) >= 3 and result.stdout.count("ok: [ph-") == 2 * len(hosts)  # two workers per host called ARM
    after = arm_lab.control("/arm/stats")
    assert after["requests"] - before["requests"] > 2 * len(hosts)
    assert after["token_requests"] - before["token_requests"] == 1  # the inventory's, and no worker's
