"""Parsers and rules on outputs of real Windows hosts (tests/fixtures/realworld, sources in its SOURCES.md).

Each capture is read as an AVD admin would read it, and no healthy real capture
produces a warning or critical finding.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _facts as f
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _known as k
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _parsers as p
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _reinstall as reinstall
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _rules as r
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._remediation import ROLE_FOR
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._runtime import OperationResult

CORPUS = Path(__file__).resolve().parents[3] / "fixtures" / "realworld"
NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)
OPTIONS = {
    "gather_subset": ["all"],
    "events_max_age": 120,
    "events_max_count": 50,
    "probe_timeout": 10,
    "probe_urls": [],
}
POOL = {"max_session_limit": 8, "sessions": 1}


def capture(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


def corpus_yaml(name: str) -> Any:
    return yaml.safe_load(capture(name))


# --- qwinsta ------------------------------------------------------------------------------
# (file, language, rows as (session name, user, id, printed state, state, current))
QWINSTA_CAPTURES = {
    "en-US_win11_wide_no_marker.txt": (
        "en",
        [
            ("services", "", 0, "Disc", "Disc", False),
            ("console", "", 1, "Conn", "Conn", False),
            ("rdp-tcp", "", 65537, "Listen", "Listen", False),
            ("rdp-sxs240705700", "", 65538, "Listen", "Listen", False),
        ],
    ),
    "ja-JP_query_session.txt": (
        "ja",
        [
            ("services", "", 0, "Disc", "Disc", False),
            ("console", "user1", 2, "Active", "Active", True),
            ("rdp-tcp", "", 65536, "Listen", "Listen", False),
        ],
    ),
    "de-DE_query_session_w11.txt": (
        "de",
        [
            ("services", "", 0, "Getr.", "Disc", False),
            ("console", "Leo", 3, "Aktiv", "Active", False),
            ("rdp-tcp", "", 65536, "Abhör.", "Listen", False),
        ],
    ),
    "ru-RU_query_session.txt": (
        "ru",
        [
            ("services", "", 0, "Разъедин", "Disc", False),
            ("rdp-tcp#0", "user", 3, "Активный", "Active", True),
            ("rdp-tcp", "", 65536, "Прослуш", "Listen", False),
        ],
    ),
    "en-US_psexec_nameless_disc.txt": (
        "en",
        [
            ("services", "", 0, "Disc", "Disc", True),
            ("console", "", 1, "Conn", "Conn", False),
            ("", "muoadmin_tg", 2, "Disc", "Disc", False),
            ("rdp-tcp#2", "muoadmin_tg", 3, "Active", "Active", False),
            ("rdp-tcp", "", 65536, "Listen", "Listen", False),
        ],
    ),
    "en-US_wide_detached_trailing_spaces.txt": (
        "en",
        [
            ("services", "", 0, "Disc", "Disc", True),
            ("", "Gamer", 1, "Disc", "Disc", False),
            ("console", "", 2, "Conn", "Conn", False),
            ("rdp-tcp", "", 65536, "Listen", "Listen", False),
        ],
    ),
    "en-US_services_marker_rdp_user.txt": (
        "en",
        [
            ("services", "", 0, "Disc", "Disc", True),
            ("rdp-tcp#0", "nigel.mills", 1, "Active", "Active", False),
            ("console", "", 2, "Conn", "Conn", False),
            ("rdp-tcp", "", 65536, "Listen", "Listen", False),
        ],
    ),
    "zh-CN_query_session.txt": (
        "zh",
        [
            ("services", "", 0, "断开", "Disc", False),
            ("console", "", 1, "已连接", "Conn", False),
            ("rdp-tcp#0", "Administrator", 2, "运行中", "Active", True),
            ("rdp-tcp", "", 65536, "侦听", "Listen", False),
        ],
    ),
    "zh-CN_wide_reconstructed.txt": (
        "zh",
        [
            ("services", "", 0, "断开", "Disc", False),
            ("console", "", 1, "已连接", "Conn", False),
            ("rdp-tcp#0", "Administrator", 2, "运行中", "Active", True),
            ("rdp-tcp", "", 65536, "侦听", "Listen", False),
        ],
    ),
    "ru-RU_server2022_query_session.txt": (
        "ru",
        [
            ("services", "", 0, "Диск", "Disc", False),
            ("console", "", 1, "Подключено", "Conn", False),
            ("rdp-tcp#0", "Администратор", 2, "Активно", "Active", True),
            ("rdp-tcp#1", "Администратор", 3, "Активно", "Active", False),
            ("31c5ce94259d4...", "", 65536, "Прием", "Listen", False),
            ("rdp-tcp", "", 65537, "Прием", "Listen", False),
        ],
    ),
    "en-US_misaligned_user_column.txt": (
        "en",
        [
            ("services", "", 0, "Disc", "Disc", False),
            ("console", "", 1, "Conn", "Conn", False),
            ("rdp-tcp#2", "Attacker", 2, "Active", "Active", False),
            ("rdp-tcp", "", 65536, "Listen", "Listen", False),
        ],
    ),
}


def test_every_qwinsta_capture_is_covered():
    assert sorted(path.name for path in (CORPUS / "qwinsta").iterdir()) == sorted(QWINSTA_CAPTURES)


@pytest.mark.parametrize("name", sorted(QWINSTA_CAPTURES))
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_qwinsta_capture_rows(name, newline):
    language, expected = QWINSTA_CAPTURES[name]
    text = capture(f"qwinsta/{name}").replace("\n", newline)
    rows = p.parse_qwinsta(text)
    assert [(x.session_name, x.user, x.id, x.state, x.state_normalized, x.current) for x in rows] == expected
    assert p.qwinsta_language(text.splitlines()[0]) == language


@pytest.mark.parametrize("name", sorted(QWINSTA_CAPTURES))
def test_qwinsta_capture_listener_and_sessions(name):
    """Every capture is of a working host: its rdp-tcp listener listens; users' rows are sessions, not listeners."""
    _unused, expected = QWINSTA_CAPTURES[name]
    summary = p.listener_summary(p.parse_qwinsta(capture(f"qwinsta/{name}")))
    assert summary["rdp_tcp"] is not None and summary["rdp_tcp"]["state_normalized"] == "Listen"
    users = [row for row in expected if row[1]]
    assert sum(summary["sessions_by_state"].values()) == len(users)


