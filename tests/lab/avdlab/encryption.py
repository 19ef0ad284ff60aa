"""WinRM message encryption over HTTP (MS-WSMV 2.2.9.1.1), sans-IO.

With NTLM over plain HTTP, clients seal every SOAP message with the
authenticated security context and send it as ``multipart/encrypted``.
These functions take the context's wrap/unwrap as callables so they can
be tested with any context, or none.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable

BOUNDARY = b"--Encrypted Boundary"
PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'

Wrap = Callable[[bytes], tuple[bytes, bytes]]  # plaintext -> (signature, sealed)
Unwrap = Callable[[bytes, bytes], bytes]  # (signature, sealed) -> plaintext


class EncryptionError(ValueError):
    """The body is not a well-formed encrypted WinRM message."""


def is_encrypted(content_type: str) -> bool:
    lowered = content_type.lower()
    return lowered.startswith("multipart/encrypted") and PROTOCOL.lower() in lowered


def decrypt_body(body: bytes, unwrap: Unwrap) -> bytes:
    """Return the SOAP message inside an encrypted multipart body."""
    parts = [part for part in body.split(BOUNDARY + b"\r\n") if part]
    if len(parts) < 2 or len(parts) % 2:
        raise EncryptionError("encrypted body does not hold header and payload parts")
    message = b""
    for header, part in zip(parts[0::2], parts[1::2], strict=True):
        match = re.search(rb"Length=(\d+)", header)
        if not match:
            raise EncryptionError("encrypted part has no OriginalContent length")
        expected = int(match.group(1))
        payload = part.removesuffix(BOUNDARY + b"--\r\n")
        payload = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
        if len(payload) < 4:
            raise EncryptionError("encrypted part is too short")
        (signature_length,) = struct.unpack("<i", payload[:4])
        signature = payload[4 : 4 + signature_length]
        sealed = payload[4 + signature_length :]
        plain = unwrap(signature, sealed)
        if len(plain) != expected:
            raise EncryptionError(f"decrypted length {len(plain)} does not match OriginalContent length {expected}")
        message += plain
    return message


def encrypt_body(message: bytes, wrap: Wrap) -> bytes:
    """Seal a SOAP message into the multipart body Windows sends back."""
    signature, sealed = wrap(message)
    return (
        BOUNDARY + b"\r\n"
        b"\tContent-Type: " + PROTOCOL.encode() + b"\r\n"
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
        + str(len(message)).encode()
        + b"\r\n"
        + BOUNDARY
        + b"\r\n"
        b"\tContent-Type: application/octet-stream\r\n"
        + struct.pack("<i", len(signature))
        + signature
        + sealed
        + BOUNDARY
        + b"--\r\n"
    )
