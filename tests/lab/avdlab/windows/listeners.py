"""Which RDP listeners a host has, and what qwinsta prints about them.

Per the article's stack listener section: a healthy host lists ``rdp-tcp``
and ``rdp-sxs<version>`` in state Listen. A stack WinStation whose
``fEnableWinStation`` is not 1 is not listed at all; one whose
``fReverseConnectMode`` is not 1 is listed but does not listen. On a SKU
other than Enterprise or Server the stack is installed but not activated,
so it does not show in qwinsta. Listener changes take effect at boot.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from . import known as k
from .state import RUNNING, HostState

LISTEN = "Listen"
DOWN = "Down"

# qwinsta's columns and words, per display language, as real captures show them
# (tests/fixtures/realworld/qwinsta, sources in SOURCES.md): German abbreviates to the
# 8-wide STATE column ("Abhör.", "Getr."); Japanese translates the header but not the states.
HEADERS = {
    "en-US": ("SESSIONNAME", "USERNAME", "ID", "STATE", "TYPE", "DEVICE"),
    "de-DE": ("SITZUNGSNAME", "BENUTZERNAME", "ID", "STATUS", "TYP", "GERÄT"),
    "ja-JP": ("セッション名", "ユーザー名", "ID", "状態", "種類", "デバイス"),
    "zh-CN": ("会话名", "用户名", "ID", "状态", "类型", "设备"),
    "ru-RU": ("СЕАНС", "ПОЛЬЗОВАТЕЛЬ", "ID", "СТАТУС", "ТИП", "УСТР-ВО"),  # noqa: RUF001 (Cyrillic, as printed)
}
ENGLISH_STATES = {"Listen": "Listen", "Active": "Active", "Disc": "Disc", "Conn": "Conn", "Down": "Down"}
STATE_WORDS = {
    "en-US": ENGLISH_STATES,
    # "Verb." and "Aus" are not in a capture (none shows a German Conn or Down row).
    "de-DE": {"Listen": "Abhör.", "Active": "Aktiv", "Disc": "Getr.", "Conn": "Verb.", "Down": "Aus"},
    "ja-JP": ENGLISH_STATES,
    # Chinese (Simplified) and Russian (Windows Server 2022) as captured; no capture shows a Down listener in
    # either language, so a Down listener prints the English word there.
    "zh-CN": {"Listen": "侦听", "Active": "运行中", "Disc": "断开", "Conn": "已连接", "Down": "Down"},
    "ru-RU": {"Listen": "Прием", "Active": "Активно", "Disc": "Диск", "Conn": "Подключено", "Down": "Down"},
}


@dataclass(frozen=True)
class Layout:
    """qwinsta's column widths: SESSIONNAME, USERNAME, ID (right-aligned), STATE, TYPE, DEVICE.

    ``pad`` keeps the trailing spaces of every column, as the raw output of the wide layout
    has them; the classic layout's captures end each line at its last word.
    """

    name: int
    user: int = 22
    id: int = 5
    state: int = 8
    type: int = 12
    device: int = 8
    pad: bool = False


CLASSIC = Layout(name=18)  # German, Japanese, Chinese and Russian (Server 2022) captures
WIDE = Layout(name=26, pad=True)  # Windows 11 captures in English
LAYOUTS = {"en-US": WIDE, "de-DE": CLASSIC, "ja-JP": CLASSIC, "zh-CN": CLASSIC, "ru-RU": CLASSIC}


def display_width(text: str) -> int:
    """Console columns: East Asian wide and fullwidth characters take two (the Japanese header)."""
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def _left(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def edition_supports_sxs(state: HostState) -> bool:
    edition = str(state.registry.get_data(k.WINDOWS_NT, "EditionID", "") or "")
    return edition.lower() in k.SXS_SUPPORTED_EDITIONS


def listener_states(state: HostState) -> dict[str, str]:
    """WinStation name -> Listen/Down, from the registry and installed stacks, as a boot would set them."""
    registry = state.registry
    result: dict[str, str] = {}
    if registry.get_data(k.RDP_TCP, "fEnableWinStation") == 1:
        result["rdp-tcp"] = LISTEN
    if not edition_supports_sxs(state):
        return result
    installed = {k.sxs_winstation(p.display_version).lower() for p in state.programs_named(k.SXS_PRODUCT)}
    if not registry.key_exists(k.WINSTATIONS):
        return result
    for name in registry.subkeys(k.WINSTATIONS):
        if not name.lower().startswith("rdp-sxs") or name.lower() not in installed:
            continue
        path = rf"{k.WINSTATIONS}\{name}"
        if registry.get_data(path, "fEnableWinStation") != 1:
            continue
        result[name] = LISTEN if registry.get_data(path, "fReverseConnectMode") == 1 else DOWN
    return result


def snapshot(state: HostState) -> list[str]:
    """What boot records as the running listeners: ``name=State`` entries."""
    return [f"{name}={listen}" for name, listen in listener_states(state).items()]


def active_listeners(state: HostState) -> dict[str, str]:
    termservice = state.service(k.TERMSERVICE)
    if termservice is None or termservice.state != RUNNING:
        return {}
    return dict(entry.split("=", 1) for entry in state.active_listeners)


def sxs_listening(state: HostState) -> bool:
    return any(name.lower().startswith("rdp-sxs") and s == LISTEN for name, s in active_listeners(state).items())


def qwinsta(state: HostState, current_session: int = 0) -> str:
    """qwinsta.exe's output: one row per session in session id order, so users' sessions
    (``rdp-sxs<version>#<n>``, or no name when disconnected) come before the listeners
    (65536 and up). ``>`` marks the session qwinsta runs in: 0 (services) over WinRM.
    """
    words = STATE_WORDS.get(state.locale, STATE_WORDS["en-US"])
    headers = HEADERS.get(state.locale, HEADERS["en-US"])
    layout = LAYOUTS.get(state.locale, WIDE)

    def line(marker: str, cells: tuple[str, str, str, str, str, str]) -> str:
        session, user, sid, status, kind, device = cells
        text = (
            marker
            + _left(session, layout.name)
            + _left(user, layout.user)
            + " " * max(0, layout.id - display_width(sid))
            + sid
            + "  "
            + _left(status, layout.state)
            + _left(kind, layout.type)
            + _left(device, layout.device)
        )
        return text if layout.pad else text.rstrip()

    header = line(" ", headers)
    rows: list[tuple[int, str, str, str]] = [(0, "services", "", words["Disc"]), (1, "console", "", words["Conn"])]
    listeners = active_listeners(state)
    sxs_name = next((name for name in listeners if name.lower().startswith("rdp-sxs")), None)
    for index, (name, listen) in enumerate(listeners.items()):
        rows.append((65536 + index, name, "", words[listen]))
    for session in state.sessions:
        if session.state == "Active":
            prefix = sxs_name or "rdp-tcp"
            rows.append((session.session_id, f"{prefix}#{session.session_id - 2}", session.user, words["Active"]))
        else:
            rows.append((session.session_id, "", session.user, words["Disc"]))
    lines = [header.rstrip() + " " if layout.pad else header]
    for sid, name, user, status in sorted(rows, key=lambda row: row[0]):
        lines.append(line(">" if sid == current_session else " ", (name, user, str(sid), status, "", "")))
    return "\r\n".join(lines) + "\r\n"
