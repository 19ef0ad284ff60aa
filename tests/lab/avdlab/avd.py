"""The Azure Virtual Desktop service as the lab plays it: host pools, registration
tokens, session host records, the broker, and the status the service reports.

The broker validates registration tokens the way the article's errors say
it does (INVALID_REGISTRATION_TOKEN, EXPIRED_REGISTRATION_TOKEN,
NAME_ALREADY_REGISTERED, ENDPOINT_NOT_FOUND); session host status is
derived from each host's state, never stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .windows import known as k
from .windows.agent import settle_registration
from .windows.state import RUNNING, HostState

# Microsoft.DesktopVirtualization's api-version, the only one the lab's ARM answers (arm.py); here, not in arm.py,
# because `avdlab up` writes it into lab.json and importing arm.py (the whole server) was half of up's CPU.
API_VERSION = "2024-04-03"
SUBSCRIPTION = "00000000-0000-0000-0000-00000000a1ab"
RESOURCE_GROUP = "rg-avdlab"
LOCATION = "eastus"
MIN_EXPIRY = 3600.0
MAX_EXPIRY = 27 * 86400.0


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SessionHostRecord:
    name: str  # the host's FQDN
    vm_id: str
    resource_id: str
    registered_at: float
    allow_new_session: bool = True
    assigned_user: str | None = None
    foreign: bool = False  # registered by another VM that carries the same name


@dataclass
class HostPool:
    name: str
    max_session_limit: int = 4
    host_pool_type: str = "Pooled"
    load_balancer_type: str = "BreadthFirst"
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    token: str | None = None
    token_expiry: float | None = None
    records: dict[str, SessionHostRecord] = field(default_factory=dict)  # lower-case host name -> record
    tags: dict[str, str] = field(default_factory=dict)  # the resource's tags (ARM keeps them on tracked resources)
    resource_group: str = RESOURCE_GROUP
    subscription: str = SUBSCRIPTION

    @property
    def arm_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.DesktopVirtualization/hostPools/{self.name}"
        )

    # Registration tokens are JWT-shaped and signed with the pool's secret.
    def sign_token(self, expiry: float, issued: float | None = None) -> str:
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64url(
            json.dumps(
                {
                    "RegistrationId": str(uuid.uuid4()),
                    "BrokerURI": k.BROKER_URI,
                    "HostPoolId": self.arm_id,
                    "nbf": int(issued if issued is not None else time.time()),
                    "exp": int(expiry),
                }
            ).encode()
        )
        signature = hmac.new(self.secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64url(signature)}"

    def token_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this pool signed, or None."""
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self.secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _b64url_decode(signature)):
                return None
            claims: dict[str, Any] = json.loads(_b64url_decode(payload))
        except (ValueError, TypeError):
            return None
        return claims if claims.get("HostPoolId") == self.arm_id else None

    def set_token(self, expiry: float) -> str:
        self.token = self.sign_token(expiry)
        self.token_expiry = expiry
        return self.token

    def delete_token(self) -> None:
        self.token = None
        self.token_expiry = None


