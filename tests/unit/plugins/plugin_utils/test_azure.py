"""The Azure client's settings, error messages and host pool decisions, without Azure."""

from __future__ import annotations

import datetime
import json
import ssl
from pathlib import Path

import pytest
from azure.core import exceptions as core

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _azure as az
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _host_pool as hp
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._inventory import group_name, host_records

REALWORLD = Path(__file__).parents[3] / "fixtures" / "realworld"

BASE = {"auth_source": "auto", "cloud_environment": "AzureCloud", "retries": 4}


def test_settings_from_options_and_environment():
    env = {"AZURE_SUBSCRIPTION_ID": "sub", "AZURE_CLIENT_ID": "app", "AZURE_SECRET": "s3", "AZURE_TENANT": "t"}
    settings = az.settings_from(BASE, env)
    assert (settings.subscription_id, settings.client_id, settings.tenant, settings.auth_source) == (
        "sub",
        "app",
        "t",
        "credential",
    )
    assert settings.arm_endpoint == "https://management.azure.com"
    assert settings.authority == "https://login.microsoftonline.com"
    explicit = az.settings_from({**BASE, "subscription_id": "mine", "cloud_environment": "AzureUSGovernment"}, env)
    assert explicit.subscription_id == "mine" and explicit.arm_endpoint == "https://management.usgovcloudapi.net"
    lab = az.settings_from(
        {**BASE, "arm_endpoint": "https://127.0.0.1:8443/", "authority": "https://127.0.0.1:8443"},
        {"AZURE_SUBSCRIPTION_ID": "s", "AZURE_CLIENT_SECRET": "x", "AZURE_CLIENT_ID": "a", "AZURE_TENANT_ID": "t"},
    )
    assert (
        lab.arm_endpoint == "https://127.0.0.1:8443" and lab.secret == "x" and lab.audience == "https://127.0.0.1:8443"
    )


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        ({}, {}, "subscription_id is required"),
        ({"auth_source": "credential", "subscription_id": "s"}, {}, "needs client_id, secret, tenant"),
        ({"subscription_id": "s", "cloud_environment": "Mars"}, {}, "cloud_environment 'Mars'"),
        ({"subscription_id": "s", "retries": -1}, {}, "retries must not be negative"),
    ],
)
def test_settings_errors(options, env, message):
    with pytest.raises(az.AzureError, match=message):
        az.settings_from({**BASE, **options}, env)


class FakeResponse:
    def __init__(self, status: int, body: str = "") -> None:
        self.status_code = status
        self.reason = "x"
        self.headers = {"content-type": "application/json"}
        self._body = body

    def text(self, encoding=None):
        return self._body

    def body(self):
        return self._body.encode()


def http_error(cls, status, code, message):
    error = cls(response=FakeResponse(status, f'{{"error": {{"code": "{code}", "message": "{message}"}}}}'))
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (core.ClientAuthenticationError("AADSTS7000215: Invalid client secret provided."), "authentication failed"),
        (
            http_error(core.HttpResponseError, 403, "AuthorizationFailed", "no write on hostPools"),
            "permission denied (HTTP 403, AuthorizationFailed: no write on hostPools)",
        ),
        (
            http_error(core.ResourceNotFoundError, 404, "ResourceNotFound", "hp-x was not found"),
            "not found (HTTP 404, ResourceNotFound: hp-x was not found)",
        ),
        (
            http_error(core.HttpResponseError, 429, "TooManyRequests", "slow down"),
            "kept throttling the requests (HTTP 429)",
        ),
        (core.ServiceRequestError("Connection refused"), "cannot reach https://management.azure.com"),
        (
            http_error(core.HttpResponseError, 400, "InvalidParameter", "bad expiry"),
            "HTTP 400 (InvalidParameter: bad expiry)",
        ),
    ],
)
def test_errors_say_what_to_do(error, expected):
    settings = az.settings_from({**BASE, "subscription_id": "s"}, {})
    text = az.describe_error(error, "read host pool 'hp'", settings)
    assert text.startswith("read host pool 'hp': ") and expected in text


def test_call_turns_sdk_errors_into_azure_errors():
    settings = az.settings_from({**BASE, "subscription_id": "s"}, {})

    def fails():
        raise core.ServiceRequestError("boom")

    with pytest.raises(az.AzureError, match="list things: cannot reach"):
        az.call("list things", settings, fails)


