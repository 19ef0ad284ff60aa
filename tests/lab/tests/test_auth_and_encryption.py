"""Authentication and message sealing against the clients' own code (pyspnego, requests_ntlm, pywinrm)."""

from __future__ import annotations

import base64
import types

import pytest
import requests
import spnego
from requests_ntlm.requests_ntlm import ShimSessionSecurity
from winrm.encryption import Encryption

from avdlab import encryption
from avdlab.auth import Account, ConnectionAuth

ACCOUNT = Account("avdadmin", "S3cret-pass")


@pytest.fixture(autouse=True)
def ntlm_user_file(tmp_path, monkeypatch):
    users = tmp_path / "ntlm-users"
    users.write_text(":avdadmin:S3cret-pass\n.:avdadmin:S3cret-pass\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def ntlm_handshake(auth: ConnectionAuth, user: str, password: str, scheme: str = "Negotiate", cbt=None):
    client = spnego.client(user, password, protocol="ntlm", channel_bindings=cbt)
    first = auth.authenticate(f"{scheme} {base64.b64encode(client.step()).decode()}")
    assert not first.ok and first.reason == "challenge"
    (challenge,) = first.challenge
    assert challenge.startswith(scheme + " ")
    token = client.step(base64.b64decode(challenge.split(" ", 1)[1]))
    return client, auth.authenticate(f"{scheme} {base64.b64encode(token).decode()}")


def test_no_credentials_offers_negotiate_and_basic_only_where_allowed():
    over_http = ConnectionAuth(ACCOUNT, tls_certificate=None, allow_unencrypted=False)
    over_https = ConnectionAuth(ACCOUNT, tls_certificate=b"cert", allow_unencrypted=False)
    assert over_http.authenticate(None).challenge == ["Negotiate"]
    assert over_https.authenticate(None).challenge == ["Negotiate", 'Basic realm="WSMAN"']


def test_basic_over_https():
    auth = ConnectionAuth(ACCOUNT, tls_certificate=b"cert", allow_unencrypted=False)
    assert auth.authenticate(basic("avdadmin", "S3cret-pass")).ok
    assert auth.authenticate(basic(".\\AVDADMIN", "S3cret-pass")).ok
    refused = auth.authenticate(basic("avdadmin", "wrong"))
    assert not refused.ok and refused.reason == "wrong user name or password"


def test_basic_over_http_needs_allow_unencrypted():
    assert (
        not ConnectionAuth(ACCOUNT, tls_certificate=None, allow_unencrypted=False)
        .authenticate(basic("avdadmin", "S3cret-pass"))
        .ok
    )
    assert (
        ConnectionAuth(ACCOUNT, tls_certificate=None, allow_unencrypted=True)
        .authenticate(basic("avdadmin", "S3cret-pass"))
        .ok
    )


@pytest.mark.parametrize("scheme", ["Negotiate", "NTLM"])
def test_ntlm_handshake_authenticates_the_connection(scheme):
    auth = ConnectionAuth(ACCOUNT, tls_certificate=None, allow_unencrypted=False)
    _unused, outcome = ntlm_handshake(auth, "avdadmin", "S3cret-pass", scheme)
    assert outcome.ok
    # Later requests on the connection carry no Authorization header.
    assert auth.authenticate(None).ok


def test_ntlm_wrong_password_is_refused():
    auth = ConnectionAuth(ACCOUNT, tls_certificate=None, allow_unencrypted=False)
    _unused, outcome = ntlm_handshake(auth, "avdadmin", "nope")
    assert not outcome.ok and "NTLM authentication failed" in outcome.reason
    assert not auth.authenticate(None).ok


def test_ntlm_over_https_checks_channel_bindings():
    from avdlab.auth import tls_channel_bindings

    auth = ConnectionAuth(ACCOUNT, tls_certificate=b"the-real-cert", allow_unencrypted=False)
    _unused, outcome = ntlm_handshake(auth, "avdadmin", "S3cret-pass", cbt=tls_channel_bindings(b"another-cert"))
    assert not outcome.ok
    auth = ConnectionAuth(ACCOUNT, tls_certificate=b"the-real-cert", allow_unencrypted=False)
    _unused, outcome = ntlm_handshake(auth, "avdadmin", "S3cret-pass", cbt=tls_channel_bindings(b"the-real-cert"))
    assert outcome.ok


def test_garbage_tokens_are_refused():
    auth = ConnectionAuth(ACCOUNT, tls_certificate=None, allow_unencrypted=False)
    assert not auth.authenticate("Negotiate !!!").ok
    assert not auth.authenticate("Negotiate " + base64.b64encode(b"not ntlm").decode()).ok
    assert not auth.authenticate("Digest abc").ok


def test_pywinrm_sealed_messages_round_trip():
    auth = ConnectionAuth(ACCOUNT, tls_certificate=None, allow_unencrypted=False)
    client, outcome = ntlm_handshake(auth, "avdadmin", "S3cret-pass")
    assert outcome.ok
    session = types.SimpleNamespace(auth=types.SimpleNamespace(session_security=ShimSessionSecurity(client)))
    codec = Encryption(session, "ntlm")  # pywinrm's own encoder and decoder
    message = b"<s:Envelope>" + "héllo".encode() * 3000 + b"</s:Envelope>"
    prepared = codec.prepare_encrypted_request(requests.Session(), "http://127.0.1.1:5985/wsman", message)
    assert encryption.is_encrypted(prepared.headers["Content-Type"])
    assert encryption.decrypt_body(prepared.body, auth.unwrap) == message

    answer = b"<s:Envelope>answer</s:Envelope>"
    response = types.SimpleNamespace(
        headers={"Content-Type": encryption.CONTENT_TYPE},
        content=encryption.encrypt_body(answer, auth.wrap),
        request=types.SimpleNamespace(url="http://127.0.1.1:5985/wsman"),
    )
    assert codec.parse_encrypted_response(response) == answer


def test_tampered_length_is_an_error():
    body = encryption.encrypt_body(b"abc", lambda data: (b"S" * 16, data))
    tampered = body.replace(b"Length=3", b"Length=4")
    with pytest.raises(encryption.EncryptionError, match="does not match"):
        encryption.decrypt_body(tampered, lambda sig, data: data)
    with pytest.raises(encryption.EncryptionError):
        encryption.decrypt_body(b"junk", lambda sig, data: data)
