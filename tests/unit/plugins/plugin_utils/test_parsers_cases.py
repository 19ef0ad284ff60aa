"""Parser behaviour at the edges a wrong diagnosis would come from: columns, markers, registry types, versions."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _parsers as p

CORPUS = Path(__file__).resolve().parents[3] / "fixtures" / "realworld"

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
        ("SxSStack-1.0.2407.05700", "1.0.2407.05700"),  # the value name CurrentVersion points to (MSRD-Collect)
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


# --- qwinsta by structure: the edges mutation testing found loose ----------------------------------
JAPANESE_HEADER = (CORPUS / "qwinsta" / "ja-JP_query_session.txt").read_text(encoding="utf-8").splitlines()[0]


def test_double_width_header_puts_a_nameless_users_row_under_username():
    """The Japanese capture's header (12 + 6 columns before ユーザー名) with a disconnected user's row.

    A nameless row starts at the USERNAME column: counted two columns per character, the header says
    column 19, where the row's user name starts; any other width would take the user for a session name.
    """
    assert p.display_width(JAPANESE_HEADER.split()[0]) == 12
    text = "\n".join(
        [
            JAPANESE_HEADER,
            ">console           user1                     2  Active",
            "                   user02                    3  Disc",
        ]
    )
    rows = p.parse_qwinsta(text)
    assert [(r.session_name, r.user, r.id) for r in rows] == [("console", "user1", 2), ("", "user02", 3)]
    assert p.listener_summary(rows)["sessions_by_state"] == {"Active": 1, "Disc": 1}


@pytest.mark.parametrize(("text", "width"), [("\uff29\uff24", 4), ("ｾｯｼｮﾝ", 5), ("状態", 4), ("ÉTAT", 4), ("", 0)])
def test_display_width_fullwidth_and_halfwidth(text, width):
    """Fullwidth forms take two console columns like ideographs; halfwidth katakana and accented letters one."""
    assert p.display_width(text) == width


@pytest.mark.parametrize(
    ("row", "names"),
    [
        # a user name of two words (a local account may have a space)
        (" rdp-tcp#3         John Smith                5  Active", ("rdp-tcp#3", "John Smith")),
        ("                   John Smith                5  Disc", ("", "John Smith")),
        # nothing before the id (no name, no user)
        ("                                             5  Disc", ("", "")),
        # a user name one column early (published copies) is still the user; two columns early it is a name
        ("                  alice                      5  Disc", ("", "alice")),
        ("                 bo                          5  Disc", ("bo", "")),
        # a session name that runs into the user name is cut at the USERNAME column; a short one is not cut
        (" rdp-sxs240705700#0user01                    2  Active", ("rdp-sxs240705700#0", "user01")),
        (" rdp-sxs240705700#1                          2  Active", ("rdp-sxs240705700#1", "")),
    ],
)
def test_names_before_the_session_id(row, names):
    parsed = p.parse_qwinsta_row(row, 19)
    assert (parsed.session_name, parsed.user, parsed.id) == (*names, int(row.split()[-2]))


def test_a_user_name_that_is_a_number_is_not_the_session_id():
    """Employee numbers as user names: the id is the number followed by the state word."""
    row = p.parse_qwinsta_row(" rdp-sxs240705700#2 100234                    7  Active", 19)
    assert (row.session_name, row.user, row.id, row.state) == ("rdp-sxs240705700#2", "100234", 7, "Active")


@pytest.mark.parametrize("row", [" rdp-tcp                                 65536", " console           admin"])
def test_a_row_without_id_and_state_is_refused(row):
    with pytest.raises(p.ParseError, match="without a session id and state"):
        p.parse_qwinsta_row(row, 19)


def test_errors_quote_at_most_80_characters_of_the_line():
    long_row = " " + "x" * 200
    with pytest.raises(p.ParseError) as row_error:
        p.parse_qwinsta_row(long_row, 19)
    assert repr("x" * 80) in str(row_error.value)
    with pytest.raises(p.ParseError) as header_error:
        p.qwinsta_header(" 1" + "y" * 200 + " A B C")
    assert repr("1" + "y" * 79) in str(header_error.value)


def test_a_state_word_the_table_does_not_know_is_kept_as_printed():
    session, tcp, sxs = p.parse_qwinsta(
        " SESSIONNAME       USERNAME                 ID  STATE   TYPE\n"
        " rdp-tcp#1         utente                    2  Attivo\n"
        " rdp-tcp                                 65536  Ascolto\n"
        " rdp-sxs240705700                        65537  Giù\n"
    )
    assert (session.state, session.state_normalized) == ("Attivo", "Attivo")
    assert (sxs.state, sxs.state_normalized) == ("Giù", "Giù")
    # a listed rdp-tcp listens: its word, whatever the language, is the host's word for Listen
    assert (tcp.state, tcp.state_normalized) == ("Ascolto", "Listen")
    assert p.normalize_state("Abhör.") == "Listen" and p.normalize_state("Listen") == "Listen"


def test_an_old_and_a_new_stack_the_listening_one_counts():
    """After a stack update both rdp-sxs WinStations can be listed: the one that listens is the stack."""
    text = """\
 SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE
>services                                    0  Disc
 rdp-tcp                                 65536  Listen
 rdp-sxs240404400                        65537  Down
 rdp-sxs240705700                        65538  Listen
