"""Cases that fail when a diagnosis is wrong: staleness, qwinsta row order, severities and fail_on,
root-cause links, boundaries, partial subsets, and report states (issue 14).

Each test states behaviour of the public functions (``diagnose``, ``assemble``,
``parse_qwinsta``/``listener_summary``, ``build_report``, ``hosts_at_or_above``),
starting from the facts of a healthy lab host, so that a change in a rule that
an administrator would act on wrongly fails a fast test.
"""

from __future__ import annotations

import copy
import datetime
from pathlib import Path
from typing import Any

import pytest
from chainlab import OPTIONS, POOL, answers, gather, healthy_facts, lab

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _facts as f
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _known as k
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _parsers as p
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _reports as rep
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _rules as r
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _verdicts as v
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import OperationResult

BOOT = "2026-11-25T10:00:00.000Z"
HEALTH_FIXTURES = Path(__file__).parents[3] / "fixtures" / "realworld" / "health_checks"
NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)
# The article's texts, as the agent logs them (the kind is read by the collection's own classifier).
TEXTS = {
    "INVALID_REGISTRATION_TOKEN": (3277, "Agent registration failed. INVALID_REGISTRATION_TOKEN: token not valid"),
    "EXPIRED_REGISTRATION_TOKEN": (3277, "Agent registration failed. EXPIRED_REGISTRATION_TOKEN: token expired"),
    "NAME_ALREADY_REGISTERED": (3277, "Agent registration failed. NAME_ALREADY_REGISTERED: name is registered"),
    "ENDPOINT_NOT_FOUND": (3277, "ENDPOINT_NOT_FOUND: the broker found no endpoint for this session host"),
    "INVALID_FORM": (3277, "Unable to connect to the broker. INVALID_FORM"),
    "DownloadMsiException": (3277, "DownloadMsiException: There is not enough space on the disk."),
    "InstallMsiException": (3277, "InstallMsiException: msiexec exited with code 1625"),
    "InstallationHealthCheckFailedException": (3277, "InstallationHealthCheckFailedException: listener not working"),
    "AgentLoadException": (3277, "AgentLoadException: Unable to retrieve DefaultAgent from registry"),
    "GATEWAY_UNREACHABLE": (3703, "RD Gateway Url: https://rdgateway-g-us-r1.wvd.microsoft.com/ is not accessible."),
    "WEBSOCKET_UNREACHABLE": (
        3019,
        "Web socket transport Url: https://rdweb-g-us-r1.wvd.microsoft.com/ is not accessible.",
    ),
    "MissingMethodException": (3389, "System.MissingMethodException: Method not found"),
}
REGISTRATION = (
    "INVALID_REGISTRATION_TOKEN",
    "EXPIRED_REGISTRATION_TOKEN",
    "NAME_ALREADY_REGISTERED",
    "ENDPOINT_NOT_FOUND",
)


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    facts = healthy_facts()
    facts["boot_time"] = BOOT
    facts["agent"]["health_last_checked"] = "2026-11-25T10:00:30Z"
    return facts


@pytest.fixture
def facts(base) -> dict[str, Any]:
    return copy.deepcopy(base)


def event(kind: str, time: str = "2026-11-25T10:00:01.000Z", **extra: Any) -> dict[str, Any]:
    event_id, message = TEXTS[kind]
    message = extra.pop("message", message)
    classified = p.classify_event(event_id, message)
    assert classified == kind, (kind, classified)
    return {
        "id": event_id,
        "source": "WVD-Agent",
        "level": "Error",
        "time": time,
        "record_id": 1,
        "kind": classified,
        "win32_exception": p.mentions_win32_exception(message),
        "message": message,
        **extra,
    }


KEEP = object()  # the default: the host pool's view POOL (None means no pool data)


def diagnose(facts: dict[str, Any], pool: Any = KEEP) -> dict[str, Any]:
    return r.diagnose(facts, POOL if pool is KEEP else pool)


def ids(facts: dict[str, Any], pool: Any = KEEP) -> list[str]:
    return [x["id"] for x in diagnose(facts, pool)["findings"]]


def finding(facts: dict[str, Any], wanted: str, pool: Any = KEEP) -> dict[str, Any]:
    found = [x for x in diagnose(facts, pool)["findings"] if x["id"] == wanted]
    assert found, ids(facts, pool)
    return found[0]


def test_the_base_is_healthy(facts):
    result = diagnose(facts)
    assert result["findings"] == [] and result["state"] == "healthy" and result["stale_events"] == []


# --- staleness ----------------------------------------------------------------------------
# What each event kind raises on the healthy base when it is current.
RAISES = {
    "INVALID_REGISTRATION_TOKEN": "INVALID_REGISTRATION_TOKEN",
    "EXPIRED_REGISTRATION_TOKEN": "EXPIRED_REGISTRATION_TOKEN",
    "NAME_ALREADY_REGISTERED": "NAME_ALREADY_REGISTERED",
    "ENDPOINT_NOT_FOUND": "ENDPOINT_NOT_FOUND",
    "INVALID_FORM": "INVALID_FORM",
    "InstallMsiException": "INSTALL_MSI_BLOCKED",
    "InstallationHealthCheckFailedException": "INSTALLATION_HEALTH_CHECK_FAILED",
    "AgentLoadException": "AGENT_NOT_INSTALLED",
    "GATEWAY_UNREACHABLE": "GATEWAY_UNREACHABLE",
    "WEBSOCKET_UNREACHABLE": "WEBSOCKET_UNREACHABLE",
    "DownloadMsiException": "DISK_SPACE_LOW",
}


