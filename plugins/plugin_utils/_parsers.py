"""Pure parsers for what a session host reports: qwinsta, registry values, .NET, editions, events."""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, replace
from pathlib import PureWindowsPath
from typing import Any

from . import _known as k

# qwinsta's header words, per display language (the first two columns and the state column's).
# Real captures (tests/fixtures/realworld/SOURCES.md): English, German, Japanese (header translated,
# state words left in English), Russian (ID headed "ИД"; Server 2022 heads it in Latin), Chinese (Simplified);
# French and Spanish after Windows' own strings.
QWINSTA_HEADERS = {
    "en": ("SESSIONNAME", "USERNAME", "STATE"),
    "zh": ("会话名", "用户名", "状态"),
    "de": ("SITZUNGSNAME", "BENUTZERNAME", "STATUS"),
    "fr": ("NOMSESSION", "NOMUTILISATEUR", "ÉTAT"),
    "es": ("NOMBRESESIÓN", "NOMBREUSUARIO", "ESTADO"),
    "ja": ("セッション名", "ユーザー名", "状態"),
    "ru": ("ИМЯ_СЕАНСА", "ИМЯ_ПОЛЬЗОВАТЕЛЯ", "СОСТОЯНИЕ"),  # noqa: RUF001 (Cyrillic, as printed)
}
# Other header words of a language already listed (Windows Server 2022 in Russian prints these)
QWINSTA_HEADER_VARIANTS = (("ru", ("СЕАНС", "ПОЛЬЗОВАТЕЛЬ", "СТАТУС")),)  # noqa: RUF001 (Cyrillic, as printed)
# STATE words as qwinsta prints them (lower case, a trailing "." ignored) -> the WTS state they mean.
# Localized words are cut to the STATE column's width (German "Abhör.", Russian "Прослуш").
STATE_WORDS = {
    "active": "Active",
    "conn": "Conn",
    "connq": "ConnQ",
    "shadow": "Shadow",
    "disc": "Disc",
    "idle": "Idle",
    "listen": "Listen",
    "reset": "Reset",
    "down": "Down",
    "init": "Init",
    # German
    "aktiv": "Active",
    "verb": "Conn",
    "getr": "Disc",
    "abhör": "Listen",
    "abhören": "Listen",
    "leerlauf": "Idle",
    "aus": "Down",
    # French, Spanish
    "actif": "Active",
    "déco": "Disc",
    "écouter": "Listen",
    "activo": "Active",
    "desc": "Disc",
    "escuchar": "Listen",
    # Russian: a parser's fixture and Windows Server 2022 (two header wordings)
    "активный": "Active",
    "разъедин": "Disc",
    "прослуш": "Listen",
    "активно": "Active",
    "диск": "Disc",
    "подключено": "Conn",
    "прием": "Listen",
    # Chinese (Simplified)
    "运行中": "Active",
    "断开": "Disc",
    "已连接": "Conn",
    "侦听": "Listen",
}
QWINSTA_ID_HEADINGS = ("ID", "ИД")  # the Russian heading, in Cyrillic
QWINSTA_USER_AND_ID_WIDTH = 22 + 5  # USERNAME's width and the right-aligned ID's, in every captured layout
LISTENER_FIRST_ID = 65536  # listeners' session ids start here; qwinsta lists rows by session id


class ParseError(ValueError):
    """Output that does not have the expected shape."""


