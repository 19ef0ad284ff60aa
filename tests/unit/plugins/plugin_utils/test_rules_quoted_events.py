"""A finding quotes the newest event it stands on, once: several 3277 errors of the same kind quote the first
listed (the gather lists the newest first), not each of them (a sampler survivor, issue 22)."""

from __future__ import annotations

import copy
from typing import Any

from chainlab import healthy_facts

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _rules as r

BOOT = "2026-11-25T10:00:00.000Z"


def event(kind: str, record_id: int, time: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": 3277,
        "source": "WVD-Agent",
        "level": "Error",
        "time": time,
        "record_id": record_id,
        "kind": kind,
        "win32_exception": kind == "Win32Exception",
        "message": f"Agent error {record_id}: {kind}",
        **extra,
    }


def facts_with(kind: str) -> dict[str, Any]:
    facts = copy.deepcopy(healthy_facts())
    facts["boot_time"] = BOOT
    facts["agent"]["health_last_checked"] = None
    facts["events"] = [event(kind, 9, "2026-11-25T10:05:00.000Z"), event(kind, 8, "2026-11-25T10:01:00.000Z")]
    return facts


def found(facts: dict[str, Any], finding: str) -> dict[str, Any]:
    findings = {x["id"]: x for x in r.diagnose(facts, {"max_session_limit": 4})["findings"]}
    assert finding in findings, list(findings)
    return findings[finding]


def test_two_win32_exceptions_of_an_older_agent_quote_the_newest_once():
    facts = facts_with("Win32Exception")
    facts["policies"]["disable_cmd"]["machine"] = 1
    cmd = found(facts, "CMD_BLOCKED")
    assert cmd["severity"] == "critical"
    assert cmd["evidence"] == [
        "event 3277 from WVD-Agent at 2026-11-25T10:05:00.000Z: Agent error 9: Win32Exception",
        "policy 'Prevent access to the command prompt': HKLM: DisableCMD=1",
    ]


def test_two_installer_errors_quote_the_newest_once():
    facts = facts_with("InstallMsiException")
    facts["policies"]["disable_msi"] = 1
    msi = found(facts, "INSTALL_MSI_BLOCKED")
    assert msi["severity"] == "critical"
    assert msi["evidence"][:-1] == [
        "event 3277 from WVD-Agent at 2026-11-25T10:05:00.000Z: Agent error 9: InstallMsiException"
    ]
