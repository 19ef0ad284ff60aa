# A golden image for Azure Virtual Desktop, validated before capture: Packer builds a VM from the
# marketplace image, your provisioners customise it, and avdops.sessionhost's validate_image
# playbook fails the build (before sysprep) when VMs made from it would be broken session hosts.
#
#   # on the machine that runs packer, in a checkout of the collection (it is not on Galaxy):
#   ansible-galaxy collection build --force --output-path build
#   ansible-galaxy collection install build/avdops-sessionhost-*.tar.gz
#   packer init . && packer build -var subscription_id=... -var resource_group=... .
#
# The ansible provisioner connects straight to the build VM over WinRM (use_proxy = false): the
# collection's modules are action plugins that need the real winrm connection, not Packer's SSH
# proxy. Packer passes the WinRM password it generated as ansible_password.

packer {
  required_plugins {
    azure = {
      source  = "github.com/hashicorp/azure"
      version = "~> 2"
    }
    ansible = {
      source  = "github.com/hashicorp/ansible"
      version = "~> 1"
    }
  }
}

variable "subscription_id" {
  type = string
}

variable "resource_group" {
  type        = string
  description = "Resource group that receives the managed image."
}

variable "location" {
  type    = string
  default = "westeurope"
}

variable "avd_image_agent" {
  type        = string
  default     = "absent"
  description = "absent: the agent is installed at deployment (host pool VM template, DSC); present: baked in."
}

locals {
  stamp = formatdate("YYYYMMDDhhmm", timestamp())
}

source "azure-arm" "avd" {
  use_azure_cli_auth                = true
  subscription_id                   = var.subscription_id
  location                          = var.location
  vm_size                           = "Standard_D4s_v5"
  os_type                           = "Windows"
  image_publisher                   = "MicrosoftWindowsDesktop"
  image_offer                       = "windows-11"
  image_sku                         = "win11-23h2-avd"
  managed_image_name                = "avd-golden-${local.stamp}"
  managed_image_resource_group_name = var.resource_group

  communicator   = "winrm"
  winrm_use_ssl  = true
  winrm_insecure = true # the build VM's self-signed WinRM certificate; the VM is deleted after the build
  winrm_timeout  = "15m"
  winrm_username = "packer"
}

build {
  sources = ["source.azure-arm.avd"]

  # ... your customisation (applications, FSLogix, language packs, updates and a restart) goes here ...

  provisioner "ansible" {
    playbook_file = "${path.root}/validate-image.yml"
    user          = "packer"
    use_proxy     = false
    extra_arguments = [
      "-e", "ansible_connection=winrm",
      "-e", "ansible_port=5986",
      "-e", "ansible_winrm_transport=ntlm",
      "-e", "ansible_winrm_server_cert_validation=ignore",
      "-e", "avd_image_agent=${var.avd_image_agent}",
      "-e", "avd_report_dir=${path.root}/reports",
    ]
  }

  # Only a validated image gets generalized and captured.
  provisioner "powershell" {
    inline = [
      "& $env:SystemRoot\\System32\\Sysprep\\Sysprep.exe /oobe /generalize /quiet /quit /mode:vm",
      "while ($true) { $state = (Get-ItemProperty HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Setup\\State).ImageState; if ($state -eq 'IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE') { break }; Start-Sleep -Seconds 10 }",
    ]
  }
}