class RegistrationError(Exception):
    """The broker refused: ``code`` is the text the agent logs in event 3277."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def fqdn(host_name: str) -> str:
    return f"{host_name}.lab.avd.test"


class AvdService:
    """The service for every host pool of the lab; ``pool`` is the first (the default one)."""

    def __init__(self, pools: HostPool | list[HostPool]) -> None:
        self.pools = [pools] if isinstance(pools, HostPool) else list(pools)
        if not self.pools:
            raise ValueError("the AVD service needs at least one host pool")
        self.latest_agent_version = k.AGENT_VERSION

    @property
    def pool(self) -> HostPool:
        return self.pools[0]

    def find_pool(self, name: str) -> HostPool | None:
        return next((p for p in self.pools if p.name.lower() == name.lower()), None)

    def pool_listing(self, state: HostState) -> HostPool | None:
        """The host pool whose session hosts list this VM (its name and VM id), or None."""
        name = fqdn(state.name).lower()
        return next((p for p in self.pools if (r := p.records.get(name)) is not None and r.vm_id == state.vm_id), None)

    def pool_for(self, state: HostState) -> HostPool:
        """The host pool the VM belongs to: the one listing it, else the one its agent names, else the first."""
        listing = self.pool_listing(state)
        if listing is not None:
            return listing
        arm_path = str(state.registry.get_data(k.RDINFRA_AGENT, "HostPoolArmPath", "") or "").lower()
        return next((p for p in self.pools if p.arm_id.lower() == arm_path), self.pool)

    # --- the broker, as the agent meets it ----------------------------------
    def register(self, state: HostState, token: str, now: float) -> HostPool:
        """Register the VM with the host pool that signed ``token``; returns that pool."""
        pool, claims = next(
            ((p, c) for p in self.pools if token and (c := p.token_claims(token)) is not None), (None, None)
        )
        if pool is None or claims is None or (token != pool.token and claims.get("exp", 0) > now):
            raise RegistrationError(
                "INVALID_REGISTRATION_TOKEN", "The registration token is not valid for any host pool."
            )
        if claims["exp"] <= now:
            raise RegistrationError("EXPIRED_REGISTRATION_TOKEN", "The registration token has expired.")
        name = fqdn(state.name).lower()
        existing = pool.records.get(name)
        # A VM another host pool still lists has its name registered there: the article's duplicate
        # name (remove the session host from that host pool first).
        elsewhere = [p for p in self.pools if p is not pool and name in p.records]
        if (existing is not None and existing.vm_id != state.vm_id) or elsewhere:
            raise RegistrationError(
                "NAME_ALREADY_REGISTERED",
                f"A session host named {fqdn(state.name)} is already registered"
                + (f" in host pool {elsewhere[0].name}." if elsewhere else " by another virtual machine."),
            )
        pool.records[name] = SessionHostRecord(
            name=fqdn(state.name),
            vm_id=state.vm_id,
            resource_id=state.registry.get_data(k.RDINFRA_AGENT, "AzureResourceId", ""),
            registered_at=now,
            allow_new_session=existing.allow_new_session if existing else True,
        )
        return pool

    def connect(self, state: HostState) -> None:
        """A registered agent opening its broker connection."""
        if self.pool_listing(state) is None:
            raise RegistrationError(
                "ENDPOINT_NOT_FOUND", "The broker could not find an endpoint for this session host in the host pool."
            )

    def broker_health(self, url: str) -> tuple[int, str]:
        """``<BrokerURI>api/health``: HTTP 200 and the broker's JSON health report.

        The shape is that of a 2022 capture (Az.DesktopVirtualization.Utility's
        Get-AzWvdSessionHostRDBrokerHealth -Raw; tests/fixtures/realworld/broker_health).
        """
        if not url.rstrip("/").lower().endswith("/api/health"):
            return 404, "Not Found"
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 10**7):07d}"
        entry: dict[str, Any] = {
            "Data": {},
            "Description": None,
            "Duration": "00:00:00.0350346",
            "Exception": None,
            "Status": 2,
        }
        body = {
            "Health": k.BROKER_HEALTHY_TEXT,
            "HealthCheckStatus": {
                "HealthReport": {"Entries": {"rdDbContext": {**entry, "Tags": []}}},
                "SnapshotTimeUtc": stamp + "Z",
                "CurrentCapacityLoad": 0,
            },
            "TimeStamp": stamp + "+00:00",
            "TimeStampUtc": stamp + "Z",
            "Version": k.BROKER_SERVICE_VERSION,
            "GlobalUrl": k.BROKER_URI_GLOBAL,
            "ClusterUrl": k.BROKER_URI,
        }
        return 200, json.dumps(body, indent=2)

    # --- what the service reports about a session host ------------------------
    def session_host_view(self, record: SessionHostRecord, state: HostState | None, now: float) -> dict[str, Any]:
        """The ARM sessionHost properties (2024-04-03 enums), derived from the host's state."""
        if state is None or record.foreign or record.vm_id != state.vm_id:
            return {
                "status": "Available" if record.foreign else "Unavailable",
                "statusTimestamp": _iso(record.registered_at),
                "lastHeartBeat": _iso(record.registered_at),
                "sessions": 0,
                "agentVersion": k.AGENT_VERSION,
                "sxSStackVersion": k.sxs_winstation(k.SXS_VERSION),
                "updateState": "Succeeded",
                "updateErrorMessage": "",
                "sessionHostHealthCheckResults": [],
            }
        registry = state.registry
        default_agent = registry.get_data(k.BOOTLOADER, "DefaultAgent", "") or ""
        identity = {
            "agentVersion": default_agent.removeprefix("RDAgent_"),
            "sxSStackVersion": registry.get_data(k.WINSTATIONS, "ReverseConnectionListener", "") or "",
            "osVersion": "10.0." + str(registry.get_data(k.WINDOWS_NT, "CurrentBuild", "")),
            "updateState": state.update_state,
            "updateErrorMessage": state.update_error,
        }
        report = _health_report(registry.get_data(k.HEALTH_CHECK_REPORT, "AgentHealthCheckReport", ""))
        if state.powered_off_at is not None:
            # The agent said goodbye as Windows shut down: Shutdown, every check SessionHostShutdown.
            for check in report:
                check["healthCheckResult"] = "SessionHostShutdown"
            return {
                "status": "Shutdown",
                "statusTimestamp": _iso(state.powered_off_at),
                "lastHeartBeat": _iso(state.powered_off_at),
                "sessions": 0,
                **identity,
                "sessionHostHealthCheckResults": report,
            }
        settle_registration(state, self, now)
        state.settle(now)
        bootloader = state.service(k.BOOTLOADER_SERVICE)
        agent_running = bootloader is not None and bootloader.state == RUNNING and bootloader.stop_at is None
        failed = {check["healthCheckName"] for check in report if check["healthCheckResult"] == "HealthCheckFailed"}
        if state.shutdown_at is not None and now >= state.shutdown_at:
            status = "Shutdown"  # restarting: off the network until it boots
        elif bootloader is None or not agent_running or registry.get_data(k.RDINFRA_AGENT, "IsRegistered") != 1:
            status = "Unavailable"  # no agent heartbeat (older API versions said NoHeartbeat)
        elif state.update_state == "Started":
            status = "Upgrading"
        elif state.update_state == "Failed":
            status = "UpgradeFailed"
        elif failed & FATAL_CHECKS:
            status = "Unavailable"  # a fatal health check failed
        elif failed:
            status = "NeedsAssistance"
        else:
            status = "Available"
        # A silent agent sends no heartbeat; the service keeps the status it last computed (the field report).
        heartbeat = now if agent_running and not state.agent_silent else state.last_heartbeat
        return {
            "status": status,
            "statusTimestamp": _iso(state.last_heartbeat if state.agent_silent else now),
            "lastHeartBeat": _iso(heartbeat) if heartbeat else None,
            "sessions": len(state.sessions),
            **identity,
            "sessionHostHealthCheckResults": report,
        }


