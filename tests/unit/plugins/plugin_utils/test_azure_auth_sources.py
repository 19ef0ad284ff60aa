"""Where the host pool modules and the inventory find Azure credentials: azure.azcollection's sources and order."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _azure as az
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._inventory import (
    InventoryConfigError,
    PoolEntry,
    host_records,
    pool_entries,
)

SP_ENV = {
    "AZURE_SUBSCRIPTION_ID": "env-sub",
    "AZURE_CLIENT_ID": "env-app",
    "AZURE_SECRET": "env-s",
    "AZURE_TENANT": "t",
}


def no_cli() -> str | None:
    raise AssertionError("the Azure CLI must not be asked")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "credentials").write_text(
        "[default]\nsubscription_id = file-sub\nclient_id = file-app\nsecret = file-s\ntenant = file-t\n\n"
        "[gov]\nsubscription_id = gov-sub\nclient_id = gov-app\nsecret = gov-s\ntenant = gov-t\n"
        "cloud_environment = AzureUSGovernment\ncert_validation_mode = ignore\n\n"
        "[nosub]\nclient_id = x\n"
    )
    return tmp_path


def test_auto_prefers_a_profile_option_then_client_id_options_then_environment(config_dir):
    env = {**SP_ENV, "AZURE_CONFIG_DIR": str(config_dir)}
    by_profile = az.settings_from({"profile": "gov"}, env, no_cli)
    assert (by_profile.client_id, by_profile.subscription_id) == ("gov-app", "gov-sub")
    assert by_profile.arm_endpoint == "https://management.usgovcloudapi.net" and by_profile.verify is False
    assert "profile [gov]" in by_profile.found_in
    options = {"client_id": "opt-app", "secret": "opt-s", "tenant": "opt-t", "subscription_id": "opt-sub"}
    by_options = az.settings_from(options, env, no_cli)
    assert (by_options.client_id, by_options.subscription_id, by_options.found_in) == (
        "opt-app",
        "opt-sub",
        "the module options",
    )
    by_env = az.settings_from({}, env, no_cli)
    assert (by_env.client_id, by_env.secret, by_env.subscription_id) == ("env-app", "env-s", "env-sub")
    assert by_env.auth_source == "credential" and by_env.verify is True


def test_auto_reads_the_default_profile_when_the_environment_has_no_subscription(config_dir):
    settings = az.settings_from({}, {"AZURE_CONFIG_DIR": str(config_dir)}, no_cli)
    assert (settings.client_id, settings.tenant, settings.subscription_id) == ("file-app", "file-t", "file-sub")
    # AZURE_PROFILE names the profile the environment means
    named = az.settings_from({}, {"AZURE_CONFIG_DIR": str(config_dir), "AZURE_PROFILE": "gov"}, no_cli)
    assert named.client_id == "gov-app"


def test_auto_ends_at_the_azure_cli_with_its_default_subscription(tmp_path):
    # client id and secret without a subscription in the environment are not a service principal to auto
    env = {"AZURE_CONFIG_DIR": str(tmp_path), "AZURE_CLIENT_ID": "half", "AZURE_SECRET": "x", "AZURE_TENANT": "t"}
    settings = az.settings_from({}, env, lambda: "cli-sub")
    assert (settings.auth_source, settings.subscription_id, settings.client_id) == ("cli", "cli-sub", None)
    assert settings.found_in == az.CLI_LOGIN


def test_the_host_pools_subscription_option_wins_over_the_credentials(config_dir):
    env = {**SP_ENV, "AZURE_CONFIG_DIR": str(config_dir)}
    assert az.settings_from({"subscription_id": "pool-sub"}, env, no_cli).subscription_id == "pool-sub"
    assert az.settings_from({"subscription_id": "pool-sub"}, env, no_cli).client_id == "env-app"
    cli = az.settings_from({"auth_source": "cli", "subscription_id": "pool-sub"}, {}, no_cli)
    assert (cli.auth_source, cli.subscription_id) == ("cli", "pool-sub")


def test_explicit_sources_read_only_their_own_place(config_dir):
    env = {**SP_ENV, "AZURE_CONFIG_DIR": str(config_dir)}
    from_file = az.settings_from({"auth_source": "credential_file"}, env, no_cli)
    assert from_file.client_id == "file-app"  # not the environment's
    assert az.settings_from({"auth_source": "credential_file", "profile": "gov"}, env, no_cli).client_id == "gov-app"
    from_env = az.settings_from({"auth_source": "env", "profile": "gov"}, env, no_cli)
    assert from_env.client_id == "env-app"  # not the profile option's
    with pytest.raises(az.AzureError, match=r"no profile \[nosub\] with a subscription_id"):
        az.settings_from({"auth_source": "credential_file", "profile": "nosub"}, env, no_cli)
    msi = az.settings_from({"auth_source": "msi", "client_id": "uami"}, {"AZURE_SUBSCRIPTION_ID": "s"}, no_cli)
    assert (msi.auth_source, msi.client_id, msi.subscription_id) == ("msi", "uami", "s")


def test_ansible_azure_auth_source_applies_when_the_option_is_not_given(config_dir):
    env = {**SP_ENV, "AZURE_CONFIG_DIR": str(config_dir), "ANSIBLE_AZURE_AUTH_SOURCE": "credential_file"}
    assert az.settings_from({}, env, no_cli).client_id == "file-app"
    assert az.settings_from({"auth_source": "env"}, env, no_cli).client_id == "env-app"


def test_cloud_and_certificate_settings_follow_option_profile_environment(config_dir):
    env = {**SP_ENV, "AZURE_CLOUD_ENVIRONMENT": "AzureChinaCloud", "AZURE_CERT_VALIDATION_MODE": "ignore"}
    settings = az.settings_from({}, env, no_cli)
    assert settings.arm_endpoint == "https://management.chinacloudapi.cn" and settings.verify is False
    option = az.settings_from({"cloud_environment": "AzureCloud", "cert_validation_mode": "validate"}, env, no_cli)
    assert option.arm_endpoint == "https://management.azure.com" and option.verify is True
    assert az._transport_kwargs(settings)["connection_verify"] is False
    certificate = az.settings_from(
        {"client_id": "a", "tenant": "t", "x509_certificate_path": "/pki/sp.pem", "subscription_id": "s"}, {}, no_cli
    )
    assert certificate.auth_source == "certificate" and certificate.x509_certificate_path == "/pki/sp.pem"


def test_a_credentials_file_that_is_not_ini_is_named(tmp_path):
    (tmp_path / "credentials").write_text("subscription_id = no section\n")
    with pytest.raises(az.AzureError, match="cannot read the Azure credentials file"):
        az.settings_from({"auth_source": "credential_file"}, {"AZURE_CONFIG_DIR": str(tmp_path)}, no_cli)


def test_host_pool_entries_may_name_their_subscription():
    entries = pool_entries(
        [
            {"name": "hp-a", "resource_group": "rg-a"},
            {"name": "hp-b", "resource_group": "rg-b", "subscription_id": "s2"},
        ]
    )
    assert entries == [PoolEntry("rg-a", "hp-a", None), PoolEntry("rg-b", "hp-b", "s2")]
    with pytest.raises(InventoryConfigError, match=r"host_pools\[0\].subscription_id must be"):
        pool_entries([{"name": "hp-a", "resource_group": "rg-a", "subscription_id": ""}])
    with pytest.raises(InventoryConfigError, match="takes name, resource_group and subscription_id"):
        pool_entries([{"name": "hp-a", "resource_group": "rg-a", "location": "westeurope"}])


def test_each_host_records_where_its_pool_is():
    host = {
        "name": "sh-01.contoso.com",
        "short_name": "sh-01",
        "status": "Available",
        "sessions": 0,
        "allow_new_session": True,
        "agent_version": "1",
        "sxs_stack_version": "s",
        "update_state": "Succeeded",
        "update_error_message": "",
        "last_heartbeat": None,
        "health_checks": [],
        "virtual_machine_id": "vm",
        "resource_id": "r",
        "assigned_user": None,
    }
    info = {"name": "hp", "id": "/x", "max_session_limit": 2, "registration_expiration_time": None}
    pools = [
        {"host_pool": info, "session_hosts": [host], "resource_group": "rg-a", "subscription_id": "s1"},
        {"host_pool": {**info, "name": "hp2"}, "session_hosts": [{**host, "short_name": "sh-02"}]},
    ]
    first, cached = host_records(pools, "short", "none")
    assert (first["vars"]["avd_resource_group"], first["vars"]["avd_subscription_id"]) == ("rg-a", "s1")
    assert "avd_resource_group" not in cached["vars"]  # a cache written before the pool's place was recorded


def test_a_subscription_alone_in_the_environment_is_az_logins_subscription(tmp_path):
    settings = az.settings_from({}, {"AZURE_CONFIG_DIR": str(tmp_path), "AZURE_SUBSCRIPTION_ID": "env-sub"}, no_cli)
    assert (settings.auth_source, settings.subscription_id) == ("cli", "env-sub")
