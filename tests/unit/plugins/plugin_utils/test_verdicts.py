"""Host states: healthy only when every check ran, incomplete with the reasons, stopped VMs, why unreachable."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _rules as r
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _verdicts as v
from tests.unit.plugins.plugin_utils.test_rules import healthy

POOL = {"max_session_limit": 4, "sessions": 0}


def test_every_check_says_what_it_needs():
    assert set(r.CHECKS) <= set(v.SUBSET_NEEDS), "add the subsets each new check reads to SUBSET_NEEDS"


def test_a_fully_gathered_healthy_host_is_healthy():
    result = r.diagnose(healthy(), POOL)
    assert (result["state"], result["unchecked"]) == ("healthy", [])


def test_disk_only_on_a_host_without_agent_is_incomplete_not_healthy():
    # the case: gather_subset [disk] on a host with no agent used to say healthy
    facts = {
        "schema_version": 1,
        "gather_subset": ["disk"],
        "boot_time": "2026-11-25T10:00:00.000Z",
        "disk": {"drive": "C:", "size_bytes": 128 * 1024**3, "free_bytes": 80 * 1024**3, "percent_free": 62.5},
        "errors": [],
    }
    result = r.diagnose(facts, POOL)
    assert result["state"] == "incomplete" and result["findings"] == []
    unchecked = dict(line.split(": ", 1) for line in result["unchecked"])
    assert unchecked["AGENT_NOT_INSTALLED"] == "gather_subset left out agent, services"
    per_host = {c for c in r.CHECKS if v.SUBSET_NEEDS[c] or c in v.POOL_NEEDS}  # drift compares hosts
    assert set(unchecked) == per_host - {"DISK_SPACE_LOW", "SESSION_LIMIT_REACHED"}  # disk ran, the pool gave a limit
    assert "did not run" in v.incomplete_reason(result["unchecked"])


@pytest.mark.parametrize("subset", ["agent", "services", "stack", "events", "policies", "dotnet", "os", "disk"])
def test_leaving_out_any_subset_makes_the_host_incomplete(subset):
    facts = healthy()
    del facts[subset]
    result = r.diagnose(facts, POOL)
    assert result["state"] == "incomplete"
    assert any(f"left out {subset}" in line for line in result["unchecked"])


def test_a_failed_operation_names_the_checks_it_leaves_unchecked():
    facts = healthy()
    facts["disk"] = None
    facts["errors"] = [{"operation": "disk.system", "message": "Get-CimInstance: Access denied"}]
    result = r.diagnose(facts, POOL)
    assert result["state"] == "incomplete"
    assert result["unchecked"] == ["DISK_SPACE_LOW: operation disk.system failed: Get-CimInstance: Access denied"]


def test_an_operation_no_check_reads_is_still_listed():
    facts = healthy()
    facts["errors"] = [{"operation": "agent.monitoring", "message": "timeout"}]
    result = r.diagnose(facts, POOL)
    assert "operation agent.monitoring failed: timeout" in " ".join(result["unchecked"])
    assert result["state"] == "incomplete"


def test_a_problem_found_stays_unhealthy_even_when_incomplete():
    facts = healthy()
    facts["services"]["RDAgentBootLoader"]["state"] = "Stopped"
    del facts["dotnet"]
    result = r.diagnose(facts, POOL)
    assert result["state"] == "unhealthy" and any(line.startswith("DOTNET_OUTDATED") for line in result["unchecked"])


def test_missing_pool_data_is_named_with_the_variable_to_set():
    result = r.diagnose(healthy(), None)
    assert result["state"] == "incomplete"
    assert result["unchecked"] == [
        "SESSION_LIMIT_REACHED: the host pool's max session limit is unknown (no host pool data: use the "
        "host_pool inventory or set avd_max_session_limit)"
    ]


def test_the_heartbeat_counts_as_unchecked_only_with_the_services_view():
    assert r.diagnose(healthy(), POOL)["state"] == "healthy"  # a static inventory cannot know the heartbeat
    result = r.diagnose(healthy(), {**POOL, "status": "Available"})
    assert result["state"] == "incomplete" and result["unchecked"][0].startswith("HEARTBEAT_LOST: the host pool lists")
    fresh = {**POOL, "status": "Available", "last_heartbeat": healthy()["agent"]["health_last_checked"]}
    assert r.diagnose(healthy(), fresh)["unchecked"] == []


def test_a_pool_view_without_a_heartbeat_is_not_called_no_host_pool_data():
    # Issue 21: a host read through the host_pool inventory (the service's view is there: its status) that the
    # service lists without a last heartbeat was "not checked: ... (no host pool data: use the host_pool inventory
    # ...)" - the data was there; the agent had sent no heartbeat.
    listed = {**POOL, "status": "Unavailable"}
    facts = healthy()
    result = r.diagnose(facts, listed)
    assert [line for line in result["unchecked"] if "no host pool data" in line or "host_pool inventory" in line] == []
    assert result["unchecked"] == [
        "HEARTBEAT_LOST: the host pool lists the host without a last heartbeat (its agent has sent none to the "
        "service), so whether heartbeats stopped while RDAgentBootLoader runs cannot be told"
    ]
    # No boot loader running: the check (a stale heartbeat while it runs) has nothing to measure, and is not a gap.
    for state in ("Stopped", None):
        stopped = healthy()
        if state is None:
            del stopped["services"]["RDAgentBootLoader"]
        else:
            stopped["services"]["RDAgentBootLoader"]["state"] = state
        assert not [line for line in r.diagnose(stopped, listed)["unchecked"] if line.startswith("HEARTBEAT_LOST")]


def test_a_pool_view_without_the_session_limit_says_azure_gave_none():
    listed = {key: value for key, value in POOL.items() if key != "max_session_limit"}
    result = r.diagnose(healthy(), {**listed, "status": "Available", "last_heartbeat": "2099-01-01T00:00:00Z"})
    assert result["unchecked"] == [
        "SESSION_LIMIT_REACHED: the host pool's max session limit is not in the host pool's data (Azure gave none)"
    ]


def test_session_count_comes_from_the_pool_or_the_sessions_subset():
    facts = healthy()
    del facts["sessions"]
    assert r.diagnose(facts, {"max_session_limit": 4, "sessions": 1})["state"] == "healthy"
    result = r.diagnose(copy.deepcopy(facts), {"max_session_limit": 4})
    assert "the host's session count is unknown" in result["unchecked"][-1]


@pytest.mark.parametrize(
    ("pool", "stopped"),
    [
        ({"status": "Shutdown"}, "status=Shutdown"),
        ({"status": "Available", "power_state": "PowerState/deallocated"}, "the VM is deallocated"),
        ({"power_state": "VM stopped"}, "the VM is stopped"),
        ({"health_checks": [{"name": "x", "result": "SessionHostShutdown"}]}, "reports SessionHostShutdown"),
        ({"status": "Unavailable"}, None),
        ({"status": "Available", "power_state": "PowerState/running"}, None),
        (None, None),
    ],
)
def test_stopped_vms(pool, stopped):
    reason = v.stopped_reason(pool)
    assert reason is None if stopped is None else stopped in reason


# Messages as Ansible's winrm connection and pywinrm/requests/urllib3 word them.
@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("ntlm: the specified credentials were rejected by the server", "credentials"),
        ("basic: the specified credentials were rejected by the server", "credentials"),
        ("kerberos: Preauthentication failed", "credentials"),
        (
            "Task failed: failed to authenticate with the server: Failed to authenticate the user avdadmin with ntlm",
            "credentials",
        ),
        (
            "ntlm: HTTPSConnectionPool(host='h', port=5986): Max retries exceeded with url: /wsman (Caused by "
            "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
            "self-signed certificate (_ssl.c:1006)')))",
            "tls",
        ),
        (
            "ntlm: HTTPSConnectionPool(host='h', port=5986): Max retries exceeded with url: /wsman (Caused by "
            "NewConnectionError('...: Failed to establish a new connection: [Errno 111] Connection refused'))",
            "refused",
        ),
        (
            "ntlm: HTTPSConnectionPool(host='h', port=5986): Max retries exceeded with url: /wsman (Caused by "
            "ConnectTimeoutError(<urllib3.connection.HTTPSConnection object at 0x7f>, 'Connection to h timed out. "
            "(connect timeout=30)'))",
            "timeout",
        ),
        (  # PowerShell team blog "Configuring WSMAN Limits"
            "ntlm: Bad HTTP response returned from server. Code 500 The WS-Management service cannot process the "
            "request. This user is allowed a maximum number of 5 concurrent shells, which has been exceeded.",
            "quota",
        ),
        (  # MS-WSMV 3.1.4.5.2.1 wsman:QuotaLimit, MaxConcurrentUsers
            "The Windows Remote Shell cannot process the request. The server exceeded the maximum number of users "
            "concurrently performing remote operations on the same system. Retry later.",
            "quota",
        ),
        ("ntlm: ... [Errno -2] Name or service not known", "dns"),
        ("ntlm: ... [Errno 113] No route to host", "network"),
        ("something else entirely", "other"),
    ],
)
def test_unreachable_classes(message, kind):
    assert v.unreachable_class(message) == kind
    assert v.short_reason(message)  # never cut to nothing


def test_short_reason_keeps_the_telling_part():
    message = (
        "ntlm: HTTPSConnectionPool(host='h', port=5986): Max retries exceeded with url: /wsman (Caused by "
        "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
        "self-signed certificate (_ssl.c:1006)')))"
    )
    assert v.short_reason(message).startswith("certificate verify failed: self-signed certificate")


def test_facts_session_host_facts_assembles_pass_validation_for_every_fault():
    """The validation refuses hand-made garbage, never what the collection gathers (lab hosts, every fault)."""
    from chainlab import FAULTS, gather, lab

    from ansible_collections.avdops.sessionhost.plugins.plugin_utils._validate import validate_facts

    for fault in [None, *FAULTS]:
        facts = gather(*lab(*([fault] if fault else [])))
        validate_facts(facts)