def test_listener_read_from_users_sessions_listed_first():
    """Real qwinsta orders rows by session id: users' rdp-sxs...#N rows (ids 2, 3) before the listeners (65536+)."""
    base = capture("qwinsta/en-US_win11_wide_no_marker.txt").splitlines()
    users = [
        "rdp-sxs240705700#0        alice                     2  Active",
        "                          bob                       3  Disc",
    ]
    rows = p.parse_qwinsta("\n".join(base[:3] + users + base[3:]))
    summary = p.listener_summary(rows)
    assert summary["rdp_sxs"]["session_name"] == "rdp-sxs240705700" and summary["rdp_sxs"]["id"] == 65538
    assert summary["both_listening"] is True and summary["sessions_by_state"] == {"Active": 1, "Disc": 1}


def test_classic_layout_session_name_running_into_user_name():
    """In the 18-wide SESSIONNAME column an 18-character rdp-sxs user session name touches the user name."""
    text = (
        " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE\n"
        " rdp-sxs240705700#0user01                    2  Active\n"
        " rdp-sxs240705700                        65537  Listen\n"
    )
    first = p.parse_qwinsta(text)[0]
    assert (first.session_name, first.user, first.id) == ("rdp-sxs240705700#0", "user01", 2)


@pytest.mark.parametrize("name", sorted(QWINSTA_CAPTURES))
def test_unknown_language_reads_like_the_known_one(name):
    """Every capture read without its language's header words (as an unlisted language would be) gives the same rows."""
    lines = capture(f"qwinsta/{name}").splitlines()
    # every header word but the ID heading becomes letters of no language, each column as wide as before
    strange = re.sub(
        r"\S+",
        lambda m: m.group() if m.group() in p.QWINSTA_ID_HEADINGS else "Q" * p.display_width(m.group()),
        lines[0],
    )
    assert p.qwinsta_language(strange) is None and p.qwinsta_language(lines[0]) is not None
    assert p.parse_qwinsta("\n".join([strange, *lines[1:]])) == p.parse_qwinsta("\n".join(lines))