@pytest.mark.parametrize("kind", sorted(RAISES))
def test_an_event_from_before_the_last_boot_raises_nothing(facts, kind):
    facts["agent"]["health_last_checked"] = None  # only the boot cut applies
    facts["events"] = [event(kind, time="2026-11-25T09:59:59.000Z")]
    result = diagnose(facts)
    assert result["findings"] == [] and len(result["stale_events"]) == 1
    facts["events"] = [event(kind, time=BOOT)]  # logged at the boot itself: current
    assert RAISES[kind] in ids(facts)
    assert diagnose(facts)["stale_events"] == []


def test_a_missing_disk_event_from_before_the_boot_leaves_the_low_disk_a_warning(facts):
    facts["disk"].update(free_bytes=10 * 1024**2, percent_free=0.01)
    facts["events"] = [event("DownloadMsiException", time="2026-11-25T09:00:00.000Z")]
    assert finding(facts, "DISK_SPACE_LOW")["severity"] == "warning"
    facts["events"] = [event("DownloadMsiException")]
    assert finding(facts, "DISK_SPACE_LOW")["severity"] == "critical"


@pytest.mark.parametrize("kind", REGISTRATION)
def test_a_registration_error_before_a_successful_registration_raises_nothing(facts, kind):
    facts["boot_time"] = "2026-11-24T00:00:00.000Z"  # the boot cut does not apply
    facts["agent"]["health_last_checked"] = "2026-11-25T10:00:30Z"
    facts["events"] = [event(kind, time="2026-11-25T10:00:29.000Z")]
    result = diagnose(facts)
    assert result["findings"] == [] and len(result["stale_events"]) == 1
    # after the last health check: current
    facts["events"] = [event(kind, time="2026-11-25T10:00:31.000Z")]
    assert ids(facts)[0] == RAISES[kind]
    # at the same second as the health check: not older, current
    facts["events"] = [event(kind, time="2026-11-25T10:00:30Z")]
    assert ids(facts)[0] == RAISES[kind]


def health_report_facts(name: str) -> dict[str, Any]:
    """The agent facts read from a health report in the agent's own shape (a JSON object keyed by check name)."""
    text = (HEALTH_FIXTURES / name).read_text(encoding="utf-8")
    answers = {
        "agent.rdinfra": OperationResult(
            "agent.rdinfra",
            "registry_read",
            True,
            {"exists": True, "values": [{"name": "IsRegistered", "type": "REG_DWORD", "data": 1}], "subkeys": []},
        ),
        "agent.health": OperationResult(
            "agent.health",
            "registry_read",
            True,
            {"exists": True, "values": [{"name": "AgentHealthCheckReport", "type": "REG_SZ", "data": text}]},
        ),
    }
    return f.assemble(frozenset({"agent"}), answers, OPTIONS, NOW)["agent"]


@pytest.mark.parametrize("report", ["agent_report_healthy.json", "agent_report_sxs_not_ready.json"])
def test_the_registration_cut_reads_the_agents_own_health_report(facts, report):
    """LastHealthCheckInUTC, as the agent writes it (seven decimals), is the moment the host was last registered."""
    agent = health_report_facts(report)
    assert agent["health_last_checked"] == "2024-02-20T08:14:03.1234567Z"  # the latest check, not the first
    facts["agent"].update(health_last_checked=agent["health_last_checked"], is_registered=agent["is_registered"])
    facts["boot_time"] = "2024-02-19T00:00:00.000Z"
    facts["events"] = [event("INVALID_REGISTRATION_TOKEN", time="2024-02-20T08:14:03.0000000Z")]
    result = diagnose(facts)
    assert result["findings"] == [] and len(result["stale_events"]) == 1
    facts["events"] = [event("INVALID_REGISTRATION_TOKEN", time="2024-02-20T08:14:03.2000000Z")]
    assert ids(facts) == ["INVALID_REGISTRATION_TOKEN"]


@pytest.mark.parametrize(
    "change",
    [
        {"is_registered": 0},  # not registered now: the error is the current state
        {"registration_token_set": True, "registration_token_length": 509},  # a token waits to be used
        {"health_last_checked": None},  # no health report since
    ],
)
def test_a_registration_error_counts_while_the_host_is_not_registered_since(facts, change):
    facts["boot_time"] = "2026-11-24T00:00:00.000Z"
    facts["agent"].update(change)
    facts["events"] = [event("INVALID_REGISTRATION_TOKEN", time="2026-11-25T10:00:00.000Z")]
    assert ids(facts)[0] == "INVALID_REGISTRATION_TOKEN"
    assert diagnose(facts)["stale_events"] == []


