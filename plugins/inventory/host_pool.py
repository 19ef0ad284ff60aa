# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: host_pool
short_description: Session hosts of Azure Virtual Desktop host pools as an inventory
version_added: 0.1.0
author:
  - avdops.sessionhost contributors (!UNKNOWN)
requirements:
  - azure-identity >= 1.15 on the controller
  - azure-mgmt-desktopvirtualization >= 2.0.0 on the controller
description:
  - Reads the session hosts of one or more host pools from Azure Resource
    Manager and makes each a host, with the host pool's view of it as
    variables - C(avd_status), C(avd_sessions), C(avd_allow_new_session),
    C(avd_agent_version), C(avd_sxs_stack_version), C(avd_update_state),
    C(avd_health_checks), C(avd_last_heartbeat),
    C(avd_pool_read_at) (when the pool was read from Azure; HEARTBEAT_LOST
    measures against it, so a cached inventory does not look silent), C(avd_host_pool),
    C(avd_max_session_limit), C(avd_registration_expiration_time),
    C(avd_registration_key_checked), C(avd_registration_key_error),
    C(avd_vm_id), C(avd_resource_id), C(avd_power_state) (the VM's, see
    O(power_state)), C(avd_session_host_name) (the FQDN), and where its host
    pool is - C(avd_resource_group) and C(avd_subscription_id), which the
    write roles and playbooks use, so each host is changed in its own pool.
  - The registration key's expiry comes from the host pool's
    C(listRegistrationTokens) action (a host pool GET on recent API versions
    carries no registration info); an identity without that action (a
    Reader) gets C(avd_registration_key_checked=false) and the reason in
    C(avd_registration_key_error), never "no key". The token is never kept.
  - Groups each host by status (C(avd_status_available),
    C(avd_status_unavailable), ...) and by host pool (C(avd_host_pool_<name>)).
  - The diagnosis (M(avdops.sessionhost.diagnose)) uses these variables for
    the rules that need the host pool (session limit, status).
  - Finds credentials as the host pool modules do (azure.azcollection's
    O(auth_source) order, C(~/.azure/credentials) profiles, C(AZURE_*)
    variables, C(az login)). Files must end in C(.avd.yml) or C(.avd.yaml).
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices: [avdops.sessionhost.host_pool]
  host_pools:
    description: The host pools to read.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Host pool name.
        type: str
        required: true
      resource_group:
        description: Its resource group.
        type: str
        required: true
      subscription_id:
        description: Its subscription, when not the one of O(subscription_id) or the credentials.
        type: str
  hostname_source:
    description: The inventory name of each host - its computer name (C(short)) or its FQDN (C(fqdn)).
    type: str
    default: short
    choices: [short, fqdn]
  ansible_host_source:
    description:
      - What to set C(ansible_host) to - the session host's FQDN (C(fqdn)), its
        computer name (C(short)), or nothing (C(none)), for example when
        C(compose) or host_vars set it.
    type: str
    default: fqdn
    choices: [fqdn, short, none]
  auth_source:
    description:
      - Where the Azure credentials come from, as in azure.azcollection - C(auto),
        C(cli), C(env), C(credential_file), C(msi), or C(credential) (a service principal
        from these options and the environment). Without it, C(ANSIBLE_AZURE_AUTH_SOURCE), else C(auto).
      - The modules find credentials the same way, so a playbook run from this
        inventory needs no Azure settings of its own. See the modules' O(auth_source).
    type: str
    choices: [auto, cli, env, credential_file, msi, credential]
  profile:
    description: A profile of C(~/.azure/credentials) (C($AZURE_CONFIG_DIR/credentials)). Defaults to C(AZURE_PROFILE).
    type: str
  subscription_id:
    description:
      - The subscription of the host pools that do not name their own. Defaults to
        C(AZURE_SUBSCRIPTION_ID), the credentials profile's, or the Azure CLI's default subscription.
    type: str
  client_id:
    description: Service principal application (client) id. Defaults to C(AZURE_CLIENT_ID).
    type: str
  secret:
    description: Service principal secret. Defaults to C(AZURE_SECRET) or C(AZURE_CLIENT_SECRET).
    type: str
  tenant:
    description: Tenant (directory) id. Defaults to C(AZURE_TENANT) or C(AZURE_TENANT_ID).
    type: str
  x509_certificate_path:
    description:
      - A service principal's certificate (PEM with its private key).
      - Defaults to C(AZURE_X509_CERTIFICATE_PATH) or C(AZURE_CLIENT_CERTIFICATE_PATH).
    type: path
  cloud_environment:
    description:
      - C(AzureCloud), C(AzureUSGovernment), C(AzureChinaCloud), or an ARM endpoint URL.
      - Defaults to C(AZURE_CLOUD_ENVIRONMENT) or the credentials profile's, else C(AzureCloud).
    type: str
  cert_validation_mode:
    description:
      - C(ignore) turns off TLS certificate validation.
      - Defaults to C(AZURE_CERT_VALIDATION_MODE), else C(validate).
    type: str
    choices: [validate, ignore]
  arm_endpoint:
    description: The Azure Resource Manager endpoint, when not the cloud's default. Defaults to C(AZURE_ARM_ENDPOINT).
    type: str
  authority:
    description:
      - The Microsoft Entra ID authority host, when not the cloud's default.
      - Defaults to C(AZURE_AUTHORITY_HOST).
    type: str
  ca_bundle:
    description:
      - A CA bundle to trust for Azure's TLS certificates (private CAs, inspection proxies).
      - Defaults to C(AZURE_CA_BUNDLE).
    type: path
  retries:
    description: Retries of throttled (429, honouring Retry-After) and failed requests.
    type: int
    default: 4
  power_state:
    description:
      - Read each session host's VM power state from its instance view
        (C(GET {resourceId}/instanceView), one request per VM; the Reader role
        may) into C(avd_power_state) (C(PowerState/running),
        C(PowerState/deallocated), C(PowerState/stopped)...), so the diagnosis
        reports a VM that is off C(stopped), not C(unreachable).
      - When Azure does not tell (no permission on the VM, a VM in another
        subscription), C(avd_power_state) is not set and
        C(avd_power_state_error) says why; the inventory is built all the same.
    type: bool
    default: true
