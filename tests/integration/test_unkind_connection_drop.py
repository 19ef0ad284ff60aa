"""A cleanup cut off mid-command: the connection to the host drops while the runtime has stopped Windows Update's
services for the download cache (the lab's connection_drop). Ansible's winrm plugin then terminates the command
(Signal terminate), so the command's own restart of the services never runs; the services stay stopped. The next
run finds the collection's note on the host, starts them again and says so (issue 19, item 8)."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import REPO, flat

pytestmark = pytest.mark.lab

PLAYBOOK = REPO / "playbooks" / "remediate.yml"
NOTE_KEY = "hkey_local_machine\\software\\avdops\\sessionhost\\stoppedservices"
SCENARIO = """
host_pool: {name: hp-drop, max_session_limit: 4}
hosts:
  - name: dr-01
    faults: [disk_full]
    service_delays: {BITS: 4}
    connection_drop: {operation: service_control, name: BITS}
"""
FAST = (
    "-e",
    "target=dr-01",
    "-e",
    "avd_settle_seconds=1",
    "-e",
    "avd_service_wait_seconds=10",
    "-e",
    "avd_session_wait_retries=1",
    "-e",
    "avd_session_wait_delay=1",
)


def shown(lab, name: str) -> dict:
    return lab.show(name)


def services(state: dict) -> dict[str, str]:
    return {name: state["services"][name]["state"] for name in ("wuauserv", "bits")}


def settled(lab, name: str, seconds: float = 30) -> dict:
    """The host once no service is still pending: a stop the Service Control Manager accepted before the drop
    completes after it (service_delays), whenever the test happens to look."""
    deadline = time.monotonic() + seconds
    state = shown(lab, name)
    while any(s.endswith("Pending") for s in services(state).values()) and time.monotonic() < deadline:
        time.sleep(1)
        state = shown(lab, name)
    return state


def notes(state: dict) -> list[str]:
    values = next((values for path, values in state["registry"].items() if path.lower() == NOTE_KEY), [])
    return sorted(value["name"] for value in values)


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("drop") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("unkind-drop", "--scenario", str(scenario), "--first-address", "127.0.178.1")


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory):
    first_dir, second_dir = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    first = lab.playbook(PLAYBOOK, "-e", f"avd_report_dir={first_dir}", *FAST)
    after_first = settled(lab, "dr-01")
    second = lab.playbook(PLAYBOOK, "-e", f"avd_report_dir={second_dir}", *FAST)
    report = json.loads((second_dir / "remediation.json").read_text())["hosts"]["dr-01"]
    first_report = json.loads((first_dir / "remediation.json").read_text())["hosts"]["dr-01"]
    return (first, first_report), after_first, second, report


def test_the_drop_cut_the_cleanup_off_after_the_stops_leaving_the_services_stopped_and_noted(runs):
    (first, first_report), after_first, _second, _report = runs
    assert first.returncode != 0, first.stdout[-4000:]
    error = first_report["error"]
    assert "the connection to the host dropped while the avdops runtime ran (" in error, error
    assert "Ansible ended the command there" in error and "then run again" in error, error
    assert services(after_first) == {"wuauserv": "Stopped", "bits": "Stopped"}, first.stdout[-4000:]
    assert notes(after_first) == ["BITS", "wuauserv"]
    assert any(p.startswith("c:\\windows\\softwaredistribution\\download\\") for p in after_first["files"])


def test_the_next_run_starts_them_again_says_so_and_fixes_the_host(runs, lab):
    _first, _after, second, report = runs
    assert second.returncode == 0 and report["outcome"] == "fixed", (report, second.stdout[-4000:])
    state = shown(lab, "dr-01")
    assert services(state) == {"wuauserv": "Running", "bits": "Running"}
    assert notes(state) == []
    text = flat(second.stdout)
    for name in ("wuauserv", "BITS"):
        assert f"{name} was left stopped by an earlier cleanup cut off mid-command (stopped by avdops" in text, text
    assert not any(p.startswith("c:\\windows\\softwaredistribution\\download\\") for p in state["files"])