@pytest.mark.parametrize("kind", ["DownloadMsiException", "GATEWAY_UNREACHABLE", "InstallMsiException"])
def test_the_registration_cut_applies_to_registration_errors_only(facts, kind):
    facts["boot_time"] = "2026-11-24T00:00:00.000Z"
    facts["events"] = [event(kind, time="2026-11-25T10:00:00.000Z")]  # before the last health check
    assert RAISES[kind] in ids(facts)


def test_event_times_with_offsets_and_without_a_zone_are_compared_as_moments(facts):
    facts["agent"]["health_last_checked"] = None
    facts["boot_time"] = "2026-11-25T10:00:00+00:00"
    facts["events"] = [event("GATEWAY_UNREACHABLE", time="2026-11-25T11:30:00+02:00")]  # 09:30 UTC
    assert ids(facts) == []
    facts["events"] = [event("GATEWAY_UNREACHABLE", time="2026-11-25T10:30:00")]  # naive: UTC
    assert ids(facts) == ["GATEWAY_UNREACHABLE"]
    facts["events"] = [event("GATEWAY_UNREACHABLE", time="not a time")]  # unknown: not stale
    assert ids(facts) == ["GATEWAY_UNREACHABLE"]


# --- qwinsta row order: real qwinsta lists sessions by id -----------------------------
BY_ID = """\
 SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE
>services                                    0  Disc
 console                                     1  Conn
 rdp-sxs240705700#0user01                    2  Active
 rdp-sxs240705700#1user02                    3  Active
                   user03                    4  Disc
 rdp-tcp#7         user04                    5  Active
 rdp-tcp                                 65536  Listen
 rdp-sxs240705700                        65537  Listen
"""


def test_users_listed_before_the_listeners_are_not_taken_for_listeners():
    summary = p.listener_summary(p.parse_qwinsta(BY_ID))
    assert summary["rdp_sxs"]["session_name"] == "rdp-sxs240705700" and summary["rdp_sxs"]["id"] == 65537
    assert summary["rdp_tcp"]["session_name"] == "rdp-tcp" and summary["rdp_tcp"]["id"] == 65536
    assert summary["both_listening"] is True
    assert summary["sessions_by_state"] == {"Active": 3, "Disc": 1}


def test_a_down_stack_listener_behind_user_rows_is_reported(facts):
    text = BY_ID.replace("65537  Listen", "65537  Down")
    summary = p.listener_summary(p.parse_qwinsta(text))
    assert summary["rdp_sxs"]["state_normalized"] == "Down" and summary["both_listening"] is False
    missing = "\n".join(line for line in BY_ID.splitlines() if "65537" not in line) + "\n"
    summary = p.listener_summary(p.parse_qwinsta(missing))
    assert summary["rdp_sxs"] is None and summary["both_listening"] is False


def qwinsta_answers(text: str) -> dict[str, OperationResult]:
    return {"stack.qwinsta": OperationResult("stack.qwinsta", "qwinsta", True, {"text": text, "exit_code": 0})}


def test_a_host_full_of_users_is_listening_through_the_whole_chain(facts):
    assembled = f.assemble(frozenset({"stack", "sessions"}), qwinsta_answers(BY_ID), OPTIONS, NOW)
    facts["stack"]["qwinsta"] = assembled["stack"]["qwinsta"]
    facts["sessions"] = assembled["sessions"]
    assert facts["sessions"]["total"] == 4
    assert ids(facts, {"max_session_limit": 10}) == []
    assert ids(facts, {"max_session_limit": 4}) == ["SESSION_LIMIT_REACHED"]
    assert ids(facts, {"max_session_limit": 5}) == []


# --- severities and fail_on --------------------------------------------------------------
def test_severity_ranks_and_fail_on_values():
    assert r.SEVERITY_RANK == {"critical": 0, "warning": 1, "info": 2}
    assert rep.FAIL_ON == ("none", "warning", "critical")


def test_invalid_form_with_its_3277_event_is_critical(facts):
    facts["agent"]["health_last_checked"] = None
    facts["events"] = [event("INVALID_FORM")]
    assert finding(facts, "INVALID_FORM")["severity"] == "critical"


def test_invalid_form_from_the_broker_probes(facts):
    unhealthy = {"url": "https://b/api/health", "reachable": True, "status": 503, "healthy": False, "error": None}
    facts["network"]["broker"] = dict(unhealthy)
    one = finding(facts, "INVALID_FORM")
    assert one["severity"] == "warning" and any("HTTP 503" in line for line in one["evidence"])
    facts["network"]["broker_global"] = dict(unhealthy, url="https://g/api/health")
    assert finding(facts, "INVALID_FORM")["severity"] == "critical"
    facts["network"]["broker"] = {"url": None, "reachable": False, "healthy": False, "error": "BrokerURI is not set"}
    facts["network"]["broker_global"]["healthy"] = True
    assert ids(facts) == []  # a probe with no URL says nothing about the broker


def report_of(findings_by_host: dict[str, list[dict[str, Any]]], **others: dict[str, Any]) -> dict[str, Any]:
    entries = {
        name: rep.host_entry(
            {
                "changed": False,
                "diagnosis": {"state": "unhealthy" if findings else "healthy", "findings": findings, "unchecked": []},
            }
        )
        for name, findings in findings_by_host.items()
    }
    entries.update({name: rep.host_entry(result) for name, result in others.items()})
    return rep.build_report(entries, NOW)


