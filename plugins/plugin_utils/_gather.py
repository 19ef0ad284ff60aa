"""Gather ``avd_session_host`` facts from the task's host: plan, one runtime call, assemble."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from ._facts import assemble, plan, resolve_subsets
from ._runtime import CommandRunner, execute


def gather_facts(runner: CommandRunner, options: Mapping[str, Any]) -> dict[str, Any]:
    subsets = resolve_subsets(options["gather_subset"])
    operations = plan(subsets, options)
    results = execute(runner, operations)
    return assemble(subsets, results, options, datetime.datetime.now(datetime.UTC))
