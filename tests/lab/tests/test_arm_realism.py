"""The lab's ARM is as strict as Azure (2024-04-03 spec and field reports), so the collection meets
what it will meet: no registrationInfo on GET, token actions a Reader lacks, paged lists, the spec's
enums, 204 for what is already gone, session host names as one path segment."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from labworld import Arm, later, world

from avdlab.arm import API_VERSION, PAGE_SIZE
from avdlab.model import HostSpec
from avdlab.windows import known as k

SPEC_STATUSES = {
    "Available",
    "Unavailable",
    "Shutdown",
    "Disconnected",
    "Upgrading",
    "UpgradeFailed",
    "NoHeartbeat",
    "NotJoinedToDomain",
    "DomainTrustRelationshipLost",
    "SxSStackListenerNotReady",
    "FSLogixNotHealthy",
    "NeedsAssistance",
}
SPEC_RESULTS = {"HealthCheckSucceeded", "HealthCheckFailed", "SessionHostShutdown", "Unknown"}
SPEC_CHECKS = {
    "DomainJoinedCheck",
    "DomainTrustCheck",
    "FSLogixHealthCheck",
    "SxSStackListenerCheck",
    "UrlsAccessibleCheck",
    "MonitoringAgentCheck",
    "DomainReachable",
    "WebRTCRedirectorCheck",
    "SupportedEncryptionCheck",
    "MetaDataServiceCheck",
    "AppAttachHealthCheck",
}


def follow(arm: Arm, path: str, query: str = "") -> tuple[list[dict], int]:
    """Every item of a paged list, and how many pages it took."""
    status, answer = arm.call("GET", path, query=query)
    assert status == 200, answer
    items, pages = list(answer["value"]), 1
    while answer["nextLink"]:
        link = urlsplit(answer["nextLink"])
        assert link.netloc == "arm.test" and f"api-version={API_VERSION}" in link.query
        status, answer = arm._send("GET", f"{link.path}?{link.query}")
        assert status == 200, answer
        items += answer["value"]
        pages += 1
    return items, pages


def test_a_host_pool_get_carries_no_registration_info_only_the_patch_does():
    model = world(HostSpec("sh-01"))
    arm = Arm(model)
    token = arm.new_token()  # the PATCH answers with registrationInfo and the new token
    status, pool = arm.call("GET", "")
    assert status == 200 and pool["properties"]["registrationInfo"] is None
    status, listing = arm._send("GET", f"{model.pool.arm_id.rsplit('/', 1)[0]}?api-version={API_VERSION}")
    assert status == 200 and listing["value"][0]["properties"]["registrationInfo"] is None
    assert token not in json.dumps(pool) and token not in json.dumps(listing)
    status, tokens = arm.call("POST", "/listRegistrationTokens")
    assert status == 200 and tokens["value"][0]["token"] == token and tokens["value"][0]["expirationTime"]


def test_a_reader_may_read_the_pool_but_not_its_registration_tokens():
    model = world(HostSpec("sh-01"))
    Arm(model).new_token()
    reader = Arm(model, can_write=False)
    assert reader.call("GET", "")[0] == 200
    for action in ("listRegistrationTokens", "retrieveRegistrationToken"):
        status, answer = reader.call("POST", f"/{action}")
        assert status == 403 and answer["error"]["code"] == "AuthorizationFailed"
        assert f"Microsoft.DesktopVirtualization/hostpools/{action}/action" in answer["error"]["message"]


def test_session_hosts_and_user_sessions_are_paged():
    names = [f"sh-{i:02d}" for i in range(1, 8)]
    model = world(*(HostSpec(name, sessions=4 if name == "sh-01" else 1) for name in names))
    arm = Arm(model)
    hosts, pages = follow(arm, "/sessionHosts")
    assert [h["name"] for h in hosts] == [f"hp-lab/{n}.lab.avd.test" for n in names]
    assert pages == -(-len(names) // PAGE_SIZE) > 1
    assert follow(arm, "/sessionHosts", "&pageSize=100")[1] == 1
    sessions, pages = follow(arm, "/userSessions")
    assert len(sessions) == 4 + 6 and pages > 1
    mine, pages = follow(arm, "/sessionHosts/sh-01.lab.avd.test/userSessions")
    assert [s["name"].rsplit("/", 1)[-1] for s in mine] == ["2", "3", "4", "5"] and pages == 2
    assert arm.call("GET", "/sessionHosts", query="&pageSize=0")[0] == 400


def test_statuses_and_health_checks_use_the_specs_enums():
    faults = ["agent_not_installed", "stack_listener_broken", "domain_trust_lost", "fslogix_unhealthy", "disk_full"]
    model = world(HostSpec("ok-01"), *(HostSpec(f"f-{i}", faults=[f]) for i, f in enumerate(faults)))
    for state in model.hosts.values():
        later(state)
    arm = Arm(model)
    hosts, _unused = follow(arm, "/sessionHosts")
    assert {h["properties"]["status"] for h in hosts} <= SPEC_STATUSES
    assert "NoHeartbeat" not in {h["properties"]["status"] for h in hosts}  # Unavailable, as 2024-04-03 says
    checks = [c for h in hosts for c in h["properties"]["sessionHostHealthCheckResults"]]
    assert checks and {c["healthCheckName"] for c in checks} <= SPEC_CHECKS
    assert {c["healthCheckResult"] for c in checks} <= SPEC_RESULTS
    assert all(
        set(c["additionalFailureDetails"]) == {"message", "errorCode", "lastHealthCheckDateTime"} for c in checks
    )


def test_the_agent_report_result_the_spec_has_no_name_for_is_unknown():
    model = world(HostSpec("sh-01"))
    state = model.host("sh-01")
    report = json.loads(state.registry.get_data(k.HEALTH_CHECK_REPORT, "AgentHealthCheckReport"))
    report["AppAttachHealthCheck"] = {
        "HealthCheckResult": 0,
        "AdditionalFailureDetails": {"Message": "", "ErrorCode": 0},
    }
    state.registry.set(k.HEALTH_CHECK_REPORT, "AgentHealthCheckReport", "REG_SZ", json.dumps(report))
    view = Arm(model).session_host(state)[1]["properties"]
    results = {c["healthCheckName"]: c["healthCheckResult"] for c in view["sessionHostHealthCheckResults"]}
    assert results["AppAttachHealthCheck"] == "Unknown" and view["status"] == "Available"


def test_deleting_what_is_already_gone_is_204():
    model = world(HostSpec("sh-01", sessions=1))
    arm = Arm(model)
    path = "/sessionHosts/sh-01.lab.avd.test"
    assert arm.call("DELETE", f"{path}/userSessions/2")[0] == 200
    assert arm.call("DELETE", f"{path}/userSessions/2")[0] == 204
    assert arm.call("DELETE", path)[0] == 200
    assert arm.call("DELETE", path)[0] == 204
    assert arm.call("GET", path)[0] == 404  # reading what is gone is still an error


def test_a_session_host_name_is_one_path_segment():
    model = world(HostSpec("sh-01"))
    arm = Arm(model)
    assert arm.call("GET", "/sessionHosts/sh-01.lab.avd.test")[0] == 200
    for wrong in ("hp-lab%2Fsh-01.lab.avd.test", "hp-lab%2fsh-01.lab.avd.test"):
        status, answer = arm.call("GET", f"/sessionHosts/{wrong}")
        assert status == 400 and "not hostPool/name" in answer["error"]["message"]
    assert arm.call("DELETE", "/sessionHosts/hp-lab%2Fsh-01.lab.avd.test")[0] == 400
    assert model.pool.records  # nothing was removed


def test_shutdown_view_is_what_azure_reports_for_a_vm_that_is_off():
    model = world(HostSpec("sh-01", sessions=1))
    state = model.host("sh-01")
    model.power(state.name, on=False)
    view = Arm(model).session_host(state)[1]["properties"]
    assert (view["status"], view["sessions"]) == ("Shutdown", 0)
    assert {c["healthCheckResult"] for c in view["sessionHostHealthCheckResults"]} == {"SessionHostShutdown"}
    assert (
        time.time() - time.mktime(time.strptime(view["lastHeartBeat"][:19], "%Y-%m-%dT%H:%M:%S")) + time.timezone < 60
    )
    model.power(state.name, on=True)
    later(state)
    assert Arm(model).status(state) == "Available"


def test_a_user_session_that_is_gone_is_404_to_read_and_act_on():
    model = world(HostSpec("sh-01", sessions=1))
    arm = Arm(model)
    path = "/sessionHosts/sh-01.lab.avd.test/userSessions/9"
    assert arm.call("GET", path)[0] == 404
    assert arm.call("POST", f"{path}/disconnect")[0] == 404


def test_the_vm_instance_view_says_its_power_state_as_the_compute_api_does():
    """GET {vm}/instanceView (Microsoft.Compute): statuses ProvisioningState/... and PowerState/running|deallocated."""
    model = world(HostSpec("sh-01"), HostSpec("sh-02"))
    arm = Arm(model)
    state = model.host("sh-01")
    resource_id = state.registry.get_data(k.RDINFRA_AGENT, "AzureResourceId")
    session_host = arm.session_host(state)[1]["properties"]
    assert session_host["resourceId"] == resource_id  # what the host pool names is what Compute answers for

    def power(vm: str = resource_id, version: str = "2024-07-01") -> tuple[int, dict]:
        return arm._send("GET", f"{vm}/instanceView?api-version={version}")

    status, view = power()
    assert status == 200 and view["computerName"] == "sh-01"
    assert [s["code"] for s in view["statuses"]] == ["ProvisioningState/succeeded", "PowerState/running"]
    model.power("sh-01", on=False)
    assert power()[1]["statuses"][1] == {
        "code": "PowerState/deallocated",
        "level": "Info",
        "displayStatus": "VM deallocated",
    }
    assert power(model.host("sh-02").registry.get_data(k.RDINFRA_AGENT, "AzureResourceId"))[1]["statuses"][1][
        "code"
    ] == ("PowerState/running")
    model.power("sh-01", on=True)
    assert power()[1]["statuses"][1]["code"] == "PowerState/running"
    assert power(resource_id.replace("sh-01", "sh-99"))[0] == 404
    status, error = power(version=API_VERSION)
    assert status == 400 and error["error"]["code"] == "InvalidApiVersionParameter"
    assert (
        arm._send("GET", resource_id.replace("00000000a1ab", "00000000ffff") + "/instanceView?api-version=2024-07-01")[
            0
        ]
        == 404
    )


def tags_call(arm: Arm, method: str, body: dict | None = None, version: str = "2021-04-01") -> tuple[int, Any]:
    target = f"{arm.pool.arm_id}/providers/Microsoft.Resources/tags/default?api-version={version}"
    return arm._send(method, target, json.dumps(body).encode() if body is not None else b"")


def test_host_pool_tags_at_scope_merge_delete_as_azure_does():
    """Tags - Update At Scope: Merge adds and updates by name (case-insensitive), Delete removes a name/value pair
    only when the value is the tag's, the pool's GET carries its tags, a Reader cannot write them."""
    model = world(HostSpec("sh-01"))
    arm = Arm(model)
    status, answer = tags_call(arm, "PATCH", {"operation": "Merge", "properties": {"tags": {"env": "prod"}}})
    assert status == 200 and answer["properties"]["tags"] == {"env": "prod"} and answer["name"] == "default"
    status, answer = tags_call(arm, "PATCH", {"operation": "Merge", "properties": {"tags": {"ENV": "test", "x": "1"}}})
    assert answer["properties"]["tags"] == {"env": "test", "x": "1"}
    assert arm.call("GET", "")[1]["tags"] == {"env": "test", "x": "1"}
    status, answer = tags_call(arm, "PATCH", {"operation": "Delete", "properties": {"tags": {"x": "other"}}})
    assert answer["properties"]["tags"] == {"env": "test", "x": "1"}
    status, answer = tags_call(arm, "PATCH", {"operation": "Delete", "properties": {"tags": {"x": "1"}}})
    assert status == 200 and answer["properties"]["tags"] == {"env": "test"}
    assert tags_call(arm, "GET")[1]["properties"]["tags"] == {"env": "test"}
    many = {f"t{i}": "v" for i in range(50)}
    status, answer = tags_call(arm, "PATCH", {"operation": "Merge", "properties": {"tags": many}})
    assert status == 400 and "at most 50" in answer["error"]["message"]
    bad = tags_call(arm, "PATCH", {"operation": "Merge", "properties": {"tags": {"a/b": "v"}}})
    assert bad[0] == 400
    assert tags_call(arm, "GET", version="2024-04-03")[0] == 400
    reader = Arm(model, can_write=False)
    status, answer = tags_call(reader, "PATCH", {"operation": "Merge", "properties": {"tags": {"y": "2"}}})
    assert status == 403 and "Microsoft.Resources/tags/write" in answer["error"]["message"]
    assert tags_call(reader, "GET")[0] == 200