def test_token_hours_are_validated_before_any_call():
    hp.validate_token_hours(1, 0)
    hp.validate_token_hours(648, 648)
    for expiration, minimum, message in (
        (0, 0, "from 1 to 648"),
        (649, 2, "from 1 to 648"),
        (24, 25, "min_valid_hours"),
        (24, -1, "min_valid_hours"),
    ):
        with pytest.raises(az.AzureError, match=message):
            hp.validate_token_hours(expiration, minimum)


def test_token_reuse_decision():
    now = datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)
    later = now + datetime.timedelta(hours=5)
    assert hp.token_reusable(later, "tok", now, 2) is True
    assert hp.token_reusable(later, "tok", now, 6) is False
    assert hp.token_reusable(later, None, now, 0) is False
    assert hp.token_reusable(None, "tok", now, 0) is False


def test_session_host_names():
    names = ["hp/sh-01.contoso.com", "hp/sh-02.contoso.com", "hp/sh-10.contoso.com"]
    assert hp.match_session_host(names, "sh-02") == "sh-02.contoso.com"
    assert hp.match_session_host(names, "SH-01.CONTOSO.COM") == "sh-01.contoso.com"
    assert hp.match_session_host(names, "sh-03") is None
    with pytest.raises(az.AzureError, match="ambiguous"):
        hp.match_session_host(["hp/sh-01.a.com", "hp/sh-01.b.com"], "sh-01")
    assert az.short_name("hp/sh-01.contoso.com") == "sh-01" and az.fqdn("hp/sh-01.contoso.com") == "sh-01.contoso.com"


def test_removal_refusal():
    assert hp.removal_refusal(0, False) is None
    assert hp.removal_refusal(2, True) is None
    assert "2 user session(s)" in hp.removal_refusal(2, False)


def test_inventory_records_and_groups():
    pools = [
        {
            "host_pool": {"name": "HP-Prod", "id": "/x", "max_session_limit": 8, "registration_expiration_time": None},
            "session_hosts": [
                {
                    "name": "sh-01.contoso.com",
                    "short_name": "sh-01",
                    "status": "Unavailable",
                    "sessions": 0,
                    "allow_new_session": False,
                    "agent_version": "1.0",
                    "sxs_stack_version": "s",
                    "update_state": "Succeeded",
                    "update_error_message": "",
                    "last_heartbeat": None,
                    "health_checks": [],
                    "virtual_machine_id": "vm",
                    "resource_id": "r",
                    "assigned_user": None,
                }
            ],
        }
    ]
    (record,) = host_records(pools, "short", "fqdn")
    assert record["inventory_hostname"] == "sh-01" and record["vars"]["ansible_host"] == "sh-01.contoso.com"
    assert record["groups"] == ["avd_host_pool_hp_prod", "avd_status_unavailable", "avd_drained"]
    assert record["vars"]["avd_max_session_limit"] == 8 and record["vars"]["avd_registration_expiration_time"] is None
    (record,) = host_records(pools, "fqdn", "none")
    assert record["inventory_hostname"] == "sh-01.contoso.com" and "ansible_host" not in record["vars"]
    assert group_name("avd_status", "SxSStackListenerNotReady") == "avd_status_sxsstacklistenernotready"


def test_a_2024_04_03_session_host_reads_into_the_pools_view_of_the_host():
    from azure.mgmt.desktopvirtualization import models as sdk

    from ansible_collections.avdops.sessionhost.plugins.plugin_utils._rules import diagnose, pool_from_hostvars

    raw = json.loads((REALWORLD / "health_checks" / "session_host_2024-04-03.json").read_text())
    host = az.session_host_dict(sdk.SessionHost.deserialize(raw))
    assert (host["name"], host["status"], host["last_heartbeat"]) == (
        "sessionHost1.microsoft.com",
        "Available",
        "2008-09-22T14:01:54Z",
    )
    assert host["health_checks"] == [
        {
            "name": "DomainReachable",
            "result": "HealthCheckSucceeded",
            "message": "message",
            "error_code": 0,
            "last_checked": "2008-09-22T14:01:54Z",
        }
    ]
    raw["properties"]["sessionHostHealthCheckResults"][0].update(
        {"healthCheckName": "DomainTrustCheck", "healthCheckResult": "HealthCheckFailed"}
    )
    failing = az.session_host_dict(sdk.SessionHost.deserialize(raw))
    pool = pool_from_hostvars({"avd_status": "Unavailable", "avd_health_checks": failing["health_checks"]})
    findings = diagnose({"schema_version": 1, "gathered_at": "2008-09-22T14:02:00Z"}, pool)["findings"]
    assert [f["id"] for f in findings] == ["DOMAIN_TRUST_LOST"]


