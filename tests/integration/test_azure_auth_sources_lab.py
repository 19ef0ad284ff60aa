"""Each Azure credential source azure.azcollection users know, against the lab's Azure: the host_pool inventory
and a host pool module find the same identity from the environment, a credentials profile, or an `az login`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import ansible_env, run_ansible

pytestmark = pytest.mark.lab

# A stand-in for the Azure CLI, logged in as the lab's service principal: `az account get-access-token` gets a
# token from the lab's Entra ID endpoint (as the real CLI does from its login cache) and prints it in the CLI's
# JSON; `az account show` prints the default subscription. It logs each call.
FAKE_AZ = """#!{python}
import json, ssl, sys, time, urllib.parse, urllib.request
LAB = json.load(open({lab!r}))
arm = LAB["arm"]
with open({log!r}, "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
if args[:2] == ["account", "show"]:
    print(json.dumps({{"id": arm["subscription_id"], "tenantId": arm["tenant_id"], "isDefault": True}}))
elif args[:2] == ["account", "get-access-token"]:
    resource = args[args.index("--resource") + 1]
    form = urllib.parse.urlencode({{
        "grant_type": "client_credentials", "client_id": arm["client_id"],
        "client_secret": arm["client_secret"], "scope": resource.rstrip("/") + "/.default",
    }}).encode()
    context = ssl.create_default_context(cafile=LAB["ca_cert"])
    with urllib.request.urlopen(arm["url"] + "/" + arm["tenant_id"] + "/oauth2/v2.0/token", form, context=context) as r:
        token = json.load(r)
    expires = int(time.time()) + int(token["expires_in"])
    print(json.dumps({{
        "accessToken": token["access_token"], "expires_on": expires, "subscription": arm["subscription_id"],
        "tenant": arm["tenant_id"], "tokenType": "Bearer",
        "expiresOn": time.strftime("%Y-%m-%d %H:%M:%S.000000", time.localtime(expires)),
    }}))
else:
    sys.stderr.write("ERROR: Please run 'az login' to setup account.\\n")
    sys.exit(1)
"""


@pytest.fixture(scope="module")
def auth_lab(lab_factory):
    return lab_factory("auth", "--hosts", "2", "--first-address", "127.0.88.1")


def azure_where(lab, config_dir: Path, **extra: str) -> dict[str, str]:
    """No credentials at all, only where the lab's Azure is (for a real tenant: nothing) and an empty ~/.azure."""
    config_dir.mkdir(exist_ok=True)
    base = {k: v for k, v in ansible_env().items() if not k.startswith(("AZURE_", "ANSIBLE_AZURE_"))}
    return {
        **base,
        "AZURE_CONFIG_DIR": str(config_dir),
        "AZURE_ARM_ENDPOINT": lab.config["arm"]["url"],
        "AZURE_AUTHORITY_HOST": lab.config["arm"]["url"],
        "AZURE_CA_BUNDLE": lab.config["ca_cert"],
        **extra,
    }


def listed(lab, env: dict[str, str]) -> tuple[dict, str]:
    result = run_ansible("ansible-inventory", "-i", str(lab.inventory / "hostpool.avd.yml"), "--list", env=env)
    assert result.returncode == 0, result.stderr
    # what the plugin read from Azure is marked unsafe (never templated) in the output
    plain = json.loads(
        result.stdout, object_hook=lambda d: d["__ansible_unsafe"] if set(d) == {"__ansible_unsafe"} else d
    )
    return plain, result.stderr


def test_the_azure_cli_login_alone(auth_lab, tmp_path):
    fake = tmp_path / "bin" / "az"
    fake.parent.mkdir()
    log = tmp_path / "az.log"
    fake.write_text(FAKE_AZ.format(python=sys.executable, lab=str(auth_lab.directory / "lab.json"), log=str(log)))
    fake.chmod(0o755)
    env = azure_where(auth_lab, tmp_path / "azure", PATH=f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    inventory, stderr = listed(auth_lab, {**env, "ANSIBLE_AZURE_AUTH_SOURCE": "cli"})
    hostvars = inventory["_meta"]["hostvars"]
    assert sorted(hostvars) == ["sh-01", "sh-02"], stderr
    assert hostvars["sh-01"]["avd_subscription_id"] == auth_lab.config["arm"]["subscription_id"]
    calls = log.read_text().splitlines()
    assert calls[0] == "account show --output json"  # no subscription given: the CLI's default one
    assert any(call.startswith("account get-access-token") for call in calls)
    # auto, with nothing else to find, ends at the same login
    log.unlink()
    inventory, stderr = listed(auth_lab, env)
    assert sorted(inventory["_meta"]["hostvars"]) == ["sh-01", "sh-02"], stderr
    assert "account show --output json" in log.read_text()


def test_a_credentials_file_profile_for_the_inventory_and_the_modules(auth_lab, tmp_path):
    arm = auth_lab.config["arm"]
    config_dir = tmp_path / "azure"
    config_dir.mkdir()
    (config_dir / "credentials").write_text(
        f"[default]\nsubscription_id = 00000000-0000-0000-0000-00000000dead\nclient_id = nobody\n"
        f"secret = wrong\ntenant = {arm['tenant_id']}\n\n"
        f"[avd-ops]\nsubscription_id = {arm['subscription_id']}\nclient_id = {arm['client_id']}\n"
        f"secret = {arm['client_secret']}\ntenant = {arm['tenant_id']}\n"
    )
    env = azure_where(auth_lab, config_dir, AZURE_PROFILE="avd-ops")
    inventory, stderr = listed(auth_lab, env)
    assert sorted(inventory["_meta"]["hostvars"]) == ["sh-01", "sh-02"], stderr
    # a module, from the same profile named by its option (ANSIBLE_AZURE_AUTH_SOURCE=credential_file)
    play = tmp_path / "pool.yml"
    play.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - avdops.sessionhost.host_pool_info:\n"
        f"        host_pool: {arm['host_pool']}\n        resource_group: {arm['resource_group']}\n"
        "        profile: avd-ops\n"
        "      register: pool\n"
        "    - ansible.builtin.debug: {msg: \"hosts={{ pool.session_hosts | map(attribute='short_name') | join(',') }}\"}\n"
    )
    module_env = {k: v for k, v in env.items() if k != "AZURE_PROFILE"}
    result = run_ansible(
        "ansible-playbook", str(play), env={**module_env, "ANSIBLE_AZURE_AUTH_SOURCE": "credential_file"}
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "hosts=sh-01,sh-02" in result.stdout
    assert arm["client_secret"] not in result.stdout + result.stderr
    # env reads the environment only (not the profile option), and says what it did not find
    refused = run_ansible("ansible-playbook", str(play), env={**module_env, "ANSIBLE_AZURE_AUTH_SOURCE": "env"})
    assert refused.returncode != 0
    assert "neither AZURE_SUBSCRIPTION_ID nor AZURE_PROFILE" in refused.stdout


def test_the_environment_of_a_service_principal(auth_lab, tmp_path):
    arm = auth_lab.config["arm"]
    env = azure_where(
        auth_lab,
        tmp_path / "azure",
        AZURE_SUBSCRIPTION_ID=arm["subscription_id"],
        AZURE_CLIENT_ID=arm["client_id"],
        AZURE_SECRET=arm["client_secret"],
        AZURE_TENANT=arm["tenant_id"],
        ANSIBLE_AZURE_AUTH_SOURCE="env",
    )
    inventory, stderr = listed(auth_lab, env)
    assert sorted(inventory["_meta"]["hostvars"]) == ["sh-01", "sh-02"], stderr
    # a source that finds nothing says so, in words, and the inventory is empty rather than wrong
    result = run_ansible(
        "ansible-inventory",
        "-i",
        str(auth_lab.inventory / "hostpool.avd.yml"),
        "--list",
        env={**env, "ANSIBLE_AZURE_AUTH_SOURCE": "credential_file"},
    )
    assert "has no profile [default] with a subscription_id" in " ".join(result.stderr.split())
    assert "sh-01" not in result.stdout


def test_the_lab_inventory_holds_no_azure_credentials(auth_lab):
    secret = auth_lab.config["arm"]["client_secret"]
    written = [p for p in auth_lab.inventory.rglob("*") if p.is_file()]
    assert written and not [p for p in written if secret in p.read_text()]
    assert secret in (auth_lab.directory / "azure" / "credentials").read_text()
