"""The Windows Installer Logging and Debug machine policies (issue #19 item 1): every installation writes its
log in C:\\Windows\\Temp with what Windows puts there, and the runtime never hands a secret to an installer
that logs it."""

from __future__ import annotations

import json

import pytest
from labworld import world
from test_runtime_operations import only

from avdlab.auth import Account
from avdlab.host import LabHost
from avdlab.model import HostSpec, ScenarioError, parse_scenario
from avdlab.windows import known as k
from avdlab.windows import operations as ops

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJwb29sIjoiaHAtbGFiIiwibGFiLXRva2VuLXBsYW50ZWQifQ.c2lnbmF0dXJl"
AGENT = k.agent_msi_path(k.AGENT_VERSION)


def lab_host(**policies) -> LabHost:
    model = world(HostSpec("sh-01", faults=["agent_not_installed"], **policies))
    return LabHost(name="sh-01", address="127.0.0.1", account=Account("avdadmin", "p"), model=model)


def logs(host: LabHost) -> list[str]:
    return [
        entry.text or ""
        for path, entry in sorted(host.state.files.items())
        if path.startswith(k.WINDOWS_TEMP.lower() + "\\msi") and path.endswith(".log")
    ]


def test_the_scenario_sets_the_policies_where_group_policy_writes_them():
    host = lab_host(msi_logging_policy="voicewarmupx", msi_debug_policy=7)
    assert host.state.registry.get_data(k.INSTALLER_POLICY, "Logging") == "voicewarmupx"
    assert host.state.registry.get_data(k.INSTALLER_POLICY, "Debug") == 7
    base = "hosts:\n  - {name: sh-01, %s}\n"
    assert parse_scenario(base % "msi_logging_policy: '*v', msi_debug_policy: 7").hosts[0].msi_debug_policy == 7
    for bad in ("msi_logging_policy: verbose", "msi_debug_policy: 9", "msi_debug_policy: true"):
        with pytest.raises(ScenarioError, match="msi_"):
            parse_scenario(base % bad)


def test_without_a_policy_an_installation_writes_no_log():
    host = lab_host()
    assert ops.msiexec_install(host.state, host.model.avd, AGENT, {"REGISTRATIONTOKEN": TOKEN}) == 0
    assert logs(host) == []


def test_the_logging_policy_logs_every_property_windows_does_not_hide():
    # What the agent install did before: the token as a property. The policy's verbose log and its
    # terminal-property dump carry it (the lab's agent package authors no MsiHiddenProperties).
    host = lab_host(msi_logging_policy="voicewarmupx")
    props = {"REBOOT": "ReallySuppress", "REGISTRATIONTOKEN": TOKEN, "MsiHiddenProperties": "REGISTRATIONTOKEN"}
    assert ops.msiexec_install(host.state, host.model.avd, AGENT, props) == 0
    (text,) = logs(host)
    assert f"Property(S): REGISTRATIONTOKEN = {TOKEN}" in text
    assert f"Adding REGISTRATIONTOKEN property. Its value is '{TOKEN}'" in text
    assert "=== Verbose logging started:" in text and " -- Installation completed successfully." in text


def test_a_property_the_package_hides_is_hidden_except_on_the_command_line_under_debug_7():
    host = lab_host(msi_logging_policy="vp")
    entry = host.state.files[AGENT.lower()]
    assert entry.product is not None
    entry.product = {**entry.product, "hidden_properties": "REGISTRATIONTOKEN"}
    ops.msiexec_install(host.state, host.model.avd, AGENT, {"REGISTRATIONTOKEN": TOKEN})
    (hidden,) = logs(host)
    assert TOKEN not in hidden and "CommandLine: **********" in hidden
    assert "Property(S): REGISTRATIONTOKEN = **********" in hidden
    host.state.registry.set(k.INSTALLER_POLICY, "Debug", "REG_DWORD", 7)
    ops.msiexec_uninstall(host.state, "{00000000-0000-0000-0000-000000000000}", {"REGISTRATIONTOKEN": TOKEN})
    debug = [text for text in logs(host) if text != hidden]
    assert len(debug) == 1 and f"CommandLine: REGISTRATIONTOKEN={TOKEN}" in debug[0]


@pytest.mark.parametrize(("logging", "debug"), [("voicewarmupx", 0), ("", 7), ("voicewarmupx", 7), ("iwe", 0)])
def test_the_runtime_refuses_to_hand_a_secret_to_a_logging_installer_and_changes_nothing(logging, debug):
    host = lab_host(msi_logging_policy=logging, msi_debug_policy=debug)
    before = json.dumps(host.state.to_json(), sort_keys=True)
    op = {"op": "msiexec", "action": "install", "package": AGENT, "properties": {"REGISTRATIONTOKEN": TOKEN}}
    entry = only(host, op)
    assert entry["ok"] is False and "nothing was installed" in entry["error"] and TOKEN not in entry["error"]
    assert (
        f"(Logging '{logging}', Debug {debug})" in entry["error"]
        and "Write the secret to the registry" in entry["error"]
    )
    assert json.dumps(host.state.to_json(), sort_keys=True) == before


def test_an_installation_without_secrets_is_logged_and_shown_by_avdlab_show():
    host = lab_host(msi_logging_policy="voicewarmupx", msi_debug_policy=7)
    result = only(host, {"op": "msiexec", "action": "install", "package": AGENT})["result"]
    assert result == {"exit_code": 0}
    (text,) = logs(host)
    assert "CommandLine: REBOOT=ReallySuppress" in text and "Property(S): REBOOT = ReallySuppress" in text
    shown = host.model.show("sh-01")["files"]
    assert [f["text"] for f in shown.values() if f["path"].startswith(k.WINDOWS_TEMP + "\\MSI")] == [text]
