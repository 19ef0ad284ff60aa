"""The Azure SDK is imported once a run, in the controller's main process, not again in every worker."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _azure as az

SDK = ("azure.identity", "azure.mgmt.desktopvirtualization")


def test_loading_a_host_pool_action_plugin_imports_the_sdk():
    """The strategy loads the task's action plugin class before it forks the workers: the SDK must be in the
    process by then, so that each worker inherits it (a fresh interpreter, where nothing imported it before)."""
    code = (
        "import sys\n"
        "import ansible_collections.avdops.sessionhost.plugins.action.registration_token\n"
        f"print(sorted(name for name in {SDK!r} if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": ":".join(path for path in sys.path if path)},
    )
    assert result.stdout.strip() == str(sorted(SDK))


@pytest.mark.parametrize("missing", SDK)
def test_without_the_sdk_loading_goes_on_and_a_module_says_what_to_install(monkeypatch, missing):
    parent, _dot, child = missing.rpartition(".")
    monkeypatch.setitem(sys.modules, missing, None)  # import of it raises ImportError
    monkeypatch.delattr(importlib.import_module(parent), child, raising=False)  # and "from parent import child" too
    az.preload_sdk()
    settings = az.settings_from(
        {"auth_source": "auto", "cloud_environment": "AzureCloud", "retries": 4},
        {"AZURE_SUBSCRIPTION_ID": "s", "AZURE_CLIENT_ID": "a", "AZURE_SECRET": "x", "AZURE_TENANT": "t"},
    )
    with pytest.raises(az.AzureError, match="pip install azure-identity azure-mgmt-desktopvirtualization"):
        az.client(settings)
