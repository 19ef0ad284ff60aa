"""playbooks/remediate.yml --check --diff on the remediation pool (tests/remediate_pool.py): nothing changes on the
hosts or in the host pool, the report says what would be done, the diff shows it, and the planted key is in no
output. On a lab of its own, so it runs beside test_remediate.py's fixing runs."""

from __future__ import annotations

import pytest

from tests.remediate_pool import host_states, pool_view, remediate, report, start_pool, token_absent

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def check_run(lab_factory, tmp_path_factory):
    work = tmp_path_factory.mktemp("remediate-check-work")
    lab, token = start_pool(lab_factory, work, "remediate-check", "127.0.190.1")
    before = host_states(lab), pool_view(lab)
    out = tmp_path_factory.mktemp("check-report")
    result = remediate(lab, out, "--check", "--diff")
    return before, result, (host_states(lab), pool_view(lab)), out, token


def test_check_mode_changes_nothing_on_hosts_or_pool(check_run):
    before, result, after, out, _unused = check_run
    assert result.returncode == 0, result.stdout[-5000:]
    assert before == after
    assert report(out)["check_mode"] is True
    hosts = report(out)["hosts"]
    outcomes = {name: hosts[name]["outcome"] for name in ("rm-01", "rm-03", "rm-07")}
    assert outcomes == {"rm-01": "planned", "rm-03": "planned", "rm-07": "unchanged"}, hosts
    assert "fReverseConnectMode: 1" in result.stdout  # the diff says what it would do


def test_the_planted_token_is_in_no_check_mode_output_or_report(check_run):
    _unused1, result, _unused2, out, token = check_run
    token_absent(token, [result.stdout, result.stderr, *(path.read_text() for path in out.iterdir())])
