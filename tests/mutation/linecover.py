"""A pytest plugin for sample.py: which test ran which line of one file, by coverage.py with a context per test.

Loaded with ``-p linecover`` when ``SAMPLE_LINES_OF`` names the file to measure and ``SAMPLE_LINES_TO`` the JSON
file to write: ``{line: [test node ids]}``, the lines the tests ran and, per line, the tests that ran it. sample.py
then runs, per mutant, only the tests that ran the function it changed (its own selection, not mutmut's).
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from pathlib import Path

import coverage
import pytest


class LineCover:
    def __init__(self, source: str, output: str) -> None:
        self.output = Path(output)
        self.cov = coverage.Coverage(data_file=None, include=[source], config_file=False)
        self.cov.start()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None]:
        self.cov.switch_context(item.nodeid)
        yield
        self.cov.switch_context("")

    def pytest_sessionfinish(self) -> None:
        self.cov.stop()
        data = self.cov.get_data()
        lines: dict[int, set[str]] = {}
        for path in data.measured_files():
            for line, contexts in data.contexts_by_lineno(path).items():
                lines.setdefault(line, set()).update(context for context in contexts if context)
        self.output.write_text(json.dumps({line: sorted(ids) for line, ids in lines.items()}), encoding="utf-8")


def pytest_configure(config: pytest.Config) -> None:
    source, output = os.environ.get("SAMPLE_LINES_OF"), os.environ.get("SAMPLE_LINES_TO")
    if source and output:
        config.pluginmanager.register(LineCover(source, output), "linecover-recorder")
