"""session_host_facts against 20 lab hosts carrying different faults: facts match each host's state,
one WinRM command per host, and a planted registration token appears in no output, even with -vvv."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import run_ansible

pytestmark = pytest.mark.lab

FAULTS = [
    None,
    None,
    "bootloader_stopped",
    "agent_not_installed",
    "invalid_registration_token",
    "expired_registration_token",
    "broker_blocked",
    "gateway_blocked",
    "stack_health_check_failed",
    "msi_policy_blocked",
    "installer_busy",
    "cmd_policy_blocked",
    "stack_listener_broken",
    "disk_full",
    "dotnet_outdated",
    "sxs_stack_missing",
    "session_limit_reached",
    "unsupported_os",
    "name_already_registered",
    "endpoint_not_found",
]
PLAYBOOK = """
- name: Gather
  hosts: all
  gather_facts: false
  tasks:
    - name: Gather session host facts
      avdops.sessionhost.session_host_facts:
"""


@pytest.fixture(scope="module")
def facts_lab(lab_factory, tmp_path_factory):
    folder = tmp_path_factory.mktemp("facts")
    hosts = []
    for index, fault in enumerate(FAULTS, 1):
        entry = {"name": f"fx-{index:02d}", "faults": [fault] if fault else []}
        if index == 2:
            entry.update(sessions=2, locale="de-DE")
        if index == 3:
            entry.update(sessions=1, locale="ja-JP")
        hosts.append(entry)
    scenario = folder / "scenario.yml"
    scenario.write_text(json.dumps({"host_pool": {"name": "hp-facts", "max_session_limit": 4}, "hosts": hosts}))
    (folder / "gather.yml").write_text(PLAYBOOK)
    lab = lab_factory("facts", "--scenario", str(scenario), "--first-address", "127.0.8.1")
    lab.playbook_file = folder / "gather.yml"
    return lab


def run_playbook(lab, *extra: str, callback: str = "json") -> subprocess.CompletedProcess[str]:
    return lab.playbook(lab.playbook_file, *extra, env={"ANSIBLE_STDOUT_CALLBACK": callback})


@pytest.fixture(scope="module")
def gathered(facts_lab):
    facts_lab.reset_stats()
    result = run_playbook(facts_lab)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    stats = facts_lab.stats()
    report = json.loads(result.stdout)
    hosts = report["plays"][0]["tasks"][0]["hosts"]
    return {name: answer["ansible_facts"]["avd_session_host"] for name, answer in hosts.items()}, stats


def lab_state(lab, name: str) -> dict:
    return json.loads((lab.directory / "hosts" / f"{name}.json").read_text())


def reg(state: dict, path: str, name: str):
    for key, values in state["registry"].items():
        if key.lower() == path.lower():
            for value in values:
                if value["name"].lower() == name.lower():
                    return value["data"]
    return None


RDINFRA = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RDInfraAgent"


def test_exactly_one_winrm_command_per_host(facts_lab, gathered):
    _unused, stats = gathered
    assert {name: s["commands"] for name, s in stats.items()} == {name: 1 for name in stats}
    assert all(s["errors"] == 0 for s in stats.values())


def test_one_command_whatever_the_subsets(facts_lab, tmp_path):
    """Three gathers of fx-01, each with other subsets: the tasks of one play (one ansible-playbook, not three)."""
    subsets = ("disk", "agent,stack", "all,!events,!network")
    tasks = [
        {"name": f"Gather {subset}", "avdops.sessionhost.session_host_facts": {"gather_subset": subset}}
        for subset in subsets
    ]
    play = tmp_path / "subsets.yml"
    play.write_text(json.dumps([{"name": "Subsets", "hosts": "fx-01", "gather_facts": False, "tasks": tasks}]))
    facts_lab.reset_stats()
    result = facts_lab.playbook(play)
    assert result.returncode == 0, result.stdout
    assert [line.split(" ")[0] for line in result.stdout.splitlines() if "[fx-01]" in line] == ["ok:"] * 3
    assert facts_lab.stats()["fx-01"]["commands"] == 3


def test_facts_match_each_hosts_state(facts_lab, gathered):
    facts, _unused = gathered
    assert len(facts) == 20
    for name, host in facts.items():
        state = lab_state(facts_lab, name)
        assert host["errors"] == [], (name, host["errors"])
        agent = host["agent"]
        assert agent["is_registered"] == reg(state, RDINFRA, "IsRegistered"), name
        assert agent["registration_token_set"] == bool(reg(state, RDINFRA, "RegistrationToken")), name
        services = {s["name"]: s for s in state["services"].values()}
        bootloader = services.get("RDAgentBootLoader")
        assert host["services"]["RDAgentBootLoader"]["exists"] == (bootloader is not None), name
        if bootloader:
            assert host["services"]["RDAgentBootLoader"]["state"] == bootloader["state"], name
        listeners = dict(entry.split("=") for entry in state["active_listeners"])
        sxs = host["stack"]["qwinsta"]["rdp_sxs"]
        expected_sxs = next(((n, s) for n, s in listeners.items() if n.startswith("rdp-sxs")), None)
        assert (sxs["session_name"], sxs["state_normalized"]) == expected_sxs if sxs else expected_sxs is None, name
        ids = sorted(e["event_id"] for e in state["events"] if e["event_id"] in (3277, 3703, 3019, 3389))
        assert sorted(e["id"] for e in host["events"]) == ids, name
        assert host["dotnet"]["release"] == reg(
            state, r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full", "Release"
        )
        assert host["os"]["edition"] == reg(
            state, r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion", "EditionID"
        )
        assert host["disk"]["free_bytes"] == state["disk"]["free"]
        assert host["installer"]["busy"] == state["installer_busy"]
        assert host["sessions"]["total"] == len(state["sessions"])
        assert host["network"]["broker"]["reachable"] == (name != "fx-07"), name  # broker_blocked


def test_specific_faults_show_in_the_facts(gathered):
    facts, _unused = gathered
    assert facts["fx-02"]["stack"]["qwinsta"]["language"] == "de"
    assert facts["fx-02"]["sessions"]["by_state"] == {"Active": 2}
    # the lab's real layouts: German "Abhör.", Japanese double-width headers, users before listeners
    assert facts["fx-02"]["stack"]["qwinsta"]["both_listening"] is True
    assert facts["fx-03"]["stack"]["qwinsta"]["language"] == "ja"
    assert facts["fx-03"]["stack"]["qwinsta"]["rdp_tcp"]["state_normalized"] == "Listen"
    assert facts["fx-03"]["sessions"]["by_state"] == {"Active": 1}
    assert facts["fx-04"]["services"]["RDAgentBootLoader"]["exists"] is False
    assert all(not v for v in facts["fx-04"]["components"]["programs"].values())
    assert facts["fx-10"]["policies"]["disable_msi"] == 1
    assert facts["fx-12"]["policies"]["disable_cmd"]["user_hives"][".DEFAULT"] == 1
    assert facts["fx-13"]["stack"]["winstations"][0]["fReverseConnectMode"] == 0
    assert facts["fx-14"]["disk"]["free_bytes"] < 300 * 1024**2
    assert facts["fx-15"]["dotnet"]["meets_472"] is False
    assert facts["fx-16"]["stack"]["reverse_connection_listener_present"] is False
    assert facts["fx-18"]["os"]["supports_sxs_stack"] is False
    assert facts["fx-11"]["installer"]["busy"] is True
    assert facts["fx-01"]["agent"]["health_checks"] and all(
        c["passed"] for c in facts["fx-01"]["agent"]["health_checks"]
    )


def test_planted_tokens_appear_in_no_output(facts_lab, gathered):
    tokens = [reg(lab_state(facts_lab, name), RDINFRA, "RegistrationToken") for name in ("fx-05", "fx-06", "fx-19")]
    assert all(token and len(token) > 100 for token in tokens)
    facts, _unused = gathered
    verbose = run_playbook(facts_lab, "-vvv", callback="default")
    assert verbose.returncode == 0
    outputs = [json.dumps(facts), verbose.stdout, verbose.stderr]
    for token in tokens:
        for output in outputs:
            assert token not in output
            assert token[:40] not in output and token[-40:] not in output


def test_check_mode_changes_nothing(facts_lab):
    before = {path.name: path.read_text() for path in (facts_lab.directory / "hosts").glob("*.json")}
    result = run_playbook(facts_lab, "--check")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert all(not h["changed"] for h in report["plays"][0]["tasks"][0]["hosts"].values())
    after = {path.name: path.read_text() for path in (facts_lab.directory / "hosts").glob("*.json")}
    changed = [name for name in before if json.loads(before[name])["registry"] != json.loads(after[name])["registry"]]
    assert changed == []


def test_bad_options_fail_clearly(facts_lab):
    bad = facts_lab.ansible("fx-01", "-m", "avdops.sessionhost.session_host_facts", "-a", "gather_subset=agnet")
    assert bad.returncode != 0 and "unknown subset 'agnet'" in bad.stdout


def test_ansible_doc_renders():
    result = run_ansible("ansible-doc", "avdops.sessionhost.session_host_facts")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "gather_subset" in text and "WinRM command per host" in text and "EXAMPLES" in text