class FakeHostPools:
    """host_pools.list_registration_tokens as the SDK gives it: a list, or an HTTP error."""

    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def list_registration_tokens(self, resource_group, name):
        self.calls.append((resource_group, name))
        if isinstance(answer := self.answer, Exception):
            raise answer
        return answer


def key_of(answer):
    from types import SimpleNamespace

    settings = az.settings_from({**BASE, "subscription_id": "s"}, {})
    client = SimpleNamespace(host_pools=FakeHostPools(answer))
    return hp.registration_key(client, settings, hp.PoolRef("rg", "hp")), client.host_pools.calls


def test_the_registration_key_is_what_list_registration_tokens_says():
    from azure.mgmt.desktopvirtualization import models as sdk

    soon = datetime.datetime(2026, 11, 26, 12, tzinfo=datetime.UTC)
    later = soon + datetime.timedelta(days=1)
    tokens = sdk.RegistrationTokenList(
        value=[
            sdk.RegistrationTokenMinimal(expiration_time=soon, token="secret-1"),
            sdk.RegistrationTokenMinimal(expiration_time=later, token="secret-2"),
        ]
    )
    key, calls = key_of(tokens)
    assert key == {"checked": True, "expiration_time": "2026-11-27T12:00:00Z", "error": None} and calls == [
        ("rg", "hp")
    ]
    assert "secret" not in json.dumps(key)
    assert key_of(sdk.RegistrationTokenList(value=[]))[0] == {"checked": True, "expiration_time": None, "error": None}


def test_a_refused_registration_key_lookup_is_not_a_pool_without_a_key():
    refused = http_error(core.HttpResponseError, 403, "AuthorizationFailed", "no listRegistrationTokens/action")
    key, _unused = key_of(refused)
    assert key["checked"] is False and key["expiration_time"] is None
    assert "permission denied (HTTP 403" in key["error"] and "list the registration tokens of" in key["error"]
    info = az.host_pool_dict(
        __import__("types").SimpleNamespace(
            name="hp",
            id="/x",
            location="eastus",
            host_pool_type="Pooled",
            load_balancer_type="BreadthFirst",
            max_session_limit=4,
            preferred_app_group_type="Desktop",
            validation_environment=False,
            start_vm_on_connect=False,
            registration_info=None,  # what a GET on 2024-04-03 answers
        ),
        key,
    )
    assert (info["registration_expiration_time"], info["registration_key_checked"]) == (None, False)
    (record,) = host_records(
        [{"host_pool": info, "session_hosts": [dict.fromkeys(SESSION_HOST_KEYS) | {"name": "a.b", "short_name": "a"}]}],
        "short",
        "none",
    )
    from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _rules as r

    pool = r.pool_from_hostvars(record["vars"])
    assert pool["registration_key_checked"] is False and "HTTP 403" in pool["registration_key_error"]
    facts = {"schema_version": 1, "agent": {"is_registered": 0, "registration_token_set": True}}
    facts["events"] = [{"id": 3277, "kind": "EXPIRED_REGISTRATION_TOKEN", "time": None, "message": "x"}]
    (finding,) = [f for f in r.diagnose(facts, pool)["findings"] if f["id"] == "EXPIRED_REGISTRATION_TOKEN"]
    line = next(e for e in finding["evidence"] if "registration key" in e)
    assert (
        line.startswith("the host pool's registration key could not be checked: ") and "no registration key" not in line
    )


SESSION_HOST_KEYS = (
    "status",
    "sessions",
    "allow_new_session",
    "agent_version",
    "sxs_stack_version",
    "update_state",
    "update_error_message",
    "last_heartbeat",
    "health_checks",
    "virtual_machine_id",
    "resource_id",
    "assigned_user",
)


