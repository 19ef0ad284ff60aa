"""Captures of the runtime's answer: saved, loaded, and replayed to the facts of the live run."""

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _replay as rp
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._facts import ARGUMENT_SPEC, plan, resolve_subsets
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._gather import gather_facts
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import (
    RUNTIME_VERSION,
    Operation,
    RuntimeCallError,
)

OPTIONS = {name: spec.get("default") for name, spec in ARGUMENT_SPEC.items()}
TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjZFNTQ3" + "x" * 200
NOW = datetime.datetime(2026, 11, 25, 23, 40, 12, 345678, tzinfo=datetime.UTC)


def answer_for(operations):
    results = []
    for op in operations:
        if op.op == "registry_read":
            values = [{"name": "IsRegistered", "type": "REG_DWORD", "data": 1}] if op.id == "agent.rdinfra" else []
            result = {
                "path": op.args["path"],
                "exists": bool(values),
                "values": values,
                "subkeys": [],
                "subkey_values": {},
            }
        elif op.op == "boot_time":
            result = {"boot_time": "2026-11-25T10:00:00.000Z"}
        elif op.op == "disk":
            result = {"drive": "C:", "size": 100, "free": 50}
        else:
            results.append({"id": op.id, "op": op.op, "ok": False, "error": "Access is denied"})
            continue
        results.append({"id": op.id, "op": op.op, "ok": True, "result": result})
    return {"version": RUNTIME_VERSION, "results": results}


class Runner:
    def __init__(self):
        self.calls = 0

    def _low_level_execute_command(self, cmd, in_data=None, **_):
        self.calls += 1
        request = json.loads(in_data)["request"]
        operations = [
            Operation(o["id"], o["op"], {k: v for k, v in o.items() if k not in ("id", "op")})
            for o in request["operations"]
        ]
        return {"rc": 0, "stdout": json.dumps(answer_for(operations)) + "\r\n", "stderr": ""}


def test_a_saved_capture_replays_to_the_live_facts(tmp_path):
    options = {**OPTIONS, "gather_subset": ["agent", "disk"]}
    live = gather_facts(Runner(), options, host="sh-01", save_raw=str(tmp_path / "captures"))
    path = tmp_path / "captures" / "sh-01.json"
    replayed = rp.facts_from_capture(rp.load(str(path), "ignored"))
    assert replayed == live
    assert rp.facts_from_capture(rp.load(str(tmp_path / "captures"), "sh-01")) == live  # a directory + the host
    document = json.loads(path.read_text())
    assert document["format"] == rp.CAPTURE_FORMAT and document["request"]["version"] == RUNTIME_VERSION
    assert document["options"]["gather_subset"] == ["agent", "disk"]


def test_the_capture_keeps_the_gathering_time_so_the_facts_are_the_same():
    subsets = resolve_subsets(["disk"])
    operations = plan(subsets, OPTIONS)
    document = rp.capture("sh-01", OPTIONS, operations, answer_for(operations), NOW)
    assert document["gathered_at"] == "2026-11-25T23:40:12Z"
    assert rp.facts_from_capture(document)["gathered_at"] == "2026-11-25T23:40:12Z"


def test_a_token_value_never_reaches_a_capture(tmp_path):
    subsets = resolve_subsets(["agent"])
    operations = plan(subsets, OPTIONS)
    answer = answer_for(operations)
    leaked = {"name": "RegistrationToken", "type": "REG_SZ", "data": TOKEN}
    answer["results"][1]["result"]["values"] = [leaked]
    path = rp.save(str(tmp_path), rp.capture("sh/02", OPTIONS, operations, answer, NOW))
    assert path.name == "sh_02.json"
    text = path.read_text()
    assert TOKEN not in text and TOKEN[:30] not in text
    assert '"set": true' in text and f'"length": {len(TOKEN)}' in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="x"), "format is not"),
        (lambda d: d.update(format_version=2), "format_version 2 is not 1"),
        (lambda d: d.pop("options"), "options are missing"),
        (lambda d: d.update(gathered_at="yesterday"), "gathered_at is not a time"),
        (lambda d: d["request"].pop("operations"), "request.operations is missing"),
        (lambda d: d["answer"].update(version="0.9.0"), "an answer of runtime '0.9.0'; this controller reads"),
    ],
)
def test_a_broken_capture_is_refused_naming_what_is_wrong(change, message):
    operations = plan(resolve_subsets(["disk"]), OPTIONS)
    document = rp.capture("sh-01", OPTIONS, operations, answer_for(operations), NOW)
    change(document)
    with pytest.raises(rp.ReplayError, match=message):
        rp.facts_from_capture(document)


def test_a_capture_of_a_refused_call_replays_to_the_same_error():
    operations = plan(resolve_subsets(["disk"]), OPTIONS)
    refusal = {"version": None, "error": "PowerShell runs in ConstrainedLanguage mode here", "results": []}
    with pytest.raises(RuntimeCallError, match="ConstrainedLanguage"):
        rp.facts_from_capture(rp.capture("sh-01", OPTIONS, operations, refusal, NOW))


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(rp.ReplayError, match="cannot read"):
        rp.load(str(tmp_path / "missing.json"), "sh-01")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(rp.ReplayError, match=r"bad\.json is not JSON"):
        rp.load(str(tmp_path / "bad.json"), "sh-01")
    with pytest.raises(rp.ReplayError, match="raw must be a capture"):
        rp.load(42, "sh-01")


def test_every_operation_id_of_a_capture_is_documented():
    from pathlib import Path

    docs = (Path(rp.__file__).parents[2] / "docs" / "runtime.md").read_text()
    operations = plan(resolve_subsets(["all"]), {**OPTIONS, "probe_urls": ["https://example.test/"]})
    for op in operations:
        documented = op.id.replace(".0", ".N") if op.id.startswith("network.probe.") else op.id
        assert f"`{documented}`" in docs, op.id
        assert f"`{op.op}`" in docs, op.op
