"""One Azure credential per process and per set of credentials, which forked workers inherit with its token."""

from __future__ import annotations

import os

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _azure as az

SP = {"AZURE_SUBSCRIPTION_ID": "s", "AZURE_CLIENT_ID": "a", "AZURE_SECRET": "x", "AZURE_TENANT": "t"}
BASE = {"auth_source": "auto", "cloud_environment": "AzureCloud", "retries": 4}


def settings(**env: str) -> az.AzureSettings:
    return az.settings_from(BASE, {**SP, **env})


@pytest.fixture(autouse=True)
def no_cached_credentials(monkeypatch):
    monkeypatch.setattr(az, "_CREDENTIALS", {})
    monkeypatch.setattr(az, "_TRANSPORTS", [])


def test_one_credential_is_reused_across_calls_and_clients():
    first = az.credential(settings())
    assert az.credential(settings()) is first
    assert az.credential(settings(AZURE_SUBSCRIPTION_ID="another")) is first  # a token is not per subscription
    assert az.client(settings())._config.credential is first
    assert len(az._TRANSPORTS) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"AZURE_SECRET": "y"},
        {"AZURE_CLIENT_ID": "b"},
        {"AZURE_TENANT": "u"},
        {"AZURE_AUTHORITY_HOST": "https://login.example.test"},
        {"AZURE_CERT_VALIDATION_MODE": "ignore"},
        {"AZURE_CA_BUNDLE": "/etc/ssl/private-ca.pem"},
    ],
)
def test_other_credentials_or_transport_settings_get_a_credential_of_their_own(change):
    assert az.credential(settings(**change)) is not az.credential(settings())


def test_the_credential_is_of_the_kind_the_settings_name():
    from azure import identity

    assert isinstance(az.credential(settings()), identity.ClientSecretCredential)
    cli = az.settings_from({**BASE, "auth_source": "cli"}, {"AZURE_SUBSCRIPTION_ID": "s"})
    assert isinstance(az.credential(cli), identity.AzureCliCredential)
    assert az.credential(cli) is az.credential(cli)


def test_a_forked_worker_drops_its_copy_of_the_token_connections_and_the_parent_keeps_its_own(monkeypatch):
    closed: list[int] = []

    class Session:
        def close(self) -> None:
            closed.append(os.getpid())

    class Transport:
        session: Session | None = Session()

    class Unopened:
        session = None

    monkeypatch.setattr(az, "_TRANSPORTS", [Transport(), Unopened()])
    child = os.fork()
    if child == 0:  # the worker: Python's at-fork hook has run
        os._exit(0 if closed == [os.getpid()] else 1)
    _pid, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert closed == []  # not in the parent
