"""The collection's reading of Windows Installer's own words on real lines (tests/fixtures/realworld/installers/
msi_log_lines.yml, programs/win32_product_2025.txt; sources in SOURCES.md).

MsiInstaller event 11707 carries the same "Product: <name> -- Installation completed successfully." a log's line
does (Event Logging: the Error table's 1707 plus 10,000, in 1709's "Product: [2] -- [3]"). The agent's own
installation is read from it (an update that went through makes an older InstallMsiException stale); another
product's installation, a removal or a failure is not.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _known as k
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _parsers as p

CORPUS = Path(__file__).resolve().parents[3] / "fixtures" / "realworld"
CAPTURES = yaml.safe_load((CORPUS / "installers" / "msi_log_lines.yml").read_text(encoding="utf-8"))
STAMP = re.compile(r"^MSI \([sc]\) \([0-9A-F]{2}[:!][0-9A-F]{2}\) \[[\d:]+\]: ")
MSI_INSTALLED, MSI_FAILED, MSI_REMOVED = 11707, 11708, 11724


def product_lines(outcome: str) -> list[tuple[str, str]]:
    """(published product name, its ``Product: <name> -- ...`` text) of every capture with that outcome."""
    lines = []
    for entry in CAPTURES:
        if entry["outcome"] == outcome:
            for line in entry["lines"]:
                text = STAMP.sub("", line)
                if text.startswith("Product: "):
                    lines.append((entry["values"]["name"], text))
    assert lines, outcome
    return lines


def win32_product_names() -> list[str]:
    """The four AVD programs as a session host's Win32_Product lists them (verbatim capture)."""
    rows = (CORPUS / "programs" / "win32_product_2025.txt").read_text(encoding="utf-8").splitlines()[2:]
    return sorted({re.split(r"\s{2,}", row.strip())[0] for row in rows if row.strip()})


def test_the_capture_names_the_agent_as_the_collection_does():
    names = win32_product_names()
    assert k.PROGRAM_AGENT in names and k.PROGRAM_BOOTLOADER in names and k.PROGRAM_SXS in names


@pytest.mark.parametrize(("published", "text"), product_lines("installed"))
def test_the_agents_installation_is_read_in_windows_words(published, text):
    assert p.classify_event(MSI_INSTALLED, text.replace(published, k.PROGRAM_AGENT)) == "AgentInstalled"
    # as published: another product's installation says nothing about the agent
    assert p.classify_event(MSI_INSTALLED, text) is None
    for other in win32_product_names():
        if other != k.PROGRAM_AGENT:  # the boot loader, the Geneva agent (its name carries a version), the stack
            assert p.classify_event(MSI_INSTALLED, text.replace(published, other)) is None, other


@pytest.mark.parametrize(("outcome", "event_id"), [("removed", MSI_REMOVED), ("failed", MSI_FAILED)])
def test_a_removal_or_a_failure_of_the_agent_is_no_installation(outcome, event_id):
    for published, text in product_lines(outcome):
        assert p.classify_event(event_id, text.replace(published, k.PROGRAM_AGENT)) is None
