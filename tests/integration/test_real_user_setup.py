"""A new user's setup, from an empty directory: the built collection installed, a host_pool inventory file, a
group_vars file with the WinRM settings, Azure credentials exported, the playbooks run by their FQCN.

Nothing of the lab's own inventory is used: only its hosts' addresses (host_vars, the stand-in for DNS) and
its Azure endpoint and service principal (what a user exports for their subscription)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, ansible_env

pytestmark = pytest.mark.lab

BIN = Path(sys.executable).parent
POOL_HOSTS = ["us-01", "us-02", "us-03"]
EU_SUBSCRIPTION = "22222222-2222-2222-2222-222222222222"


@pytest.fixture(scope="module")
def user_lab(lab_factory, tmp_path_factory):
    scenario = tmp_path_factory.mktemp("scenario") / "user.yml"
    scenario.write_text(
        yaml.safe_dump(
            {
                # two pools, the second in another resource group and subscription
                "host_pools": [
                    {"name": "hp-user", "max_session_limit": 4},
                    {"name": "hp-eu", "resource_group": "rg-avd-eu", "subscription": EU_SUBSCRIPTION},
                ],
                "hosts": [
                    {"name": "us-01"},
                    {"name": "us-02", "faults": ["bootloader_stopped"]},
                    {"name": "us-03", "pool": "hp-eu", "faults": ["invalid_registration_token"]},
                    {"name": "img-01", "kind": "image"},
                ],
            }
        )
    )
    return lab_factory("user", "--scenario", str(scenario), "--first-address", "127.0.87.1")


@pytest.fixture(scope="module")
def user_dir(user_lab, tmp_path_factory):
    """The user's directory: the collection installed from the built tarball, the inventory they write."""
    base = tmp_path_factory.mktemp("user")
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    env = {k: v for k, v in ansible_env().items() if k != "ANSIBLE_CONFIG"}
    for command in (
        ["collection", "build", "--output-path", str(base / "build"), str(REPO)],
        [
            "collection",
            "install",
            "--no-deps",  # ansible.windows, the one dependency, comes with the ansible package here (no network)
            "-p",
            str(base / "collections"),
            str(base / "build" / f"avdops-sessionhost-{galaxy['version']}.tar.gz"),
        ],
    ):
        done = subprocess.run(
            [str(BIN / "ansible-galaxy"), *command],
            capture_output=True,
            text=True,
            cwd=base,
            env=env,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    config = user_lab.config
    inventory = base / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "host_vars").mkdir()
    # What README tells a user to write: the inventory source ...
    (inventory / "hostpool.avd.yml").write_text(
        "plugin: avdops.sessionhost.host_pool\n"
        "host_pools:\n"
        f"  - name: hp-user\n    resource_group: {config['arm']['resource_group']}\n"
        f"  - name: hp-eu\n    resource_group: rg-avd-eu\n    subscription_id: {EU_SUBSCRIPTION}\n"
    )
    # ... the image-build VM, in no host pool, in a static inventory ...
    (inventory / "images.yml").write_text("all:\n  hosts:\n    img-01:\n")
    # ... and the WinRM connection for every host
    (inventory / "group_vars" / "all.yml").write_text(
        yaml.safe_dump(
            {
                "ansible_connection": "winrm",
                "ansible_port": 5986,
                "ansible_winrm_scheme": "https",
                "ansible_winrm_transport": "ntlm",
                "ansible_winrm_server_cert_validation": "validate",
                "ansible_winrm_ca_trust_path": config["ca_cert"],
                "ansible_user": config["username"],
                "ansible_password": config["password"],
                # the installers for the fixes that install software, given as README says
                "avd_installer_manifest": str(Path(config["directory"]) / "installers" / "manifest.yml"),
            }
        )
    )
    for host in config["hosts"]:  # the lab's stand-in for DNS
        (inventory / "host_vars" / f"{host['name']}.yml").write_text(f"ansible_host: {host['address']}\n")
    (base / "work").mkdir()
    (base / "azure").mkdir()  # an empty ~/.azure: nothing but the exported variables
    return base


def user_env(lab, base: Path) -> dict[str, str]:
    arm = lab.config["arm"]
    env = {k: v for k, v in ansible_env().items() if k != "ANSIBLE_CONFIG" and not k.startswith("AZURE_")}
    return {
        **env,
        "ANSIBLE_COLLECTIONS_PATH": str(base / "collections"),
        "ANSIBLE_SHOW_CUSTOM_STATS": "true",  # what set_stats publishes (AWX keeps it as the job's artifacts)
        "AZURE_CONFIG_DIR": str(base / "azure"),
        # the service principal's, as for a real subscription
        "AZURE_SUBSCRIPTION_ID": arm["subscription_id"],
        "AZURE_CLIENT_ID": arm["client_id"],
        "AZURE_SECRET": arm["client_secret"],
        "AZURE_TENANT": arm["tenant_id"],
        # where the lab's Azure is, and the CA it trusts (for a real pool: nothing, the public cloud)
        "AZURE_ARM_ENDPOINT": arm["url"],
        "AZURE_AUTHORITY_HOST": arm["url"],
        "AZURE_CA_BUNDLE": lab.config["ca_cert"],
    }


