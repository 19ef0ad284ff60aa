"""Parser behaviour at the edges a wrong diagnosis would come from: columns, markers, registry types, versions."""

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _parsers as p

FRENCH = """\
 NOMSESSION        NOMUTILISATEUR           ID  ÉTAT    TYPE        PÉRIPHÉRIQUE
>services                                    0  Déco
 rdp-tcp                                 65536  Écouter
 rdp-sxs240705700                        65537  Écouter
"""
SPANISH = """\
 NOMBRESESIÓN      NOMBREUSUARIO            ID  ESTADO  TIPO        DISPOSITIVO
 services                                    0  Desc
 rdp-sxs240705700#3usuario7                  4  Activo
 rdp-tcp                                 65536  Escuchar
 rdp-sxs240705700                        65537  Escuchar
"""


@pytest.mark.parametrize(("text", "language"), [(FRENCH, "fr"), (SPANISH, "es")])
def test_french_and_spanish_layouts(text, language):
    assert p.qwinsta_language(text.splitlines()[0]) == language
    summary = p.listener_summary(p.parse_qwinsta(text))
    assert summary["both_listening"] is True
    assert summary["rdp_sxs"]["session_name"] == "rdp-sxs240705700" and summary["rdp_tcp"]["id"] == 65536


def test_a_user_session_in_spanish():
    rows = p.parse_qwinsta(SPANISH)
    user = next(r for r in rows if r.user)
    assert (user.session_name, user.user, user.id, user.state, user.state_normalized) == (
        "rdp-sxs240705700#3",
        "usuario7",
        4,
        "Activo",
        "Active",
    )
    assert p.listener_summary(rows)["sessions_by_state"] == {"Active": 1}


@pytest.mark.parametrize("header", [" SESSIONNAME       USERNAME                 ID"])  # three columns
def test_headers_that_are_not_qwinsta(header):
    with pytest.raises(p.ParseError):
        p.parse_qwinsta(header + "\n rdp-tcp                                 65536  Listen\n")


def test_an_unknown_state_word_is_kept_as_printed():
    text = " SESSIONNAME       USERNAME                 ID  STATE   TYPE\n rdp-tcp                                 65536  Reset\n"
    (row,) = p.parse_qwinsta(text)
    assert row.state == "Reset" and row.state_normalized == "Reset"


def test_only_the_current_session_is_marked():
    rows = p.parse_qwinsta(FRENCH)
    assert [r.current for r in rows] == [True, False, False]


def test_sessions_count_users_only():
    text = """\
 SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE
>services                                    0  Disc
 console           admin                     1  Active
                   user02                    3  Disc
 rdp-tcp                                 65536  Listen
 rdp-sxs240705700                        65537  Listen
"""
    assert p.listener_summary(p.parse_qwinsta(text))["sessions_by_state"] == {"Active": 1, "Disc": 1}


# --- registry ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "number"),
    [
        ({"type": "REG_SZ", "data": "0x1F"}, 31),
        ({"type": "REG_SZ", "data": " 12 "}, 12),
        ({"type": "REG_SZ", "data": "12a"}, None),
        ({"type": "REG_DWORD", "data": True}, 1),
        ({"type": "REG_BINARY", "data": base64.b64encode(b"\x01").decode()}, 1),
        ({"type": "REG_BINARY", "data": base64.b64encode(b"\x00\x01").decode()}, 256),
        ({"type": "REG_BINARY", "data": base64.b64encode(b"\x01" * 8).decode()}, int.from_bytes(b"\x01" * 8, "little")),
        ({"type": "REG_BINARY", "data": base64.b64encode(b"\x01" * 9).decode()}, None),
        ({"type": "REG_BINARY", "data": ""}, None),
        ({"type": "REG_DWORD", "data": None}, None),
    ],
)
def test_registry_int_edges(entry, number):
    assert p.registry_int(entry) == number


