# Copyright: avdops.sessionhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  auth_source:
    description:
      - How to authenticate to Azure. C(credential) uses a service principal
        (O(client_id), O(secret), O(tenant)); C(cli) the Azure CLI's login;
        C(msi) a managed identity; C(env) azure-identity's environment
        variables; C(auto) a service principal when one is given, else
        azure-identity's default chain (environment, managed identity, CLI).
    type: str
    default: auto
    choices: [auto, cli, env, msi, credential]
  subscription_id:
    description: The subscription of the host pool. Defaults to C(AZURE_SUBSCRIPTION_ID).
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
  cloud_environment:
    description: C(AzureCloud), C(AzureUSGovernment), C(AzureChinaCloud), or an ARM endpoint URL.
    type: str
    default: AzureCloud
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
