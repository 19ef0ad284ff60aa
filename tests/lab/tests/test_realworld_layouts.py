"""The lab renders its outputs in the layouts real hosts show (tests/fixtures/realworld, sources in SOURCES.md).

qwinsta per display language, row order and marker; the broker's health JSON; the
agent's event texts. Only the captures are read here: the lab keeps its own knowledge.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from labworld import error_events, later, world

from avdlab import faults
from avdlab.model import HostSpec
from avdlab.windows import known as k
from avdlab.windows import operations as ops

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "realworld"


def capture_lines(name: str) -> list[str]:
    return (CORPUS / "qwinsta" / name).read_text(encoding="utf-8").splitlines()


def lab_lines(locale: str, sessions: int = 0, disconnected: bool = False) -> list[str]:
    model = world(HostSpec("sh-01", sessions=sessions, locale=locale))
    state = model.host("sh-01")
    if disconnected:
        state.sessions[-1].state = "Disconnected"
    text = ops.run_qwinsta(state)["text"]
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return text.split("\r\n")[:-1]


def row(lines: list[str], name: str) -> str:
    return next(line for line in lines if line[1:].split() and line[1:].split()[0] == name)


# (locale, capture in that locale's layout)
LAYOUTS = [
    ("en-US", "en-US_wide_detached_trailing_spaces.txt"),
    ("de-DE", "de-DE_query_session_w11.txt"),
    ("ja-JP", "ja-JP_query_session.txt"),
    ("zh-CN", "zh-CN_query_session.txt"),
    ("ru-RU", "ru-RU_server2022_query_session.txt"),
]


@pytest.mark.parametrize(("locale", "name"), LAYOUTS)
def test_qwinsta_header_and_rows_are_the_captures(locale, name):
    """Same header, and the rows the lab shares with the capture are the capture's lines, character for character."""
    real, lab = capture_lines(name), lab_lines(locale)
    assert lab[0] == real[0]
    for session in ("services", "rdp-tcp"):
        # the marker column differs only by who ran qwinsta (session 0 over WinRM); the Russian Server 2022 capture
        # lists a third-party listener first (65536), so its rdp-tcp has the next listener id
        assert row(lab, session)[1:] == re.sub(r"\b65537\b", "65536", row(real, session)[1:])


def test_qwinsta_runs_in_session_zero_over_winrm():
    """Like psexec or an ssh/WinRM shell in the captures: the services row carries the marker."""
    assert row(capture_lines("en-US_psexec_nameless_disc.txt"), "services").startswith(">")
    for locale, _unused in LAYOUTS:
        lab = lab_lines(locale, sessions=1)
        assert [line[0] for line in lab[1:]].count(">") == 1 and row(lab, "services").startswith(">")


def test_disconnected_session_row_is_the_capture_layout():
    """A disconnected user's session has no name: the user name starts under USERNAME, the line is as long."""
    real = capture_lines("en-US_wide_detached_trailing_spaces.txt")[2]
    lab = next(line for line in lab_lines("en-US", sessions=2, disconnected=True) if "user02" in line)
    user_at = real.index("Gamer")
    assert lab[:user_at].strip() == "" and lab[user_at:].startswith("user02")
    assert len(lab) == len(real) and lab.index(" 3  Disc") + 2 == real.index(" 1  Disc") + 2


@pytest.mark.parametrize("locale", [locale for locale, _unused in LAYOUTS])
def test_rows_in_session_id_order_users_before_listeners(locale):
    """Real qwinsta lists rows by session id (captures: users 1-3 before rdp-tcp 65536)."""
    real_ids = [int(line.split()[-2]) for line in capture_lines("en-US_psexec_nameless_disc.txt")[1:]]
    assert real_ids == sorted(real_ids)
    lab = lab_lines(locale, sessions=2)
    ids = [int(next(word for word in line[1:].split() if word.isdigit())) for line in lab[1:]]
    assert ids == sorted(ids) and ids[-2:] == [65536, 65537] and {2, 3} <= set(ids)
    sxs = k.sxs_winstation(k.SXS_VERSION)
    assert any(line[1:].startswith(f"{sxs}#0") for line in lab)


def test_german_listener_word_is_the_captures():
    real_state = row(capture_lines("de-DE_query_session_w11.txt"), "rdp-tcp").split()[-1]
    assert real_state == "Abhör."
    assert row(lab_lines("de-DE"), k.sxs_winstation(k.SXS_VERSION)).split()[-1] == real_state


def test_japanese_header_translated_states_not():
    real = capture_lines("ja-JP_query_session.txt")
    lab = lab_lines("ja-JP", sessions=1)
    assert row(lab, "rdp-tcp").split()[-1] == row(real, "rdp-tcp").split()[-1] == "Listen"
    assert {line.split()[-1] for line in lab[1:]} <= {"Disc", "Conn", "Active", "Listen"}


def test_broker_health_is_the_captured_json():
    real = json.loads((CORPUS / "broker_health" / "rdbroker_raw_2022.json").read_text(encoding="utf-8"))
    model = world(HostSpec("sh-01"))
    status, body = model.avd.broker_health(k.BROKER_URI + "api/health")
    answer = json.loads(body)
    assert status == 200 and answer["Health"] == real["Health"]
    assert set(real["HealthCheckStatus"]["HealthReport"]["Entries"]["rdDbContext"]) <= set(
        answer["HealthCheckStatus"]["HealthReport"]["Entries"]["rdDbContext"]
    )
    state = model.host("sh-01")
    probe = ops.probe_url(state, model.avd, k.BROKER_URI + "api/health")
    assert probe["status"] == 200 and len(probe["body"]) <= 512  # what the runtime keeps of a body


def test_geneva_program_name_carries_its_version():
    lines = (CORPUS / "programs" / "win32_product_2025.txt").read_text(encoding="utf-8").splitlines()
    real = next(line for line in lines if "Geneva" in line)[: lines[0].index("Version")].strip()
    assert real == f"{k.GENEVA_PRODUCT} 46.24.3"
    state = world(HostSpec("sh-01")).host("sh-01")
    names = [p["display_name"] for p in ops.installed_programs(state, "Remote Desktop*")]
    assert k.geneva_display_name(k.GENEVA_VERSION) in names and k.GENEVA_PRODUCT not in names


DOCUMENTED = yaml.safe_load((CORPUS / "events" / "agent_events.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("fault", sorted(faults.CATALOG))
def test_agent_error_events_use_documented_wordings(fault):
    """Every agent error the lab logs under 3277/3389/3703/3019 carries a wording real sources document."""
    model = world(HostSpec("sh-01", faults=[fault]))
    state = model.host("sh-01")
    later(state)
    for event_id, _unused, message in error_events(state):
        wordings = [entry["message"].lower() for entry in DOCUMENTED if entry["id"] == event_id]
        if wordings:
            assert any(wording in message.lower() for wording in wordings), (event_id, message)
