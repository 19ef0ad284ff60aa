"""Gather ``avd_session_host`` facts from the task's host: plan, one runtime call, assemble.

The answer is kept as a capture (``_replay``) and the facts assembled from
it, so a capture saved with ``save_raw`` replays to the facts of the live run.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from ._facts import plan, resolve_subsets
from ._replay import capture, facts_from_capture, save
from ._runtime import CommandRunner, call


def gather_facts(
    runner: CommandRunner, options: Mapping[str, Any], host: str = "", save_raw: str | None = None
) -> dict[str, Any]:
    """The host's facts; with ``save_raw`` its capture is written to that directory first."""
    return gather(runner, options, host, save_raw)[0]


def gather(
    runner: CommandRunner, options: Mapping[str, Any], host: str = "", save_raw: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The host's facts and the capture they were assembled from (secret-free, as ``save_raw`` writes it)."""
    subsets = resolve_subsets(options["gather_subset"])
    operations = plan(subsets, options)
    answer = call(runner, operations)
    document = capture(host, options, operations, answer, datetime.datetime.now(datetime.UTC))
    if save_raw:
        save(save_raw, document)
    return facts_from_capture(document), document