def test_fail_on_thresholds(facts):
    warning = copy.deepcopy(facts)
    warning["dotnet"].update(release=460805, version="4.7", meets_472=False)
    critical = copy.deepcopy(facts)
    critical["services"]["RDAgentBootLoader"]["state"] = "Stopped"
    report = report_of(
        {
            "warn": diagnose(warning)["findings"],
            "crit": diagnose(critical)["findings"],
            "ok": diagnose(facts)["findings"],
            "info": [dict(diagnose(warning)["findings"][0], severity="info")],
        }
    )
    assert [x["severity"] for x in report["hosts"]["warn"]["findings"]] == ["warning"]
    assert rep.hosts_at_or_above(report, "critical") == ["crit"]  # a warning-only host does not fail critical
    assert rep.hosts_at_or_above(report, "warning") == ["crit", "warn"]
    assert rep.hosts_at_or_above(report, "none") == []
    assert report["summary"]["by_severity"] == {"critical": 1, "warning": 1, "info": 1}


def test_hosts_that_could_not_be_checked_fail_every_threshold_but_none():
    report = report_of({"ok": []}, gone={"unreachable": True, "msg": "timed out"}, broke={"failed": True, "msg": "x"})
    assert rep.hosts_at_or_above(report, "critical") == ["broke", "gone"]
    assert rep.hosts_at_or_above(report, "warning") == ["broke", "gone"]
    assert rep.hosts_at_or_above(report, "none") == []


def test_summary_counts_findings_root_causes_and_severities(facts):
    facts["services"]["RDAgentBootLoader"]["state"] = "Stopped"
    facts["agent"].update(is_registered=0, registration_token_set=True, registration_token_length=509)
    facts["events"] = [event("INVALID_REGISTRATION_TOKEN")]
    linked = diagnose(facts)["findings"]  # INVALID_REGISTRATION_TOKEN explains BOOTLOADER_NOT_RUNNING
    stopped = copy.deepcopy(facts)
    stopped["events"] = []
    stopped["agent"].update(is_registered=1, registration_token_set=False)
    alone = diagnose(stopped)["findings"]  # BOOTLOADER_NOT_RUNNING as its own root cause
    assert [x["id"] for x in alone] == ["BOOTLOADER_NOT_RUNNING"]
    summary = report_of({"a": linked, "b": alone, "c": []})["summary"]
    assert summary["by_finding"] == {"BOOTLOADER_NOT_RUNNING": 2, "INVALID_REGISTRATION_TOKEN": 1}
    assert summary["by_root_cause"] == {"BOOTLOADER_NOT_RUNNING": 1, "INVALID_REGISTRATION_TOKEN": 1}
    assert summary["by_severity"] == {"critical": 3, "warning": 0, "info": 0}
    assert (summary["hosts"], summary["healthy"], summary["unhealthy"]) == (3, 1, 2)


# --- root-cause links ------------------------------------------------------------------
# The article's links: a root cause and the symptoms it produces on the same host.
ARTICLE_LINKS = {
    "AGENT_NOT_INSTALLED": {
        "BOOTLOADER_NOT_RUNNING",
        "SXS_STACK_NOT_INSTALLED",
        "STACK_LISTENER_NOT_LISTENING",
        "ENDPOINT_NOT_FOUND",
    },
    "INVALID_REGISTRATION_TOKEN": {"BOOTLOADER_NOT_RUNNING"},
    "EXPIRED_REGISTRATION_TOKEN": {"BOOTLOADER_NOT_RUNNING"},
    "REGISTRATION_INCOMPLETE": {"BOOTLOADER_NOT_RUNNING"},
    "NAME_ALREADY_REGISTERED": {"BOOTLOADER_NOT_RUNNING"},
    "ENDPOINT_NOT_FOUND": {"BOOTLOADER_NOT_RUNNING"},
    "INVALID_FORM": {"BOOTLOADER_NOT_RUNNING", "ENDPOINT_NOT_FOUND"},
    "UNSUPPORTED_OS": {"STACK_LISTENER_NOT_LISTENING", "INSTALLATION_HEALTH_CHECK_FAILED"},
    "SXS_STACK_NOT_INSTALLED": {"STACK_LISTENER_NOT_LISTENING", "INSTALLATION_HEALTH_CHECK_FAILED"},
    "STACK_LISTENER_NOT_LISTENING": {"INSTALLATION_HEALTH_CHECK_FAILED"},
}
PAIRS = sorted((root, symptom) for root, symptoms in ARTICLE_LINKS.items() for symptom in symptoms)


def test_the_links_are_the_articles():
    assert {root: set(symptoms) for root, symptoms in r.EXPLAINS.items() if symptoms} == ARTICLE_LINKS


@pytest.mark.parametrize(("root", "symptom"), PAIRS)
def test_each_link_marks_the_symptom_and_puts_the_root_first(root, symptom):
    for order in ((symptom, root), (root, symptom)):
        found = [r.Finding(name, "critical", [f"{name} seen"]) for name in order]
        linked = r.link_causes(found)
        assert [x.id for x in linked] == [root, symptom]
        assert (linked[0].explained_by, linked[1].explained_by) == (None, root)
        assert linked[0].explains == [symptom] and linked[1].explains == []
        report = report_of({"h": [x.as_dict() for x in linked]})["summary"]
        assert report["by_root_cause"] == {root: 1}  # the explained symptom is never counted as a root cause
        assert report["by_finding"] == {root: 1, symptom: 1}


