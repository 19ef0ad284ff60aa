"""Which RDP listeners a host has, and what qwinsta prints about them.

Per the article's stack listener section: a healthy host lists ``rdp-tcp``
and ``rdp-sxs<version>`` in state Listen. A stack WinStation whose
``fEnableWinStation`` is not 1 is not listed at all; one whose
``fReverseConnectMode`` is not 1 is listed but does not listen. On a SKU
other than Enterprise or Server the stack is installed but not activated,
so it does not show in qwinsta. Listener changes take effect at boot.
"""

from __future__ import annotations

from . import known as k
from .state import RUNNING, HostState

LISTEN = "Listen"
DOWN = "Down"

# qwinsta's columns and words, per display language
HEADERS = {
    "en-US": ("SESSIONNAME", "USERNAME", "ID", "STATE", "TYPE", "DEVICE"),
    "de-DE": ("SITZUNGSNAME", "BENUTZERNAME", "ID", "STATUS", "TYP", "GERÄT"),
}
STATE_WORDS = {
    "en-US": {"Listen": "Listen", "Active": "Active", "Disc": "Disc", "Conn": "Conn", "Down": "Down"},
    "de-DE": {"Listen": "Abhören", "Active": "Aktiv", "Disc": "Getr.", "Conn": "Verb.", "Down": "Aus"},
}


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
    """qwinsta.exe's output, in its fixed column layout."""
    words = STATE_WORDS.get(state.locale, STATE_WORDS["en-US"])
    headers = HEADERS.get(state.locale, HEADERS["en-US"])

    def row(marker: str, session: str, user: str, sid: str, status: str, kind: str = "", device: str = "") -> str:
        return f"{marker}{session:<18}{user:<22}{sid:>5}  {status:<8}{kind:<12}{device}".rstrip()

    lines = [row(" ", headers[0], headers[1], headers[2], headers[3], headers[4], headers[5])]
    rows = [("services", "", 0, words["Disc"]), ("console", "", 1, words["Conn"])]
    listeners = active_listeners(state)
    sxs_name = next((name for name in listeners if name.lower().startswith("rdp-sxs")), None)
    for index, (name, listen) in enumerate(listeners.items()):
        rows.append((name, "", 65536 + index, words[listen]))
    for session in state.sessions:
        if session.state == "Active":
            prefix = sxs_name or "rdp-tcp"
            rows.append((f"{prefix}#{session.session_id - 2}", session.user, session.session_id, words["Active"]))
        else:
            rows.append(("", session.user, session.session_id, words["Disc"]))
    for name, user, sid, status in rows:
        lines.append(row(">" if sid == current_session else " ", name, user, str(sid), status))
    return "\r\n".join(lines) + "\r\n"