def _raised_from(outer: Exception, inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except Exception as caught:
        return caught


@pytest.mark.parametrize(
    "error",
    [
        # azure-identity's token request to the authority, failing TLS: not a wrong secret
        _raised_from(
            core.ClientAuthenticationError("Authentication failed: <urllib3 ...>"),
            ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed"),
        ),
        core.ClientAuthenticationError(
            "ClientSecretCredential.get_token failed: HTTPSConnectionPool(host='login.microsoftonline.com', port=443): "
            "Max retries exceeded (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] "
            "certificate verify failed: unable to get local issuer certificate (_ssl.c:1006)')))"
        ),
        core.ServiceRequestError(
            "(Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
            "failed: unable to get local issuer certificate (_ssl.c:1006)')))"
        ),
    ],
)
def test_tls_failures_are_reported_as_tls_not_as_credentials(error):
    settings = az.settings_from({**BASE, "subscription_id": "s"}, {})
    text = az.describe_error(error, "read host pool 'hp'", settings)
    assert "TLS verification failed talking to https://management.azure.com" in text and "ca_bundle" in text
    assert "client_id" not in text and "secret" not in text


def test_the_power_state_is_read_from_a_vm_instance_view():
    view = json.loads((REALWORLD / "azure" / "vm_instance_view_deallocated.json").read_text())
    assert hp.power_state_of(view) == "PowerState/deallocated"
    running = {"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": "PowerState/running"}]}
    assert hp.power_state_of(running) == "PowerState/running"
    for nothing in ({"statuses": [{"code": "ProvisioningState/updating"}]}, {"statuses": None}, {}, None, []):
        assert hp.power_state_of(nothing) is None


class _Response:
    def __init__(self, status: int, body: dict) -> None:
        self.status, self.body = status, body

    def raise_for_status(self) -> None:
        from azure.core.exceptions import HttpResponseError

        if self.status >= 400:
            raise HttpResponseError(message=f"Operation returned an invalid status {self.status}")

    def json(self) -> dict:
        return self.body


class _Client:
    """The host pool client's pipeline as vm_power_state uses it: one GET per VM, answered per resource id."""

    def __init__(self, answers: dict[str, _Response]) -> None:
        self.answers, self.asked = answers, []

    def _send_request(self, request):
        self.asked.append((request.method, request.url))
        return self.answers[request.url.split("?")[0]]


def test_the_inventory_reads_each_vms_power_state_and_says_why_when_it_cannot():
    from ansible_collections.avdops.sessionhost.plugins.inventory.host_pool import InventoryModule
    from ansible_collections.avdops.sessionhost.plugins.plugin_utils._rules import pool_from_hostvars
    from ansible_collections.avdops.sessionhost.plugins.plugin_utils._verdicts import stopped_reason

    vm = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/sh-0{}"
    view = json.loads((REALWORLD / "azure" / "vm_instance_view_deallocated.json").read_text())
    client = _Client(
        {f"{vm.format(1)}/instanceView": _Response(200, view), f"{vm.format(2)}/instanceView": _Response(403, {})}
    )
    settings = az.settings_from(BASE, {"AZURE_SUBSCRIPTION_ID": "s"})
    hosts = [{"resource_id": vm.format(1)}, {"resource_id": vm.format(2)}, {"resource_id": None}]
    for host in hosts:
        InventoryModule._read_power_state(client, settings, host)
    assert client.asked == [
        ("GET", f"{vm.format(1)}/instanceView?api-version=2024-07-01"),
        ("GET", f"{vm.format(2)}/instanceView?api-version=2024-07-01"),
    ]
    assert hosts[0] == {"resource_id": vm.format(1), "power_state": "PowerState/deallocated"}
    assert "power_state" not in hosts[1] and "403" in hosts[1]["power_state_error"]
    assert hosts[1]["power_state_error"].startswith(f"read the power state of VM {vm.format(2)}")
    assert hosts[2]["power_state_error"] == "the session host names no VM (no resourceId)"
    # Into the host's variables; the diagnosis then says the VM is off, even while the pool still says Unavailable.
    info = {"name": "hp", "id": "/hp", "max_session_limit": 4, "registration_expiration_time": None}
    base = dict.fromkeys(SESSION_HOST_KEYS) | {
        "name": "sh-01.contoso.com",
        "short_name": "sh-01",
        "status": "Unavailable",
    }
    (record,) = host_records([{"host_pool": info, "session_hosts": [base | hosts[0]]}], "short", "fqdn")
    assert (
        record["vars"]["avd_power_state"] == "PowerState/deallocated" and "avd_power_state_error" not in record["vars"]
    )
    assert (
        stopped_reason(pool_from_hostvars(record["vars"]))
        == "the VM is deallocated (power state PowerState/deallocated)"
    )
    (record,) = host_records([{"host_pool": info, "session_hosts": [base | hosts[1]]}], "short", "fqdn")
    assert "avd_power_state" not in record["vars"] and "403" in record["vars"]["avd_power_state_error"]
    assert stopped_reason(pool_from_hostvars(record["vars"])) is None