def test_header_of_several_words_per_column():
    """Synthetic (no capture of such a language): column names of two words, USERNAME found from the ID heading."""
    header = " SESSION NAME      USER NAME                ID  STATE   TYPE        DEVICE"
    assert p.qwinsta_header(header) == p.QwinstaHeader(None, 19)
    rows = p.parse_qwinsta(header + "\n                   alice                     2  Disc\n rdp-tcp  65536  Listen\n")
    assert [(x.session_name, x.user, x.id) for x in rows] == [("", "alice", 2), ("rdp-tcp", "", 65536)]


# --- broker health --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "health"),
    [("rdbroker_raw_2022.json", "RDBroker is Healthy"), ("rdbroker_article_2022.txt", "RD Broker is Healthy")],
)
def test_broker_health_bodies_are_healthy(name, health):
    body = capture(f"broker_health/{name}")
    assert p.broker_health(200, body) == (True, health)
    # the runtime keeps the first 512 characters of a body: a cut JSON body is still read
    assert p.broker_health(200, body[:40]) == (True, health)
    assert p.broker_health(503, body)[0] is False and p.broker_health(None, None) == (False, None)


def test_broker_health_judged_by_status_and_what_the_body_says():
    assert p.broker_health(200, '{"Health": "RDBroker is Unhealthy"}') == (False, "RDBroker is Unhealthy")
    assert p.broker_health(200, '{"health":"RDBroker is healthy"}') == (True, "RDBroker is healthy")
    # a 200 that is not the broker's answer: a proxy's page, or nothing at all
    assert p.broker_health(200, "<html>Proxy login</html>") == (False, "<html>Proxy login</html>")
    assert p.broker_health(200, "") == (False, None)
    assert p.broker_health(404, "<html>Not Found</html>")[0] is False


# --- events ----------------------------------------------------------------------------------
EVENTS = corpus_yaml("events/agent_events.yml")
# kind -> the finding it leads to, and what else the host must show for it
FINDING_OF_KIND = {
    "INVALID_REGISTRATION_TOKEN": "INVALID_REGISTRATION_TOKEN",
    "EXPIRED_MACHINE_TOKEN": "INVALID_REGISTRATION_TOKEN",
    "EXPIRED_REGISTRATION_TOKEN": "EXPIRED_REGISTRATION_TOKEN",
    "INVALID_FORM": "INVALID_FORM",
    "ENDPOINT_NOT_FOUND": "ENDPOINT_NOT_FOUND",
    "NAME_ALREADY_REGISTERED": "NAME_ALREADY_REGISTERED",
    "InstallationHealthCheckFailedException": "INSTALLATION_HEALTH_CHECK_FAILED",
    "InstallMsiException": "INSTALL_MSI_BLOCKED",
    "Win32Exception": "CMD_BLOCKED",
    "DownloadMsiException": "DISK_SPACE_LOW",
    "AgentLoadException": "AGENT_NOT_INSTALLED",
    "MissingMethodException": "DOTNET_OUTDATED",
    "GATEWAY_UNREACHABLE": "GATEWAY_UNREACHABLE",
    "WEBSOCKET_UNREACHABLE": "WEBSOCKET_UNREACHABLE",
}


@pytest.mark.parametrize("entry", EVENTS, ids=lambda e: f"{e['id']}-{e['message'][:30]}")
def test_event_wordings_are_classified(entry):
    assert p.classify_event(entry["id"], entry["message"]) == entry["kind"]
    # inside a longer description, in any case
    assert p.classify_event(entry["id"], f"Error: {entry['message'].upper()} at Microsoft.RDInfra") == entry["kind"]
    assert p.classify_event(1000, entry["message"]) is None


# --- listener state by structure: the rdp-tcp row's word is the host's word for Listen ------------------
LOCALIZED_LISTEN = {
    "zh-CN_query_session.txt": "侦听",
    "zh-CN_wide_reconstructed.txt": "侦听",
    "ru-RU_server2022_query_session.txt": "Прием",
    "ru-RU_query_session.txt": "Прослуш",
    "de-DE_query_session_w11.txt": "Abhör.",
}