def test_unlinked_findings_stay_roots_ordered_by_severity_then_id():
    found = [
        r.Finding("SESSION_LIMIT_REACHED", "warning", ["x"]),
        r.Finding("DOTNET_OUTDATED", "critical", ["x"]),
        r.Finding("BOOTLOADER_NOT_RUNNING", "critical", ["x"]),
    ]
    linked = r.link_causes(found)
    assert [x.id for x in linked] == ["BOOTLOADER_NOT_RUNNING", "DOTNET_OUTDATED", "SESSION_LIMIT_REACHED"]
    assert all(x.explained_by is None and x.explains == [] for x in linked)


def test_a_chain_of_causes_points_every_symptom_at_the_top_root():
    found = [
        r.Finding(name, "critical", ["x"])
        for name in (
            "INSTALLATION_HEALTH_CHECK_FAILED",
            "STACK_LISTENER_NOT_LISTENING",
            "SXS_STACK_NOT_INSTALLED",
            "AGENT_NOT_INSTALLED",
        )
    ]
    linked = r.link_causes(found)
    assert linked[0].id == "AGENT_NOT_INSTALLED" and linked[0].explained_by is None
    assert {x.id: x.explained_by for x in linked[1:]} == {
        "INSTALLATION_HEALTH_CHECK_FAILED": "AGENT_NOT_INSTALLED",
        "STACK_LISTENER_NOT_LISTENING": "AGENT_NOT_INSTALLED",
        "SXS_STACK_NOT_INSTALLED": "AGENT_NOT_INSTALLED",
    }
    assert linked[0].explains == [
        "INSTALLATION_HEALTH_CHECK_FAILED",
        "SXS_STACK_NOT_INSTALLED",
        "STACK_LISTENER_NOT_LISTENING",
    ] or linked[0].explains == sorted(linked[0].explains)
    assert len(linked[0].explains) == 3
    invalid_form = r.link_causes(
        [r.Finding(n, "critical", ["x"]) for n in ("BOOTLOADER_NOT_RUNNING", "ENDPOINT_NOT_FOUND", "INVALID_FORM")]
    )
    assert [(x.id, x.explained_by) for x in invalid_form] == [
        ("INVALID_FORM", None),
        ("BOOTLOADER_NOT_RUNNING", "INVALID_FORM"),
        ("ENDPOINT_NOT_FOUND", "INVALID_FORM"),
    ]


def test_symptoms_sort_after_roots_whatever_their_severity():
    linked = r.link_causes(
        [r.Finding("BOOTLOADER_NOT_RUNNING", "critical", ["x"]), r.Finding("INVALID_FORM", "warning", ["x"])]
    )
    assert [(x.id, x.severity, x.explained_by) for x in linked] == [
        ("INVALID_FORM", "warning", None),
        ("BOOTLOADER_NOT_RUNNING", "critical", "INVALID_FORM"),
    ]


# --- boundaries ------------------------------------------------------------------------
def dotnet_facts(release: int | None) -> dict[str, Any]:
    values = [] if release is None else [{"name": "Release", "type": "REG_DWORD", "data": release}]
    read = {"exists": release is not None, "values": values, "subkeys": []}
    answers = {"dotnet.ndp": OperationResult("dotnet.ndp", "registry_read", True, read)}
    return f.assemble(frozenset({"dotnet"}), answers, OPTIONS, NOW)["dotnet"]


def test_dotnet_472_exactly_is_enough_one_less_is_not(facts):
    assert k.DOTNET_472_MINIMUM == 461808
    facts["dotnet"] = dotnet_facts(461808)
    assert facts["dotnet"]["version"] == "4.7.2" and ids(facts) == []
    facts["dotnet"] = dotnet_facts(461807)
    assert facts["dotnet"]["version"] == "4.7.1"
    found = finding(facts, "DOTNET_OUTDATED")
    assert found["severity"] == "warning" and any("461807" in line for line in found["evidence"])
    facts["dotnet"] = dotnet_facts(None)  # no .NET 4 at all
    assert facts["dotnet"]["installed"] is False and ids(facts) == ["DOTNET_OUTDATED"]
    facts["events"] = [event("MissingMethodException")]
    assert finding(facts, "DOTNET_OUTDATED")["severity"] == "critical"


@pytest.mark.parametrize(
    ("release", "version"),
    [
        (533320, "4.8.1"),
        (533319, "4.8"),
        (528040, "4.8"),
        (528039, "4.7.2"),
        (461308, "4.7.1"),
        (461307, "4.7"),
        (378389, "4.5"),
        (378388, "earlier than 4.5"),
        (None, None),
    ],
)
def test_dotnet_release_names(release, version):
    assert p.dotnet_version(release) == version


def disk_facts(size: int, free: int) -> dict[str, Any] | None:
    answers = {"disk.system": OperationResult("disk.system", "disk", True, {"drive": "C:", "size": size, "free": free})}
    return f.assemble(frozenset({"disk"}), answers, OPTIONS, NOW)["disk"]


