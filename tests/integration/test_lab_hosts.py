"""The lab's session hosts through real clients: win_reboot, inject/show, the Azure SDK against its ARM."""

from __future__ import annotations

import datetime
import json
import subprocess
import time

import pytest

from tests.conftest import BIN, REPO, ansible_env, avdlab, record_output

pytestmark = pytest.mark.lab

SCENARIO = """
host_pool: {name: hp-int, max_session_limit: 3}
hosts:
  - {name: rb-01}
  - {name: rb-02}
  - {name: rb-03, faults: [invalid_registration_token]}
  - {name: rb-04, sessions: 2}
  - {name: rb-05}
"""


@pytest.fixture(scope="module")
def hosts_lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("scenario") / "lab.yml"
    scenario.write_text(SCENARIO)
    return lab_factory("hosts", "--scenario", str(scenario), "--first-address", "127.0.7.1", "--reboot-seconds", "1")


def show(lab, host: str) -> dict:
    return lab.show(host)


def test_win_reboot_restarts_the_host(hosts_lab):
    before = show(hosts_lab, "rb-01")
    env = ansible_env()
    inventory = str(hosts_lab.inventory / "hosts.yml")
    reboot = subprocess.Popen(
        [
            str(BIN / "ansible"),
            "-i",
            inventory,
            "rb-01",
            "-m",
            "ansible.windows.win_reboot",
            "-a",
            "pre_reboot_delay=0",
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: set[str] = set()
    while reboot.poll() is None:  # while the host is down, the host pool sees it shut down
        # the control route, not an `avdlab show` process: a loaded machine must not miss the 1 s restart
        seen.add(hosts_lab.control("/hosts/rb-01")["pool_view"]["status"])
        time.sleep(0.05)
    output = reboot.communicate()[0]
    record_output("ansible win_reboot", output, returncode=reboot.returncode)
    assert "Shutdown" in seen, seen
    result = subprocess.CompletedProcess(reboot.args, reboot.returncode, output, "")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rebooted: true" in result.stdout
    after = show(hosts_lab, "rb-01")
    assert after["boot_time"] > before["boot_time"]
    services = after["services"]
    assert services["rdagentbootloader"]["state"] == "Running" and services["termservice"]["state"] == "Running"
    assert after["pool_view"]["status"] == "Available"


def test_win_reboot_preempts_an_already_scheduled_shutdown(hosts_lab):
    env = ansible_env()
    inventory = str(hosts_lab.inventory / "hosts.yml")
    first = subprocess.Popen(  # schedules a shutdown 30 s out, then waits for the host to come back
        [
            str(BIN / "ansible"),
            "-i",
            inventory,
            "rb-02",
            "-m",
            "ansible.windows.win_reboot",
            "-a",
            "pre_reboot_delay=30 reboot_timeout=120",
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while show(hosts_lab, "rb-02")["shutdown_at"] is None:
            assert time.monotonic() < deadline, "the first win_reboot never scheduled its shutdown"
            time.sleep(0.3)
        assert show(hosts_lab, "rb-02")["pool_view"]["status"] == "Available"  # scheduled, not yet down
        second = hosts_lab.ansible("rb-02", "-m", "ansible.windows.win_reboot", "-a", "pre_reboot_delay=0")
        assert second.returncode == 0, second.stdout
        assert "A scheduled reboot was pre-empted by Ansible" in second.stdout + second.stderr
        output, _unused = first.communicate(timeout=150)
        record_output("ansible win_reboot", output, returncode=first.returncode)
        assert first.returncode == 0, output
    finally:
        if first.poll() is None:
            first.kill()


def test_win_reboot_over_psrp_restarts_the_host(hosts_lab):
    """win_reboot's commands arrive as PSRP pipelines; the plugin reconnects a new runspace after the restart."""
    before = show(hosts_lab, "rb-05")
    hosts_lab.reset_stats()
    result = hosts_lab.ansible(
        "rb-05", "-m", "ansible.windows.win_reboot", "-a", "pre_reboot_delay=0", "-e", "ansible_connection=psrp"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rebooted: true" in result.stdout
    after = show(hosts_lab, "rb-05")
    assert after["boot_time"] > before["boot_time"]
    stats = hosts_lab.stats()["rb-05"]
    assert stats["pipelines"] == stats["commands"] >= 3  # boot time, shutdown, boot time and test after


def test_inject_and_show(hosts_lab):
    result = avdlab("inject", "--dir", str(hosts_lab.directory), "rb-04", "bootloader_stopped")
    assert "rb-04 now has bootloader_stopped" in result.stdout
    state = show(hosts_lab, "rb-04")
    assert state["services"]["rdagentbootloader"]["state"] == "Stopped"
    assert state["pool_view"]["status"] == "Unavailable"
    unknown = avdlab("inject", "--dir", str(hosts_lab.directory), "rb-04", "no_such_fault", check=False)
    assert unknown.returncode == 1 and "unknown fault" in unknown.stderr
    missing = avdlab("show", "--dir", str(hosts_lab.directory), "nope", check=False)
    assert missing.returncode == 1 and "no lab host named 'nope'" in missing.stderr


def test_faults_lists_the_catalog():
    from avdlab.faults import CATALOG

    listing = json.loads(avdlab("faults", "--json").stdout)
    assert [entry["name"] for entry in listing] == list(CATALOG)
    assert {"registration_baked_in", "pending_reboot"} <= set(CATALOG) and len(listing) >= 21
    assert all({"name", "section", "changes"} <= set(entry) for entry in listing)


def test_the_azure_sdk_runs_unchanged_against_the_lab(hosts_lab, monkeypatch):
    from azure.identity import ClientSecretCredential
    from azure.mgmt.desktopvirtualization import DesktopVirtualizationMgmtClient
    from azure.mgmt.desktopvirtualization.models import HostPoolPatch, RegistrationInfoPatch

    arm = hosts_lab.config["arm"]
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", hosts_lab.config["ca_cert"])
    credential = ClientSecretCredential(
        arm["tenant_id"], arm["client_id"], arm["client_secret"], authority=arm["url"], disable_instance_discovery=True
    )
    client = DesktopVirtualizationMgmtClient(
        credential,
        arm["subscription_id"],
        base_url=arm["url"],
        credential_scopes=["https://management.azure.com/.default"],
    )
    pool = client.host_pools.get(arm["resource_group"], arm["host_pool"])
    assert pool.max_session_limit == 3
    statuses = {
        h.name.split("/")[1].split(".")[0]: h.status
        for h in client.session_hosts.list(arm["resource_group"], arm["host_pool"])
    }
    assert statuses["rb-03"] == "Unavailable" and statuses["rb-01"] == "Available"
    expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=3)
    updated = client.host_pools.update(
        arm["resource_group"],
        arm["host_pool"],
        HostPoolPatch(
            registration_info=RegistrationInfoPatch(expiration_time=expiry, registration_token_operation="Update")
        ),
    )
    assert updated.registration_info.token
    sessions = list(client.user_sessions.list(arm["resource_group"], arm["host_pool"], "rb-04.lab.avd.test"))
    assert len(sessions) == 0 or all(s.session_state for s in sessions)
