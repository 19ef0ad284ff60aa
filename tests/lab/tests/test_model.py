"""The lab's Windows model and AVD service on their own: registry, qwinsta, tokens, ARM, scenarios, persistence."""

from __future__ import annotations

import time

import pytest
from labworld import Arm, world

from avdlab.arm import API_VERSION
from avdlab.avd import HostPool, RegistrationError
from avdlab.model import HostSpec, LabModel, ScenarioError, parse_scenario
from avdlab.windows import known as k
from avdlab.windows import operations as ops
from avdlab.windows.registry import Registry, RegistryError, normalize_path
from avdlab.windows.state import HostState


# --- registry ----------------------------------------------------------------
def test_registry_types_and_case_insensitivity():
    registry = Registry()
    registry.set(r"HKLM:\SOFTWARE\Test", "Dword", "REG_DWORD", 4294967295)
    registry.set(r"HKEY_LOCAL_MACHINE\software\test", "Multi", "REG_MULTI_SZ", ["a", "b"])
    registry.set(r"HKLM\SOFTWARE\Test\Sub", "Bin", "REG_BINARY", b"\x00\xff")
    registry.set(r"HKLM\SOFTWARE\Test", "Q", "REG_QWORD", 2**63)
    registry.set(r"HKLM\SOFTWARE\Test", "Exp", "REG_EXPAND_SZ", "%SystemRoot%\\x")
    assert registry.get(r"hklm\Software\TEST", "dword").data == 4294967295
    assert registry.subkeys(r"HKLM\SOFTWARE\Test") == ["Sub"]
    clone = Registry.from_json(registry.to_json())
    assert clone.get(r"HKLM\SOFTWARE\Test\Sub", "Bin").data == b"\x00\xff"
    assert clone.get(r"HKLM\SOFTWARE\Test", "Multi").data == ["a", "b"]
    for bad in (("REG_DWORD", 2**32), ("REG_DWORD", "1"), ("REG_SZ", 1), ("REG_MULTI_SZ", "x"), ("REG_NONE", 1)):
        with pytest.raises(RegistryError):
            registry.set(r"HKLM\SOFTWARE\Test", "Bad", *bad)
    registry.delete_key(r"HKLM\SOFTWARE\Test")
    assert not registry.key_exists(r"HKLM\SOFTWARE\Test\Sub")
    assert normalize_path("HKCU:/Software/x/") == r"HKEY_CURRENT_USER\Software\x"


def test_registry_operations_report_changes_and_missing_keys():
    model = world(HostSpec("sh-01"))
    state = model.host("sh-01")
    assert ops.registry_read(state, r"HKLM\SOFTWARE\Nope")["exists"] is False
    read = ops.registry_read(state, k.RDINFRA_AGENT, ["IsRegistered", "BrokerURI"])
    assert {v["name"]: v["data"] for v in read["values"]} == {"IsRegistered": 1, "BrokerURI": k.BROKER_URI}
    assert "SxsStack" in read["subkeys"] and "HealthCheckReport" in read["subkeys"]
    assert ops.registry_write(state, k.RDINFRA_AGENT, "IsRegistered", "REG_DWORD", 1) == {"changed": False}
    assert ops.registry_write(state, k.RDINFRA_AGENT, "IsRegistered", "REG_DWORD", 0) == {"changed": True}
    with pytest.raises(ops.OperationError, match="REG_DWORD"):
        ops.registry_write(state, k.RDINFRA_AGENT, "IsRegistered", "REG_DWORD", -1)
    assert ops.registry_delete_value(state, k.RDINFRA_AGENT, "Nope") == {"changed": False}


# --- qwinsta -------------------------------------------------------------------
def test_qwinsta_layout_and_german():
    model = world(HostSpec("sh-01", sessions=1), HostSpec("sh-02", locale="de-DE"))
    english = ops.run_qwinsta(model.host("sh-01"))["text"].splitlines()
    assert english[0] == " SESSIONNAME               USERNAME                 ID  STATE   TYPE        DEVICE "
    assert english[1] == ">services                                            0  Disc" + " " * 24
    # sessions in id order: the user's session (2) before the listeners (65536, 65537)
    assert english[3].split() == [f"{k.sxs_winstation(k.SXS_VERSION)}#0", "user01", "2", "Active"]
    assert [line.split()[0] for line in english[4:]] == ["rdp-tcp", k.sxs_winstation(k.SXS_VERSION)]
    german = ops.run_qwinsta(model.host("sh-02"))["text"]
    assert german.startswith(" SITZUNGSNAME      BENUTZERNAME             ID  STATUS  TYP         GERÄT\r\n")
    assert " rdp-tcp                                 65536  Abhör.\r\n" in german


