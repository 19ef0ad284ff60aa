"""playbooks/remediate.yml's finding selection (avd_only, avd_skip): unknown ids are refused before anything changes,
and only the selected findings are fixed. On a lab of its own, beside test_remediate.py's pool."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.remediate_pool import host_states, remediate, report

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-remediate-selection, max_session_limit: 4}
hosts:
  - {name: rm-01, faults: [invalid_registration_token]}
  - {name: rm-02}
  - {name: rm-03}
"""


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("remediate-selection") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("remediate-selection", "--scenario", str(scenario), "--first-address", "127.0.191.1")


def test_bad_finding_ids_are_refused_before_anything_changes(lab, tmp_path: Path):
    before = host_states(lab)  # rm-01's fault would be fixed by a run that went ahead
    result = remediate(lab, tmp_path, "-e", "avd_only=NOT_A_FINDING")
    assert result.returncode != 0
    assert "avd_only: unknown finding id(s) NOT_A_FINDING; the finding ids are" in result.stdout
    assert host_states(lab) == before


def test_only_and_skip_limit_what_is_fixed(lab, tmp_path: Path):
    lab.inject("rm-02", "bootloader_stopped")
    lab.inject("rm-03", "stack_listener_broken")
    skipped = remediate(lab, tmp_path / "a", "-e", "avd_skip=STACK_LISTENER_NOT_LISTENING", "-e", "target=rm-02:rm-03")
    hosts = report(tmp_path / "a")["hosts"]
    assert skipped.returncode == 0, skipped.stdout[-3000:]
    assert hosts["rm-02"]["outcome"] == "fixed" and hosts["rm-03"]["excluded"] == ["STACK_LISTENER_NOT_LISTENING"]
    only = remediate(lab, tmp_path / "b", "-e", "avd_only=STACK_LISTENER_NOT_LISTENING", "-e", "target=rm-03")
    assert only.returncode == 0, only.stdout[-3000:]
    assert report(tmp_path / "b")["hosts"]["rm-03"]["outcome"] == "fixed"
