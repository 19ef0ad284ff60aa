"""The lab's Windows Installer logs in the words and layout of real ones (tests/fixtures/realworld/installers/
msi_log_lines.yml, sources in SOURCES.md): every service line stamped as Windows stamps it, and an installation or
removal ending with the lines Windows ends it with, the lab product's name, version and manufacturer in place of
the published product's. Only the captures are read here: the lab keeps its own knowledge."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from labworld import world

from avdlab.model import HostSpec
from avdlab.windows import known as k
from avdlab.windows import operations as ops

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "realworld"
CAPTURES = {entry["key"]: entry for entry in yaml.safe_load((CORPUS / "installers" / "msi_log_lines.yml").read_text())}
# A Windows Installer line as every capture has it: the engine (server or client), process and thread ids in hex,
# then the time with milliseconds.
SERVICE_LINE = re.compile(r"^MSI \([sc]\) \([0-9A-F]{2}[:!][0-9A-F]{2}\) \[\d\d:\d\d:\d\d:\d{3}\]: (?P<text>.*)$")


def texts(entry: dict) -> list[str]:
    """A capture's lines without their stamp (the part the installation itself decides)."""
    return [m.group("text") if (m := SERVICE_LINE.match(line)) else line for line in entry["lines"]]


def worded_for(entry: dict, name: str, version: str, manufacturer: str, status: str) -> list[str]:
    """A capture's words with another product's values in place of the published product's."""
    values = entry["values"]
    out = []
    for line in texts(entry):
        worded = line.replace(f"Product Version: {values['version']}.", f"Product Version: {version}.")
        worded = worded.replace(f"Manufacturer: {values['manufacturer']}.", f"Manufacturer: {manufacturer}.")
        worded = worded.replace(f"status: {values['status']}.", f"status: {status}.")
        out.append(worded.replace(values["name"], name))
    return out


def test_every_capture_line_has_the_service_stamp():
    for entry in CAPTURES.values():
        stamped = [line for line in entry["lines"] if not line.startswith(" ")]
        assert stamped and all(SERVICE_LINE.match(line) for line in stamped), entry["key"]


def logged(policy: str = "voicewarmupx", faults: list[str] | None = None):
    model = world(
        HostSpec("sh-01", faults=["agent_not_installed"] if faults is None else faults, msi_logging_policy=policy)
    )
    return model, model.host("sh-01")


def logs(state) -> list[list[str]]:
    return [
        entry.text.split("\r\n")[:-1]
        for path, entry in sorted(state.files.items())
        if path.startswith(k.WINDOWS_TEMP.lower() + "\\msi") and path.endswith(".log") and entry.text
    ]


def agent_product(state) -> dict:
    entry = state.files[k.agent_msi_path(k.AGENT_VERSION).lower()]
    assert entry.product is not None
    return entry.product


def test_an_installation_ends_as_a_real_one_does():
    model, state = logged()
    assert ops.msiexec_install(state, model.avd, k.agent_msi_path(k.AGENT_VERSION), {}) == 0
    (log,) = logs(state)
    product = agent_product(state)
    service = [line for line in log if line.startswith("MSI ")]
    assert service and all(SERVICE_LINE.match(line) for line in service), service
    ending = [SERVICE_LINE.match(line).group("text") for line in service[-2:]]  # type: ignore[union-attr]
    for key in ("intune-connector-install", "rms-client-install"):
        expected = worded_for(
            CAPTURES[key], product["display_name"], product["display_version"], "Microsoft Corporation", "0"
        )
        assert ending == expected, (key, ending)
    # the engine's first lines, as a real log starts (the lab's Debug policy is 0 here)
    start = [SERVICE_LINE.match(line).group("text") for line in service[:3]]  # type: ignore[union-attr]
    assert start == texts(CAPTURES["entra-logon-engine-start"])[:3]


def test_a_removal_ends_as_a_real_one_does():
    _model, state = logged(faults=[])
    program = next(p for p in state.programs if p.display_name == k.SXS_PRODUCT)
    assert ops.msiexec_uninstall(state, program.product_code) == 0
    (log,) = logs(state)
    ending = [SERVICE_LINE.match(line).group("text") for line in log if line.startswith("MSI ")][-2:]  # type: ignore[union-attr]
    expected = worded_for(
        CAPTURES["nodejs-removal"], program.display_name, program.display_version, program.publisher, "0"
    )
    assert ending == expected


def test_a_fatal_installation_error_ends_as_a_real_one_does():
    model, state = logged(faults=["agent_not_installed", "disk_full"])
    assert ops.msiexec_install(state, model.avd, k.agent_msi_path(k.AGENT_VERSION), {}) == k.MSI_FATAL
    (log,) = logs(state)
    product = agent_product(state)
    ending = [SERVICE_LINE.match(line).group("text") for line in log if line.startswith("MSI ")][-3:]  # type: ignore[union-attr]
    expected = worded_for(
        CAPTURES["nodejs-install-failed"],
        product["display_name"],
        product["display_version"],
        "Microsoft Corporation",
        "1603",
    )
    assert ending == expected


@pytest.mark.parametrize("code", [k.MSI_ANOTHER_INSTALL, k.MSI_UNKNOWN_PRODUCT, k.MSI_POLICY_BLOCKED])
def test_no_ending_is_made_up_where_no_real_log_shows_one(code):
    assert ops.msi_outcome_lines({"display_name": "X", "display_version": "1.0"}, code) == []
