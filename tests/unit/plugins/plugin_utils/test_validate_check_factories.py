"""The check factories of _validate, called directly: each bound one value on each side, each message whole.

RUN_VARIABLES holds checks these factories made when the module was imported; tests that go through that
table alone cannot tell a wrong factory from a right one once the table is built (mutation testing showed
it: a mutant of a factory is never the code the table runs). These tests build the checks themselves, and
pin the bounds and messages of the plain checks (serial, url_list, existing_path, validate_facts) that the
playbook tests only reach with one value on one side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._facts import FACTS_SCHEMA_VERSION
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._validate import (
    InputError,
    boolean,
    choice,
    existing_path,
    finding_list,
    installer_manifest,
    number,
    serial,
    text,
    url_list,
    validate_facts,
    whole,
)


@pytest.mark.parametrize(
    "value",
    [True, False, 0, 1, "true", "FALSE", " yes ", "no", "on", "off", "y", "n", "t", "f", "1", "0"],
)
def test_boolean_takes_ansibles_boolean_words_and_0_1(value: Any) -> None:
    assert boolean()(value) == ""


@pytest.mark.parametrize("value", [2, -1, "2", "maybe", "", None, 0.5, [], "truee"])
def test_boolean_refuses_anything_else_in_words(value: Any) -> None:
    assert boolean()(value) == "expected true or false (or yes/no)"


@pytest.mark.parametrize(
    ("low", "high", "value", "accepted"),
    [
        (1, 5, 1, True),
        (1, 5, 0, False),
        (1, 5, 5, True),
        (1, 5, 6, False),
        (1, 5, "3", True),
        (1, 5, " 2 ", True),
        (1, 5, 3.0, True),
        (1, 5, 3.5, False),
        (1, 5, True, False),
        (1, 5, "x", False),
        (0, None, 0, True),
        (0, None, -1, False),
        (0, None, 10**9, True),
        (-3, -1, "-2", True),
        (-3, -1, "-4", False),
        (-3, -1, 0, False),
    ],
)
def test_whole_bounds_are_inclusive(low: int, high: int | None, value: Any, accepted: bool) -> None:
    assert (whole(low, high)(value) == "") is accepted


def test_whole_says_its_bounds_and_what_the_number_is() -> None:
    assert whole(1, 5, " (hours)")(0) == "expected a whole number from 1 to 5 (hours)"
    assert whole(0, what=" (MB)")(-1) == "expected a whole number 0 or more (MB)"
    assert whole(2)("abc") == "expected a whole number 2 or more"


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (0, True),
        (-0.001, False),
        (100, True),
        (100.001, False),
        ("50.5", True),
        (" 7 ", True),
        ("nan", False),
        ("inf", False),
        (True, False),
        ("abc", False),
        (None, False),
    ],
)
def test_number_bounds_are_inclusive(value: Any, accepted: bool) -> None:
    assert (number(0, 100)(value) == "") is accepted


def test_number_says_its_bounds_without_trailing_zeros() -> None:
    assert number(0, 100)(101) == "expected a number from 0 to 100"
    assert number(0.5, 2.25)(3) == "expected a number from 0.5 to 2.25"


def test_choice_takes_exactly_its_options() -> None:
    check = choice("absent", "present", "any")
    assert check("present") == ""
    assert check("any") == ""
    assert check("Present") == "expected one of absent, present, any"
    assert check(" any") == "expected one of absent, present, any"
    assert check(1) == "expected one of absent, present, any"


@pytest.mark.parametrize(("value", "accepted"), [("x", True), (" a b ", True), ("", False), ("   ", False), (5, False)])
def test_text_needs_a_non_blank_string(value: Any, accepted: bool) -> None:
    assert (text()(value) == "") is accepted


def test_text_says_what_it_expects() -> None:
    assert text()("") == "expected a non-empty string"
    assert text("the name of the host pool")(None) == "expected the name of the host pool"


KNOWN = ("DISK_SPACE_LOW", "INVALID_REGISTRATION_TOKEN", "STACK_LISTENER_NOT_LISTENING")


@pytest.mark.parametrize(
    "value",
    [
        "DISK_SPACE_LOW",
        "disk_space_low, invalid_registration_token",
        " DISK_SPACE_LOW ,,",
        "",
        ["STACK_LISTENER_NOT_LISTENING", " disk_space_low "],
        [],
    ],
)
def test_finding_list_takes_known_ids_in_any_case_and_spacing(value: Any) -> None:
    assert finding_list(KNOWN)(value) == ""


def test_finding_list_names_each_unknown_id_once_sorted_and_lists_the_known_ones() -> None:
    message = finding_list(KNOWN)("zeta, DISK_SPACE_LOW, alpha, zeta")
    assert message == (
        "unknown finding id(s) ALPHA, ZETA; the finding ids are "
        "DISK_SPACE_LOW, INVALID_REGISTRATION_TOKEN, STACK_LISTENER_NOT_LISTENING"
    )


@pytest.mark.parametrize("value", [5, None, ["DISK_SPACE_LOW", 3], {"DISK_SPACE_LOW": 1}])
def test_finding_list_refuses_what_is_not_text_or_a_list_of_text(value: Any) -> None:
    assert finding_list(KNOWN)(value) == (
        "expected finding ids separated by commas (e.g. INVALID_REGISTRATION_TOKEN,DISK_SPACE_LOW)"
    )


def test_finding_list_keeps_its_own_copy_of_the_known_ids() -> None:
    known = list(KNOWN)
    check = finding_list(known)
    known.append("NEW_ID")
    assert check("NEW_ID") != ""


@pytest.mark.parametrize(("value", "accepted"), [("0.5%", True), ("1%", True), ("100%", True), ("100.5%", False)])
def test_serial_percentages_are_above_0_and_at_most_100(value: str, accepted: bool) -> None:
    assert (serial(value) == "") is accepted


@pytest.mark.parametrize("value", [[1, "x"], ["50%", "x"], ["50%", 0], [2, "101%"]])
def test_serial_lists_are_checked_item_by_item_to_the_last(value: list[Any]) -> None:
    assert "1 or more" in serial(value)


def test_url_list_takes_http_and_https_in_any_case_and_names_the_bad_item() -> None:
    assert url_list(["http://a.example", "HTTPS://b.example", "Http://c"]) == ""
    assert url_list(["https://a", "ftp://b"]) == "item 1: expected an http:// or https:// URL, got 'ftp://b'"


def test_existing_path_takes_an_existing_path_or_a_mapping(tmp_path: Path) -> None:
    assert existing_path(str(tmp_path)) == ""
    assert existing_path({"host": {}}) == ""
    assert existing_path(str(tmp_path / "gone")) == f"{tmp_path / 'gone'} does not exist"
    assert existing_path("") == "expected the path of a file or folder (a non-empty string)"


def test_validate_facts_names_what_is_wrong_whole() -> None:
    with pytest.raises(InputError) as not_a_mapping:
        validate_facts(["x"], "hostvars.sh-01")
    assert str(not_a_mapping.value) == (
        "hostvars.sh-01: expected the avd_session_host facts of session_host_facts (a mapping), got list ['x']"
    )
    with pytest.raises(InputError) as no_version:
        validate_facts({})
    assert str(no_version.value) == (
        f"facts.schema_version: expected {FACTS_SCHEMA_VERSION} (the avd_session_host facts of "
        "session_host_facts), got none"
    )
    with pytest.raises(InputError) as text_version:
        validate_facts({"schema_version": "2"})
    assert str(text_version.value).endswith("session_host_facts), got '2'")
    with pytest.raises(InputError) as bool_version:
        validate_facts({"schema_version": True})
    assert str(bool_version.value).endswith("session_host_facts), got True")


def test_validate_facts_checks_each_section_by_its_path() -> None:
    with pytest.raises(InputError) as wrong_section:
        validate_facts({"schema_version": FACTS_SCHEMA_VERSION, "services": "running"})
    assert str(wrong_section.value).startswith("facts.services: expected ")
    assert str(wrong_section.value).endswith(", got str 'running'")


def test_installer_manifest_checks_every_local_source_after_a_url_one(tmp_path: Path) -> None:
    entry = (
        "    version: 1.0.0\n    sha256: " + "a" * 64 + "\n    product_code: '{01234567-89AB-CDEF-0123-456789ABCDEF}'\n"
    )
    manifest = tmp_path / "installers.yml"
    manifest.write_text(
        "installers:\n"
        "  agent:\n    file: agent.msi\n" + entry + "    source: https://example.com/agent.msi\n"
        "  boot_loader:\n    file: bootloader.msi\n" + entry + "    source: bootloader.msi\n"
    )
    assert installer_manifest(str(manifest)) == (
        f"installers.boot_loader.source: {tmp_path / 'bootloader.msi'} does not exist on the controller"
    )


def test_validate_facts_says_which_schema_version_it_reads() -> None:
    with pytest.raises(InputError) as other_version:
        validate_facts({"schema_version": FACTS_SCHEMA_VERSION + 1})
    assert str(other_version.value) == (
        f"facts.schema_version: this collection reads facts of schema version {FACTS_SCHEMA_VERSION}, "
        f"got {FACTS_SCHEMA_VERSION + 1}; gather them again with this collection's session_host_facts"
    )