def run(lab, base: Path, playbook: str, inventory: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ansible-playbook"), playbook, "-i", str(base / "inventory" / inventory), *extra],
        capture_output=True,
        text=True,
        cwd=base / "work",
        env=user_env(lab, base),
        timeout=900,
        check=False,
    )


def test_a_new_user_diagnoses_remediates_and_validates_from_the_inventory_source_alone(user_lab, user_dir):
    fast = ["-e", "avd_settle_seconds=2", "-e", "registration_available_delay=2"]
    diagnosis = run(user_lab, user_dir, "avdops.sessionhost.diagnose", "hostpool.avd.yml")
    output = diagnosis.stdout + diagnosis.stderr
    assert diagnosis.returncode == 0, output[-4000:]
    report = json.loads((user_dir / "work" / "reports" / "diagnosis.json").read_text())
    assert sorted(report["hosts"]) == POOL_HOSTS
    assert report["hosts"]["us-01"]["state"] == "healthy"
    assert [f["id"] for f in report["hosts"]["us-02"]["findings"]] == ["BOOTLOADER_NOT_RUNNING"]
    assert "INVALID_REGISTRATION_TOKEN" in [f["id"] for f in report["hosts"]["us-03"]["findings"]]
    assert "3 hosts" in diagnosis.stdout
    stats = diagnosis.stdout[diagnosis.stdout.index("CUSTOM STATS") :]
    assert "avd_diagnosis" in stats and str(user_dir / "work" / "reports" / "diagnosis.json") in stats

    # the write roles find the resource group and subscription in each host's inventory record (us-03's pool is
    # in rg-avd-eu of another subscription: its new registration key comes from there), and the credentials
    # where the inventory plugin found them: no avd_resource_group, no avd_azure
    remedy = run(user_lab, user_dir, "avdops.sessionhost.remediate", "hostpool.avd.yml", *fast)
    output = remedy.stdout + remedy.stderr
    assert remedy.returncode == 0, output[-6000:]
    assert "is undefined" not in output and "Unknown error" not in output
    assert "avd_remediation" in remedy.stdout[remedy.stdout.index("CUSTOM STATS") :]
    after = run(user_lab, user_dir, "avdops.sessionhost.diagnose", "hostpool.avd.yml", "-e", "avd_report_dir=after")
    assert after.returncode == 0, (after.stdout + after.stderr)[-4000:]
    healed = json.loads((user_dir / "work" / "after" / "diagnosis.json").read_text())
    assert {name: entry["state"] for name, entry in healed["hosts"].items()} == dict.fromkeys(POOL_HOSTS, "healthy")
    secret = user_lab.config["arm"]["client_secret"]
    assert secret not in output and secret not in diagnosis.stdout

    image = run(user_lab, user_dir, "avdops.sessionhost.validate_image", "images.yml")
    assert image.returncode == 0, (image.stdout + image.stderr)[-4000:]
    validation = json.loads((user_dir / "work" / "reports" / "image-validation.json").read_text())
    assert list(validation["hosts"]) == ["img-01"]


def test_a_new_user_reinstalls_in_the_hosts_own_pool_and_merges_slices(user_lab, user_dir):
    """reinstall.yml from the inventory source alone, on a host whose pool is in another resource group and
    subscription (its registration key comes from there), then diagnose in two slices and merge_reports."""
    fast = ["-e", "avd_session_wait_retries=1", "-e", "avd_session_wait_delay=1", "-e", "avd_available_delay=1"]
    again = run(
        user_lab,
        user_dir,
        "avdops.sessionhost.reinstall",
        "hostpool.avd.yml",
        "-e",
        "target=us-03",
        "-e",
        "avd_reinstall_healthy=true",
        "-e",
        "avd_report_dir=reinstall",
        *fast,
    )
    output = again.stdout + again.stderr
    assert again.returncode == 0, output[-6000:]
    assert "us-03: reinstalled" in " ".join(again.stdout.split()), output[-3000:]
    assert "is undefined" not in output and "Unknown error" not in output
    for index, part in enumerate(("us-01", "us-02,us-03")):
        sliced = run(
            user_lab,
            user_dir,
            "avdops.sessionhost.diagnose",
            "hostpool.avd.yml",
            "-e",
            f"target={part}",
            "-e",
            f"avd_report_dir={user_dir / 'work' / 'slices' / str(index)}",
        )
        assert sliced.returncode == 0, (sliced.stdout + sliced.stderr)[-3000:]
    merged = subprocess.run(
        [  # an absolute directory: the playbook's lookups resolve a relative one against the playbook's own
            str(BIN / "ansible-playbook"),
            "avdops.sessionhost.merge_reports",
            "-e",
            f"avd_slice_dir={user_dir / 'work' / 'slices'}",
        ],
        capture_output=True,
        text=True,
        cwd=user_dir / "work",
        env=user_env(user_lab, user_dir),
        timeout=600,
        check=False,
    )
    assert merged.returncode == 0, (merged.stdout + merged.stderr)[-3000:]
    pool = json.loads((user_dir / "work" / "slices" / "pool" / "diagnosis.json").read_text())
    assert {name: entry["state"] for name, entry in pool["hosts"].items()} == dict.fromkeys(POOL_HOSTS, "healthy")
