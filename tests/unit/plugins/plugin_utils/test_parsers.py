"""Parsers over what session hosts print: real qwinsta layouts, localized headers, odd registry types."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _parsers as p

QWINSTA_HEALTHY = """\
 SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE
>services                                    0  Disc
 console                                     1  Conn
 rdp-tcp                                 65536  Listen
 rdp-sxs240705700                        65537  Listen
 rdp-sxs240705700#0user01                    2  Active
                   user02                    3  Disc
"""

QWINSTA_GERMAN = """\
 SITZUNGSNAME      BENUTZERNAME             ID  STATUS  TYP         GERÄT
>services                                    0  Getr.
 console                                     1  Verb.
 rdp-tcp                                 65536  Abhören
 rdp-sxs22010700                         65537  Abhören
"""

# Windows Server 2019 RDSH as an administrator sees it over RDP: TYPE and DEVICE filled in.
QWINSTA_SERVER_CONSOLE_RDP = """\
 SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE
 services                                    0  Disc
 console                                     1  Conn
>rdp-tcp#12        Administrator             2  Active  rdpwd
 rdp-tcp                                 65536  Listen
"""

QWINSTA_LISTENER_DOWN = """\
 SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE
 services                                    0  Disc
 rdp-tcp                                 65536  Listen
 rdp-sxs240705700                        65537  Down
"""

# An unknown display language: columns come from the header's own tokens.
QWINSTA_UNKNOWN_LANGUAGE = """\
 SESSIENAAM        GEBRUIKERSNAAM           ID  STATUS  TYPE        APPARAAT
 services                                    0  Disc
 rdp-tcp                                 65536  Listen
