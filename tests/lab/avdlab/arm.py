"""The Azure side of the lab: Entra ID's client-credentials token endpoint and the
Azure Resource Manager API for host pools, session hosts and user sessions
(Microsoft.DesktopVirtualization, api-version 2024-04-03), over HTTPS.

Shapes follow the REST API specification; errors come as
``{"error": {"code", "message"}}``. Where Azure is stricter than the
specification reads, the lab is too (field reports: Azure/bicep#6105,
Azure/ResourceModules#3089): a host pool GET carries no ``registrationInfo``
(only the PATCH that sets a key answers with it); the key's expiry and token
come from ``listRegistrationTokens`` / ``retrieveRegistrationToken``, POST
actions a Reader role does not have; lists are paged with ``nextLink``;
deleting what is already gone answers 204; a session host name is one path
segment. The real ``azure-identity`` and
``azure-mgmt-desktopvirtualization`` clients work against it unchanged when
pointed at it (authority and base_url), which is how the collection's
Azure code is tested.
"""

from __future__ import annotations

import datetime
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .avd import API_VERSION, LOCATION, MAX_EXPIRY, MIN_EXPIRY, SUBSCRIPTION, HostPool, fqdn
from .model import LabModel
from .server import ConnectionState, HttpRequest, HttpResponse
from .windows import known as k
from .windows.agent import settle_registration
from .windows.state import UserSession

PROVIDER = "Microsoft.DesktopVirtualization"
# Microsoft.Compute answers its own api-versions (virtualMachines/instanceView exists in all of these).
COMPUTE = "Microsoft.Compute"
COMPUTE_API_VERSIONS = ("2023-09-01", "2024-03-01", "2024-07-01", "2024-11-01")
WRITE_METHODS = ("PATCH", "PUT", "DELETE", "POST")
# Microsoft.Resources/tags at a resource's scope (Tags - Get At Scope / Update At Scope), on host pools.
TAGS_API_VERSIONS = ("2019-10-01", "2021-04-01", "2022-09-01", "2024-03-01")
MAX_TAGS = 50  # "The specified entity can have a maximum of 50 tags at the end of the operation."
TAG_NAME_FORBIDDEN = set("<>%&\\?/")  # tag names cannot contain these characters (Azure tag limitations)
PAGE_SIZE = 3  # the lab's default page for session hosts and user sessions (pageSize asks for another)
# sessionHostName in the 2024-04-03 spec: 3 to 48 characters, ^[A-Za-z0-9@.\-_ ]*$ (one path segment, no '/')
SESSION_HOST_NAME = re.compile(r"^[A-Za-z0-9@.\-_ ]{3,48}$")


@dataclass
class Client:
    client_id: str
    secret: str
    can_write: bool


