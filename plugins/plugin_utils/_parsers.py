"""Pure parsers for what a session host reports: qwinsta, registry values, .NET, editions, events."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from . import _known as k

# qwinsta's header words and STATE words, per display language. Rows are parsed by
# column position (the header gives the columns) and by the row's name.
QWINSTA_HEADERS = {
    "en": ("SESSIONNAME", "USERNAME", "ID", "STATE", "TYPE", "DEVICE"),
    "de": ("SITZUNGSNAME", "BENUTZERNAME", "ID", "STATUS", "TYP", "GERÄT"),
    "fr": ("NOMSESSION", "NOMUTILISATEUR", "ID", "ÉTAT", "TYPE", "PÉRIPHÉRIQUE"),
    "es": ("NOMBRESESIÓN", "NOMBREUSUARIO", "ID", "ESTADO", "TIPO", "DISPOSITIVO"),
}
STATE_WORDS = {
    "listen": "Listen",
    "abhören": "Listen",
    "écouter": "Listen",
    "escuchar": "Listen",
    "active": "Active",
    "aktiv": "Active",
    "actif": "Active",
    "activo": "Active",
    "disc": "Disc",
    "getr.": "Disc",
    "déco": "Disc",
    "desc": "Disc",
    "conn": "Conn",
    "verb.": "Conn",
    "conn.": "Conn",
    "down": "Down",
    "aus": "Down",
}


class ParseError(ValueError):
    """Output that does not have the expected shape."""


@dataclass(frozen=True)
class QwinstaRow:
    session_name: str
    user: str
    id: int | None
    state: str  # as printed (localized)
    state_normalized: str  # Listen, Active, Disc, Conn, Down, or the printed word when unknown
    current: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QwinstaColumns:
    language: str | None
    user: int
    id_end: int
    state: int
    type: int


def qwinsta_columns(header: str) -> QwinstaColumns:
    """Column positions from qwinsta's header line: known words first, else the header's own tokens.

    SESSIONNAME, USERNAME, STATE, TYPE are left-aligned; ID is right-aligned, so its end is used.
    """
    upper = header.upper()
    for language, words in QWINSTA_HEADERS.items():
        if words[0] in upper and words[1] in upper and words[3] in upper:
            state = upper.index(words[3])
            id_at = upper.index(" " + words[2] + " ", upper.index(words[1])) + 1
            type_at = upper.find(words[4], state + len(words[3]))
            return QwinstaColumns(
                language, upper.index(words[1]), id_at + len(words[2]), state, type_at if type_at >= 0 else len(header)
            )
    tokens = [(match.start(), match.group()) for match in re.finditer(r"\S+", header)]
    # In every display language seen, the third column is headed "ID".
    if len(tokens) < 4 or tokens[2][1].upper() != "ID":
        raise ParseError(f"not a qwinsta header: {header.strip()[:80]!r}")
    type_at = tokens[4][0] if len(tokens) > 4 else len(header)
    return QwinstaColumns(None, tokens[1][0], tokens[2][0] + len(tokens[2][1]), tokens[3][0], type_at)


def qwinsta_language(header: str) -> str | None:
    return qwinsta_columns(header).language


def parse_qwinsta(text: str) -> list[QwinstaRow]:
    """Rows of qwinsta.exe output, by column position; a leading ``>`` marks the current session."""
    lines = [line.rstrip("\r") for line in text.splitlines() if line.strip()]
    if not lines:
        raise ParseError("qwinsta printed nothing")
    columns = qwinsta_columns(lines[0])
    rows = []
    for line in lines[1:]:
        padded = line.ljust(columns.type)
        match = re.match(r"^(?P<user>.*?)\s*(?P<id>\d+)$", padded[columns.user : columns.id_end].rstrip())
        if match is None:
            raise ParseError(f"qwinsta row without a session id: {line.strip()[:80]!r}")
        state = padded[columns.state : columns.type].strip()
        rows.append(
            QwinstaRow(
                session_name=padded[1 : columns.user].strip(),
                user=match.group("user").strip(),
                id=int(match.group("id")),
                state=state,
                state_normalized=STATE_WORDS.get(state.lower(), state),
                current=line.startswith(">"),
            )
        )
    return rows


def listener_summary(rows: list[QwinstaRow]) -> dict[str, Any]:
    """The rdp-tcp and rdp-sxs listener rows (None when not listed) and user sessions by state."""
    tcp = next((r for r in rows if r.session_name.lower() == "rdp-tcp"), None)
    sxs = next((r for r in rows if r.session_name.lower().startswith("rdp-sxs") and "#" not in r.session_name), None)
    sessions: dict[str, int] = {}
    for row in rows:
        if row.user and row.id is not None and row.id not in (0, 65536) and row.id < 65536:
            sessions[row.state_normalized] = sessions.get(row.state_normalized, 0) + 1
    return {
        "rdp_tcp": tcp.as_dict() if tcp else None,
        "rdp_sxs": sxs.as_dict() if sxs else None,
        "both_listening": bool(tcp and sxs and tcp.state_normalized == "Listen" and sxs.state_normalized == "Listen"),
        "sessions_by_state": sessions,
    }


# --- registry values ------------------------------------------------------------
def registry_value(entry: dict[str, Any]) -> Any:
    """The data of a runtime registry entry in Python terms, whatever its type."""
    kind = entry.get("type")
    data = entry.get("data")
    if kind == "REG_BINARY" and isinstance(data, str):
        return base64.b64decode(data)
    if kind == "REG_MULTI_SZ":
        return [] if data is None else list(data) if isinstance(data, list) else [data]
    return data


def registry_int(entry: dict[str, Any] | None) -> int | None:
    """A value meant as a number: REG_DWORD/QWORD, or a number stored as REG_SZ (seen on hand-edited hosts)."""
    if entry is None:
        return None
    data = registry_value(entry)
    if isinstance(data, bool):
        return int(data)
    if isinstance(data, int):
        return data
    if isinstance(data, str) and re.fullmatch(r"\s*(0x[0-9a-fA-F]+|\d+)\s*", data):
        return int(data.strip(), 0)
    if isinstance(data, bytes) and 1 <= len(data) <= 8:
        return int.from_bytes(data, "little")
    return None


def registry_str(entry: dict[str, Any] | None) -> str | None:
    if entry is None:
        return None
    data = registry_value(entry)
    if isinstance(data, list):
        return "\n".join(data)
    if isinstance(data, bytes):
        return None
    return None if data is None else str(data)


def values_by_name(read: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """A runtime registry_read result as lower-case value name -> entry."""
    if not read or not read.get("exists"):
        return {}
    return {entry["name"].lower(): entry for entry in read.get("values", [])}


# --- .NET, editions, versions ---------------------------------------------------
def dotnet_version(release: int | None) -> str | None:
    if release is None:
        return None
    return next((name for minimum, name in k.DOTNET_RELEASES if release >= minimum), "earlier than 4.5")


def edition_supports_sxs(edition: str | None) -> bool:
    """Enterprise and Server SKUs run the side-by-side stack; Pro, Home, Education and N editions do not."""
    if not edition:
        return False
    lowered = edition.lower()
    if lowered in k.SXS_UNSUPPORTED_EDITIONS:
        return False
    return lowered.startswith(k.SXS_SUPPORTED_EDITION_PREFIXES)


def sxs_version_from_msi(path: str | None) -> str | None:
    """``...\\SxSStack-1.0.2407.05700.msi`` -> ``1.0.2407.05700`` (the text after ``-``, ``.msi`` stripped)."""
    if not path:
        return None
    name = path.replace("/", "\\").rsplit("\\", 1)[-1]
    if "-" not in name:
        return None
    return re.sub(r"\.msi$", "", name.split("-", 1)[1], flags=re.I) or None


def version_key(version: str | None) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version or ""))


# --- events ------------------------------------------------------------------------
EVENT_KINDS = (  # (event id, text in the description, kind); first match wins
    (3277, "INVALID_REGISTRATION_TOKEN", "INVALID_REGISTRATION_TOKEN"),
    (3277, "EXPIRED_REGISTRATION_TOKEN", "EXPIRED_REGISTRATION_TOKEN"),
    (3277, "NAME_ALREADY_REGISTERED", "NAME_ALREADY_REGISTERED"),
    (3277, "ENDPOINT_NOT_FOUND", "ENDPOINT_NOT_FOUND"),
    (3277, "INVALID_FORM", "INVALID_FORM"),
    (3277, "InstallationHealthCheckFailedException", "InstallationHealthCheckFailedException"),
    (3277, "DownloadMsiException", "DownloadMsiException"),
    (3277, "InstallMsiException", "InstallMsiException"),
    (3277, "AgentLoadException", "AgentLoadException"),
    (3277, "Unable to retrieve DefaultAgent from registry", "AgentLoadException"),
    (3703, "", "GATEWAY_UNREACHABLE"),
    (3019, "", "WEBSOCKET_UNREACHABLE"),
    (3389, "MissingMethodException", "MissingMethodException"),
)
REGISTRATION_KINDS = frozenset(
    {
        "INVALID_REGISTRATION_TOKEN",
        "EXPIRED_REGISTRATION_TOKEN",
        "NAME_ALREADY_REGISTERED",
        "ENDPOINT_NOT_FOUND",
        "INVALID_FORM",
    }
)


def classify_event(event_id: int, message: str) -> str | None:
    """Which documented error an Application event is, by id and the text the article quotes."""
    lowered = message.lower()
    for kind_id, text, kind in EVENT_KINDS:
        if event_id == kind_id and text.lower() in lowered:
            return kind
    return None


def mentions_win32_exception(message: str) -> bool:
    return "win32exception" in message.lower()


AGENT_CHECK_PASSED, AGENT_CHECK_FAILED = 1, 2  # HealthCheckResult in the agent's report


def parse_health_report(text: str | None) -> list[dict[str, Any]]:
    """The agent's own ``AgentHealthCheckReport`` value: one JSON object keyed by check name.

    ``{"SxSStackListenerCheck": {"HealthCheckResult": 1|2, "AdditionalFailureDetails": {"Message",
    "ErrorCode", "LastHealthCheckInUTC"}}, ...}``; 1 = passed, 2 = failed (as Microsoft's MSRD-Collect
    and field scripts read it). Any other result is neither: ``passed`` and ``failed`` are both false.
    """
    if not text:
        return []
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ParseError(f"AgentHealthCheckReport is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ParseError(
            f"AgentHealthCheckReport is a JSON {type(raw).__name__}, "
            "not the object keyed by check name the agent writes"
        )
    checks = []
    for name, entry in raw.items():
        if not isinstance(entry, dict):
            raise ParseError(f"AgentHealthCheckReport: the entry for {name!r} is not an object")
        details = entry.get("AdditionalFailureDetails")
        details = details if isinstance(details, dict) else {}
        result = entry.get("HealthCheckResult")
        checks.append(
            {
                "name": str(name),
                "passed": result == AGENT_CHECK_PASSED,
                "failed": result == AGENT_CHECK_FAILED,
                "result": result,
                "message": str(details.get("Message") or ""),
                "error_code": details.get("ErrorCode"),
                "last_checked": str(details["LastHealthCheckInUTC"]) if details.get("LastHealthCheckInUTC") else None,
            }
        )
    return sorted(checks, key=lambda check: check["name"])


def windows_release(build: str | None, installation_type: str | None) -> str | None:
    """Windows 11 from the build number: its ProductName still says "Windows 10 ..." (build 22000 and later).

    Only client editions (InstallationType "Client"); servers name themselves right in ProductName.
    """
    if installation_type != "Client" or not build or not build.strip().isdigit():
        return None
    return "Windows 11" if int(build) >= k.WINDOWS_11_FIRST_BUILD else "Windows 10"
