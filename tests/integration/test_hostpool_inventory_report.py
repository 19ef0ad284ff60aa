"""diagnosis.html for hosts read through the host_pool inventory alone (issue 21): the host pool's data is there,
so no host says "no host pool data: use the host_pool inventory".

The service lists a host whose agent never ran (AGENT_NOT_INSTALLED: no boot loader) without a last heartbeat;
that is the service's data, not the lack of it.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-hr, max_session_limit: 4}
hosts:
  - {name: hr-01}
  - {name: hr-02, faults: [agent_not_installed]}
  - {name: hr-03, faults: [bootloader_stopped]}
"""


@pytest.fixture(scope="module")
def lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("hostpool-report") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("hostpool-report", "--scenario", str(scenario), "--first-address", "127.0.188.1")


def test_hosts_read_through_the_inventory_plugin_have_their_host_pool_data(lab, tmp_path):
    # as a user runs it: the inventory source, the connection group_vars beside it, credentials from ~/.azure
    result = lab.playbook(
        REPO / "playbooks" / "diagnose.yml", "-e", f"avd_report_dir={tmp_path}", inventories=("hostpool.avd.yml",)
    )
    assert result.returncode == 0, result.stdout[-4000:]
    report = json.loads((tmp_path / "diagnosis.json").read_text())
    assert sorted(report["hosts"]) == ["hr-01", "hr-02", "hr-03"]
    assert {name: entry["state"] for name, entry in report["hosts"].items()} == {
        "hr-01": "healthy",
        "hr-02": "unhealthy",
        "hr-03": "unhealthy",
    }
    for name, entry in report["hosts"].items():
        assert entry["host_pool"]["host_pool"] == "hp-hr" and entry["host_pool"]["status"], name
        assert [line for line in entry["unchecked"] if "no host pool data" in line] == [], (name, entry["unchecked"])
    html = (tmp_path / "diagnosis.html").read_text()
    assert "no host pool data" not in html and "use the host_pool inventory" not in html