@dataclass
class ArmSettings:
    tenant_id: str
    clients: list[Client]
    base_url: str = ""
    throttle: int = 0  # answer this many next ARM requests with 429
    requests: int = 0  # ARM (not Entra ID) requests received
    token_requests: int = 0  # Entra ID token requests received
    tokens: dict[str, tuple[Client, float]] = field(default_factory=dict)


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(text: str) -> float:
    value = text.strip().replace("Z", "+00:00")
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ArmError(400, "InvalidRequestContent", f"expirationTime {text!r} is not an ISO 8601 date-time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _json(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    body = b"" if payload is None else json.dumps(payload).encode()
    return HttpResponse(status, [("Content-Type", "application/json; charset=utf-8"), *(headers or [])], body)


class ArmApi:
    def __init__(self, model: LabModel, settings: ArmSettings) -> None:
        self.model = model
        self.settings = settings

    async def __call__(self, request: HttpRequest, state: ConnectionState) -> HttpResponse:
        try:
            return self._route(request)
        except ArmError as exc:
            return _json(exc.status, {"error": {"code": exc.code, "message": exc.message}}, exc.headers)

    # --- Entra ID -------------------------------------------------------------
    def _identity(self, request: HttpRequest, parts: list[str]) -> HttpResponse | None:
        tenant = self.settings.tenant_id
        base = self.settings.base_url
        if (
            request.method == "GET"
            and parts[:1] == [tenant]
            and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]
        ):
            return _json(
                200,
                {
                    "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
                    "issuer": f"{base}/{tenant}/v2.0",
                    "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
                    "response_types_supported": ["code", "id_token", "token"],
                    "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                    "tenant_region_scope": "NA",
                },
            )
        if request.method == "POST" and parts == [tenant, "oauth2", "v2.0", "token"]:
            self.settings.token_requests += 1
            form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
            client = next((c for c in self.settings.clients if c.client_id == form.get("client_id")), None)
            if form.get("grant_type") != "client_credentials":
                return _json(
                    400,
                    {"error": "unsupported_grant_type", "error_description": "AADSTS70003: only client_credentials."},
                )
            if client is None:
                return _json(
                    400,
                    {
                        "error": "unauthorized_client",
                        "error_description": "AADSTS700016: Application with identifier "
                        f"'{form.get('client_id')}' was not found in the directory.",
                    },
                )
            if not secrets.compare_digest(client.secret, form.get("client_secret", "")):
                return _json(
                    401,
                    {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."},
                )
            token = secrets.token_urlsafe(32)
            self.settings.tokens[token] = (client, time.time() + 3600)
            return _json(
                200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
            )
        if parts[:1] == [tenant]:
            return _json(404, {"error": "not_found", "error_description": "AADSTS90002: no such endpoint"})
        return None

    # --- ARM --------------------------------------------------------------------
    def _route(self, request: HttpRequest) -> HttpResponse:
        url = urlsplit(request.target)
        parts = [unquote(p) for p in url.path.strip("/").split("/") if p]
        identity = self._identity(request, parts)
        if identity is not None:
            return identity
        self.settings.requests += 1
        client = self._authenticate(request)
        if self.settings.throttle > 0:
            self.settings.throttle -= 1
            raise ArmError(
                429, "TooManyRequests", "The request was throttled; retry after 1 second.", [("Retry-After", "1")]
            )
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if len(parts) > 4 and [p.lower() for p in parts[-4:]] == [
            "providers",
            "microsoft.resources",
            "tags",
            "default",
        ]:
            return self._tags(request, parts, query, client)
        if len(parts) >= 6 and parts[4] == "providers" and parts[5].lower() == COMPUTE.lower():
            return self._compute(request, parts, query)
        if query.get("api-version") != API_VERSION:
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{query.get('api-version')}' is invalid. The supported version is '{API_VERSION}'.",
            )
        if request.method in WRITE_METHODS and not client.can_write:
            # Reader has */read only: no write, no delete, no POST action (listRegistrationTokens included).
            action = {"POST": f"{parts[-1]}/action", "DELETE": "delete"}.get(request.method, "write")
            raise ArmError(
                403,
                "AuthorizationFailed",
                f"The client '{client.client_id}' does not have authorization to perform action "
                f"'{PROVIDER}/hostpools/{action}' over scope '/{'/'.join(parts)}' or the scope is invalid.",
            )
        body = json.loads(request.body) if request.body else {}
        # /subscriptions/{s}/providers/Microsoft.DesktopVirtualization/hostPools
        if len(parts) == 5 and parts[0] == "subscriptions" and parts[2] == "providers" and parts[4] == "hostPools":
            self._check_subscription(parts[1])
            pools = [p for p in self.model.pools if p.subscription.lower() == parts[1].lower()]
            return _json(200, {"value": [self._pool_json(p) for p in pools], "nextLink": None})
        if len(parts) < 7 or parts[0] != "subscriptions" or parts[2] != "resourceGroups" or parts[4] != "providers":
            raise ArmError(404, "NotFound", f"No route for {request.method} {url.path}")
        self._check_subscription(parts[1])
        # a resource group exists in a subscription when a host pool is in it (names are case-insensitive)
        in_group = [
            p
            for p in self.model.pools
            if p.subscription.lower() == parts[1].lower() and p.resource_group.lower() == parts[3].lower()
        ]
        if not in_group:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{parts[3]}' could not be found.")
        rest = parts[6:]
        if parts[5].lower() != PROVIDER.lower() or rest[:1] != ["hostPools"]:
            raise ArmError(404, "NotFound", f"No route for {request.method} {url.path}")
        if len(rest) == 1 and request.method == "GET":
            return _json(200, {"value": [self._pool_json(p) for p in in_group], "nextLink": None})
        pool = self._check_pool(rest[1], in_group, parts[3])
        sub = rest[2:]
        method = request.method
        if not sub:
            if method == "GET":
                return _json(200, self._pool_json(pool))
            if method == "PATCH":
                return _json(200, self._patch_pool(pool, body))
        elif sub == ["retrieveRegistrationToken"] and method == "POST":
            return _json(200, self._token_json(pool))
        elif sub == ["listRegistrationTokens"] and method == "POST":
            return _json(200, {"value": [self._token_json(pool)] if pool.token else []})
        elif sub == ["userSessions"] and method == "GET":
            return self._page(
                url.path, query, [self._session_json(pool, s, u) for s in self._states(pool) for u in s.sessions]
            )
        elif sub[0] == "sessionHosts":
            return self._session_hosts(pool, method, sub[1:], body, query, url.path)
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on {url.path}")

    def _compute(self, request: HttpRequest, parts: list[str], query: dict[str, str]) -> HttpResponse:
        """GET .../Microsoft.Compute/virtualMachines/{vm}/instanceView: the VM's power state, as Azure reports it.

        A VM stopped from Azure (``avdlab power off``) is deallocated; the statuses carry the provisioning state and
        the power state (``PowerState/running``, ``PowerState/deallocated``), as the Compute REST API returns them.
        """
        if query.get("api-version") not in COMPUTE_API_VERSIONS:
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{query.get('api-version')}' is invalid. The supported versions are "
                f"'{', '.join(COMPUTE_API_VERSIONS)}'.",
            )
        if request.method != "GET" or len(parts) != 9 or parts[6] != "virtualMachines" or parts[8] != "instanceView":
            raise ArmError(404, "NotFound", f"No route for {request.method} /{'/'.join(parts)}")
        self._check_subscription(parts[1])
        resource_id = "/" + "/".join(parts[:8])
        state = next(
            (
                host
                for host in self.model.hosts.values()
                if str(host.registry.get_data(k.RDINFRA_AGENT, "AzureResourceId", "")).lower() == resource_id.lower()
            ),
            None,
        )
        if state is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{COMPUTE}/virtualMachines/{parts[7]}' under resource group '{parts[3]}' was not found.",
            )
        off = state.powered_off_at is not None
        since = state.powered_off_at if off else state.boot_time
        return _json(
            200,
            {
                "computerName": state.name,
                "osName": "Windows 11 Enterprise multi-session",
                "statuses": [
                    {
                        "code": "ProvisioningState/succeeded",
                        "level": "Info",
                        "displayStatus": "Provisioning succeeded",
                        "time": iso(since),
                    },
                    {
                        "code": "PowerState/deallocated" if off else "PowerState/running",
                        "level": "Info",
                        "displayStatus": "VM deallocated" if off else "VM running",
                    },
                ],
            },
        )

    def _tags(self, request: HttpRequest, parts: list[str], query: dict[str, str], client: Client) -> HttpResponse:
        """GET / PATCH {scope}/providers/Microsoft.Resources/tags/default on a host pool (Tags at scope).

        PATCH takes ``{"operation": "Merge"|"Replace"|"Delete", "properties": {"tags": {...}}}``: Merge adds tags
        and updates the values of existing names, Replace sets the whole set, Delete removes the given names (a
        name/value pair only when the value is the tag's); tag names compare case-insensitively; at most 50 tags
        at the end of the operation; names up to 512 characters without ``<>%&\\?/``, values up to 256.
        """
        if query.get("api-version") not in TAGS_API_VERSIONS:
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{query.get('api-version')}' is invalid. The supported versions are "
                f"'{', '.join(TAGS_API_VERSIONS)}'.",
            )
        scope = parts[:-4]
        if (
            len(scope) != 8
            or scope[0] != "subscriptions"
            or scope[2] != "resourceGroups"
            or scope[5].lower() != PROVIDER.lower()
            or scope[6] != "hostPools"
        ):
            raise ArmError(404, "NotFound", f"The lab keeps tags on host pools only, not on /{'/'.join(scope)}")
        self._check_subscription(scope[1])
        in_group = [
            p
            for p in self.model.pools
            if p.subscription.lower() == scope[1].lower() and p.resource_group.lower() == scope[3].lower()
        ]
        if not in_group:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{scope[3]}' could not be found.")
        pool = self._check_pool(scope[7], in_group, scope[3])
        if request.method == "PATCH":
            if not client.can_write:
                raise ArmError(
                    403,
                    "AuthorizationFailed",
                    f"The client '{client.client_id}' does not have authorization to perform action "
                    f"'Microsoft.Resources/tags/write' over scope '/{'/'.join(scope)}' or the scope is invalid.",
                )
            body = json.loads(request.body) if request.body else {}
            pool.tags = self._patched_tags(pool.tags, body)
        elif request.method != "GET":
            raise ArmError(405, "MethodNotAllowed", f"{request.method} is not supported on tags/default here")
        return _json(
            200,
            {
                "id": f"/{'/'.join(scope)}/providers/Microsoft.Resources/tags/default",
                "name": "default",
                "type": "Microsoft.Resources/tags",
                "properties": {"tags": dict(pool.tags)},
            },
        )

    @staticmethod
    def _patched_tags(current: dict[str, str], body: dict[str, Any]) -> dict[str, str]:
        operation = str(body.get("operation") or "")
        given = (body.get("properties") or {}).get("tags")
        if operation.lower() not in ("merge", "replace", "delete") or not isinstance(given, dict):
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The request needs operation (Merge, Replace or Delete) and properties.tags (an object).",
            )
        for name, value in given.items():
            if not name or len(name) > 512 or set(name) & TAG_NAME_FORBIDDEN:
                raise ArmError(400, "InvalidTagNameCharacters", f"The tag name '{name}' has invalid characters.")
            if not isinstance(value, str) or len(value) > 256:
                raise ArmError(400, "InvalidTag", f"The value of tag '{name}' must be a string of 256 characters.")
        tags = {} if operation.lower() == "replace" else dict(current)
        by_lower = {name.lower(): name for name in tags}
        for name, value in given.items():
            existing = by_lower.get(name.lower())
            if operation.lower() == "delete":
                if existing is not None and value in ("", tags[existing]):
                    del tags[existing]
            else:
                tags[existing or name] = value
                by_lower[name.lower()] = existing or name
        if len(tags) > MAX_TAGS:
            raise ArmError(
                400, "TooManyTags", f"The resource would have {len(tags)} tags; it can have at most {MAX_TAGS}."
            )
        return tags

    def _authenticate(self, request: HttpRequest) -> Client:
        header = request.headers.get("authorization", "")
        scheme, _unused, token = header.partition(" ")
        entry = self.settings.tokens.get(token) if scheme.lower() == "bearer" else None
        challenge = [
            (
                "WWW-Authenticate",
                f'Bearer authorization_uri="{self.settings.base_url}/{self.settings.tenant_id}", error="invalid_token"',
            )
        ]
        if entry is None:
            raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid or missing.", challenge)
        client, expires = entry
        if expires < time.time():
            raise ArmError(401, "ExpiredAuthenticationToken", "The access token expiry has passed.", challenge)
        return client

    def _page(self, path: str, query: dict[str, str], items: list[dict[str, Any]]) -> HttpResponse:
        """One page of a list and the nextLink to the rest (pageSize, initialSkip as the spec names them)."""
        try:
            size = int(query.get("pageSize") or PAGE_SIZE)
            skip = int(query.get("initialSkip") or 0)
        except ValueError:
            raise ArmError(400, "InvalidParameter", "pageSize and initialSkip must be whole numbers.") from None
        if size < 1 or skip < 0:
            raise ArmError(400, "InvalidParameter", "pageSize must be positive and initialSkip not negative.")
        rest = skip + size
        link = (
            f"{self.settings.base_url}{path}?api-version={API_VERSION}&pageSize={size}&initialSkip={rest}"
            if rest < len(items)
            else None
        )
        return _json(200, {"value": items[skip:rest], "nextLink": link})

    def _check_subscription(self, subscription: str) -> None:
        """The lab's subscriptions: the VMs' and each host pool's (the lab's service principal may use all)."""
        known = {SUBSCRIPTION} | {p.subscription.lower() for p in self.model.pools}
        if subscription.lower() not in known:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")

    @staticmethod
    def _check_pool(name: str, in_group: list[HostPool], group: str) -> HostPool:
        pool = next((p for p in in_group if p.name.lower() == name.lower()), None)
        if pool is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{PROVIDER}/hostPools/{name}' under resource group '{group}' was not found.",
            )
        return pool

    def _states(self, pool: HostPool) -> list[Any]:
        """The VMs this host pool lists (by name and VM id)."""
        return [state for record in pool.records.values() if (state := self._state_for(record)) is not None]

    # --- host pool ------------------------------------------------------------------
    def _pool_json(
        self, pool: HostPool, include_token: bool = False, with_registration: bool = False
    ) -> dict[str, Any]:
        return {
            "id": pool.arm_id,
            "name": pool.name,
            "type": f"{PROVIDER}/hostPools",
            "location": LOCATION,
            "tags": dict(pool.tags),
            "properties": {
                "friendlyName": pool.name,
                "description": "avdlab host pool",
                "hostPoolType": pool.host_pool_type,
                "personalDesktopAssignmentType": None,
                "maxSessionLimit": pool.max_session_limit,
                "loadBalancerType": pool.load_balancer_type,
                "validationEnvironment": False,
                "preferredAppGroupType": "Desktop",
                "startVMOnConnect": False,
                # GET answers registrationInfo null (Azure/bicep#6105); the PATCH that sets or deletes a
                # key answers with it, the token only when it was just generated.
                "registrationInfo": {
                    "expirationTime": iso(pool.token_expiry),
                    "token": pool.token if include_token else None,
                    "registrationTokenOperation": "Update" if include_token else "None",
                }
                if with_registration
                else None,
                "objectId": "6a1c7e0e-0000-4000-8000-00000000a1ab",
            },
        }

    def _patch_pool(self, pool: HostPool, body: dict[str, Any]) -> dict[str, Any]:
        properties = body.get("properties") or {}
        info = properties.get("registrationInfo")
        include_token = False
        if info:
            operation = (info.get("registrationTokenOperation") or "None").lower()
            if operation == "update":
                if not info.get("expirationTime"):
                    raise ArmError(
                        400, "InvalidRequestContent", "registrationInfo.expirationTime is required for Update."
                    )
                expiry = parse_iso(info["expirationTime"])
                remaining = expiry - time.time()
                if not MIN_EXPIRY - 60 <= remaining <= MAX_EXPIRY + 60:
                    raise ArmError(
                        400,
                        "InvalidParameter",
                        "The registration token expiration time must be between 1 hour and 27 days from now.",
                    )
                pool.set_token(expiry)
                include_token = True
            elif operation == "delete":
                pool.delete_token()
            elif operation != "none":
                raise ArmError(
                    400,
                    "InvalidParameter",
                    f"registrationTokenOperation '{info.get('registrationTokenOperation')}' "
                    "is not one of Update, Delete, None.",
                )
        if "maxSessionLimit" in properties:
            limit = properties["maxSessionLimit"]
            if not isinstance(limit, int) or limit < 1:
                raise ArmError(400, "InvalidParameter", "maxSessionLimit must be a positive integer.")
            pool.max_session_limit = limit
        return self._pool_json(pool, include_token=include_token, with_registration=info is not None)

    def _token_json(self, pool: HostPool) -> dict[str, Any]:
        return {"expirationTime": iso(pool.token_expiry), "token": pool.token}

    # --- session hosts and user sessions ------------------------------------------------
    def _record(self, pool: HostPool, name: str, missing_ok: bool = False) -> Any:
        if not SESSION_HOST_NAME.match(name):
            raise ArmError(
                400,
                "InvalidParameter",
                f"The session host name '{name}' is not valid: 3 to 48 letters, digits and @.-_ characters "
                "(the session host's name alone, not hostPool/name).",
            )
        key = name.lower()
        record = pool.records.get(key) or pool.records.get(fqdn(key).lower())
        if record is None and missing_ok:
            return None
        if record is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{PROVIDER}/hostPools/{pool.name}/sessionHosts/{name}' was not found.",
            )
        return record

    def _state_for(self, record: Any) -> Any:
        short = record.name.split(".")[0].lower()
        state = self.model.hosts.get(short)
        return state if state is not None and state.vm_id == record.vm_id else None

    def _session_host_json(self, pool: HostPool, record: Any) -> dict[str, Any]:
        view = self.model.avd.session_host_view(record, self._state_for(record), time.time())
        return {
            "id": f"{pool.arm_id}/sessionHosts/{record.name}",
            "name": f"{pool.name}/{record.name}",
            "type": f"{PROVIDER}/hostPools/sessionHosts",
            "properties": {
                "objectId": record.vm_id,
                "resourceId": record.resource_id,
                "virtualMachineId": record.vm_id,
                "allowNewSession": record.allow_new_session,
                "assignedUser": record.assigned_user,
                "friendlyName": None,
                "lastUpdateTime": iso(record.registered_at),
                **view,
            },
        }

    def _session_json(self, pool: HostPool, state: Any, session: UserSession) -> dict[str, Any]:
        host = fqdn(state.name)
        return {
            "id": f"{pool.arm_id}/sessionHosts/{host}/userSessions/{session.session_id}",
            "name": f"{pool.name}/{host}/{session.session_id}",
            "type": f"{PROVIDER}/hostPools/sessionHosts/userSessions",
            "properties": {
                "objectId": f"{state.vm_id}-{session.session_id}",
                "userPrincipalName": f"{session.user}@contoso.test",
                "activeDirectoryUserName": f"CONTOSO\\{session.user}",
                "applicationType": "Desktop",
                "sessionState": session.state,
                "createTime": iso(session.logon_time),
            },
        }

    def _session_hosts(
        self,
        pool: HostPool,
        method: str,
        rest: list[str],
        body: dict[str, Any],
        query: dict[str, str],
        path: str,
    ) -> HttpResponse:
        # Time passes for every VM whether or not anyone looks: a registration under way completes (and lists the
        # host again after its removal) though nothing asked the VM itself meanwhile.
        for host in self.model.hosts.values():
            settle_registration(host, self.model.avd)
        if not rest:
            if method == "GET":
                records = sorted(pool.records.values(), key=lambda r: r.name)
                return self._page(path, query, [self._session_host_json(pool, r) for r in records])
            raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on sessionHosts")
        record = self._record(pool, rest[0], missing_ok=method == "DELETE" and len(rest) == 1)
        if record is None:
            return HttpResponse(204, [], b"")  # deleting what is already gone
        state = self._state_for(record)
        if len(rest) == 1:
            if method == "GET":
                return _json(200, self._session_host_json(pool, record))
            if method == "PATCH":
                properties = body.get("properties") or {}
                if "allowNewSession" in properties:
                    if not isinstance(properties["allowNewSession"], bool):
                        raise ArmError(400, "InvalidParameter", "allowNewSession must be true or false.")
                    record.allow_new_session = properties["allowNewSession"]
                if "assignedUser" in properties:
                    record.assigned_user = properties["assignedUser"]
                return _json(200, self._session_host_json(pool, record))
            if method == "DELETE":
                sessions = len(state.sessions) if state is not None else 0
                if sessions and query.get("force", "false").lower() != "true":
                    raise ArmError(
                        400,
                        "BadRequest",
                        f"The session host {record.name} has {sessions} user sessions. "
                        "Log them off or use force=true to remove it.",
                    )
                del pool.records[record.name.lower()]
                return _json(200, None)
        if rest[1] != "userSessions" or state is None:
            raise ArmError(404, "ResourceNotFound", f"No route for sessionHosts/{'/'.join(rest)}")
        if len(rest) == 2 and method == "GET":
            return self._page(path, query, [self._session_json(pool, state, s) for s in state.sessions])
        session = next((s for s in state.sessions if str(s.session_id) == rest[2]), None)
        if session is None and method == "DELETE" and len(rest) == 3:
            return HttpResponse(204, [], b"")  # signing out a session that already ended
        if session is None:
            raise ArmError(404, "ResourceNotFound", f"User session {rest[2]} was not found on {record.name}.")
        action = rest[3] if len(rest) > 3 else None
        if action is None and method == "GET":
            return _json(200, self._session_json(pool, state, session))
        if action is None and method == "DELETE":
            state.sessions.remove(session)
            self.model.save(state)
            return _json(200, None)
        if action == "disconnect" and method == "POST":
            session.state = "Disconnected"
            self.model.save(state)
            return _json(200, None)
        if action == "sendMessage" and method == "POST":
            title, text = body.get("messageTitle"), body.get("messageBody")
            if not isinstance(title, str) or not isinstance(text, str):
                raise ArmError(400, "InvalidParameter", "messageTitle and messageBody are required strings.")
            session.messages.append({"title": title, "body": text, "time": time.time()})
            self.model.save(state)
            return _json(200, None)
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on userSessions/{'/'.join(rest[2:])}")
