"""Unmodified pywinrm and Ansible's winrm connection against the lab's endpoints."""

from __future__ import annotations

import re

import pytest
import winrm
from winrm.exceptions import InvalidCredentialsError

pytestmark = pytest.mark.lab


def session(host: dict, config: dict, scheme: str, transport: str, **extra) -> winrm.Session:
    url = host["https_url"] if scheme == "https" else host["http_url"]
    if scheme == "https":
        extra.setdefault("ca_trust_path", config["ca_cert"])
    return winrm.Session(url, auth=(config["username"], config["password"]), transport=transport, **extra)


@pytest.mark.parametrize(
    ("scheme", "transport", "encryption"),
    [
        ("http", "ntlm", "always"),  # Ansible's default for ntlm over http: every message sealed
        ("https", "ntlm", "auto"),
        ("https", "basic", "auto"),
    ],
)
def test_pywinrm_runs_commands_over_each_auth_mode(pool_lab, scheme, transport, encryption):
    config = pool_lab.config
    host = config["hosts"][4]
    client = session(host, config, scheme, transport, message_encryption=encryption)
    assert client.run_cmd("hostname").std_out == b"sh-05\r\n"
    assert client.run_ps("whoami").std_out.decode().strip() == "sh-05\\avdadmin"
    refused = client.run_ps("Get-ChildItem C:\\")
    assert refused.status_code == 1 and b"only runs the avdops.sessionhost runtime" in refused.std_err


def test_basic_over_http_is_refused_like_windows(pool_lab):
    config = pool_lab.config
    with pytest.raises(InvalidCredentialsError):
        session(config["hosts"][0], config, "http", "basic").run_cmd("hostname")


def test_wrong_password_is_rejected(pool_lab):
    config = {**pool_lab.config, "password": "not-the-password"}
    with pytest.raises(InvalidCredentialsError):
        session(config["hosts"][0], config, "https", "ntlm").run_cmd("hostname")


def test_ansible_raw_hostname_on_fifty_hosts(pool_lab):
    result = pool_lab.ansible("all", "-m", "ansible.builtin.raw", "-a", "hostname", "--forks", "25")
    assert result.returncode == 0, result.stdout + result.stderr
    answers = dict(re.findall(r"^(sh-\d+) \| CHANGED \| rc=0 >>\n(\S+)", result.stdout, re.M))
    assert len(answers) == 50
    assert all(name == answer for name, answer in answers.items())


def test_ansible_over_http_with_message_encryption(pool_lab):
    result = pool_lab.ansible(
        "sh-07",
        "-m",
        "ansible.builtin.raw",
        "-a",
        "hostname",
        "-e",
        "ansible_port=5985",
        "-e",
        "ansible_winrm_scheme=http",
        "-e",
        "ansible_winrm_message_encryption=always",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sh-07 | CHANGED | rc=0 >>\nsh-07" in result.stdout


def test_wrong_password_makes_the_host_unreachable_with_a_clear_message(pool_lab):
    result = pool_lab.ansible(
        "sh-01:sh-02", "-m", "ansible.builtin.raw", "-a", "hostname", "-e", "ansible_password=wrong-password"
    )
    assert result.returncode == 4  # ansible's code for unreachable hosts
    assert result.stdout.count("UNREACHABLE!") == 2
    assert "the specified credentials were rejected by the server" in result.stdout


def test_untrusted_certificate_makes_the_host_unreachable(pool_lab, tmp_path):
    from avdlab import pki

    other_ca = pki.create_ca(tmp_path, "some other CA")
    result = pool_lab.ansible(
        "sh-03", "-m", "ansible.builtin.raw", "-a", "hostname", "-e", f"ansible_winrm_ca_trust_path={other_ca.cert}"
    )
    assert result.returncode == 4
    assert "UNREACHABLE!" in result.stdout and "CERTIFICATE_VERIFY_FAILED" in result.stdout


def test_receive_timeouts_are_retried_and_the_command_completes(lab_factory):
    # Commands take 2.5 s to start; Receive gives up after 1 s, so clients see the
    # OperationTimeout fault at least twice and must retry.
    slow = lab_factory("slow", "--hosts", "1", "--first-address", "127.0.4.1", "--latency", "2.5")
    result = slow.ansible(
        "sh-01",
        "-m",
        "ansible.builtin.raw",
        "-a",
        "hostname",
        "-e",
        "ansible_winrm_operation_timeout_sec=1",
        "-e",
        "ansible_winrm_read_timeout_sec=5",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sh-01 | CHANGED | rc=0 >>\nsh-01" in result.stdout
    stats = slow.stats()["sh-01"]
    assert stats["receive_timeouts"] >= 2 and stats["errors"] == 0


def test_basic_over_http_when_the_host_allows_unencrypted(lab_factory):
    plain = lab_factory("plain", "--hosts", "1", "--first-address", "127.0.4.11", "--allow-unencrypted")
    config = plain.config
    client = session(config["hosts"][0], config, "http", "basic")
    assert client.run_cmd("hostname").std_out == b"sh-01\r\n"
    # NTLM over http still seals messages unless asked not to.
    sealed = session(config["hosts"][0], config, "http", "ntlm", message_encryption="never")
    assert sealed.run_cmd("whoami").std_out == b"sh-01\\avdadmin\r\n"
