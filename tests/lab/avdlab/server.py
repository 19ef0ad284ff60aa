"""Sockets around the sans-IO pieces: HTTP/1.1 (h11), TLS, one listener per host and port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import h11

from . import encryption
from .auth import ConnectionAuth
from .host import LabHost
from .service import WinRMService

log = logging.getLogger(__name__)
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
MAX_BODY = 16 * 1024 * 1024
READ_SIZE = 65536


@dataclass
class HttpRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


ConnectionHandler = Callable[[HttpRequest, "ConnectionState"], Awaitable[HttpResponse]]


@dataclass
class ConnectionState:
    client_ip: str
    auth: ConnectionAuth | None = None


async def _next_request(conn: h11.Connection, reader: asyncio.StreamReader) -> HttpRequest | None:
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(READ_SIZE)
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body.extend(event.data)
            if len(body) > MAX_BODY:
                raise h11.RemoteProtocolError("request body too large")
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            headers: dict[str, str] = {}
            for name, value in request.headers:
                key = name.decode("latin-1").lower()
                text = value.decode("latin-1")
                headers[key] = f"{headers[key]}, {text}" if key in headers else text
            return HttpRequest(request.method.decode(), request.target.decode("latin-1"), headers, bytes(body))
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None


async def serve_http(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handler: ConnectionHandler,
    state: ConnectionState,
) -> None:
    """Run HTTP/1.1 keep-alive on one connection, handing each request to ``handler``."""
    conn = h11.Connection(h11.SERVER)
    try:
        while True:
            request = await _next_request(conn, reader)
            if request is None:
                break
            response = await handler(request, state)
            headers = [
                *response.headers,
                ("Content-Length", str(len(response.body))),
                ("Server", "Microsoft-HTTPAPI/2.0"),
            ]
            writer.write(conn.send(h11.Response(status_code=response.status, headers=headers)) or b"")
            if response.body:
                writer.write(conn.send(h11.Data(data=response.body)) or b"")
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                break
            conn.start_next_cycle()
    except (h11.RemoteProtocolError, ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


class WinRMEndpoint:
    """``/wsman`` of one host on one port: authentication, encryption, then the service."""

    def __init__(self, host: LabHost, service: WinRMService, *, port: int, tls_certificate: bytes | None) -> None:
        self.host = host
        self.service = service
        self.port = port
        self.tls_certificate = tls_certificate
        scheme = "https" if tls_certificate is not None else "http"
        self.url = f"{scheme}://{host.address}:{port}/wsman"

    def new_state(self, client_ip: str) -> ConnectionState:
        auth = ConnectionAuth(
            self.host.account,
            tls_certificate=self.tls_certificate,
            allow_unencrypted=self.host.allow_unencrypted,
        )
        return ConnectionState(client_ip=client_ip, auth=auth)

    async def __call__(self, request: HttpRequest, state: ConnectionState) -> HttpResponse:
        stats = self.host.stats
        stats.requests += 1
        stats.bytes_in += len(request.body)
        response = await self._respond(request, state)
        stats.bytes_out += len(response.body)
        return response

    async def _respond(self, request: HttpRequest, state: ConnectionState) -> HttpResponse:
        auth = state.auth
        assert auth is not None
        if request.target.split("?", 1)[0].lower() != "/wsman":
            return HttpResponse(404, [])
        if request.method != "POST":
            return HttpResponse(405, [("Allow", "POST")])
        outcome = auth.authenticate(request.headers.get("authorization"))
        if not outcome.ok:
            if outcome.reason not in ("challenge", "no credentials"):
                # The first, credential-less request of a handshake is not a failure.
                self.host.stats.auth_failures += 1
                log.info("%s: authentication refused: %s", self.host.name, outcome.reason)
            return HttpResponse(401, [("WWW-Authenticate", value) for value in outcome.challenge])
        content_type = request.headers.get("content-type", "")
        sealed = encryption.is_encrypted(content_type)
        if sealed:
            if auth.context is None:
                return HttpResponse(400, [])
            try:
                soap = encryption.decrypt_body(request.body, auth.unwrap)
            except Exception as exc:  # a bad seal is the client's error, reported as such
                log.info("%s: cannot decrypt message: %s", self.host.name, exc)
                self.host.stats.errors += 1
                return HttpResponse(400, [])
        else:
            soap = request.body
            if soap and self.tls_certificate is None and not self.host.allow_unencrypted and auth.context is not None:
                # WinRM over HTTP without AllowUnencrypted takes only sealed messages.
                self.host.stats.errors += 1
                return HttpResponse(400, [])
        if not soap:
            return HttpResponse(200, [])
        status, answer = await self.service.handle(
            soap, principal=outcome.principal or "", client_ip=state.client_ip, endpoint=self.url
        )
        if sealed:
            return HttpResponse(
                status, [("Content-Type", encryption.CONTENT_TYPE)], encryption.encrypt_body(answer, auth.wrap)
            )
        return HttpResponse(status, [("Content-Type", SOAP_CONTENT_TYPE)], answer)


async def start_endpoint(
    endpoint: WinRMEndpoint, ssl_context: ssl.SSLContext | None, connections: set[asyncio.StreamWriter]
) -> asyncio.Server:
    """Listen for one host on one port; open connections are kept in ``connections`` so a restart can drop them."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("", 0)
        connections.add(writer)
        try:
            await serve_http(reader, writer, endpoint, endpoint.new_state(peer[0]))
        finally:
            connections.discard(writer)

    return await asyncio.start_server(
        on_connect, host=endpoint.host.address, port=endpoint.port, ssl=ssl_context, reuse_address=True, backlog=128
    )
