"""The collection's one Azure client: credentials, the ARM endpoint, retries, and errors a person can act on.

Used by every host pool module and the host_pool inventory plugin. Credentials are found the way
azure.azcollection finds them (its ``plugins/module_utils/azure_rm_common.py``): ``auth_source``
``auto|cli|env|credential_file|msi`` (``ANSIBLE_AZURE_AUTH_SOURCE`` when not given), the ``profile`` of
``~/.azure/credentials``, the same ``AZURE_*`` environment variables, ``cloud_environment`` and
``cert_validation_mode``; plus ``credential`` (a service principal from the options, then the environment),
``arm_endpoint``/``authority`` for sovereign clouds and test endpoints and ``ca_bundle`` for private
certificate authorities.
"""

from __future__ import annotations

import configparser
import datetime
import json
import os
import re
import shutil
import ssl
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

API_VERSION = "2024-04-03"
CLOUDS = {
    "AzureCloud": ("https://management.azure.com", "https://login.microsoftonline.com"),
    "AzureUSGovernment": ("https://management.usgovcloudapi.net", "https://login.microsoftonline.us"),
    "AzureChinaCloud": ("https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
}
MIN_EXPIRATION_HOURS = 1
MAX_EXPIRATION_HOURS = 27 * 24  # the article: no less than an hour, no longer than 27 days

AUTH_SOURCES = ["auto", "cli", "env", "credential_file", "msi", "credential"]
AUTH_OPTIONS: dict[str, Any] = {
    # no defaults where an environment variable or a credentials profile may give the value
    "auth_source": {"type": "str", "choices": AUTH_SOURCES},
    "profile": {"type": "str"},
    "subscription_id": {"type": "str"},
    "client_id": {"type": "str"},
    "secret": {"type": "str", "no_log": True},
    "tenant": {"type": "str"},
    "x509_certificate_path": {"type": "path"},
    "cloud_environment": {"type": "str"},
    "cert_validation_mode": {"type": "str", "choices": ["validate", "ignore"]},
    "arm_endpoint": {"type": "str"},
    "authority": {"type": "str"},
    "ca_bundle": {"type": "path"},
    "retries": {"type": "int", "default": 4},
}
# azure.azcollection's AZURE_CREDENTIAL_ENV_MAPPING, plus azure-identity's names of the same values and this
# collection's endpoint and CA settings; the keys are also the keys of a ~/.azure/credentials profile.
ENV_VARIABLES: dict[str, tuple[str, ...]] = {
    "profile": ("AZURE_PROFILE",),
    "subscription_id": ("AZURE_SUBSCRIPTION_ID",),
    "client_id": ("AZURE_CLIENT_ID",),
    "secret": ("AZURE_SECRET", "AZURE_CLIENT_SECRET"),
    "tenant": ("AZURE_TENANT", "AZURE_TENANT_ID"),
    "x509_certificate_path": ("AZURE_X509_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PATH"),
    "cloud_environment": ("AZURE_CLOUD_ENVIRONMENT",),
    "cert_validation_mode": ("AZURE_CERT_VALIDATION_MODE",),
    "arm_endpoint": ("AZURE_ARM_ENDPOINT",),
    "authority": ("AZURE_AUTHORITY_HOST",),
    "ca_bundle": ("AZURE_CA_BUNDLE",),
}
CLI_LOGIN = "the Azure CLI login (az login)"
PROFILE_KEYS = tuple(name for name in ENV_VARIABLES if name != "profile")


class AzureError(Exception):
    """A failure to report in one sentence that says what is wrong."""


class PartialChange(AzureError):
    """A failure after something was already changed: the module reports ``changed: true`` and what it did."""

    def __init__(self, message: str, done: dict[str, Any]) -> None:
        super().__init__(message)
        self.done = done


@dataclass(frozen=True)
class AzureSettings:
    auth_source: str  # the credential used: credential (client secret), certificate, cli or msi
    subscription_id: str
    client_id: str | None
    secret: str | None
    tenant: str | None
    arm_endpoint: str
    authority: str
    ca_bundle: str | None
    retries: int
    found_in: str = "the module options"  # where the credentials came from, for error messages
    x509_certificate_path: str | None = None
    verify: bool = True  # cert_validation_mode=ignore turns TLS verification off

    @property
    def audience(self) -> str:
        return self.arm_endpoint.rstrip("/")


def credentials_file(environ: Mapping[str, str]) -> Path:
    """``~/.azure/credentials``; the Azure CLI's AZURE_CONFIG_DIR moves ``~/.azure`` and this file with it."""
    directory = environ.get("AZURE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".azure")
    return Path(directory) / "credentials"


def read_profile(path: Path, profile: str) -> dict[str, str] | None:
    """A profile of an azure.azcollection credentials file (INI), or None when it has none with a subscription_id."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise AzureError(f"cannot read the Azure credentials file {path}: {exc}") from None
    if not parser.has_section(profile):
        return None
    values = {key: parser.get(profile, key) for key in PROFILE_KEYS if parser.has_option(profile, key)}
    return values if values.get("subscription_id") else None


def cli_subscription() -> str | None:
    """The Azure CLI's default subscription (``az account show``), or None without a logged-in CLI."""
    az = shutil.which("az")
    if not az:
        return None
    try:
        output = subprocess.run(  # noqa: S603 - the az found on PATH, fixed arguments
            [az, "account", "show", "--output", "json"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        subscription = json.loads(output).get("id")
    except (OSError, subprocess.SubprocessError, ValueError, AttributeError):
        return None
    return str(subscription) if subscription else None


def _environment_values(env: Mapping[str, str]) -> dict[str, str]:
    found = {name: next((env[v] for v in names if env.get(v)), "") for name, names in ENV_VARIABLES.items()}
    return {name: value for name, value in found.items() if value}


def _find_credentials(source: str, options: Mapping[str, Any], env: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """Where the credentials come from and their values, in azure.azcollection's order for ``auto``:
    the profile option, a client_id option, the environment (AZURE_PROFILE or AZURE_SUBSCRIPTION_ID), the
    default profile of the credentials file, the Azure CLI."""
    path = credentials_file(env)
    given = {name: options[name] for name in ENV_VARIABLES if options.get(name)}
    from_env = _environment_values(env)

    def profile(name: str) -> tuple[str, dict[str, Any]]:
        values = read_profile(path, name)
        if values is None:
            raise AzureError(
                f"the Azure credentials file {path} has no profile [{name}] with a subscription_id; write one "
                f"(subscription_id, client_id, secret, tenant) or choose another auth_source"
            )
        return f"profile [{name}] of {path}", values

    def environment(service_principal: bool) -> tuple[str, dict[str, Any]] | None:
        if from_env.get("profile"):
            return profile(from_env["profile"])
        if from_env.get("subscription_id") and (from_env.get("client_id") or not service_principal):
            return "the AZURE_* environment variables", from_env
        return None

    if source == "msi":
        return "a managed identity", {**from_env, **given}
    if source == "cli":
        return CLI_LOGIN, {**from_env, **given}
    if source == "credential":
        return "the module options and AZURE_* environment variables", {**from_env, **given}
    if source == "env":
        found = environment(service_principal=False)
        if found is None:
            raise AzureError(
                "auth_source=env found neither AZURE_SUBSCRIPTION_ID nor AZURE_PROFILE in the environment; export "
                "AZURE_SUBSCRIPTION_ID, AZURE_CLIENT_ID, AZURE_SECRET and AZURE_TENANT"
            )
        return found
    if source == "credential_file":
        return profile(str(given.get("profile") or "default"))
    # auto
    if given.get("profile"):
        return profile(str(given["profile"]))
    if given.get("client_id"):
        return "the module options", given
    # AZURE_SUBSCRIPTION_ID alone (no AZURE_CLIENT_ID) is no service principal: on to the default profile, then
    # az login in that subscription (azure.azcollection would stop here, asking for client_id)
    found = environment(service_principal=True)
    if found is not None:
        return found
    if read_profile(path, "default") is not None:
        return profile("default")
    return CLI_LOGIN, {"subscription_id": from_env.get("subscription_id")}


def settings_from(
    options: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    cli_default_subscription: Callable[[], str | None] = cli_subscription,
) -> AzureSettings:
    """Resolve the credentials (azure.azcollection's sources and order), the cloud and the subscription.

    A ``subscription_id`` option (the host pool's own, from the host_pool inventory) names the subscription
    whatever the credentials' source; without it the source's subscription counts.
    """
    env = os.environ if environ is None else environ
    source = options.get("auth_source") or env.get("ANSIBLE_AZURE_AUTH_SOURCE") or "auto"
    if source not in AUTH_SOURCES:
        raise AzureError(f"auth_source {source!r} (ANSIBLE_AZURE_AUTH_SOURCE?) is not one of {', '.join(AUTH_SOURCES)}")
    found_in, values = _find_credentials(source, options, env)
    # options the credentials do not carry: the module's, then the credentials', then the environment's
    for name in ("cloud_environment", "cert_validation_mode", "arm_endpoint", "authority", "ca_bundle"):
        values[name] = options.get(name) or values.get(name) or _environment_values(env).get(name)
    cloud = values.get("cloud_environment") or "AzureCloud"
    if cloud in CLOUDS:
        arm, login = CLOUDS[cloud]
    elif str(cloud).startswith("https://"):
        arm, login = str(cloud), CLOUDS["AzureCloud"][1]
    else:
        raise AzureError(f"cloud_environment {cloud!r} is not one of {', '.join(CLOUDS)} or an https:// ARM endpoint")
    mode = values.get("cert_validation_mode") or "validate"
    if mode not in ("validate", "ignore"):
        raise AzureError(f"cert_validation_mode {mode!r} is neither validate nor ignore")

    if source == "msi":
        kind = "msi"
    elif found_in == CLI_LOGIN:
        kind = "cli"
    elif values.get("client_id") and values.get("tenant") and values.get("secret"):
        kind = "credential"
    elif values.get("client_id") and values.get("tenant") and values.get("x509_certificate_path"):
        kind = "certificate"
    elif source == "credential":
        missing = [n for n in ("client_id", "secret", "tenant") if not values.get(n)]
        raise AzureError(
            f"auth_source=credential needs {', '.join(missing)} (or AZURE_CLIENT_ID, AZURE_SECRET, AZURE_TENANT)"
        )
    else:
        missing = [n for n in ("client_id", "tenant", "secret") if not values.get(n)]
        raise AzureError(
            f"the credentials from {found_in} are incomplete: a service principal needs client_id, tenant and "
            f"secret (or x509_certificate_path); {', '.join(missing)} missing"
        )
    subscription = options.get("subscription_id") or values.get("subscription_id")
    if not subscription and kind == "cli":
        subscription = cli_default_subscription()
    if not subscription:
        raise AzureError(
            f"subscription_id is required: set it (or AZURE_SUBSCRIPTION_ID, a credentials profile's "
            f"subscription_id, or the Azure CLI's default subscription with az account set); credentials from "
            f"{found_in}"
        )
    retries = int(options["retries"]) if options.get("retries") is not None else 4
    if retries < 0:
        raise AzureError("retries must not be negative")
    return AzureSettings(
        auth_source=kind,
        subscription_id=str(subscription),
        client_id=values.get("client_id"),
        secret=values.get("secret"),
        tenant=values.get("tenant"),
        arm_endpoint=str(values.get("arm_endpoint") or arm).rstrip("/"),
        authority=str(values.get("authority") or login).rstrip("/"),
        ca_bundle=values.get("ca_bundle"),
        retries=retries,
        found_in=found_in,
        x509_certificate_path=values.get("x509_certificate_path"),
        verify=mode == "validate",
    )


def _transport_kwargs(settings: AzureSettings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"retry_total": settings.retries}
    if not settings.verify:
        kwargs["connection_verify"] = False
    elif settings.ca_bundle:
        kwargs["connection_verify"] = settings.ca_bundle
    return kwargs


MISSING_SDK = (
    "the host pool modules need the Python packages azure-identity and azure-mgmt-desktopvirtualization on the "
    "controller (pip install azure-identity azure-mgmt-desktopvirtualization)"
)


# The Azure SDK is imported when a host pool module runs, so that the WinRM modules
# work on controllers without it; these are the only places that import it (and preload_sdk).
def preload_sdk() -> None:
    """Import the SDK's packages now, if they are installed (a missing SDK is reported when a module runs).

    Ansible forks a worker per host and task, and the strategy loads each task's action plugin class in the
    controller's main process first: an action plugin that calls this when it is loaded imports the SDK once a
    run, and every worker inherits it, where each worker would otherwise import it again (about 0.3 CPU-seconds,
    a large part of a host pool task's cost)."""
    try:
        import azure.identity
        import azure.mgmt.desktopvirtualization  # noqa: F401
    except ImportError:
        return


def models() -> Any:
    try:
        from azure.mgmt.desktopvirtualization import models as sdk_models
    except ImportError:
        raise AzureError(MISSING_SDK) from None
    return sdk_models


# One credential per process and per set of credentials (never written to disk): its in-memory MSAL cache keeps the
# token it got, which azure-identity hands out again until it is due to be refreshed, then refreshes. Ansible forks a
# worker per task and host from the controller's main process, where the host_pool inventory already got a token:
# each host pool task's worker inherits that credential and its token instead of asking Entra ID again.
_CREDENTIALS: dict[tuple[Any, ...], Any] = {}
# The transports of those credentials (their token requests' connections), whose pooled connections a forked worker
# must not share with its siblings.
_TRANSPORTS: list[Any] = []


def _credential_key(settings: AzureSettings) -> tuple[Any, ...]:
    """What a credential is made of: who signs in, where, and how its requests go (not the subscription)."""
    return (
        settings.auth_source,
        settings.tenant,
        settings.client_id,
        settings.secret,
        settings.x509_certificate_path,
        settings.authority,
        settings.retries,
        settings.verify,
        settings.ca_bundle,
    )


def _forget_connections() -> None:
    """In a forked child: drop the inherited copies of the credentials' kept-alive connections (closing a copy leaves
    the parent's open), so that a worker that must refresh a token opens a connection of its own, never one socket
    for several processes."""
    for transport in _TRANSPORTS:
        if transport.session is not None:
            transport.session.close()


os.register_at_fork(after_in_child=_forget_connections)


def credential(settings: AzureSettings) -> Any:
    """The process's credential for these settings, built the first time they are asked for."""
    key = _credential_key(settings)
    found = _CREDENTIALS.get(key)
    if found is None:
        found = _CREDENTIALS[key] = _new_credential(settings)
    return found


def _new_credential(settings: AzureSettings) -> Any:
    try:
        from azure import identity
        from azure.core.pipeline.transport import RequestsTransport
    except ImportError:
        raise AzureError(MISSING_SDK) from None

    kwargs = _transport_kwargs(settings)
    custom_authority = settings.authority not in {login for _unused, login in CLOUDS.values()}
    if settings.auth_source == "cli":
        return identity.AzureCliCredential(tenant_id=settings.tenant or "")
    transport = RequestsTransport(**kwargs)
    _TRANSPORTS.append(transport)
    if settings.auth_source == "credential":
        return identity.ClientSecretCredential(
            str(settings.tenant),
            str(settings.client_id),
            str(settings.secret),
            authority=settings.authority,
            disable_instance_discovery=custom_authority,
            transport=transport,
            **kwargs,
        )
    if settings.auth_source == "certificate":
        return identity.CertificateCredential(
            str(settings.tenant),
            str(settings.client_id),
            str(settings.x509_certificate_path),
            authority=settings.authority,
            disable_instance_discovery=custom_authority,
            transport=transport,
            **kwargs,
        )
    return identity.ManagedIdentityCredential(client_id=settings.client_id, transport=transport, **kwargs)


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
        where = f" (credentials from {settings.found_in})" if settings else ""
        return (
            f"{what}: authentication failed{where} ({detail}); check the service principal's client_id, secret and "
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
