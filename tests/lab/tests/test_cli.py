"""The avdlab command as a user runs it: up, status, stats, down, and its errors."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import winrm
import yaml

from tests.conftest import LAB_BASE, avdlab, lab_address, start_lab

pytestmark = pytest.mark.lab


def listening(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((address, port)) == 0


def daemon_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (
                    b"avdlab.daemon" in (proc / "cmdline").read_bytes()
                    and str(LAB_BASE / "cli").encode() in (proc / "cmdline").read_bytes()
                ):
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


def test_up_status_stats_down_leave_nothing_behind():
    lab = start_lab("cli", "--hosts", "3", "--first-address", "127.0.3.1")
    try:
        hosts = lab.hosts
        assert [h["name"] for h in hosts] == ["sh-01", "sh-02", "sh-03"]
        assert [h["address"] for h in hosts] == [lab_address(f"127.0.3.{n}") for n in (1, 2, 3)]
        assert all(listening(h["address"], port) for h in hosts for port in (5985, 5986))
        assert len(daemon_pids()) == 1
        connection = yaml.safe_load((lab.inventory / "group_vars" / "all.yml").read_text())
        assert connection["ansible_winrm_ca_trust_path"] == lab.config["ca_cert"]
        assert "ignore" not in connection.values()
        # psrp beside winrm: the same endpoint, auth and CA, so -e ansible_connection=psrp is enough
        assert {key: value for key, value in connection.items() if key.startswith("ansible_psrp_")} == {
            "ansible_psrp_protocol": "https",
            "ansible_psrp_port": 5986,
            "ansible_psrp_auth": "ntlm",
            "ansible_psrp_cert_validation": "validate",
            "ansible_psrp_ca_cert": lab.config["ca_cert"],
        }
        assert (
            (lab.inventory / "host_vars" / "sh-02.yml")
            .read_text()
            .endswith(f"ansible_host: {lab_address('127.0.3.2')}\n")
        )
        assert "plugin: avdops.sessionhost.host_pool" in (lab.inventory / "hostpool.avd.yml").read_text()

        again = avdlab("up", "--dir", str(lab.directory), "--inventory", str(lab.inventory), check=False)
        assert again.returncode == 1 and "already running" in again.stderr

        status = json.loads(avdlab("status", "--dir", str(lab.directory)).stdout)
        assert set(status["hosts"]) == {"sh-01", "sh-02", "sh-03"}

        config = lab.config
        session = winrm.Session(
            hosts[1]["https_url"],
            auth=(config["username"], config["password"]),
            transport="ntlm",
            ca_trust_path=config["ca_cert"],
        )
        assert session.run_cmd("hostname").std_out == b"sh-02\r\n"
        stats = json.loads(avdlab("stats", "--dir", str(lab.directory)).stdout)
        assert stats["sh-02"]["commands"] == 1 and stats["sh-02"]["shells"] == 1
        assert stats["sh-02"]["bytes_in"] > 0 and stats["sh-02"]["bytes_out"] > 0
        assert stats["sh-01"]["commands"] == 0
    finally:
        down = avdlab("down", "--dir", str(lab.directory))
    assert "stopped" in down.stdout
    assert daemon_pids() == []
    assert not any(listening(h["address"], port) for h in hosts for port in (5985, 5986))
    assert not (lab.directory / "daemon.json").exists()
    assert "no lab running" in avdlab("down", "--dir", str(lab.directory)).stdout
    assert avdlab("status", "--dir", str(lab.directory), check=False).returncode == 3


def test_a_taken_port_is_named_and_nothing_starts():
    with socket.socket() as blocker:
        blocker.bind((lab_address("127.0.3.12"), 5986))
        blocker.listen()
        result = avdlab(
            "up",
            "--dir",
            str(LAB_BASE / "cli-taken"),
            "--hosts",
            "3",
            "--first-address",
            lab_address("127.0.3.11"),
            "--inventory",
            str(LAB_BASE / "cli-taken" / "inv"),
            check=False,
        )
    assert result.returncode == 1
    assert f"{lab_address('127.0.3.12')}:5986 is not available" in result.stderr
    time.sleep(0.2)
    assert not listening(lab_address("127.0.3.11"), 5985)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hosts", "0"], "--hosts must be at least 1"),
        (["--first-address", "10.0.0.1"], "not a loopback address"),
    ],
)
def test_bad_arguments_are_named(args, message):
    result = avdlab("up", "--dir", str(LAB_BASE / "cli-bad"), *args, check=False)
    assert result.returncode == 1 and message in result.stderr


def test_stats_without_a_lab_is_a_clear_error():
    result = avdlab("stats", "--dir", str(LAB_BASE / "never-started"), check=False)
    assert result.returncode == 1 and "no lab is running" in result.stderr
