"""Unmodified pypsrp and Ansible's psrp connection against the lab's endpoints (PowerShell Remoting)."""

from __future__ import annotations

import re

import pytest
from pypsrp.exceptions import AuthenticationError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

pytestmark = pytest.mark.lab


def connection(host: dict, config: dict, ssl: bool, **extra) -> WSMan:
    return WSMan(
        host["address"],
        port=host["https_port"] if ssl else host["http_port"],
        ssl=ssl,
        auth=extra.pop("auth", "ntlm"),
        username=config["username"],
        password=extra.pop("password", config["password"]),
        cert_validation=config["ca_cert"],
        **extra,
    )


@pytest.mark.parametrize(
    ("ssl", "encryption"),
    [
        (False, "always"),  # NTLM over http: every message sealed, as Windows requires without AllowUnencrypted
        (True, "auto"),
    ],
)
def test_pypsrp_runs_scripts_over_each_transport(pool_lab, ssl, encryption):
    config = pool_lab.config
    host = config["hosts"][9]
    with RunspacePool(connection(host, config, ssl, encryption=encryption)) as pool:
        ps = PowerShell(pool)
        ps.add_script("hostname")
        assert ps.invoke() == ["sh-10"]
        refused = PowerShell(pool)
        refused.add_script("Get-ChildItem C:\\")
        refused.invoke()
        assert refused.output == []
        (error,) = refused.streams.error
        assert "only runs the avdops.sessionhost runtime" in str(error) and "Get-ChildItem" in str(error)


def test_pypsrp_with_a_wrong_password_is_refused(pool_lab):
    config = pool_lab.config
    with pytest.raises(AuthenticationError):
        RunspacePool(connection(config["hosts"][0], config, True, password="not-the-password")).open()


def test_ansible_psrp_raw_hostname_on_fifty_hosts(pool_lab):
    result = pool_lab.ansible(
        "all", "-m", "ansible.builtin.raw", "-a", "hostname", "--forks", "25", "-e", "ansible_connection=psrp"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    answers = dict(re.findall(r"^(sh-\d+) \| CHANGED \| rc=0 >>\n(\S+)", result.stdout, re.M))
    assert len(answers) == 50
    assert all(name == answer for name, answer in answers.items())


def test_ansible_psrp_over_http_with_message_encryption(pool_lab):
    result = pool_lab.ansible(
        "sh-11",
        "-m",
        "ansible.builtin.raw",
        "-a",
        "hostname",
        "-e",
        "ansible_connection=psrp",
        "-e",
        "ansible_port=5985",
        "-e",
        "ansible_psrp_port=5985",
        "-e",
        "ansible_psrp_protocol=http",
        "-e",
        "ansible_psrp_message_encryption=always",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sh-11 | CHANGED | rc=0 >>\nsh-11" in result.stdout


def test_ansible_psrp_refused_command_fails_with_the_error_record(pool_lab):
    result = pool_lab.ansible(
        "sh-12", "-m", "ansible.builtin.raw", "-a", "Get-Service RDAgentBootLoader", "-e", "ansible_connection=psrp"
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "rc=1" in result.stdout
    assert "only runs the avdops.sessionhost runtime" in result.stdout
    assert "FullyQualifiedErrorId : AvdLabScriptNotInterpreted" in result.stdout


def test_ansible_psrp_wrong_password_and_untrusted_certificate_are_unreachable(pool_lab, tmp_path):
    from avdlab import pki

    wrong = pool_lab.ansible(
        "sh-13", "-m", "ansible.builtin.raw", "-a", "hostname", "-e", "ansible_connection=psrp", "-e",
        "ansible_password=wrong-password",
    )  # fmt: skip
    assert wrong.returncode == 4 and "UNREACHABLE!" in wrong.stdout
    assert "failed to authenticate with the server" in wrong.stdout

    other_ca = pki.create_ca(tmp_path, "some other CA")
    untrusted = pool_lab.ansible(
        "sh-14", "-m", "ansible.builtin.raw", "-a", "hostname", "-e", "ansible_connection=psrp", "-e",
        f"ansible_psrp_ca_cert={other_ca.cert}",
    )  # fmt: skip
    assert untrusted.returncode == 4 and "UNREACHABLE!" in untrusted.stdout
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stdout


def test_ansible_psrp_put_file_lands_in_the_host_model(pool_lab, tmp_path):
    """Connection.put_file as an action plugin calls it (remediation copies installers this way)."""
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader

    config = pool_lab.config
    host = config["hosts"][14]
    conn = connection_loader.get("psrp", PlayContext(), None)
    conn.set_options(
        direct={
            "remote_addr": host["address"],
            "remote_user": config["username"],
            "remote_password": config["password"],
            "port": host["https_port"],
            "protocol": "https",
            "auth": "ntlm",
            "ca_cert": config["ca_cert"],
        }
    )
    source = tmp_path / "installer.msi"
    source.write_bytes(bytes(range(256)) * 1200)  # several put_file chunks
    try:
        conn.put_file(str(source), "C:\\Windows\\Temp\\installer.msi")  # raises unless the sha1 matches
    finally:
        conn.close()
    state = pool_lab.show("sh-15")
    assert state["files"]["c:\\windows\\temp\\installer.msi"]["size"] == 256 * 1200