def with_sxs_listener(text: str, state: str | None = None) -> str:
    """The capture with an rdp-sxs listener row after its rdp-tcp row, in the same columns, printing
    rdp-tcp's state word (or ``state``): what the same host shows once the SxS stack listens too."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line[1:].split()[:1] == ["rdp-tcp"])
    tcp, name = lines[at], " rdp-sxs240705700"
    assert tcp[len(" rdp-tcp") : len(name)].strip() == ""  # the name column is wide enough
    _unused, listener_id, word = tcp.split()[:3]
    row = name + tcp[len(name) :].replace(f"{listener_id}  {word}", f"{int(listener_id) + 1}  {state or word}", 1)
    return "\n".join([*lines[: at + 1], row, *lines[at + 1 :]]) + "\n"


@pytest.fixture
def no_listen_words(monkeypatch):
    """The word lists without any localized word for Listen: only the structure can tell."""
    monkeypatch.setattr(p, "STATE_WORDS", {w: s for w, s in p.STATE_WORDS.items() if s != "Listen" or w == "listen"})


@pytest.mark.parametrize("name", sorted(LOCALIZED_LISTEN))
def test_listeners_read_by_structure_in_any_language(name, no_listen_words):
    text = with_sxs_listener(capture(f"qwinsta/{name}"))
    summary = p.listener_summary(p.parse_qwinsta(text))
    assert summary["rdp_sxs"]["session_name"] == "rdp-sxs240705700"
    assert summary["rdp_sxs"]["state"] == LOCALIZED_LISTEN[name]
    assert summary["both_listening"] is True


@pytest.mark.parametrize("name", sorted(LOCALIZED_LISTEN))
def test_a_listener_printing_another_word_than_rdp_tcp_does_not_listen(name, no_listen_words):
    text = with_sxs_listener(capture(f"qwinsta/{name}"), state="Down")
    summary = p.listener_summary(p.parse_qwinsta(text))
    assert summary["rdp_sxs"]["state_normalized"] == "Down" and summary["both_listening"] is False
    unknown = with_sxs_listener(capture(f"qwinsta/{name}"), state="Xyz")
    assert p.listener_summary(p.parse_qwinsta(unknown))["both_listening"] is False


def test_without_an_rdp_tcp_row_the_word_lists_decide():
    rows = p.parse_qwinsta(capture("qwinsta/ja-JP_query_session.txt").replace(" rdp-tcp ", " rdp-xyz "))
    assert p.host_listen_word(rows) is None
    assert [row.state_normalized for row in rows if p.is_listener(row)] == ["Listen"]


# --- a healthy host, assembled from real outputs -------------------------------------------------
def reg(values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "exists": True,
        "values": [
            {"name": name, "type": "REG_DWORD" if isinstance(data, int) else "REG_SZ", "data": data}
            for name, data in values.items()
        ],
        "subkeys": [],
        **extra,
    }


def programs_from_table(text: str) -> list[dict[str, Any]]:
    """Get-WmiObject Win32_Product's Name/Version/Vendor table as the runtime's programs answer."""
    lines = text.splitlines()
    version_at = lines[0].index("Version")
    vendor_at = lines[0].index("Vendor")
    return [
        {
            "display_name": line[:version_at].strip(),
            "display_version": line[version_at:vendor_at].strip(),
            "publisher": line[vendor_at:].strip(),
        }
        for line in lines[2:]
        if line.strip()
    ]


PROGRAMS = programs_from_table(capture("programs/win32_product_2025.txt"))
SXS_SHAPES = corpus_yaml("registry/sxsstack.yml")
OS_VERSIONS = corpus_yaml("registry/os_versions.yml")


def healthy_results(
    qwinsta: str, broker_body: str, sxs: dict[str, Any], os_entry: dict[str, Any]
) -> dict[str, OperationResult]:
    listener = next(row.session_name for row in p.parse_qwinsta(qwinsta) if row.session_name.startswith("rdp-sxs"))
    answers: dict[str, Any] = {
        "boot_time": {"boot_time": "2026-11-25T10:00:00.000Z"},
        "agent.rdinfra": reg(
            {
                "IsRegistered": 1,
                "RegistrationToken": "",
                "BrokerURI": "https://rdbroker-g-us-r0.wvd.microsoft.com/",
                "BrokerURIGlobal": "https://rdbroker.wvd.microsoft.com/",
            }
        ),
        "agent.sxs": reg(sxs["values"]),
        "agent.health": {"exists": False, "values": [], "subkeys": []},
        "agent.bootloader": reg(
            {"DefaultAgent": "RDAgent_1.0.11986.2200", "CurrentBootLoaderVersion": "1.0.9023.1100"}
        ),
        "agent.monitoring": reg({"CurrentVersion": "46.24.3"}),
        "services.RDAgentBootLoader": {"name": "RDAgentBootLoader", "exists": True, "state": "Running"},
        "services.TermService": {"name": "TermService", "exists": True, "state": "Running"},
        "stack.qwinsta": {"text": qwinsta, "exit_code": 0},
        "stack.winstations": reg(
            {"ReverseConnectionListener": listener},
            subkey_values={
                listener: [
                    {"name": "fReverseConnectMode", "type": "REG_DWORD", "data": 1},
                    {"name": "fEnableWinStation", "type": "REG_DWORD", "data": 1},
                ]
            },
        ),
        "stack.cluster": reg({"SessionDirectoryListener": listener}),
        "components.programs": PROGRAMS,
        "components.sxs_msi": [{"name": "SxSStack-1.0.2407.05700.msi", "size": 1}],
        "os.version": reg(
            {
                "EditionID": os_entry["edition"],
                "ProductName": os_entry["product"],
                "CurrentBuild": os_entry["build"],
                "InstallationType": os_entry.get(
                    "installation", "Server" if os_entry["windows"] == "server" else "Client"
                ),
            }
        ),
        "dotnet.ndp": reg({"Release": 528449}),
        "disk.system": {"drive": "C:", "size": 128 * 1024**3, "free": 80 * 1024**3},
        "events.application": [],
        "policies.installer": {"exists": False},
        "policies.system": {"exists": False},
        "policies.user_hives": [],
        "network.broker": {"url": "https://rdbroker-g-us-r0.wvd.microsoft.com/api/health", "reachable": True},
        "network.broker_global": {"url": "https://rdbroker.wvd.microsoft.com/api/health", "reachable": True},
        "installer.processes": [],
    }
    for probe in ("network.broker", "network.broker_global"):
        answers[probe].update(status=200, body=broker_body[:512], error=None)
    return {op_id: OperationResult(op_id, "x", True, result) for op_id, result in answers.items()}


def facts_of(results: dict[str, OperationResult]) -> dict[str, Any]:
    return f.assemble(frozenset(f.SUBSETS), results, OPTIONS, NOW)


HEALTHY_QWINSTA = capture("qwinsta/en-US_win11_wide_no_marker.txt")
SUPPORTED_OS = [entry for entry in OS_VERSIONS if entry["supported"]]
BROKER_BODIES = sorted(path.name for path in (CORPUS / "broker_health").iterdir())


@pytest.mark.parametrize("os_entry", SUPPORTED_OS, ids=lambda e: f"{e['edition']}-{e['build']}")
@pytest.mark.parametrize("body", BROKER_BODIES)
@pytest.mark.parametrize("sxs", SXS_SHAPES, ids=lambda s: s["name"][:20])
def test_no_healthy_real_capture_raises_a_warning_or_critical(os_entry, body, sxs):
    facts = facts_of(healthy_results(HEALTHY_QWINSTA, capture(f"broker_health/{body}"), sxs, os_entry))
    result = r.diagnose(facts, POOL)
    assert [x for x in result["findings"] if x["severity"] in (r.CRITICAL, r.WARNING)] == []
    assert facts["errors"] == []


@pytest.mark.parametrize("name", sorted(LOCALIZED_LISTEN))
def test_no_localized_real_capture_raises_a_listener_finding(name):
    """Chinese, Russian Server 2022, German, Russian: a healthy host's listeners in its own language."""
    qwinsta = with_sxs_listener(capture(f"qwinsta/{name}"))
    facts = facts_of(
        healthy_results(qwinsta, capture("broker_health/rdbroker_raw_2022.json"), SXS_SHAPES[0], SUPPORTED_OS[0])
    )
    result = r.diagnose(facts, POOL)
    assert [x for x in result["findings"] if x["severity"] in (r.CRITICAL, r.WARNING)] == []
    assert facts["stack"]["qwinsta"]["both_listening"] is True