def test_disk_free_exactly_at_the_thresholds_is_enough(facts):
    size = 100 * k.DISK_MSI_BYTES  # 5% of it is far more than the agent's room: the percentage decides
    facts["disk"] = disk_facts(size, size * 5 // 100)
    assert facts["disk"]["percent_free"] == 5.0 and ids(facts) == []
    facts["disk"] = disk_facts(size, size * 5 // 100 - 1)  # one byte under 5%, though percent_free rounds to 5.0
    assert ids(facts) == ["DISK_SPACE_LOW"]
    small = 10 * k.DISK_MSI_BYTES  # on a small disk 300 MB is 10%: the room decides
    facts["disk"] = disk_facts(small, k.DISK_MSI_BYTES)
    assert ids(facts) == []
    facts["disk"] = disk_facts(small, k.DISK_MSI_BYTES - 1)
    assert ids(facts) == ["DISK_SPACE_LOW"]


def test_low_disk_without_a_download_error_is_still_a_warning(facts):
    facts["disk"] = disk_facts(128 * 1024**3, 100 * 1024**2)
    found = finding(facts, "DISK_SPACE_LOW")
    assert found["severity"] == "warning"
    assert any("100 MB free" in line for line in found["evidence"])
    facts["events"] = [event("DownloadMsiException")]
    assert finding(facts, "DISK_SPACE_LOW")["severity"] == "critical"


def test_a_download_error_with_enough_disk_now_is_still_reported(facts):
    facts["events"] = [event("DownloadMsiException")]
    found = finding(facts, "DISK_SPACE_LOW")
    assert found["severity"] == "critical" and len(found["evidence"]) == 2


def test_disk_without_a_size_is_not_judged(facts):
    facts["disk"] = disk_facts(0, 0)
    assert facts["disk"]["percent_free"] is None and ids(facts) == []


def test_session_limit_boundary(facts):
    facts["sessions"]["total"] = 3
    assert ids(facts, {"max_session_limit": 4}) == []
    facts["sessions"]["total"] = 4
    assert finding(facts, "SESSION_LIMIT_REACHED", {"max_session_limit": 4})["severity"] == "warning"
    assert ids(facts, {"max_session_limit": 4, "sessions": 3}) == []  # the pool's count wins
    assert ids(facts, {"max_session_limit": 4, "sessions": 0}) == []  # zero is a count, not missing


# --- partial subsets ----------------------------------------------------------------------
# fault -> (subsets that alone prove it, every subset that can prove it, the finding): gathered
# alone they still find it; gathered without any of them, no rule guesses it from what is missing.
NEEDS = {
    "bootloader_stopped": ({"services"}, {"services"}, "BOOTLOADER_NOT_RUNNING"),
    "agent_not_installed": ({"agent"}, {"agent", "services", "events"}, "AGENT_NOT_INSTALLED"),
    "invalid_registration_token": ({"events"}, {"events"}, "INVALID_REGISTRATION_TOKEN"),
    "expired_registration_token": ({"events"}, {"events"}, "EXPIRED_REGISTRATION_TOKEN"),
    "name_already_registered": ({"events"}, {"events"}, "NAME_ALREADY_REGISTERED"),
    "endpoint_not_found": ({"events"}, {"events"}, "ENDPOINT_NOT_FOUND"),
    "broker_blocked": ({"events"}, {"events", "network"}, "INVALID_FORM"),
    "gateway_blocked": ({"events"}, {"events"}, "GATEWAY_UNREACHABLE"),
    "websocket_blocked": ({"events"}, {"events"}, "WEBSOCKET_UNREACHABLE"),
    "stack_health_check_failed": ({"events"}, {"events"}, "INSTALLATION_HEALTH_CHECK_FAILED"),
    "msi_policy_blocked": ({"policies"}, {"policies", "events"}, "INSTALL_MSI_BLOCKED"),
    "installer_busy": ({"events", "installer", "policies"}, {"events"}, "INSTALLER_BUSY"),
    "cmd_policy_blocked": ({"policies"}, {"policies"}, "CMD_BLOCKED"),
    "stack_listener_broken": ({"stack"}, {"stack"}, "STACK_LISTENER_NOT_LISTENING"),
    "disk_full": ({"disk"}, {"disk", "events"}, "DISK_SPACE_LOW"),
    "dotnet_outdated": ({"dotnet"}, {"dotnet"}, "DOTNET_OUTDATED"),
    "sxs_stack_missing": ({"stack"}, {"stack", "components"}, "SXS_STACK_NOT_INSTALLED"),
    "session_limit_reached": ({"sessions"}, {"sessions", "stack"}, "SESSION_LIMIT_REACHED"),
    "unsupported_os": ({"os"}, {"os"}, "UNSUPPORTED_OS"),
    "domain_trust_lost": ({"agent"}, {"agent"}, "DOMAIN_TRUST_LOST"),
    "fslogix_unhealthy": ({"agent"}, {"agent"}, "FSLOGIX_UNHEALTHY"),
}


def faulty(fault: str) -> tuple[Any, Any]:
    return lab(fault, sessions=POOL["max_session_limit"] if fault == "session_limit_reached" else 0)


@pytest.mark.parametrize("fault", sorted(NEEDS))
def test_each_rule_finds_its_fault_from_its_own_subsets_alone(fault):
    alone, _unused, wanted = NEEDS[fault]
    facts = gather(*faulty(fault), frozenset(alone))
    assert wanted in ids(facts), (fault, alone)


@pytest.mark.parametrize("fault", sorted(NEEDS))
def test_without_its_subsets_no_rule_guesses_a_fault(fault):
    _unused, sources, wanted = NEEDS[fault]
    rest = frozenset(f.SUBSETS) - sources
    facts = gather(*faulty(fault), rest)
    assert wanted not in ids(facts), (fault, rest)


@pytest.mark.parametrize("subset", f.SUBSETS)
def test_a_healthy_host_with_one_subset_raises_nothing(subset):
    model, state = lab()
    facts = gather(model, state, frozenset({subset}))
    result = diagnose(facts)
    assert result["findings"] == [] and facts["errors"] == []


@pytest.mark.parametrize("subset", f.SUBSETS)
def test_with_one_subset_the_checks_needing_another_are_unchecked_and_the_host_incomplete(subset):
    """A healthy host gathered with one subset is not called healthy: what was not checked is listed."""
    result = diagnose(gather(*lab(), frozenset({subset})))
    left_out = {line.split(":")[0] for line in result["unchecked"] if ": gather_subset left out " in line}
    assert left_out == {check for check, needs in v.SUBSET_NEEDS.items() if set(needs) - {subset}}
    assert result["state"] == "incomplete"


HEALTHY_ANSWERS = answers(*lab(), frozenset(f.SUBSETS))


@pytest.mark.parametrize("op_id", sorted(HEALTHY_ANSWERS))
def test_a_read_that_failed_raises_nothing_and_leaves_its_checks_unchecked(op_id):
    """Access denied or a timeout on one read is not a fault: no AGENT_NOT_INSTALLED from an unreadable
    program list or RDAgentBootLoader key, no DOTNET_OUTDATED from an unreadable NDP key; the checks that
    needed the read are listed with the operation's error and the host is incomplete."""
    results = dict(HEALTHY_ANSWERS)
    results[op_id] = OperationResult(id=op_id, op=results[op_id].op, ok=False, error="Access is denied")
    facts = f.assemble(frozenset(f.SUBSETS), results, OPTIONS, datetime.datetime.now(datetime.UTC))
    result = diagnose(facts)
    assert result["findings"] == [] and result["state"] == "incomplete"
    assert any(f"operation {op_id} failed: Access is denied" in line for line in result["unchecked"])
    broken = set(v.OPERATION_SUBSETS.get(op_id, (op_id.split(".")[0],)))
    needing = {check for check, needs in v.SUBSET_NEEDS.items() if broken & set(needs)}
    said = f": operation {op_id} failed: Access is denied"
    assert {line.split(":")[0] for line in result["unchecked"] if line.endswith(said)} == needing


def test_an_installer_error_without_the_policies_says_its_cause_is_unchecked(facts):
    facts["events"] = [event("InstallMsiException")]
    del facts["policies"]
    result = diagnose(facts)
    assert result["findings"] == []
    assert any("InstallMsiException" in line for line in result["unchecked"])


def test_a_missing_method_error_without_the_dotnet_facts_says_so(facts):
    facts["events"] = [event("MissingMethodException")]
    del facts["dotnet"]
    result = diagnose(facts)
    assert result["findings"] == [] and any("MissingMethodException" in line for line in result["unchecked"])


def test_session_limit_without_pool_data_is_unchecked(facts):
    facts["sessions"]["total"] = 100
    result = diagnose(facts, None)
    assert result["findings"] == [] and any("SESSION_LIMIT_REACHED" in line for line in result["unchecked"])


# --- report states -------------------------------------------------------------------------
def test_a_failed_result_that_still_carries_a_diagnosis_is_reported_failed(facts):
    diagnosis = diagnose(facts)
    entry = rep.host_entry({"failed": True, "msg": "user_session: could not sign out", "diagnosis": diagnosis})
    assert entry["state"] == "failed" and "could not sign out" in entry["reason"]
    report = rep.build_report({"h": entry}, NOW)
    assert report["summary"]["failed"] == 1 and report["summary"]["healthy"] == 0
    assert rep.hosts_at_or_above(report, "critical") == ["h"]


def test_an_unreachable_result_is_unreachable_whatever_else_it_carries(facts):
    entry = rep.host_entry({"unreachable": True, "failed": True, "msg": "timed out", "diagnosis": diagnose(facts)})
    assert entry["state"] == "unreachable" and entry["reason"] == "timed out: timed out"  # class, then the message
    assert entry["reason_class"] == "timeout"


def test_a_diagnosed_result_keeps_its_state_findings_and_unchecked(facts):
    facts["services"]["RDAgentBootLoader"]["state"] = "Stopped"
    diagnosis = diagnose(facts, None)
    entry = rep.host_entry({"changed": False, "diagnosis": diagnosis})
    assert entry["state"] == diagnosis["state"] == "unhealthy"
    assert entry["findings"] == diagnosis["findings"] and entry["unchecked"] == diagnosis["unchecked"]


# --- staleness after a fix: the update that failed has installed since -----------------------------------------
# As the lab's agent and Windows log them: the updater's 3277, then Windows Installer's 11707 for each product it
# installs ("Product: %1 -- Installation completed successfully.", in the system's language).
UPDATE_FAILED = "Agent update from 1.0.9742.1100 to 1.0.10139.400 failed. Microsoft.RDInfra.AgentUpdater."
FAILURES = {
    "busy": (
        3277,
        UPDATE_FAILED + "InstallMsiException: msiexec.exe exited with code 1618: Another installation is "
        "already in progress.",
        "INSTALLER_BUSY",
    ),
    "policy": (
        3277,
        UPDATE_FAILED + "InstallMsiException: msiexec.exe exited with code 1625: This installation is "
        "forbidden by system policy.",
        "INSTALL_MSI_BLOCKED",
    ),
    "disk": (3277, UPDATE_FAILED + "DownloadMsiException: There is not enough space on the disk.", "DISK_SPACE_LOW"),
}
INSTALLED_EN = "Product: Remote Desktop Services Infrastructure Agent -- Installation completed successfully."
INSTALLED_DE = (
    "Produkt: Remote Desktop Services Infrastructure Agent -- Die Installation wurde erfolgreich abgeschlossen."
)


def logged(event_id: int, message: str, time: str, source: str = "WVD-Agent") -> dict[str, Any]:
    return {
        "id": event_id,
        "source": source,
        "level": "Information" if event_id == 11707 else "Error",
        "time": time,
        "record_id": 1,
        "kind": p.classify_event(event_id, message),
        "win32_exception": p.mentions_win32_exception(message),
        "message": message,
    }


def msi(message: str, time: str) -> dict[str, Any]:
    return logged(11707, message, time, "MsiInstaller")


@pytest.mark.parametrize("cause", sorted(FAILURES))
def test_an_update_error_before_the_agent_installed_since_raises_nothing(facts, cause):
    event_id, text, raises = FAILURES[cause]
    failure = logged(event_id, text, "2026-11-25T10:00:05.000Z")
    # Still blocked: the finding stands on the event (no policy, no installation, enough disk now).
    facts["events"] = [failure]
    assert raises in ids(facts)
    # The fix, then the boot loader restarted: the agent retried and Windows Installer installed it. The old
    # error stays in the log, newest first as Get-WinEvent returns them.
    facts["events"] = [msi(INSTALLED_EN, "2026-11-25T10:20:00.000Z"), failure]
    result = diagnose(facts)
    assert result["findings"] == [] and result["state"] == "healthy"
    (stale,) = result["stale_events"]
    assert {"busy": "1618", "policy": "1625", "disk": "DownloadMsiException"}[cause] in stale
    assert [e for e in result["stale_events"] if "Installation completed" in e] == []


@pytest.mark.parametrize("cause", sorted(FAILURES))
def test_an_update_error_after_the_last_agent_installation_is_current(facts, cause):
    event_id, text, raises = FAILURES[cause]
    # Installed once (an earlier update), failed since: the failure is what is true now.
    facts["events"] = [
        logged(event_id, text, "2026-11-25T10:30:00.000Z"),
        msi(INSTALLED_EN, "2026-11-25T10:20:00.000Z"),
    ]
    assert raises in ids(facts)
    assert diagnose(facts)["stale_events"] == []


def test_only_the_agents_own_installation_makes_an_update_error_stale(facts):
    event_id, text, _raises = FAILURES["busy"]
    failure = logged(event_id, text, "2026-11-25T10:00:05.000Z")
    others = [
        # the other installation that held the installer, finishing: the agent has not retried yet
        msi(
            "Product: Microsoft Teams Meeting Add-in for Microsoft Office -- Installation completed successfully.",
            "2026-11-25T10:05:00.000Z",
        ),
        msi(
            "Product: Remote Desktop Services Infrastructure Geneva Agent 46.2.3 -- Installation completed "
            "successfully.",
            "2026-11-25T10:06:00.000Z",
        ),
    ]
    facts["events"] = [*others, failure]
    assert ids(facts) == ["INSTALLER_BUSY"]  # 1618 in the event, nothing running now: restart the boot loader
    # In the system's language (a German host): the product name is what counts.
    facts["events"] = [msi(INSTALLED_DE, "2026-11-25T10:20:00.000Z"), *others, failure]
    assert ids(facts) == []


@pytest.mark.parametrize("kind", ["InstallationHealthCheckFailedException", "MissingMethodException"])
def test_updates_that_installed_then_rolled_back_stay_current_after_an_installation(facts, kind):
    """These updates installed (11707), then failed their checks and rolled back: the installation proves nothing."""
    facts["dotnet"].update(release=394802, version="4.6.2", meets_472=False)
    facts["events"] = [msi(INSTALLED_EN, "2026-11-25T10:20:00.000Z"), event(kind, time="2026-11-25T10:00:05.000Z")]
    raised = ids(facts)
    assert ("INSTALLATION_HEALTH_CHECK_FAILED" if kind.startswith("Installation") else "DOTNET_OUTDATED") in raised
    assert diagnose(facts)["stale_events"] == []