def test_disconnected_sessions_have_no_session_name():
    model = world(HostSpec("sh-01", sessions=2))
    state = model.host("sh-01")
    state.sessions[1].state = "Disconnected"
    assert "                          user02                    3  Disc" in ops.run_qwinsta(state)["text"]


# --- services ---------------------------------------------------------------------
def test_services_and_errors():
    model = world(HostSpec("sh-01"))
    state = model.host("sh-01")
    assert ops.service_query(state, "rdagentbootloader")["display_name"] == "Remote Desktop Agent Loader"
    assert ops.service_query(state, "Nope") == {"name": "Nope", "exists": False}
    with pytest.raises(ops.OperationError, match="Cannot find any service with service name 'Nope'"):
        ops.service_start(state, model.avd, "Nope")
    assert ops.service_set_start_type(state, k.BOOTLOADER_SERVICE, "disabled") == {"changed": True}
    ops.service_stop(state, k.BOOTLOADER_SERVICE)
    with pytest.raises(ops.OperationError, match="cannot be started"):
        ops.service_start(state, model.avd, k.BOOTLOADER_SERVICE)


# --- msiexec --------------------------------------------------------------------------
def test_msiexec_exit_codes():
    model = world(HostSpec("sh-01"))
    state = model.host("sh-01")
    assert ops.msiexec_uninstall(state, "{00000000-0000-0000-0000-000000000000}") == 1605
    assert ops.msiexec_install(state, model.avd, r"C:\nope.msi", {}) == 1619
    assert ops.msiexec_install(state, model.avd, k.sxs_msi_path(k.SXS_VERSION), {}) == 0  # already installed
    assert ops.msiexec_install(state, model.avd, k.sxs_msi_path(k.SXS_PREVIOUS_VERSION), {}) == 3010
    assert len(ops.installed_programs(state, k.SXS_PRODUCT)) == 2  # several instances of one program
    state.disk.free = 1024
    assert ops.msiexec_install(state, model.avd, k.agent_msi_path(k.AGENT_PREVIOUS_VERSION), {}) == 1603


def test_files_newest_first_and_events_filtered():
    model = world(HostSpec("sh-01", faults=["gateway_blocked"]))
    state = model.host("sh-01")
    msis = ops.list_files(state, k.RDINFRA_DIR, "SxSStack*.msi")
    assert [f["name"] for f in msis] == [f"SxSStack-{k.SXS_VERSION}.msi", f"SxSStack-{k.SXS_PREVIOUS_VERSION}.msi"]
    errors = ops.events(state, sources=["WVD-Agent"], ids=[3703])
    assert len(errors) == 1 and errors[0]["message"].startswith("RD Gateway Url:")
    assert ops.events(state, sources=["MsiInstaller"]) == []
    everything = ops.events(state, max_count=2)
    assert len(everything) == 2 and everything[0]["time"] >= everything[1]["time"]


# --- tokens ------------------------------------------------------------------------------
def test_tokens_signed_current_expired_and_foreign():
    model = world(HostSpec("sh-01"))
    pool, avd, state = model.pool, model.avd, model.host("sh-01")
    now = time.time()
    assert pool.token_claims(pool.sign_token(now + 60))["HostPoolId"] == pool.arm_id
    assert HostPool("hp-other").token_claims(pool.sign_token(now + 60)) is None
    current = pool.set_token(now + 7200)
    replaced = pool.sign_token(now + 7200)
    for token, code in (
        (replaced, "INVALID_REGISTRATION_TOKEN"),
        ("", "INVALID_REGISTRATION_TOKEN"),
        ("a.b.c", "INVALID_REGISTRATION_TOKEN"),
        (pool.sign_token(now - 1), "EXPIRED_REGISTRATION_TOKEN"),
    ):
        with pytest.raises(RegistrationError) as caught:
            avd.register(state, token, now)
        assert caught.value.code == code
    avd.register(state, current, now)