@pytest.mark.parametrize("sxs", SXS_SHAPES, ids=lambda s: s["name"][:20])
def test_sxs_stack_versions_through_current_version(sxs):
    facts = facts_of(healthy_results(HEALTHY_QWINSTA, "", sxs, SUPPORTED_OS[0]))
    assert facts["agent"]["sxs_stack_version"] == sxs["version"]
    assert facts["agent"]["sxs_stack_previous_version"] == sxs["previous_version"]


def test_programs_with_versioned_names_and_several_instances():
    facts = facts_of(healthy_results(HEALTHY_QWINSTA, "", SXS_SHAPES[0], SUPPORTED_OS[0]))
    programs = facts["components"]["programs"]
    assert [x["display_version"] for x in programs[k.PROGRAM_AGENT]] == ["1.0.11986.2200", "1.0.11802.2200"]
    assert [x["display_name"] for x in programs[k.PROGRAM_GENEVA]] == [
        "Remote Desktop Services Infrastructure Geneva Agent 46.24.3"
    ]
    assert len(programs[k.PROGRAM_SXS]) == 1 and len(programs[k.PROGRAM_BOOTLOADER]) == 1
    assert facts["agent"]["installed"] is True and facts["agent"]["bootloader_installed"] is True
    # a program whose name merely starts like ours is not ours
    assert not p.program_is("Remote Desktop Services Infrastructure Agent Helper", k.PROGRAM_AGENT)


