"""The whole controller-side chain in fast tests: runtime answers -> ``assemble`` -> ``diagnose``.

The answers come from the lab's model of a host, in-process (see chainlab.py): a
wrong fact key or registry value name fails here, for a healthy host of each
supported edition and for each documented fault.
"""

from __future__ import annotations

import copy
import time

import pytest
from chainlab import EDITIONS, FAULTS, LIMIT, POOL, ROOT_OF, SERVER_CORE_EDITIONS, gather, lab, roots

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _rules as r
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._pool import add_drift
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._reports import entries_from
from avdlab.windows import known as lab_known
from avdlab.windows import operations as lab_ops


# --- healthy hosts ---------------------------------------------------------------------
@pytest.mark.parametrize(("edition", "product", "installation"), EDITIONS)
def test_a_healthy_host_of_each_supported_edition_is_healthy(edition, product, installation):
    model, state = lab(edition=(edition, product, installation))
    facts = gather(model, state)
    assert facts["errors"] == []
    assert facts["os"]["edition"] == edition and facts["os"]["supports_sxs_stack"] is True
    diagnosis = r.diagnose(facts, POOL)
    assert diagnosis["findings"] == [] and diagnosis["state"] == "healthy", diagnosis
    assert diagnosis["unchecked"] == []


@pytest.mark.parametrize(("edition", "product", "installation"), SERVER_CORE_EDITIONS)
def test_a_server_core_installation_is_an_unsupported_os(edition, product, installation):
    model, state = lab(edition=(edition, product, installation))
    facts = gather(model, state)
    assert facts["os"]["installation_type"] == "Server Core" and facts["os"]["supports_sxs_stack"] is False
    found = {x["id"]: x for x in r.diagnose(facts, POOL)["findings"]}
    assert found["UNSUPPORTED_OS"]["severity"] == r.CRITICAL
    assert "InstallationType Server Core" in found["UNSUPPORTED_OS"]["evidence"][0]


@pytest.mark.parametrize("locale", ["de-DE", "ja-JP", "zh-CN", "ru-RU"])
@pytest.mark.parametrize("sessions", [0, 2])
def test_a_healthy_host_in_each_display_language_is_healthy(locale, sessions):
    """qwinsta in the host's language (the lab renders the real captures' words): both listeners listen."""
    facts = gather(*lab(sessions=sessions, locale=locale))
    assert facts["stack"]["qwinsta"]["both_listening"] is True, facts["stack"]["qwinsta"]["raw"]
    assert facts["sessions"]["total"] == sessions
    diagnosis = r.diagnose(facts, POOL)
    assert diagnosis["findings"] == [] and diagnosis["state"] == "healthy", diagnosis


@pytest.mark.parametrize("locale", ["zh-CN", "ru-RU"])
def test_a_broken_listener_in_another_language_is_found(locale):
    facts = gather(*lab("stack_listener_broken", locale=locale))
    assert "STACK_LISTENER_NOT_LISTENING" in roots(r.diagnose(facts, POOL))


def test_the_facts_of_a_healthy_host_read_the_right_values():
    """The values a healthy host's rules rely on are read from the right names (not defaults that pass)."""
    model, state = lab(sessions=2)
    facts = gather(model, state)
    agent = facts["agent"]
    assert agent["installed"] is True and agent["bootloader_installed"] is True
    assert agent["default_agent"] and agent["default_agent"].startswith("RDAgent_")
    assert agent["is_registered"] == 1 and agent["registration_token_set"] is False
    assert agent["vm_id"] == state.vm_id  # AzureVmId, compared with the pool's vmId for NAME_ALREADY_REGISTERED
    assert agent["broker_uri"] and agent["health_checks"] and agent["health_last_checked"]
    assert agent["sxs_stack_version"] and agent["geneva_version"]
    services = facts["services"]
    assert all(services[name]["exists"] and services[name]["state"] == "Running" for name in services)
    qwinsta = facts["stack"]["qwinsta"]
    assert qwinsta["both_listening"] is True
    assert qwinsta["rdp_tcp"]["session_name"] == "rdp-tcp"
    assert qwinsta["rdp_sxs"]["session_name"].lower().startswith("rdp-sxs")
    assert "#" not in qwinsta["rdp_sxs"]["session_name"]
    assert facts["sessions"]["total"] == 2
    stack = facts["stack"]
    assert stack["reverse_connection_listener_present"] and stack["session_directory_matches"]
    assert [w["fReverseConnectMode"] for w in stack["winstations"] if w["active"]] == [1]
    assert facts["dotnet"]["installed"] is True and facts["dotnet"]["meets_472"] is True
    assert facts["disk"]["free_bytes"] > 0 and facts["disk"]["percent_free"] > 5
    assert facts["network"]["broker"]["healthy"] and facts["network"]["broker_global"]["healthy"]
    assert facts["policies"]["disable_msi"] is None and facts["policies"]["disable_cmd"]["any"] is False
    assert facts["installer"]["busy"] is False
    programs = facts["components"]["programs"]
    assert all(programs[name] for name in programs), programs
    assert facts["boot_time"] and r.parse_time(facts["boot_time"]) is not None