@pytest.mark.parametrize(
    ("entry", "text"),
    [
        ({"type": "REG_MULTI_SZ", "data": ["a", "b"]}, "a\nb"),
        ({"type": "REG_MULTI_SZ", "data": "a"}, "a"),
        ({"type": "REG_MULTI_SZ", "data": None}, ""),
        ({"type": "REG_BINARY", "data": "AQ=="}, None),
        ({"type": "REG_DWORD", "data": 0}, "0"),
        ({"type": "REG_SZ", "data": None}, None),
        ({"type": "REG_SZ", "data": ""}, ""),
        (None, None),
    ],
)
def test_registry_str_edges(entry, text):
    assert p.registry_str(entry) == text


def test_registry_value_types():
    assert p.registry_value({"type": "REG_BINARY", "data": "AQI="}) == b"\x01\x02"
    assert p.registry_value({"type": "REG_MULTI_SZ", "data": None}) == []
    assert p.registry_value({"type": "REG_MULTI_SZ", "data": "one"}) == ["one"]
    assert p.registry_value({"type": "REG_MULTI_SZ", "data": ("a", "b")}) == [("a", "b")]
    assert p.registry_value({"type": "REG_EXPAND_SZ", "data": "%SystemRoot%"}) == "%SystemRoot%"


def test_values_by_name():
    read = {"exists": True, "values": [{"name": "IsRegistered", "type": "REG_DWORD", "data": 1}]}
    assert p.values_by_name(read) == {"isregistered": read["values"][0]}
    assert p.values_by_name({"exists": False, "values": read["values"]}) == {}
    assert p.values_by_name(None) == {} and p.values_by_name({}) == {}
    assert p.values_by_name({"exists": True}) == {}


# --- versions ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "version"),
    [
        (r"C:\Program Files\Microsoft RDInfra\SxSStack-1.0.2407.05700.msi", "1.0.2407.05700"),
        ("C:/Program Files/Microsoft RDInfra/SxSStack-1.0.2407.05700.MSI", "1.0.2407.05700"),
        (r"C:\Program-Files\RDInfra\SxSStack-1.0.2407.05700.msi", "1.0.2407.05700"),  # a dash in a folder name
        ("SxSStack-1.0-beta.msi", "1.0-beta"),
        ("SxSStack.msi", None),
        ("SxSStack-.msi", None),
        ("", None),
        (None, None),
    ],
)
def test_sxs_version_from_msi(path, version):
    assert p.sxs_version_from_msi(path) == version


def test_version_key_orders_versions_numerically():
    assert p.version_key("1.0.10004.1300") > p.version_key("1.0.9742.1500")
    assert p.version_key("rdp-sxs240705700") == (240705700,)
    assert p.version_key(None) == () and p.version_key("") == ()


# --- the agent's health report --------------------------------------------------------------
def report(**checks: dict) -> str:
    return json.dumps(checks)


def test_health_report_results_other_than_1_and_2_are_neither_passed_nor_failed():
    text = report(
        Zeta={"HealthCheckResult": 2, "AdditionalFailureDetails": {"Message": "m", "ErrorCode": -1}},
        Alpha={"HealthCheckResult": 1, "AdditionalFailureDetails": {"LastHealthCheckInUTC": "2024-02-20T08:14:03Z"}},
        Mid={"HealthCheckResult": 0},
    )
    checks = p.parse_health_report(text)
    assert [c["name"] for c in checks] == ["Alpha", "Mid", "Zeta"]
    assert [(c["passed"], c["failed"]) for c in checks] == [(True, False), (False, False), (False, True)]
    assert checks[0]["last_checked"] == "2024-02-20T08:14:03Z" and checks[1]["last_checked"] is None
    assert checks[2]["message"] == "m" and checks[2]["error_code"] == -1 and checks[1]["message"] == ""


@pytest.mark.parametrize("text", ["[]", '"text"', '{"SxSStackListenerCheck": 1}', "{"])
def test_health_reports_that_are_not_the_agents_shape(text):
    with pytest.raises(p.ParseError):
        p.parse_health_report(text)


def test_an_empty_health_report_has_no_checks():
    assert p.parse_health_report(None) == [] and p.parse_health_report("") == []
    assert p.parse_health_report("{}") == []