def test_the_azure_vm_agent_service_is_not_the_avd_agent():
    """RdAgent (the Azure VM agent, WaAppAgent) is neither asked for nor read: the AVD agent is the boot loader's."""
    ops = f.plan(frozenset(f.SUBSETS), OPTIONS)
    assert not any(op.args.get("name", "").lower() == "rdagent" for op in ops)
    facts = facts_of(healthy_results(HEALTHY_QWINSTA, "", SXS_SHAPES[0], SUPPORTED_OS[0]))
    assert "RdAgent" not in facts["services"] and "RDAgent" not in facts["services"]


@pytest.mark.parametrize("os_entry", OS_VERSIONS, ids=lambda e: f"{e['edition']}-{e['build']}")
def test_editions_and_windows_11(os_entry):
    facts = facts_of(healthy_results(HEALTHY_QWINSTA, "", SXS_SHAPES[0], os_entry))
    assert facts["os"]["supports_sxs_stack"] is os_entry["supported"]
    assert facts["os"]["product"].startswith("Windows 11" if os_entry["windows"] == "11" else os_entry["product"][:10])
    unsupported = [x for x in r.diagnose(facts, POOL)["findings"] if x["id"] == "UNSUPPORTED_OS"]
    assert bool(unsupported) is not os_entry["supported"]
    if unsupported and os_entry["edition"].startswith("EnterpriseS"):
        assert "LTSC/LTSB" in unsupported[0]["evidence"][0]
    elif unsupported and os_entry.get("installation") == "Server Core":
        assert "InstallationType Server Core" in unsupported[0]["evidence"][0]
        assert "Remote Desktop Session Host role" in unsupported[0]["evidence"][0]
    elif unsupported and os_entry["edition"].endswith("N"):
        assert "N edition" in unsupported[0]["evidence"][0]


@pytest.mark.parametrize("entry", EVENTS, ids=lambda e: f"{e['id']}-{e['message'][:30]}")
def test_each_documented_wording_gives_its_finding(entry):
    results = healthy_results(
        HEALTHY_QWINSTA, capture("broker_health/rdbroker_raw_2022.json"), SXS_SHAPES[0], SUPPORTED_OS[0]
    )
    event = {
        "id": entry["id"],
        "source": entry["source"],
        "level": "Error",
        "time": "2026-11-25T11:00:00.000Z",
        "record_id": 1,
        "message": f"{entry['message']} (event written by the agent)",
    }
    results["events.application"] = OperationResult("events.application", "x", True, [event])
    finding = FINDING_OF_KIND[entry["kind"]]
    if finding == "INSTALL_MSI_BLOCKED":
        results["policies.installer"] = OperationResult("policies.installer", "x", True, reg({"DisableMSI": 1}))
    if finding == "CMD_BLOCKED":
        results["policies.system"] = OperationResult("policies.system", "x", True, reg({"DisableCMD": 1}))
    if finding == "DOTNET_OUTDATED":
        results["dotnet.ndp"] = OperationResult("dotnet.ndp", "x", True, reg({"Release": 460805}))
    found = {x["id"]: x for x in r.diagnose(facts_of(results), POOL)["findings"]}
    assert finding in found, sorted(found)
    # On this healthy base the agent is present now: its load error alone is a warning (see test_rules_branches)
    assert found[finding]["severity"] == (r.WARNING if finding == "AGENT_NOT_INSTALLED" else r.CRITICAL)
    assert any(entry["message"] in line for line in found[finding]["evidence"])


