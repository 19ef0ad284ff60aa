"""A host's raw runtime answer, saved and replayed: how a field report becomes a test case.

A capture is one JSON document per host (``docs/runtime.md`` documents it as a
contract): the options the facts were gathered with, the request the
controller sent, the time, and the runtime's answer exactly as it printed it.
Live gathering goes through :func:`facts_from_capture` too, so a replayed
capture gives the facts, and so the diagnosis, of the live run.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._facts import assemble, resolve_subsets
from ._runtime import RUNTIME_VERSION, Operation, read_results

CAPTURE_FORMAT = "avdops.sessionhost/runtime-answer"
CAPTURE_FORMAT_VERSION = 1
# The options that shape the request or how its answer is read (session_host_facts' gathering options).
CAPTURE_OPTIONS = ("gather_subset", "events_max_age", "events_max_count", "probe_timeout", "probe_urls")
# Answers of these runtime versions are read by this controller (the live one, and older ones whose
# result shapes it still reads the same way).
READABLE_VERSIONS = (
    RUNTIME_VERSION,
    "1.5.0",
    "1.4.0",
    "1.3.0",
    "1.2.0",
    "1.1.0",
)  # 1.2.0 added operations, the later ones changed write operations only
SECRET_VALUE_NAMES = ("registrationtoken",)
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class ReplayError(ValueError):
    """A capture can't be read or replayed; the message names what is wrong."""


def capture_file_name(host: str) -> str:
    """The file a host's capture is saved as: its inventory name, with characters unsafe in file names as _."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", host) + ".json"


def _without_secrets(value: Any) -> Any:
    """The runtime never returns a registration token; a capture is checked again so that a file never can."""
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    if not isinstance(value, dict):
        return value
    if str(value.get("name", "")).lower() in SECRET_VALUE_NAMES and "data" in value:
        text = str(value.get("data") or "")
        return {"name": value["name"], "type": value.get("type"), "set": bool(text), "length": len(text)}
    return {key: _without_secrets(item) for key, item in value.items()}


def capture(
    host: str,
    options: Mapping[str, Any],
    operations: Iterable[Operation],
    answer: Mapping[str, Any],
    now: datetime.datetime,
) -> dict[str, Any]:
    """The capture of one runtime call."""
    return {
        "format": CAPTURE_FORMAT,
        "format_version": CAPTURE_FORMAT_VERSION,
        "host": host,
        "gathered_at": now.astimezone(datetime.UTC).strftime(_TIME_FORMAT),
        "options": {name: options.get(name) for name in CAPTURE_OPTIONS},
        "request": {"version": RUNTIME_VERSION, "operations": [op.to_request() for op in operations]},
        "answer": _without_secrets(dict(answer)),
    }


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise ReplayError(f"not a runtime answer capture: {what}")


def _operations(request: Any) -> list[Operation]:
    _require(isinstance(request, dict) and isinstance(request.get("operations"), list), "request.operations is missing")
    operations = []
    for entry in request["operations"]:
        _require(
            isinstance(entry, dict) and bool(entry.get("id")) and bool(entry.get("op")), "an operation has no id or op"
        )
        args = {key: value for key, value in entry.items() if key not in ("id", "op")}
        operations.append(Operation(str(entry["id"]), str(entry["op"]), args))
    return operations


def facts_from_capture(document: Mapping[str, Any]) -> dict[str, Any]:
    """The facts a capture's answer gives, exactly as they were assembled live."""
    _require(document.get("format") == CAPTURE_FORMAT, f"format is not {CAPTURE_FORMAT!r}")
    _require(
        document.get("format_version") == CAPTURE_FORMAT_VERSION,
        f"format_version {document.get('format_version')!r} is not {CAPTURE_FORMAT_VERSION}",
    )
    options = document.get("options")
    if not isinstance(options, dict) or not all(name in options for name in CAPTURE_OPTIONS):
        raise ReplayError("not a runtime answer capture: options are missing")
    answer = document.get("answer")
    if not isinstance(answer, dict):
        raise ReplayError("not a runtime answer capture: answer is missing")
    try:
        gathered = datetime.datetime.strptime(str(document.get("gathered_at")), _TIME_FORMAT)
    except ValueError as exc:
        raise ReplayError(
            f"not a runtime answer capture: gathered_at is not a time like 2026-11-25T16:00:00Z ({exc})"
        ) from exc
    operations = _operations(document.get("request"))
    version = answer.get("version")
    if not answer.get("error") and version not in READABLE_VERSIONS:
        raise ReplayError(
            f"the capture holds an answer of runtime {version!r}; this controller reads {', '.join(READABLE_VERSIONS)}"
        )
    readable = {**answer, "version": RUNTIME_VERSION} if version in READABLE_VERSIONS else answer
    results = read_results(readable, operations)
    subsets = resolve_subsets(options["gather_subset"])
    return assemble(subsets, results, options, gathered.replace(tzinfo=datetime.UTC))


def save(directory: str, document: Mapping[str, Any]) -> Path:
    """Write a capture as DIR/<host>.json (the directory is created); the path written."""
    folder = Path(directory).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / capture_file_name(str(document["host"]))
        partial = path.with_name(path.name + ".part")
        partial.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        raise ReplayError(f"save_raw: cannot write the capture to {directory}: {exc}") from exc
    return path


def load(value: Any, host: str) -> dict[str, Any]:
    """A capture given as a document, a file, or a directory holding <host>.json."""
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, str) or not value:
        raise ReplayError("raw must be a capture (a dict), or the path of a capture file or of a save_raw directory")
    path = Path(value).expanduser()
    if path.is_dir():
        path = path / capture_file_name(host)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReplayError(f"raw: cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ReplayError(f"raw: {path} is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ReplayError(f"raw: {path} does not hold a capture (a JSON object)")
    return document