"""


def test_healthy_layout_rows_and_current_marker():
    rows = p.parse_qwinsta(QWINSTA_HEALTHY)
    assert [(r.session_name, r.user, r.id, r.state) for r in rows] == [
        ("services", "", 0, "Disc"),
        ("console", "", 1, "Conn"),
        ("rdp-tcp", "", 65536, "Listen"),
        ("rdp-sxs240705700", "", 65537, "Listen"),
        ("rdp-sxs240705700#0", "user01", 2, "Active"),
        ("", "user02", 3, "Disc"),
    ]
    assert [r.current for r in rows] == [True, False, False, False, False, False]
    summary = p.listener_summary(rows)
    assert summary["both_listening"] is True
    assert summary["rdp_sxs"]["session_name"] == "rdp-sxs240705700"
    assert summary["sessions_by_state"] == {"Active": 1, "Disc": 1}


def test_german_headers_and_state_words():
    rows = p.parse_qwinsta(QWINSTA_GERMAN)
    assert p.qwinsta_language(QWINSTA_GERMAN.splitlines()[0]) == "de"
    listeners = [r for r in rows if r.session_name.startswith("rdp")]
    assert [(r.state, r.state_normalized) for r in listeners] == [("Abhören", "Listen"), ("Abhören", "Listen")]
    assert p.listener_summary(rows)["both_listening"] is True


def test_current_rdp_session_with_type_column():
    rows = p.parse_qwinsta(QWINSTA_SERVER_CONSOLE_RDP)
    current = next(r for r in rows if r.current)
    assert (current.session_name, current.user, current.id, current.state) == (
        "rdp-tcp#12",
        "Administrator",
        2,
        "Active",
    )
    summary = p.listener_summary(rows)
    assert summary["rdp_sxs"] is None and summary["both_listening"] is False
    assert summary["rdp_tcp"]["state_normalized"] == "Listen"


def test_listener_listed_but_not_listening():
    summary = p.listener_summary(p.parse_qwinsta(QWINSTA_LISTENER_DOWN))
    assert summary["rdp_sxs"]["state_normalized"] == "Down" and summary["both_listening"] is False


def test_unknown_language_falls_back_to_header_positions():
    rows = p.parse_qwinsta(QWINSTA_UNKNOWN_LANGUAGE)
    assert p.qwinsta_language(QWINSTA_UNKNOWN_LANGUAGE.splitlines()[0]) is None
    assert [(r.session_name, r.id, r.state) for r in rows] == [("services", 0, "Disc"), ("rdp-tcp", 65536, "Listen")]


def test_crlf_output_and_garbage():
    assert len(p.parse_qwinsta(QWINSTA_HEALTHY.replace("\n", "\r\n"))) == 6
    with pytest.raises(p.ParseError, match="printed nothing"):
        p.parse_qwinsta("  \r\n")
    with pytest.raises(p.ParseError, match="not a qwinsta header"):
        p.parse_qwinsta("No session exists for *\r\n")
    with pytest.raises(p.ParseError, match="without a session id"):
        p.parse_qwinsta(QWINSTA_HEALTHY.splitlines()[0] + "\n garbage line\n")


@pytest.mark.parametrize(
    ("entry", "number"),
    [
        ({"type": "REG_DWORD", "data": 1}, 1),
        ({"type": "REG_DWORD", "data": 4294967295}, 4294967295),
        ({"type": "REG_SZ", "data": "1"}, 1),  # set by hand as a string
        ({"type": "REG_SZ", "data": " 0x1 "}, 1),
        ({"type": "REG_QWORD", "data": 2**40}, 2**40),
        ({"type": "REG_BINARY", "data": "AQAAAA=="}, 1),  # a DWORD written as binary
        ({"type": "REG_SZ", "data": "yes"}, None),
        ({"type": "REG_MULTI_SZ", "data": ["1"]}, None),
        (None, None),
    ],
)
def test_registry_int_tolerates_odd_types(entry, number):
    assert p.registry_int(entry) == number


def test_registry_values():
    assert p.registry_value({"type": "REG_BINARY", "data": "AP8="}) == b"\x00\xff"
    assert p.registry_value({"type": "REG_MULTI_SZ", "data": "one"}) == ["one"]
    assert p.registry_str({"type": "REG_MULTI_SZ", "data": ["a", "b"]}) == "a\nb"
    assert p.registry_str({"type": "REG_EXPAND_SZ", "data": "%SystemRoot%"}) == "%SystemRoot%"
    assert p.values_by_name({"exists": False}) == {}
    assert p.values_by_name({"exists": True, "values": [{"name": "IsRegistered", "type": "REG_DWORD", "data": 1}]}) == {
        "isregistered": {"name": "IsRegistered", "type": "REG_DWORD", "data": 1}
    }


@pytest.mark.parametrize(
    ("release", "version", "meets"),
    [
        (461808, "4.7.2", True),  # Windows 10 1803
        (461814, "4.7.2", True),
        (528040, "4.8", True),
        (528372, "4.8", True),
        (528449, "4.8", True),
        (533320, "4.8.1", True),
        (533325, "4.8.1", True),
        (461308, "4.7.1", False),
        (460805, "4.7", False),
        (394802, "4.6.2", False),
        (1, "earlier than 4.5", False),
    ],
)
def test_dotnet_release_table(release, version, meets):
    assert p.dotnet_version(release) == version
    assert (release >= 461808) is meets


@pytest.mark.parametrize(
    ("edition", "supported"),
    [
        ("Enterprise", True),
        ("EnterpriseMultiSession", True),
        ("ServerRdsh", True),
        ("ServerStandard", True),
        ("ServerDatacenter", True),
        ("ServerDatacenterACor", True),
        ("Professional", False),
        ("ProfessionalWorkstation", False),
        ("Education", False),
        ("Core", False),
        ("EnterpriseN", False),
        ("", False),
        (None, False),
    ],
)
def test_editions(edition, supported):
    assert p.edition_supports_sxs(edition) is supported


def test_sxs_version_from_msi_path():
    assert p.sxs_version_from_msi(r"C:\Program Files\Microsoft RDInfra\SxSStack-1.0.2407.05700.msi") == "1.0.2407.05700"
    assert p.sxs_version_from_msi("SxSStack-1.0.2404.16760.MSI") == "1.0.2404.16760"
    assert p.sxs_version_from_msi(None) is None and p.sxs_version_from_msi("SxSStack.msi") is None
    assert p.version_key("1.0.10004.1300") > p.version_key("1.0.9742.1500")


@pytest.mark.parametrize(
    ("event_id", "message", "kind"),
    [
        (3277, "Agent registration failed. INVALID_REGISTRATION_TOKEN: not valid", "INVALID_REGISTRATION_TOKEN"),
        (3277, "... EXPIRED_REGISTRATION_TOKEN ...", "EXPIRED_REGISTRATION_TOKEN"),
        (3277, "Unable to connect to the broker. INVALID_FORM", "INVALID_FORM"),
        (3277, "NAME_ALREADY_REGISTERED", "NAME_ALREADY_REGISTERED"),
        (3277, "Error: ENDPOINT_NOT_FOUND", "ENDPOINT_NOT_FOUND"),
        (3277, "InstallationHealthCheckFailedException: listener", "InstallationHealthCheckFailedException"),
        (
            3277,
            "Microsoft.RDInfra.AgentUpdater.DownloadMsiException: There is not enough space",
            "DownloadMsiException",
        ),
        (3277, "InstallMsiException: msiexec exited with 1618", "InstallMsiException"),
        (3277, "installmsiexception (lower case)", "InstallMsiException"),
        (3277, "Unable to retrieve DefaultAgent from registry", "AgentLoadException"),
        (3703, "RD Gateway Url: is not accessible", "GATEWAY_UNREACHABLE"),
        (3019, "anything", "WEBSOCKET_UNREACHABLE"),
        (3389, "MissingMethodException: Method not found: 'X'", "MissingMethodException"),
        (3389, "something else", None),
        (3277, "an unrelated error", None),
        (1033, "INVALID_REGISTRATION_TOKEN", None),
    ],
)
def test_event_classification(event_id, message, kind):
    assert p.classify_event(event_id, message) == kind


HEALTH_FIXTURES = Path(__file__).parents[3] / "fixtures" / "realworld" / "health_checks"


def test_health_report_is_an_object_keyed_by_check_name():
    text = (HEALTH_FIXTURES / "agent_report_sxs_not_ready.json").read_text()
    checks = {c["name"]: c for c in p.parse_health_report(text)}
    assert set(checks) == {"DomainJoinedCheck", "SxSStackListenerCheck", "UrlsAccessibleCheck", "MonitoringAgentCheck"}
    sxs = checks["SxSStackListenerCheck"]
    assert (sxs["passed"], sxs["failed"], sxs["result"]) == (False, True, 2)
    assert sxs["message"] == "SxsStack listener is not ready" and sxs["error_code"] == -2147467259
    assert sxs["last_checked"] == "2024-02-20T08:14:03.1234567Z"
    assert checks["DomainJoinedCheck"]["passed"] and not checks["DomainJoinedCheck"]["failed"]
    assert [c["name"] for c in p.parse_health_report(text) if c["failed"]] == [
        "MonitoringAgentCheck",
        "SxSStackListenerCheck",
    ]


def test_healthy_health_report_has_no_failure():
    checks = p.parse_health_report((HEALTH_FIXTURES / "agent_report_healthy.json").read_text())
    assert len(checks) == 6 and all(c["passed"] and not c["failed"] for c in checks)


def test_health_report_results_other_than_1_and_2_are_neither():
    (check,) = p.parse_health_report('{"AppAttachHealthCheck": {"HealthCheckResult": 0}}')
    assert (check["passed"], check["failed"], check["message"], check["last_checked"]) == (False, False, "", None)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{oops", "not JSON"),
        ('[{"HealthCheckName": "SxSStackListenerCheck", "HealthCheckResult": 2}]', "JSON list, not the object"),
        ('{"SxSStackListenerCheck": 2}', "entry for 'SxSStackListenerCheck' is not an object"),
    ],
)
def test_health_report_refuses_other_shapes(text, error):
    with pytest.raises(p.ParseError, match=error):
        p.parse_health_report(text)
    assert p.parse_health_report(None) == [] and p.parse_health_report("") == []