@dataclass(frozen=True)
class QwinstaRow:
    session_name: str
    user: str
    id: int | None
    state: str  # as printed (localized)
    state_normalized: str  # Active, Conn, Disc, Listen, Down, ... or the printed word when unknown
    current: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def display_width(text: str) -> int:
    """Console columns a text takes: East Asian wide and fullwidth characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def _tokens(line: str) -> list[tuple[int, str]]:
    """Whitespace-separated tokens with the console column each starts at."""
    tokens = []
    for match in re.finditer(r"\S+", line):
        tokens.append((display_width(line[: match.start()]), match.group()))
    return tokens


def normalize_state(word: str) -> str:
    return STATE_WORDS.get(word.lower().removesuffix("."), word)


@dataclass(frozen=True)
class QwinstaHeader:
    language: str | None
    user_column: int  # console column where USERNAME starts


def qwinsta_header(line: str) -> QwinstaHeader:
    """qwinsta's header line: its language, and where its second column (USERNAME) starts.

    Known header words first. Any other language by the header's shape: at least four
    tokens, one of them the short ID heading (ID, ИД, ...). Its column names may be
    several words, so USERNAME's start is taken from where the ID heading ends: USERNAME
    and the right-aligned ID are 22 and 5 columns wide in every layout captured.
    """
    tokens = _tokens(line)
    words = [word.upper() for _unused, word in tokens]
    for language, (name, user, state) in (*QWINSTA_HEADERS.items(), *QWINSTA_HEADER_VARIANTS):
        if len(words) >= 4 and words[0] == name and words[1] == user and state in words:
            return QwinstaHeader(language, tokens[1][0])
    id_at = None
    if len(tokens) >= 4 and not any(char.isdigit() for char in line):
        short_third = 2 if len(tokens[2][1]) <= 3 else None
        id_at = next((index for index in range(2, len(words)) if words[index] in QWINSTA_ID_HEADINGS), short_third)
    if id_at is None:
        raise ParseError(f"not a qwinsta header: {line.strip()[:80]!r}")
    id_end = tokens[id_at][0] + display_width(tokens[id_at][1])
    user_column = id_end - QWINSTA_USER_AND_ID_WIDTH
    # a header whose spaces were lost in publication (``USERNAME ID``): the second word's start instead
    first_end = tokens[0][0] + display_width(tokens[0][1])
    return QwinstaHeader(None, user_column if user_column > first_end else tokens[1][0])


def qwinsta_language(header: str) -> str | None:
    return qwinsta_header(header).language


def _split_names(before_id: list[tuple[int, str]], user_column: int) -> tuple[str, str]:
    """SESSIONNAME and USERNAME from the tokens before the session id, by where each starts.

    A name that fills its column runs into the user name with no space between
    (``rdp-sxs240705700#0user01`` in the classic 18-wide layout): such a token is cut at
    the USERNAME column. A row with no session name (a disconnected session) starts at
    the USERNAME column.
    """
    words = [word for _unused, word in before_id]
    if not words or before_id[0][0] >= user_column - 1:
        return "", " ".join(words)
    first_at, first = before_id[0]
    if len(words) == 1 and first.isascii():
        cut = user_column - first_at  # at least 2; past the name's end when it does not reach the column
        return first[:cut], first[cut:]
    return first, " ".join(words[1:])


def parse_qwinsta_row(line: str, user_column: int) -> QwinstaRow:
    """One qwinsta row, by its structure: marker, names, the session id, then the state word."""
    current = line.startswith(">")
    tokens = _tokens(" " + line[1:] if current else line)
    # The session id is the first number followed by a word (the state): user names may be numbers too.
    at = next(
        (
            index
            for index, (_unused, word) in enumerate(tokens)
            if word.isdigit() and index + 1 < len(tokens) and not tokens[index + 1][1].isdigit()
        ),
        None,
    )
    if at is None:
        # A row with nothing after its id has no state: qwinsta always prints one.
        raise ParseError(f"qwinsta row without a session id and state: {line.strip()[:80]!r}")
    name, user = _split_names(tokens[:at], user_column)
    state = tokens[at + 1][1]
    return QwinstaRow(
        session_name=name,
        user=user,
        id=int(tokens[at][1]),
        state=state,
        state_normalized=normalize_state(state),
        current=current,
    )


def parse_qwinsta(text: str) -> list[QwinstaRow]:
    """Rows of qwinsta.exe output, read by structure (header tokens, whitespace runs, state words).

    Column positions differ between Windows builds (SESSIONNAME is 18 or 26 wide), the
    one-character marker column may be missing, East Asian headers are double-width, and
    published copies lose spaces: only the USERNAME column's start is taken from the header,
    to tell a session name from a user name. A leading ``>`` marks the current session.
    """
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ParseError("qwinsta printed nothing")
    header = qwinsta_header(lines[0])
    return read_listen_by_structure([parse_qwinsta_row(line, header.user_column) for line in lines[1:]])


def host_listen_word(rows: list[QwinstaRow]) -> str | None:
    """The host's own word for Listen: the state the rdp-tcp listener row prints.

    qwinsta lists a listener only when its WinStation is enabled, and rdp-tcp listens whenever it
    is listed (unless its word is one known to mean something else): whatever the display language
    (``Listen``, ``Abhör.``, ``侦听``, ``Прием``), a listener row printing the same word listens too.
    """
    tcp = next((row for row in rows if is_listener(row) and row.session_name.lower() == "rdp-tcp"), None)
    known = STATE_WORDS.get(tcp.state.lower().removesuffix(".")) if tcp else None
    if tcp is None or known not in (None, "Listen"):
        return None  # no rdp-tcp row, or its word is known to mean another state (Down, Reset...)
    return tcp.state


def read_listen_by_structure(rows: list[QwinstaRow]) -> list[QwinstaRow]:
    """Listener rows read against the rdp-tcp row's word; the word lists are only the fallback.

    A listener row whose state is rdp-tcp's word listens (``Listen``); one with another word keeps
    what the word lists say of it, or the printed word when they do not know it.
    """
    word = host_listen_word(rows)
    if word is None:
        return rows
    return [
        replace(row, state_normalized="Listen") if is_listener(row) and row.state.casefold() == word.casefold() else row
        for row in rows
    ]


def is_listener(row: QwinstaRow) -> bool:
    """A listener row: a listener's session id (65536 and up).

    Users' sessions have small ids whatever their name (``rdp-sxs240705700#1``, ``rdp-tcp#3``,
    ``console`` or none), wherever qwinsta lists them; a row is a listener or a user's session,
    never both nor neither.
    """
    return row.id is not None and row.id >= LISTENER_FIRST_ID


def listener_summary(rows: list[QwinstaRow]) -> dict[str, Any]:
    """The rdp-tcp and rdp-sxs listener rows (None when not listed) and user sessions by state.

    Users' sessions (``rdp-tcp#3``, ``rdp-sxs240705700#1``, or no name when disconnected)
    are never taken for listeners, wherever they are listed. With several rdp-sxs listeners
    (an old and a new stack), the one that listens is the one that counts.
    """
    listeners = [r for r in rows if is_listener(r)]
    tcp = next((r for r in listeners if r.session_name.lower() == "rdp-tcp"), None)
    stacks = [r for r in listeners if r.session_name.lower().startswith("rdp-sxs")]
    sxs = next((r for r in stacks if r.state_normalized == "Listen"), stacks[0] if stacks else None)
    sessions: dict[str, int] = {}
    for row in rows:
        if row.user and not is_listener(row):
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


def edition_support(
    edition: str | None, product_name: str | None = None, installation_type: str | None = None
) -> tuple[bool, str]:
    """Whether AVD supports this OS edition as a session host, and why not.

    Enterprise, Enterprise multi-session (``ServerRdsh`` on older builds) and Server SKUs are
    supported; Pro, Home, Education, N editions and LTSC/LTSB (``EnterpriseS``) are not, nor a
    Server Core (or Nano Server) installation of any Server edition (``InstallationType``): the
    Remote Desktop Session Host role is not in the Server Core image.
    """
    lowered = (edition or "").strip().lower()
    product = (product_name or "").upper()
    if not lowered:
        return False, "no EditionID"
    installation = " ".join((installation_type or "").split())
    if installation.lower() in k.SERVER_CORE_INSTALLATION_TYPES:
        return False, (
            f"a {installation} installation (InstallationType), whose image has no Remote Desktop Session Host role"
        )
    if lowered in k.LTSC_EDITIONS or any(word in product.split() for word in k.LTSC_PRODUCT_WORDS):
        return False, "an LTSC/LTSB edition (long-term servicing channel), which AVD does not support"
    if lowered in k.N_EDITIONS:
        return False, "an N edition, which AVD does not support"
    if lowered.startswith(k.SXS_SUPPORTED_EDITION_PREFIXES):
        return True, ""
    return False, "not an Enterprise or Server edition: the side-by-side stack installs but never activates"


def edition_supports_sxs(
    edition: str | None, product_name: str | None = None, installation_type: str | None = None
) -> bool:
    return edition_support(edition, product_name, installation_type)[0]


def windows_product(product_name: str | None, build: str | None) -> str | None:
    """The product an admin would name: Windows 11 still writes "Windows 10 ..." in ProductName."""
    if not product_name:
        return product_name
    windows_11 = bool(build and build.strip().isdigit() and int(build) >= k.WINDOWS_11_FIRST_BUILD)
    if windows_11 and product_name.startswith("Windows 10"):
        return "Windows 11" + product_name[len("Windows 10") :]
    return product_name


def sxs_stack_msi(values: dict[str, dict[str, Any]], name: str) -> str | None:
    """The MSI path ``SxsStack\\<name>`` stands for.

    ``CurrentVersion``/``PreviousVersion`` name another value of the key that holds the MSI
    path (as Microsoft's MSRD-Collect reads it); some hosts and scripts hold the path in them
    directly. Both are read.
    """
    pointer = registry_str(values.get(name.lower()))
    if not pointer:
        return None
    target = values.get(pointer.lower())
    if target is not None and pointer.lower() != name.lower():
        return registry_str(target)
    return pointer


def sxs_version_from_msi(path: str | None) -> str | None:
    """``...\\SxSStack-1.0.2407.05700.msi`` -> ``1.0.2407.05700`` (the text after ``-``, ``.msi`` stripped)."""
    if not path:
        return None
    name = PureWindowsPath(path).name  # after the last \ or /
    if "-" not in name:
        return None
    version = name.split("-", 1)[1]
    return (version[: -len(".msi")] if version.lower().endswith(".msi") else version) or None


def program_is(display_name: str | None, product: str) -> bool:
    """Whether an Add/Remove Programs name is this product: exactly, or with its version appended.

    The Geneva agent registers as "Remote Desktop Services Infrastructure Geneva Agent 46.24.3".
    """
    if not display_name:
        return False
    name = " ".join(display_name.split()).lower()
    wanted = product.lower()
    if name == wanted:
        return True
    return name.startswith(wanted + " ") and bool(re.fullmatch(r"v?\d+(\.\d+)*", name[len(wanted) + 1 :]))


def broker_health(status: int | None, body: str | None) -> tuple[bool, str | None]:
    """Whether ``<BrokerURI>api/health`` answered healthy, and the health text it gave.

    Healthy is HTTP 200 with an answer that says so, read tolerantly: JSON such as
    ``{"Health": "RDBroker is Healthy", ...}`` (whole, or cut short by the runtime's
    512-character limit), or text such as the article's ``RD Broker is Healthy``; never one
    exact sentence. A 200 that is not the broker's answer (a proxy's login page) is not healthy.
    """
    text = body or ""
    match = re.search(r'"Health"\s*:\s*"([^"]*)"', text, flags=re.I)
    health = match.group(1) if match else (" ".join(text.split())[:120] or None)
    said = (health or "").lower()
    unhealthy = any(word in said for word in k.BROKER_UNHEALTHY_WORDS)
    return status == 200 and k.BROKER_HEALTHY_WORD in said and not unhealthy, health


def version_key(version: str | None) -> tuple[int, ...]:
    if not version:
        return ()
    return tuple(int(part) for part in re.findall(r"\d+", version))


# --- events ------------------------------------------------------------------------
AGENT_ERROR, UPDATE_FAILED, GATEWAY, WEBSOCKET = 3277, 3389, 3703, 3019
# Windows Installer's "Product: %1 -- Installation completed successfully." (11708 is the failure). The text around
# the product name is in the system's language; the product name is not.
MSI_INSTALLED = 11707
# (event ids, text in the description, kind); the first match wins, so specific texts come
# before the texts they contain. Every wording the article's revisions, older agents and
# Microsoft's MSRD-Collect document (tests/fixtures/realworld/events/agent_events.yml).
EVENT_KINDS: tuple[tuple[tuple[int, ...], str, str], ...] = (
    ((AGENT_ERROR,), "INVALID_REGISTRATION_TOKEN", "INVALID_REGISTRATION_TOKEN"),
    ((AGENT_ERROR,), "EXPIRED_MACHINE_TOKEN", "EXPIRED_MACHINE_TOKEN"),  # article since 2023
    ((AGENT_ERROR,), "EXPIRED_REGISTRATION_TOKEN", "EXPIRED_REGISTRATION_TOKEN"),
    ((AGENT_ERROR,), "NAME_ALREADY_REGISTERED", "NAME_ALREADY_REGISTERED"),
    ((AGENT_ERROR,), "ENDPOINT_NOT_FOUND", "ENDPOINT_NOT_FOUND"),
    ((AGENT_ERROR,), "INVALID_FORM", "INVALID_FORM"),
    # the 2020 wording: "Agent cannot connect to broker with error NOT_FOUND. URL: ..."
    ((AGENT_ERROR,), "NOT_FOUND. URL:", "INVALID_FORM"),
    ((AGENT_ERROR,), "InstallationHealthCheckFailedException", "InstallationHealthCheckFailedException"),
    ((AGENT_ERROR,), "DownloadMsiException", "DownloadMsiException"),
    ((AGENT_ERROR,), "InstallMsiException", "InstallMsiException"),
    ((AGENT_ERROR, UPDATE_FAILED), "AgentLoadException", "AgentLoadException"),
    ((AGENT_ERROR, UPDATE_FAILED), "Unable to retrieve DefaultAgent from registry", "AgentLoadException"),
    ((AGENT_ERROR, UPDATE_FAILED), "BootLoader exception", "AgentLoadException"),
    ((UPDATE_FAILED,), "MissingMethodException", "MissingMethodException"),
    ((AGENT_ERROR,), "Win32Exception", "Win32Exception"),  # older agents: cmd.exe blocked, without InstallMsiException
    ((GATEWAY,), "", "GATEWAY_UNREACHABLE"),
    ((WEBSOCKET,), "", "WEBSOCKET_UNREACHABLE"),
    # Not an error: the agent's MSI installed (an update that went through, or a reinstall).
    ((MSI_INSTALLED,), f"{k.PROGRAM_AGENT} --", "AgentInstalled"),
)
# Kinds that record something that went right: never a finding's evidence, never a stale error.
SUCCESS_KINDS = frozenset({"AgentInstalled"})
REGISTRATION_KINDS = frozenset(
    {
        "INVALID_REGISTRATION_TOKEN",
        "EXPIRED_MACHINE_TOKEN",
        "EXPIRED_REGISTRATION_TOKEN",
        "NAME_ALREADY_REGISTERED",
        "ENDPOINT_NOT_FOUND",
        "INVALID_FORM",
    }
)


def classify_event(event_id: int, message: str) -> str | None:
    """Which documented error an Application event is, by id and the text the sources quote."""
    lowered = message.lower()
    for ids, text, kind in EVENT_KINDS:
        if event_id in ids and text.lower() in lowered:
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