@pytest.mark.parametrize("report", ["agent_report_healthy.json", "agent_report_sxs_not_ready.json"])
@pytest.mark.parametrize("cut", [0.5, 0.9, -1])
def test_an_unreadable_agent_health_report_is_unchecked_never_healthy(report, cut):
    """A truncated (or not JSON) AgentHealthCheckReport: the checks it carries did not run, the host is incomplete."""
    text = capture(f"health_checks/{report}").strip()
    broken = "{not json" if cut == -1 else text[: int(len(text) * cut)]
    results = healthy_results(
        HEALTHY_QWINSTA, capture("broker_health/rdbroker_raw_2022.json"), SXS_SHAPES[0], SUPPORTED_OS[0]
    )
    results["agent.health"] = OperationResult("agent.health", "x", True, reg({"AgentHealthCheckReport": broken}))
    facts = facts_of(results)
    assert facts["agent"]["health_report_error"]
    diagnosis = r.diagnose(facts, POOL)
    assert diagnosis["state"] == "incomplete", diagnosis
    reasons = {line.split(":", 1)[0]: line for line in diagnosis["unchecked"]}
    for check_id in ("HEALTH_CHECK_FAILED", "DOMAIN_TRUST_LOST", "FSLOGIX_UNHEALTHY"):
        assert "AgentHealthCheckReport could not be read" in reasons[check_id]


REGISTRATION_STATES = corpus_yaml("registry/rdinfra_registration.yml")


@pytest.mark.parametrize("entry", REGISTRATION_STATES, ids=lambda e: e["name"])
def test_registration_read_from_the_registry_on_its_own(entry):
    """IsRegistered and RegistrationToken tell a registration that never went through, with or without a 3277."""
    results = healthy_results(
        HEALTHY_QWINSTA, capture("broker_health/rdbroker_raw_2022.json"), SXS_SHAPES[0], SUPPORTED_OS[0]
    )
    rdinfra = results["agent.rdinfra"].result
    values = [v for v in rdinfra["values"] if v["name"] not in ("IsRegistered", "RegistrationToken")]
    if entry["is_registered"] is not None:
        values.append({"name": "IsRegistered", "type": "REG_DWORD", "data": entry["is_registered"]})
    values.append(
        {"name": "RegistrationToken", "type": "REG_SZ", "set": entry["token"], "length": 420 if entry["token"] else 0}
    )
    rdinfra["values"] = values
    if entry["event_3277"]:
        event = {
            "id": 3277,
            "source": "RDAgent",
            "level": "Error",
            "time": "2026-11-25T11:00:00.000Z",
            "record_id": 1,
            "message": "Registration failed with INVALID_REGISTRATION_TOKEN",
        }
        results["events.application"] = OperationResult("events.application", "x", True, [event])
    found = {x["id"]: x for x in r.diagnose(facts_of(results), POOL)["findings"]}
    if entry["finding"] is None:
        assert found == {}
        return
    assert entry["finding"] in found, sorted(found)
    assert found[entry["finding"]]["severity"] == entry["severity"]
    evidence = " ".join(found[entry["finding"]]["evidence"])
    assert "HKLM\\SOFTWARE\\Microsoft\\RDInfraAgent: IsRegistered=" in evidence and "RegistrationToken set" in evidence
    if entry["finding"] != "REGISTRATION_INCOMPLETE":
        assert "REGISTRATION_INCOMPLETE" not in found  # the documented error names it; no second finding
    assert ROLE_FOR[entry["finding"]] == "registration"


@pytest.mark.parametrize("entry", corpus_yaml("installers/msiexec_exit_codes.yml"), ids=lambda e: e["name"])
def test_msiexec_exit_codes_are_read_as_windows_installer_documents_them(entry):
    assert reinstall.classify_exit_code(entry["code"]) == entry["means"]


def test_sources_name_every_file():
    """Every capture's origin is named: in SOURCES.md, or in a sources file beside it."""
    sources = capture("SOURCES.md")
    for path in CORPUS.rglob("*"):
        if not path.is_file() or path.name in ("SOURCES.md", "sources.yml"):
            continue
        beside = path.parent / "sources.yml"
        local = beside.read_text(encoding="utf-8") if beside.is_file() else ""
        assert re.search(re.escape(str(path.relative_to(CORPUS))), sources) or path.name in local, path
