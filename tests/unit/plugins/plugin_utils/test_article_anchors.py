"""Every link into the troubleshooting article lands on a section: the anchors are derived from the article's
headings the way Microsoft Learn builds them, and checked against the anchors the article's own links use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _image, _rules

REPO = Path(__file__).parents[4]
ARTICLE = yaml.safe_load((REPO / "tests/fixtures/realworld/article/troubleshoot_agent_headings.yml").read_text())


def anchor(heading: str) -> str:
    """Microsoft Learn's section anchor: the heading's text lower-cased, punctuation dropped, spaces to '-'."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


ANCHORS = {anchor(heading) for heading in ARTICLE["headings"]}


def test_the_derivation_gives_the_anchors_the_article_links_to():
    assert set(ARTICLE["links"]) <= ANCHORS
    assert anchor("## Error: Stack listener isn't working on a Windows 10 2004 session host VM") == (
        "error-stack-listener-isnt-working-on-a-windows-10-2004-session-host-vm"
    )
    assert anchor("## Error: The RDAgentBootLoader and/or Remote Desktop Agent Loader has stopped running") == (
        "error-the-rdagentbootloader-andor-remote-desktop-agent-loader-has-stopped-running"
    )


def article_links(text: str) -> list[str]:
    return re.findall(re.escape(_rules.ARTICLE) + r"#([^\s)\"'`>]*)", text)


def collection_links() -> dict[str, list[str]]:
    """Each place that links into the article: findings, image checks, module docs, README and docs."""
    found: dict[str, list[str]] = {}
    for check in _rules.CHECKS.values():
        if check.page == _rules.ARTICLE and check.anchor:
            found.setdefault(f"finding {check.id}", []).append(check.anchor)
    for check in _image.IMAGE_CHECKS.values():
        if article_links(check.doc):  # some cite other pages only
            found[f"image check {check.id}"] = article_links(check.doc)
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "plugins").rglob("*.py"))]:
        links = article_links(path.read_text(encoding="utf-8"))
        if links:
            found.setdefault(str(path.relative_to(REPO)), []).extend(links)
    return found


@pytest.mark.parametrize(("where", "links"), sorted(collection_links().items()))
def test_every_link_into_the_article_names_one_of_its_sections(where, links):
    assert links and set(links) <= ANCHORS, f"{where}: {sorted(set(links) - ANCHORS)} is no section of the article"


def test_the_findings_link_to_the_section_of_their_error():
    """The section a finding links to is the one the catalog names (design.md's fault catalog)."""
    sections = {
        "BOOTLOADER_NOT_RUNNING": "RDAgentBootLoader and/or Remote Desktop Agent Loader has stopped running",
        "INVALID_REGISTRATION_TOKEN": "Error: INVALID_REGISTRATION_TOKEN",
        "INVALID_FORM": "INVALID_FORM",
        "GATEWAY_UNREACHABLE": "Error: 3703",
        "WEBSOCKET_UNREACHABLE": "Error: 3019",
        "INSTALLATION_HEALTH_CHECK_FAILED": "InstallationHealthCheckFailedException",
        "ENDPOINT_NOT_FOUND": "ENDPOINT_NOT_FOUND",
        "INSTALL_MSI_BLOCKED": "Error: InstallMsiException",
        "INSTALLER_BUSY": "Error: InstallMsiException",
        "CMD_BLOCKED": "Win32Exception",
        "STACK_LISTENER_NOT_LISTENING": "Stack listener isn't working",
        "DISK_SPACE_LOW": "DownloadMsiException",
        "DOTNET_OUTDATED": "MissingMethodException",
        "SXS_STACK_NOT_INSTALLED": "Unavailable or Upgrading",
        "SESSION_LIMIT_REACHED": "Connection not found",
        "UNSUPPORTED_OS": "Pro VM or other unsupported OS",
        "NAME_ALREADY_REGISTERED": "NAME_ALREADY_REGISTERED",
        "AGENT_NOT_INSTALLED": "Your issue isn't listed here",
        "EXPIRED_REGISTRATION_TOKEN": "Your issue isn't listed here",
    }
    for finding, words in sections.items():
        (heading,) = [h for h in ARTICLE["headings"] if words in h and h.startswith("## ")]
        assert _rules.CHECKS[finding].doc == f"{_rules.ARTICLE}#{anchor(heading)}", finding
