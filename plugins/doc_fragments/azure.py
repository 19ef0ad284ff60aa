# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  auth_source:
    description:
      - Where the Azure credentials come from, with azure.azcollection's meaning.
        C(auto) takes, in order, O(profile), a O(client_id) option, the
        environment (C(AZURE_PROFILE), or C(AZURE_SUBSCRIPTION_ID) with
        C(AZURE_CLIENT_ID), C(AZURE_SECRET), C(AZURE_TENANT)), the C(default)
        profile of C(~/.azure/credentials), then the Azure CLI's login.
      - C(env) the environment only; C(credential_file) the O(profile) (or
        C(default)) of C(~/.azure/credentials); C(cli) the Azure CLI's login
        (C(az login)); C(msi) the VM's managed identity (O(client_id) picks a
        user-assigned one); C(credential) a service principal from these
        options, completed from the environment.
      - Without it, C(ANSIBLE_AZURE_AUTH_SOURCE), else C(auto).
      - C(~/.azure/credentials) moves with the Azure CLI's C(AZURE_CONFIG_DIR).
        Its profiles are INI sections with the keys C(subscription_id),
        C(client_id), C(secret), C(tenant), C(x509_certificate_path),
        C(cloud_environment), C(cert_validation_mode), C(arm_endpoint),
        C(authority), C(ca_bundle).
    type: str
    choices: [auto, cli, env, credential_file, msi, credential]
  profile:
    description: A profile (section) of C(~/.azure/credentials). Defaults to C(AZURE_PROFILE).
    type: str
  subscription_id:
    description:
      - The subscription of the host pool. It names the subscription whatever the
        credentials' source; without it, the source's (C(AZURE_SUBSCRIPTION_ID),
        the profile's, or the Azure CLI's default subscription).
      - The playbooks and roles set it from the host's C(avd_subscription_id)
        (the host_pool inventory's record of where its pool is).
    type: str
  client_id:
    description: Service principal application (client) id. Defaults to C(AZURE_CLIENT_ID).
    type: str
  secret:
    description: Service principal secret. Defaults to C(AZURE_SECRET) or C(AZURE_CLIENT_SECRET).
    type: str
  tenant:
    description: Microsoft Entra tenant id. Defaults to C(AZURE_TENANT) or C(AZURE_TENANT_ID).
    type: str
  x509_certificate_path:
    description:
      - A service principal's certificate (PEM with its private key), instead of O(secret).
      - Defaults to C(AZURE_X509_CERTIFICATE_PATH) or C(AZURE_CLIENT_CERTIFICATE_PATH).
    type: path
  cloud_environment:
    description:
      - C(AzureCloud), C(AzureUSGovernment), C(AzureChinaCloud), or an ARM endpoint URL.
      - Defaults to the credentials profile's, then C(AZURE_CLOUD_ENVIRONMENT), else C(AzureCloud).
    type: str
  cert_validation_mode:
    description:
      - C(validate) checks Azure's TLS certificates; C(ignore) does not (never on a real network).
      - Defaults to the credentials profile's, then C(AZURE_CERT_VALIDATION_MODE), else C(validate).
    type: str
    choices: [validate, ignore]
  arm_endpoint:
    description: Azure Resource Manager endpoint, when not the cloud's default. Defaults to C(AZURE_ARM_ENDPOINT).
    type: str
  authority:
    description: Microsoft Entra authority host, when not the cloud's default. Defaults to C(AZURE_AUTHORITY_HOST).
    type: str
  ca_bundle:
    description:
      - CA bundle to trust for Azure's TLS certificates (private CAs, TLS inspection).
      - Defaults to C(AZURE_CA_BUNDLE).
    type: path
  retries:
    description: Retries of throttled (HTTP 429, honouring Retry-After) and failed requests.
    type: int
    default: 4
notes:
  - Runs on the controller with azure-identity and azure-mgmt-desktopvirtualization
    (API version 2024-04-03); it does not connect to the task's host.
  - Errors say what failed and what to check - credentials (401), the missing
    role (403), the host pool or session host that does not exist (404),
    throttling (429), or the network and TLS trust.
"""
