"""Per-host locks and drain journals: the decisions, the marker's text, the journal file."""

from __future__ import annotations

import datetime
import json
import os

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _run_guard as rg

NOW = datetime.datetime(2026, 12, 7, 1, 0, tzinfo=datetime.UTC)
LATER = NOW + datetime.timedelta(hours=4)
ME = rg.Marker("ctl:100:555", "ops@ctl", LATER, drained=False)


def alive_only(*pids: int):
    return lambda pid, started: pid in pids


def test_marker_round_trip_and_tag_name():
    text = rg.Marker("ctl:7:99", "ops@ctl", LATER, drained=True).text()
    assert text == "run=ctl:7:99;owner=ops@ctl;until=2026-12-07T05:00:00Z;drained=1"
    assert rg.parse_marker(text) == rg.Marker("ctl:7:99", "ops@ctl", LATER, drained=True)
    assert rg.parse_marker("something else") is None and rg.parse_marker(None) is None
    assert rg.tag_name("hp/SH-01.contoso.local") == "avdops-run-sh-01" == rg.tag_name("sh-01")
    with pytest.raises(ValueError):
        rg.tag_name("a/b?c")
    with pytest.raises(ValueError):
        rg.Marker("x" * 300, "o", LATER, drained=False).text()


def test_a_live_run_elsewhere_holds_the_host_until_its_expiry():
    other = rg.Marker("other-ctl:5:1", "ann@other-ctl", LATER, drained=True)
    decision = rg.decide_lock(other, None, ME, NOW, "ctl", alive_only())
    assert decision.refused and "ann@other-ctl" in decision.refused and "2026-12-07T05:00:00Z" in decision.refused
    expired = rg.Marker("other-ctl:5:1", "ann@other-ctl", NOW, drained=True)
    decision = rg.decide_lock(expired, None, ME, NOW, "ctl", alive_only())
    assert decision.refused is None and decision.undo_drain_of == "other-ctl:5:1"
    assert decision.marker is not None and decision.marker.run == ME.run and decision.marker.drained


def test_a_run_of_this_controller_is_over_when_its_process_is_gone():
    crashed = rg.Marker("ctl:42:7", "ops@ctl", LATER, drained=True)
    assert rg.decide_lock(crashed, None, ME, NOW, "ctl", alive_only(42)).refused
    decision = rg.decide_lock(crashed, None, ME, NOW, "ctl", alive_only())
    assert decision.refused is None and decision.undo_drain_of == "ctl:42:7"
    undrained = rg.Marker("ctl:42:7", "ops@ctl", LATER, drained=False)
    decision = rg.decide_lock(undrained, None, ME, NOW, "ctl", alive_only())
    assert decision.undo_drain_of is None and decision.marker == ME


def test_the_journal_finds_a_drain_the_pool_marker_lost():
    entry = {"run": "ctl:42:7", "until": "2026-12-07T05:00:00Z"}
    decision = rg.decide_lock(None, entry, ME, NOW, "ctl", alive_only())
    assert decision.undo_drain_of == "ctl:42:7"
    assert rg.decide_lock(None, entry, ME, NOW, "ctl", alive_only(42)).refused
    assert rg.decide_lock(None, {"run": ME.run}, ME, NOW, "ctl", alive_only()).undo_drain_of is None


def test_own_marker_keeps_its_drain():
    mine = rg.Marker(ME.run, ME.owner, LATER, drained=True)
    decision = rg.decide_lock(mine, None, ME, NOW, "ctl", alive_only())
    assert decision.refused is None and decision.undo_drain_of is None and decision.marker.drained


def test_process_start_reads_past_a_command_name_with_spaces():
    stat = "1234 (ansible play (x)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20"
    assert rg.process_start(stat) == "987654"
    with open("/proc/self/stat", encoding="ascii") as handle:
        assert rg.process_alive(os.getpid(), rg.process_start(handle.read()))
    assert not rg.process_alive(os.getpid(), "0")


def test_journal_set_and_remove(tmp_path):
    path = str(tmp_path / "sub" / "drains.json")
    assert rg.read_journal(path) == {}
    entry = rg.journal_entry(ME, "hp", "rg", "sh-01.contoso.local")
    assert rg.update_journal(path, "k", entry) == {}
    assert json.loads((tmp_path / "sub" / "drains.json").read_text()) == {"k": entry}
    assert rg.update_journal(path, "k", None) == {"k": entry}
    assert rg.read_journal(path) == {}
    (tmp_path / "sub" / "drains.json").write_text("{not json")
    with pytest.raises(rg.JournalError, match="move it aside"):
        rg.read_journal(path)


def test_journal_key_is_the_pool_and_the_computer_name():
    assert rg.journal_key("/Subscriptions/S/x/HP", "SH-01.contoso.local") == "/subscriptions/s/x/hp|avdops-run-sh-01"