# Failing any of these makes the host Unavailable; the others make it NeedsAssistance
# (learn.microsoft.com/azure/virtual-desktop/troubleshoot-statuses-checks).
FATAL_CHECKS = frozenset({"SxSStackListenerCheck", "DomainJoinedCheck", "DomainTrustCheck"})
RESULTS = {k.CHECK_PASSED: "HealthCheckSucceeded", k.CHECK_FAILED: "HealthCheckFailed"}


def _health_report(text: str) -> list[dict[str, Any]]:
    """The agent's AgentHealthCheckReport (an object keyed by check name) as the service's health check results."""
    try:
        raw = json.loads(text) if text else {}
    except ValueError:
        return []
    if not isinstance(raw, dict):
        return []
    results = []
    for name, entry in sorted(raw.items()):
        details = entry.get("AdditionalFailureDetails") or {}
        results.append(
            {
                "healthCheckName": name,
                "healthCheckResult": RESULTS.get(entry.get("HealthCheckResult"), "Unknown"),
                "additionalFailureDetails": {
                    "message": details.get("Message", ""),
                    "errorCode": details.get("ErrorCode", 0),
                    "lastHealthCheckDateTime": details.get("LastHealthCheckInUTC"),
                },
            }
        )
    return results


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment % 1 * 1000):03d}Z"
