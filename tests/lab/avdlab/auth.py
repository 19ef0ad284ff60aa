"""HTTP authentication of one WinRM connection, as Windows' WinRM service does it.

Basic is checked on every request (and refused over plain HTTP unless the
host allows unencrypted traffic). NTLM (offered as ``Negotiate``)
authenticates the TCP connection through a three-leg handshake run by
pyspnego's acceptor; the resulting context then seals messages over HTTP.
This module holds no sockets: the server feeds it headers and the TLS
certificate, and acts on what it returns.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field

import spnego
import spnego.channel_bindings
import spnego.exceptions

NTLM_SIGNATURE = b"NTLMSSP\x00"


@dataclass(frozen=True)
class Account:
    username: str
    password: str

    def matches(self, presented: str) -> bool:
        # Local accounts may be named bare, as .\user, or HOST\user.
        name = presented.rsplit("\\", 1)[-1]
        return name.lower() == self.username.lower()


@dataclass(frozen=True)
class Outcome:
    """What the server should do with the request."""

    ok: bool
    principal: str | None = None
    challenge: list[str] = field(default_factory=list)  # WWW-Authenticate values
    reason: str = ""


def tls_channel_bindings(certificate_der: bytes) -> spnego.channel_bindings.GssChannelBindings:
    # RFC 5929 tls-server-end-point: SHA-256 for SHA-1/MD5/SHA-256 signed certificates.
    digest = hashlib.sha256(certificate_der).digest()
    return spnego.channel_bindings.GssChannelBindings(application_data=b"tls-server-end-point:" + digest)


class ConnectionAuth:
    def __init__(
        self,
        account: Account,
        *,
        tls_certificate: bytes | None,
        allow_unencrypted: bool,
        basic_enabled: bool = True,
    ) -> None:
        self.account = account
        self.tls_certificate = tls_certificate
        self.allow_unencrypted = allow_unencrypted
        self.basic_enabled = basic_enabled
        self.principal: str | None = None
        self.context: spnego.ContextProxy | None = None
        self._pending: spnego.ContextProxy | None = None
        self._scheme = "Negotiate"

    @property
    def offers(self) -> list[str]:
        offers = ["Negotiate"]
        if self.basic_enabled and (self.tls_certificate is not None or self.allow_unencrypted):
            offers.append('Basic realm="WSMAN"')
        return offers

    def authenticate(self, authorization: str | None) -> Outcome:
        if not authorization:
            if self.principal is not None and self.context is not None:
                return Outcome(ok=True, principal=self.principal)
            return Outcome(ok=False, challenge=self.offers, reason="no credentials")
        scheme, _unused, value = authorization.strip().partition(" ")
        scheme_lower = scheme.lower()
        if scheme_lower == "basic":
            return self._basic(value.strip())
        if scheme_lower in ("negotiate", "ntlm"):
            self._scheme = scheme
            return self._ntlm(value.strip())
        return Outcome(ok=False, challenge=self.offers, reason=f"unsupported scheme {scheme}")

    def _reject(self, reason: str) -> Outcome:
        self.principal = None
        self.context = None
        self._pending = None
        return Outcome(ok=False, challenge=self.offers, reason=reason)

    def _basic(self, value: str) -> Outcome:
        if not self.basic_enabled:
            return self._reject("basic authentication is disabled")
        if self.tls_certificate is None and not self.allow_unencrypted:
            # WinRM refuses Basic over HTTP unless AllowUnencrypted=true.
            return self._reject("basic over http needs AllowUnencrypted")
        try:
            user, _unused, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return self._reject("malformed basic credentials")
        if self.account.matches(user) and password == self.account.password:
            return Outcome(ok=True, principal=user)
        return self._reject("wrong user name or password")

    def _ntlm(self, value: str) -> Outcome:
        try:
            token = base64.b64decode(value, validate=True)
        except binascii.Error:
            return self._reject("malformed NTLM token")
        if not token.startswith(NTLM_SIGNATURE) or len(token) < 12:
            return self._reject("not an NTLM token")
        message_type = int.from_bytes(token[8:12], "little")
        try:
            if message_type == 1:
                bindings = tls_channel_bindings(self.tls_certificate) if self.tls_certificate else None
                self._pending = spnego.server(protocol="ntlm", channel_bindings=bindings)
                self.principal = None
                self.context = None
                out = self._pending.step(token)
                return Outcome(
                    ok=False,
                    challenge=[f"{self._scheme} {base64.b64encode(out or b'').decode()}"],
                    reason="challenge",
                )
            if message_type == 3 and self._pending is not None:
                context, self._pending = self._pending, None
                context.step(token)
                if not context.complete:
                    return self._reject("NTLM handshake incomplete")
                self.context = context
                self.principal = context.client_principal or self.account.username
                return Outcome(ok=True, principal=self.principal)
        except spnego.exceptions.SpnegoError as exc:
            return self._reject(f"NTLM authentication failed: {exc}")
        return self._reject("unexpected NTLM message")

    # Message sealing with the authenticated context (NTLM: 16-byte signature first).
    def wrap(self, data: bytes) -> tuple[bytes, bytes]:
        assert self.context is not None
        sealed = self.context.wrap(data, encrypt=True).data
        return sealed[:16], sealed[16:]

    def unwrap(self, signature: bytes, sealed: bytes) -> bytes:
        assert self.context is not None
        return self.context.unwrap(signature + sealed).data
