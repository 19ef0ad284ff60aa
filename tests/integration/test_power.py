"""avdlab power: a VM that is stopped stops answering WinRM, and the host pool reports it as Azure does
(Shutdown, every health check SessionHostShutdown); started again, it boots and answers."""

from __future__ import annotations

import json
import socket

import pytest

from tests.conftest import REPO, avdlab, run_ansible

pytestmark = pytest.mark.lab


def answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=3):
            return True
    except OSError:
        return False


def pool_view(lab) -> dict:
    listed = run_ansible("ansible-inventory", "-i", str(lab.inventory / "hostpool.avd.yml"), "--list")
    assert listed.returncode == 0, listed.stderr[-2000:]
    plain = json.loads(
        listed.stdout, object_hook=lambda d: d["__ansible_unsafe"] if set(d) == {"__ansible_unsafe"} else d
    )
    return plain["_meta"]["hostvars"]


def test_power_off_and_on(lab_factory, tmp_path):
    lab = lab_factory("power", "--hosts", "3", "--first-address", "127.0.25.1")
    host = lab.hosts[1]
    name, address, port = host["name"], host["address"], host["https_port"]
    assert answers(address, port)

    off = avdlab("power", "--dir", str(lab.directory), name, "off")
    assert "pool status Shutdown" in off.stdout
    assert not answers(address, port)  # the VM is off: nothing listens
    assert lab.control("/status")["hosts"][name]["power"] == "off"
    views = pool_view(lab)
    view = views[name]
    assert view["avd_status"] == "Shutdown"
    # The VM's own instance view, read by the inventory (Microsoft.Compute), not only the agent's goodbye.
    assert view["avd_power_state"] == "PowerState/deallocated" and "avd_power_state_error" not in view
    assert {views[h["name"]]["avd_power_state"] for h in lab.hosts if h["name"] != name} == {"PowerState/running"}
    assert view["avd_health_checks"] and {c["result"] for c in view["avd_health_checks"]} == {"SessionHostShutdown"}
    result = lab.playbook(
        REPO / "playbooks" / "diagnose.yml", "-e", f"avd_report_dir={tmp_path}", inventories=("hostpool.avd.yml",)
    )
    report = json.loads((tmp_path / "diagnosis.json").read_text())
    stopped = report["hosts"][name]
    assert stopped["state"] == "stopped" and stopped["findings"] == [], result.stdout[-3000:]
    # As Azure reports the VM, not as an unreachable host.
    assert stopped["reason"] == "the VM is deallocated (power state PowerState/deallocated)"
    assert all(report["hosts"][h["name"]]["state"] == "healthy" for h in lab.hosts if h["name"] != name)
    assert avdlab("power", "--dir", str(lab.directory), name, "off").returncode == 0  # already off: nothing to do
    refused = avdlab("inject", "--dir", str(lab.directory), name, "bootloader_stopped", check=False)
    assert refused.returncode != 0 and "powered off" in refused.stderr

    on = avdlab("power", "--dir", str(lab.directory), name, "on")
    assert "pool status Available" in on.stdout and answers(address, port)
    view = pool_view(lab)[name]
    assert view["avd_status"] == "Available" and view["avd_power_state"] == "PowerState/running"
    again = lab.playbook(  # the host started again alone (the others were diagnosed healthy above)
        REPO / "playbooks" / "diagnose.yml",
        "-e",
        f"avd_report_dir={tmp_path}",
        "-e",
        f"target={name}",
        inventories=("hostpool.avd.yml",),
    )
    assert again.returncode == 0
    assert json.loads((tmp_path / "diagnosis.json").read_text())["hosts"][name]["state"] == "healthy"
    bad = avdlab("power", "--dir", str(lab.directory), name, "sideways", check=False)
    assert bad.returncode != 0