# --- ARM -------------------------------------------------------------------------------------
def test_arm_errors():
    model = world(HostSpec("sh-01", sessions=1))
    arm = Arm(model)
    status, answer = arm.call(
        "PATCH",
        "",
        {
            "properties": {
                "registrationInfo": {
                    "expirationTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 28 * 86400)),
                    "registrationTokenOperation": "Update",
                }
            }
        },
    )
    assert status == 400 and "between 1 hour and 27 days" in answer["error"]["message"]
    assert model.pool.token is None  # nothing changed
    assert arm.call("DELETE", "/sessionHosts/sh-01.lab.avd.test")[0] == 400  # has a user session
    assert arm.call("DELETE", "/sessionHosts/sh-01.lab.avd.test", query="&force=true")[0] == 200
    status, answer = arm.call("GET", "/sessionHosts/sh-01.lab.avd.test")
    assert status == 404 and answer["error"]["code"] == "ResourceNotFound"
    status, answer = arm._send("GET", f"{model.pool.arm_id.replace('hp-lab', 'hp-nope')}?api-version={API_VERSION}")
    assert status == 404 and "hp-nope" in answer["error"]["message"]
    arm.token = "forged"
    status, answer = arm.call("GET", "")
    assert status == 401 and answer["error"]["code"] == "InvalidAuthenticationToken"
    reader = Arm(model, can_write=False)
    status, answer = reader.call("PATCH", "/sessionHosts/xyz", {"properties": {"allowNewSession": False}})
    assert status == 403 and answer["error"]["code"] == "AuthorizationFailed"
    reader.settings.throttle = 1
    assert reader.call("GET", "")[0] == 429
    assert reader.call("GET", "")[0] == 200


def test_arm_user_sessions_drain_and_messages():
    model = world(HostSpec("sh-01", sessions=2))
    arm = Arm(model)
    state = model.host("sh-01")
    path = "/sessionHosts/sh-01.lab.avd.test"
    assert (
        arm.call("PATCH", path, {"properties": {"allowNewSession": False}})[1]["properties"]["allowNewSession"] is False
    )
    sessions = arm.call("GET", f"{path}/userSessions")[1]["value"]
    assert [s["properties"]["sessionState"] for s in sessions] == ["Active", "Active"]
    assert (
        arm.call("POST", f"{path}/userSessions/2/sendMessage", {"messageTitle": "Maintenance", "messageBody": "Save"})[
            0
        ]
        == 200
    )
    assert state.sessions[0].messages[0]["title"] == "Maintenance"
    assert arm.call("POST", f"{path}/userSessions/3/disconnect")[0] == 200
    assert state.sessions[1].state == "Disconnected"
    assert arm.call("DELETE", f"{path}/userSessions/2")[0] == 200
    assert [s.session_id for s in state.sessions] == [3]


# --- scenarios and persistence ------------------------------------------------------------------
def test_scenario_parsing():
    scenario = parse_scenario(
        "host_pool: {name: hp-lab, max_session_limit: 4}\n"
        "hosts:\n  - {name: sh-01, faults: [invalid_registration_token]}\n"
        "  - {name: sh-02, sessions: 2}\n  - {name: sh-03}\n"
    )
    assert [h.name for h in scenario.hosts] == ["sh-01", "sh-02", "sh-03"]
    assert scenario.hosts[0].faults == ["invalid_registration_token"] and scenario.hosts[1].sessions == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hosts: []", "non-empty list"),
        ("hosts: [{name: sh-01, faults: [nope]}]", "unknown fault 'nope'"),
        ("hosts: [{name: sh-01}, {name: SH-01}]", "listed twice"),
        ("hosts: [{name: this-name-is-too-long}]", "not a valid computer name"),
        ("hosts: [{name: sh-01, sessions: 9}]", "sessions must be"),
        ("host_pool: {max_session_limit: 0}\nhosts: [{name: a}]", "max_session_limit"),
        ("hosts: [{name: a, colour: red}]", "unknown keys: colour"),
        ("{", "not valid YAML"),
    ],
)
def test_scenario_errors_name_the_problem(text, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(text, "s.yml")


def test_host_state_is_saved_and_loaded(tmp_path):
    model = LabModel(
        parse_scenario("hosts: [{name: sh-01, faults: [disk_full], sessions: 1, locale: de-DE}]"), tmp_path
    )
    saved = tmp_path / "sh-01.json"
    loaded = HostState.load(saved)
    original = model.host("sh-01")
    assert loaded.to_json() == original.to_json()
    shown = model.show("sh-01")
    assert shown["pool_view"]["status"] == "UpgradeFailed"


def test_show_redacts_the_registration_token():
    model = world(HostSpec("sh-01", faults=["name_already_registered"]))
    token = model.pool.token
    assert token and token not in str(model.show("sh-01"))