"""

EXAMPLES = r"""
# hostpool.avd.yml
plugin: avdops.sessionhost.host_pool
host_pools:
  - name: hp-finance
    resource_group: rg-avd-prod
  - name: hp-eu
    resource_group: rg-avd-eu
    subscription_id: 22222222-2222-2222-2222-222222222222
# Credentials as azure.azcollection finds them: AZURE_SUBSCRIPTION_ID, AZURE_CLIENT_ID,
# AZURE_SECRET, AZURE_TENANT; or a ~/.azure/credentials profile; or az login
keyed_groups:
  - key: avd_agent_version
    prefix: agent
groups:
  drained: not avd_allow_new_session
compose:
  ansible_port: 5986
"""

import datetime
from typing import Any

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._azure import (
    AUTH_OPTIONS,
    AzureError,
    client,
    host_pool_dict,
    settings_from,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._host_pool import (
    PoolRef,
    get_pool,
    list_session_host_dicts,
    registration_key,
    vm_power_state,
)
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._inventory import (
    InventoryConfigError,
    host_records,
    pool_entries,
)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):  # type: ignore[misc]
    NAME = "avdops.sessionhost.host_pool"

    def verify_file(self, path: str) -> bool:
        return bool(super().verify_file(path)) and path.endswith((".avd.yml", ".avd.yaml"))

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        pools: list[dict[str, Any]] | None = None
        if use_cache:
            try:
                pools = self._cache[cache_key]
            except KeyError:
                pools = None
        if pools is None:
            pools = self._fetch()
            if self.get_option("cache"):
                self._cache[cache_key] = pools
        self._populate(pools)

    def _fetch(self) -> list[dict[str, Any]]:
        options = {name: self.get_option(name) for name in AUTH_OPTIONS}
        try:
            entries = pool_entries(self.get_option("host_pools"))
        except InventoryConfigError as exc:
            raise AnsibleParserError(f"avdops.sessionhost.host_pool: {exc}") from None
        try:
            clients: dict[str | None, tuple[Any, Any]] = {}
            pools = []
            for entry in entries:
                if entry.subscription_id not in clients:  # one client per subscription, the same credentials
                    subscription = entry.subscription_id or options.get("subscription_id")
                    settings = settings_from({**options, "subscription_id": subscription})
                    clients[entry.subscription_id] = (settings, client(settings))
                settings, sdk = clients[entry.subscription_id]
                ref = PoolRef(entry.resource_group, entry.name)
                hosts = list_session_host_dicts(sdk, settings, ref)
                if self.get_option("power_state"):
                    for host in hosts:
                        self._read_power_state(sdk, settings, host)
                pools.append(
                    {
                        "host_pool": host_pool_dict(get_pool(sdk, settings, ref), registration_key(sdk, settings, ref)),
                        "session_hosts": hosts,
                        "resource_group": entry.resource_group,
                        "subscription_id": settings.subscription_id,
                        "read_at": datetime.datetime.now(datetime.UTC)
                        .isoformat(timespec="seconds")
                        .replace("+00:00", "Z"),
                    }
                )
        except AzureError as exc:
            raise AnsibleError(f"avdops.sessionhost.host_pool: {exc}") from None
        return pools

    @staticmethod
    def _read_power_state(sdk: Any, settings: Any, host: dict[str, Any]) -> None:
        """The VM's power state when Azure tells it; the reason when it does not (the host is still listed)."""
        if not host.get("resource_id"):
            host["power_state_error"] = "the session host names no VM (no resourceId)"
            return
        try:
            host["power_state"] = vm_power_state(sdk, settings, host["resource_id"])
        except AzureError as exc:
            host["power_state_error"] = str(exc)

    def _populate(self, pools: list[dict[str, Any]]) -> None:
        strict = self.get_option("strict")
        for record in host_records(pools, self.get_option("hostname_source"), self.get_option("ansible_host_source")):
            name = record["inventory_hostname"]
            self.inventory.add_host(name)
            for key, value in record["vars"].items():
                self.inventory.set_variable(name, key, value)
            for group in record["groups"]:
                self.inventory.add_group(group)
                self.inventory.add_child(group, name)
            variables = self.inventory.get_host(name).get_vars()
            self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)