# --- each documented fault ------------------------------------------------------------
@pytest.mark.parametrize(("fault", "finding"), sorted(FAULTS.items()))
def test_each_fault_gives_its_finding_as_root_cause(fault, finding):
    sessions = LIMIT if fault == "session_limit_reached" else 0
    model, state = lab(fault, sessions=sessions)
    diagnosis = r.diagnose(gather(model, state), POOL)
    assert diagnosis["state"] == "unhealthy"
    found = next((x for x in diagnosis["findings"] if x["id"] == finding), None)
    assert found is not None, diagnosis["findings"]
    assert found["evidence"] and found["severity"] in ("critical", "warning")
    assert roots(diagnosis) == [ROOT_OF.get(fault, finding)], diagnosis["findings"]


def test_a_symptom_of_each_fault_points_at_the_root_cause_found_on_the_host():
    for fault in FAULTS:
        model, state = lab(fault, sessions=LIMIT if fault == "session_limit_reached" else 0)
        findings = r.diagnose(gather(model, state), POOL)["findings"]
        by_id = {x["id"]: x for x in findings}
        for x in findings:
            if x["explained_by"]:
                root = by_id[x["explained_by"]]
                assert root["explained_by"] is None and x["id"] in root["explains"], (fault, x)
        # roots first
        flags = [x["explained_by"] is not None for x in findings]
        assert flags == sorted(flags), fault


# --- staleness: a host fixed since its errors ---------------------------------------
def test_a_host_fixed_and_registered_again_keeps_its_old_3277_events_but_is_healthy():
    """The article's fix for INVALID_REGISTRATION_TOKEN, applied an hour after the failure, without a reboot.

    The 3277 events stay in the Application log (same boot), the agent's health report is written
    after them: the registration cut makes them stale, nothing is raised.
    """
    model, state = lab("invalid_registration_token", hours_ago=1, fresh=True)
    before = r.diagnose(gather(model, state), POOL)
    assert "INVALID_REGISTRATION_TOKEN" in roots(before)
    token = model.pool.set_token(time.time() + 3600)  # a new registration key for the pool
    state.registry.set(lab_known.RDINFRA_AGENT, "RegistrationToken", "REG_SZ", token)
    state.registry.set(lab_known.RDINFRA_AGENT, "IsRegistered", "REG_DWORD", 0)
    lab_ops.service_stop(state, lab_known.BOOTLOADER_SERVICE)
    lab_ops.service_start(state, model.avd, lab_known.BOOTLOADER_SERVICE)
    state.settle(time.time() + 5)
    facts = gather(model, state)
    assert [e["kind"] for e in facts["events"] if e["kind"] == "INVALID_REGISTRATION_TOKEN"]  # still in the log
    boot_time = r.parse_time(facts["boot_time"])
    assert all(r.parse_time(e["time"]) >= boot_time for e in facts["events"])  # no reboot: only the registration cut
    after = r.diagnose(facts, POOL)
    assert after["findings"] == [] and after["state"] == "healthy", after["findings"]
    assert any("INVALID_REGISTRATION_TOKEN" in line for line in after["stale_events"])
    # Without the registration cut (no health report since), the same events would still count.
    unreported = copy.deepcopy(facts)
    unreported["agent"]["health_last_checked"] = None
    assert "INVALID_REGISTRATION_TOKEN" in roots(r.diagnose(unreported, POOL))


# --- diagnose -> diagnosis_report's entries -> pool drift ------------------------------------
def test_report_entries_carry_versions_and_drift_fires_on_them():
    """Drift is computed on the entries diagnosis_report builds from diagnose's results, not on hand-made ones."""
    results = {}
    for index in range(4):
        facts = copy.deepcopy(gather(*lab()))
        if index == 3:
            facts["agent"]["version"] = lab_known.AGENT_PREVIOUS_VERSION
        results[f"sh-{index}"] = {
            "changed": False,
            "diagnosis": r.diagnose(facts, POOL),
            "ansible_facts": {"avd_session_host": facts},
        }
    entries = add_drift(entries_from(results, {name: dict(POOL) for name in results}))
    for name, entry in entries.items():
        assert entry["versions"] == results[name]["diagnosis"]["versions"]
        assert entry["versions"]["agent"] and entry["versions"]["os_build"]
    drift = [f for f in entries["sh-3"]["findings"] if f["id"] == "AGENT_VERSION_DRIFT"]
    assert len(drift) == 1 and lab_known.AGENT_PREVIOUS_VERSION in drift[0]["evidence"][0]
    assert drift[0]["severity"] == r.INFO
    assert all(not entries[f"sh-{index}"]["findings"] for index in range(3))
