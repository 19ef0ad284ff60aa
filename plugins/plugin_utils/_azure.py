"""The collection's one Azure client: credentials, the ARM endpoint, retries, and errors a person can act on.

Used by every host pool module and the host_pool inventory plugin. The
options follow azure.azcollection's conventions (``auth_source``,
``subscription_id``, ``client_id``, ``secret``, ``tenant``,
``cloud_environment`` and their ``AZURE_*`` environment variables), plus
``arm_endpoint``/``authority`` for sovereign clouds and test endpoints and
``ca_bundle`` for private certificate authorities.
"""

from __future__ import annotations

import datetime
import os
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

API_VERSION = "2024-04-03"
CLOUDS = {
    "AzureCloud": ("https://management.azure.com", "https://login.microsoftonline.com"),
    "AzureUSGovernment": ("https://management.usgovcloudapi.net", "https://login.microsoftonline.us"),
    "AzureChinaCloud": ("https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
}
MIN_EXPIRATION_HOURS = 1
MAX_EXPIRATION_HOURS = 27 * 24  # the article: no less than an hour, no longer than 27 days

AUTH_OPTIONS: dict[str, Any] = {
    "auth_source": {"type": "str", "default": "auto", "choices": ["auto", "cli", "env", "msi", "credential"]},
    "subscription_id": {"type": "str"},
    "client_id": {"type": "str"},
    "secret": {"type": "str", "no_log": True},
    "tenant": {"type": "str"},
    "cloud_environment": {"type": "str", "default": "AzureCloud"},
    "arm_endpoint": {"type": "str"},
    "authority": {"type": "str"},
    "ca_bundle": {"type": "path"},
    "retries": {"type": "int", "default": 4},
}
ENV_FALLBACKS = {
    "subscription_id": ("AZURE_SUBSCRIPTION_ID",),
    "client_id": ("AZURE_CLIENT_ID",),
    "secret": ("AZURE_SECRET", "AZURE_CLIENT_SECRET"),
    "tenant": ("AZURE_TENANT", "AZURE_TENANT_ID"),
    "arm_endpoint": ("AZURE_ARM_ENDPOINT",),
    "authority": ("AZURE_AUTHORITY_HOST",),
    "ca_bundle": ("AZURE_CA_BUNDLE",),
}


class AzureError(Exception):
    """A failure to report in one sentence that says what is wrong."""


class PartialChange(AzureError):
    """A failure after something was already changed: the module reports ``changed: true`` and what it did."""

    def __init__(self, message: str, done: dict[str, Any]) -> None:
        super().__init__(message)
        self.done = done


@dataclass(frozen=True)
class AzureSettings:
    auth_source: str
    subscription_id: str
    client_id: str | None
    secret: str | None
    tenant: str | None
    arm_endpoint: str
    authority: str
    ca_bundle: str | None
    retries: int

    @property
    def audience(self) -> str:
        return self.arm_endpoint.rstrip("/")


def settings_from(options: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> AzureSettings:
    """Resolve options, then AZURE_* variables, then the cloud's defaults; fail on what is missing."""
    env = os.environ if environ is None else environ
    values = dict(options)
    for name, variables in ENV_FALLBACKS.items():
        if not values.get(name):
            values[name] = next((env[v] for v in variables if env.get(v)), None)
    cloud = values.get("cloud_environment") or "AzureCloud"
    if cloud in CLOUDS:
        arm, login = CLOUDS[cloud]
    elif str(cloud).startswith("https://"):
        arm, login = str(cloud), CLOUDS["AzureCloud"][1]
    else:
        raise AzureError(f"cloud_environment {cloud!r} is not one of {', '.join(CLOUDS)} or an https:// ARM endpoint")
    if not values.get("subscription_id"):
        raise AzureError("subscription_id is required (or set AZURE_SUBSCRIPTION_ID)")
    source = values.get("auth_source") or "auto"
    if source == "auto" and values.get("client_id") and values.get("secret") and values.get("tenant"):
        source = "credential"
    if source == "credential":
        missing = [n for n in ("client_id", "secret", "tenant") if not values.get(n)]
        if missing:
            raise AzureError(
                f"auth_source=credential needs {', '.join(missing)} (or AZURE_CLIENT_ID, AZURE_SECRET, AZURE_TENANT)"
            )
    retries = int(values["retries"]) if values.get("retries") is not None else 4
    if retries < 0:
        raise AzureError("retries must not be negative")
    return AzureSettings(
        auth_source=source,
        subscription_id=str(values["subscription_id"]),
        client_id=values.get("client_id"),
        secret=values.get("secret"),
        tenant=values.get("tenant"),
        arm_endpoint=str(values.get("arm_endpoint") or arm).rstrip("/"),
        authority=str(values.get("authority") or login).rstrip("/"),
        ca_bundle=values.get("ca_bundle"),
        retries=retries,
    )


def _transport_kwargs(settings: AzureSettings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"retry_total": settings.retries}
    if settings.ca_bundle:
        kwargs["connection_verify"] = settings.ca_bundle
    return kwargs


MISSING_SDK = (
    "the host pool modules need the Python packages azure-identity and azure-mgmt-desktopvirtualization on the "
    "controller (pip install azure-identity azure-mgmt-desktopvirtualization)"
)


# The Azure SDK is imported when a host pool module runs, so that the WinRM modules
# work on controllers without it; these are the only places that import it.
def models() -> Any:
    try:
        from azure.mgmt.desktopvirtualization import models as sdk_models
    except ImportError:
        raise AzureError(MISSING_SDK) from None
    return sdk_models


def credential(settings: AzureSettings) -> Any:
    try:
        from azure import identity
    except ImportError:
        raise AzureError(MISSING_SDK) from None

    kwargs = _transport_kwargs(settings)
    custom_authority = settings.authority not in {login for _unused, login in CLOUDS.values()}
    if settings.auth_source == "credential":
        return identity.ClientSecretCredential(
            str(settings.tenant),
            str(settings.client_id),
            str(settings.secret),
            authority=settings.authority,
            disable_instance_discovery=custom_authority,
            **kwargs,
        )
    if settings.auth_source == "cli":
        return identity.AzureCliCredential(tenant_id=settings.tenant or "")
    if settings.auth_source == "msi":
        return identity.ManagedIdentityCredential(client_id=settings.client_id, **kwargs)
    if settings.auth_source == "env":
        return identity.EnvironmentCredential(authority=settings.authority, **kwargs)
    return identity.DefaultAzureCredential(
        authority=settings.authority, exclude_interactive_browser_credential=True, **kwargs
    )


def client(settings: AzureSettings) -> Any:
    try:
        from azure.mgmt.desktopvirtualization import DesktopVirtualizationMgmtClient
    except ImportError:
        raise AzureError(MISSING_SDK) from None

    return DesktopVirtualizationMgmtClient(
        credential(settings),
        settings.subscription_id,
        base_url=settings.arm_endpoint,
        credential_scopes=[f"{settings.audience}/.default"],
        api_version=API_VERSION,
        **_transport_kwargs(settings),
    )


# --- errors -----------------------------------------------------------------------------
def _arm_message(exc: Exception) -> str:
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    if code or message:
        return f"{code}: {message}" if code else str(message)
    return " ".join(str(getattr(exc, "message", None) or exc).split())[:400]


TLS_MARKERS = ("certificate verify failed", "certificate_verify_failed", "sslerror", "[ssl:", "ssl: ")


def tls_failure(exc: BaseException) -> str | None:
    """The TLS complaint behind an error (its cause chain included), or None when it is not a TLS failure."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return " ".join(str(current).split())
        text = " ".join(str(getattr(current, "message", None) or current).split())
        if any(marker in text.lower() for marker in TLS_MARKERS):
            match = re.search(r"certificate verify failed[^'\")\]]*", text, re.IGNORECASE)
            return match.group(0) if match else text[:300]
        inner = getattr(current, "inner_exception", None)
        pending += [current.__cause__, current.__context__, inner if isinstance(inner, BaseException) else None]
    return None


def describe_error(exc: Exception, what: str, settings: AzureSettings | None = None) -> str:
    """One sentence on what went wrong while doing ``what``, and what to check."""
    from azure.core import exceptions as core

    status = getattr(getattr(exc, "response", None), "status_code", None) or getattr(exc, "status_code", None)
    detail = _arm_message(exc)
    endpoint = settings.arm_endpoint if settings else "Azure Resource Manager"
    tls = tls_failure(exc)
    if tls:  # before the authentication check: a token request that fails TLS is not a wrong secret
        hosts = f"{settings.arm_endpoint} or {settings.authority}" if settings else "Azure"
        return (
            f"{what}: TLS verification failed talking to {hosts} ({tls}); trust the issuing CA with ca_bundle "
            f"(or AZURE_CA_BUNDLE), e.g. for a TLS-inspecting proxy"
        )
    if isinstance(exc, core.ClientAuthenticationError) and status in (None, 401):
        return (
            f"{what}: authentication failed ({detail}); check the service principal's client_id, secret and "
            f"tenant, or the identity behind auth_source"
        )
    if status == 401:
        return f"{what}: Azure rejected the credentials (HTTP 401, {detail})"
    if status == 403:
        return (
            f"{what}: permission denied (HTTP 403, {detail}); the identity needs a role such as "
            f"'Desktop Virtualization Host Pool Contributor' on the host pool"
        )
    if isinstance(exc, core.ResourceNotFoundError) or status == 404:
        return f"{what}: not found (HTTP 404, {detail})"
    if status == 429:
        return f"{what}: Azure kept throttling the requests (HTTP 429) after the retries; try again later ({detail})"
    if isinstance(exc, core.ServiceRequestError):
        return f"{what}: cannot reach {endpoint} ({detail}); check the network, proxy and TLS trust (ca_bundle)"
    if isinstance(exc, core.HttpResponseError):
        return f"{what}: Azure answered HTTP {status} ({detail})"
    return f"{what}: {type(exc).__name__}: {detail}"


T = TypeVar("T")


def call(what: str, settings: AzureSettings, function: Callable[[], T]) -> T:
    from azure.core.exceptions import AzureError as CoreAzureError

    try:
        return function()
    except CoreAzureError as exc:
        raise AzureError(describe_error(exc, what, settings)) from None


def get_json(client: Any, settings: AzureSettings, what: str, path: str, api_version: str) -> Any:
    """GET an ARM path through the host pool client's own pipeline (credential, retries, endpoint, CA bundle), for
    the few reads of another provider (a VM's instance view) that need no SDK of their own."""
    return send_json(client, settings, what, "GET", path, api_version)


def send_json(
    client: Any, settings: AzureSettings, what: str, method: str, path: str, api_version: str, body: Any = None
) -> Any:
    """One ARM request through the host pool client's pipeline (another provider's API: VM instance view, tags)."""
    from azure.core.rest import HttpRequest

    def send() -> Any:
        request = HttpRequest(method, path, params={"api-version": api_version}, json=body)
        response = client._send_request(request)
        response.raise_for_status()
        return response.json()

    return call(what, settings, send)


# --- shapes --------------------------------------------------------------------------------
def iso(moment: datetime.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_name(session_host_name: str) -> str:
    """``hp/sh-01.contoso.com`` -> ``sh-01``."""
    return session_host_name.rsplit("/", maxsplit=1)[-1].split(".", maxsplit=1)[0]


def fqdn(session_host_name: str) -> str:
    """``hp/sh-01.contoso.com`` -> ``sh-01.contoso.com``."""
    return session_host_name.rsplit("/", maxsplit=1)[-1]


def session_host_dict(host: Any) -> dict[str, Any]:
    checks = []
    for check in host.session_host_health_check_results or []:
        details = check.additional_failure_details
        checks.append(
            {
                "name": check.health_check_name,
                "result": check.health_check_result,
                "message": getattr(details, "message", None),
                "error_code": getattr(details, "error_code", None),
                "last_checked": iso(getattr(details, "last_health_check_date_time", None)),
            }
        )
    return {
        "name": fqdn(host.name),
        "short_name": short_name(host.name),
        "status": host.status,
        "status_timestamp": iso(host.status_timestamp),
        "last_heartbeat": iso(host.last_heart_beat),
        "sessions": host.sessions,
        "allow_new_session": host.allow_new_session,
        "assigned_user": host.assigned_user,
        "agent_version": host.agent_version,
        "sxs_stack_version": host.sx_s_stack_version,
        "os_version": host.os_version,
        "update_state": host.update_state,
        "update_error_message": host.update_error_message,
        "resource_id": host.resource_id,
        "virtual_machine_id": host.virtual_machine_id,
        "health_checks": checks,
    }


def host_pool_dict(pool: Any, key: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The host pool's properties; ``key`` is what ``registration_key`` found out about its registration key.

    A GET on recent API versions carries no ``registrationInfo`` (Azure/bicep#6105), so the key's expiry
    comes from ``listRegistrationTokens``; without ``key`` it is reported as not checked, never as "no key".
    """
    key = key or {"checked": False, "expiration_time": None, "error": "the registration key was not looked up"}
    return {
        "name": pool.name,
        "id": pool.id,
        "location": pool.location,
        "host_pool_type": pool.host_pool_type,
        "load_balancer_type": pool.load_balancer_type,
        "max_session_limit": pool.max_session_limit,
        "preferred_app_group_type": pool.preferred_app_group_type,
        "validation_environment": pool.validation_environment,
        "start_vm_on_connect": pool.start_vm_on_connect,
        "registration_expiration_time": key.get("expiration_time"),
        "registration_key_checked": bool(key.get("checked")),
        "registration_key_error": key.get("error"),
    }