"""
    summary = p.listener_summary(p.parse_qwinsta(text))
    assert summary["rdp_sxs"]["session_name"] == "rdp-sxs240705700" and summary["both_listening"] is True
    down = p.listener_summary(p.parse_qwinsta(text.replace("65538  Listen", "65538  Down")))
    assert down["rdp_sxs"]["session_name"] == "rdp-sxs240404400" and down["both_listening"] is False


def test_a_row_is_a_listener_or_a_users_session_never_both():
    text = """\
 SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE
>services                                    0  Disc
 rdp-sxs240705700#4 user04                   4  Active
 rdp-tcp                                 65536  Listen
 rdp-sxs240705700                        65537  Listen
"""
    rows = p.parse_qwinsta(text)
    assert [p.is_listener(r) for r in rows] == [False, False, True, True]
    assert p.listener_summary(rows)["sessions_by_state"] == {"Active": 1}


@pytest.mark.parametrize(
    "header",
    [
        " SESSIONNAME       USERNAME                 STATE",  # three columns, the known words
        " SESSIONNAME       USERNAME                 ID",  # three columns
        " SESSION NAME      USER NAME                NR  STATE",  # no ID heading, the third word is not short
    ],
)
def test_headers_without_the_columns_qwinsta_prints(header):
    with pytest.raises(p.ParseError, match="not a qwinsta header"):
        p.qwinsta_header(header)


def test_the_four_columns_a_header_needs_known_or_not():
    assert p.qwinsta_header(" SESSIONNAME       USERNAME                 ID  STATE") == p.QwinstaHeader("en", 19)
    assert p.qwinsta_header(" QQQQQQQQQQQ       QQQQQQQQ                 ИД  QQQQQ") == p.QwinstaHeader(None, 19)


def test_an_unknown_language_with_an_unknown_id_heading_is_read_by_the_short_third_word():
    """The ID heading of an unlisted language may be neither ID nor ИД: it is the short third column."""
    for layout in (
        " QQQQQQQQQQQ       QQQQQQQQ                 NR  QQQQQ   QQQQ        QQQQQQ",
        " QQQQQQQQQQQ               QQQQQQQQ                 NR  QQQQQ   QQQQ        QQQQQQ",
    ):
        known = p.qwinsta_header(layout.replace("QQQQQQQQQQQ", "SESSIONNAME").replace("QQQQQQQQ ", "USERNAME ", 1))
        assert p.qwinsta_header(layout) == p.QwinstaHeader(None, known.user_column)


# --- editions and products --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("edition", "product", "supported", "reason"),
    [
        (None, "Windows 10 Enterprise", False, "no EditionID"),
        ("  ", None, False, "no EditionID"),
        ("EnterpriseS", None, False, "an LTSC/LTSB edition (long-term servicing channel), which AVD does not support"),
        (
            "Enterprise",
            "Windows 10 Enterprise LTSC 2019",
            False,
            "an LTSC/LTSB edition (long-term servicing channel), which AVD does not support",
        ),
        (
            "Enterprise",
            "Windows 10 Enterprise 2016 ltsb",
            False,
            "an LTSC/LTSB edition (long-term servicing channel), which AVD does not support",
        ),
        ("Enterprise", "Windows 10 Enterprise", True, ""),
    ],
)
def test_edition_support_and_why_not(edition, product, supported, reason):
    assert p.edition_support(edition, product) == (supported, reason)
    assert p.edition_supports_sxs(edition, product) is supported


@pytest.mark.parametrize(
    ("build", "product"),
    [
        ("22000", "Windows 11 Enterprise multi-session"),  # the first Windows 11 build
        ("21999", "Windows 10 Enterprise multi-session"),
        (" 22631 ", "Windows 11 Enterprise multi-session"),
        ("x", "Windows 10 Enterprise multi-session"),
        (None, "Windows 10 Enterprise multi-session"),
    ],
)
def test_windows_11_from_the_build(build, product):
    assert p.windows_product("Windows 10 Enterprise multi-session", build) == product


@pytest.mark.parametrize(
    ("display_name", "product", "expected"),
    [
        (
            "Remote Desktop Services Infrastructure Geneva Agent 46.24.3",
            "Remote Desktop Services Infrastructure Geneva Agent",
            True,
        ),
        ("Remote Desktop Agent Boot Loader v1.0.9", "Remote Desktop Agent Boot Loader", True),
        ("Remote Desktop Agent Boot Loader 2", "Remote Desktop Agent Boot Loader", True),
        ("Remote Desktop Agent Boot Loader x46", "Remote Desktop Agent Boot Loader", False),
        ("Remote Desktop Agent Boot Loader Helper", "Remote Desktop Agent Boot Loader", False),
        (None, "Remote Desktop Agent Boot Loader", False),
        ("", "", False),
    ],
)
def test_program_is_the_product_or_the_product_and_a_version(display_name, product, expected):
    assert p.program_is(display_name, product) is expected


def test_a_long_answer_that_is_not_the_brokers_is_quoted_cut_to_120_characters():
    body = "<html><body>" + "Sign in to continue to the proxy " * 10 + "</body></html>"
    healthy, health = p.broker_health(200, body)
    assert healthy is False and health == body[:120]
    assert p.broker_health(200, "   ") == (False, None)
