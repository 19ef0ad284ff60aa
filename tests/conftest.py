"""Fixtures shared by the lab's tests and the integration tests: running labs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LAB_BASE = REPO / ".lab-test"
BIN = Path(sys.executable).parent
# Several checkouts may run their tests at once on one machine (worktrees):
# AVDLAB_NET=N moves every test lab from 127.0.X.Y to 127.N.X.Y.
LAB_NET = int(os.environ.get("AVDLAB_NET", "0"))


def lab_address(address: str) -> str:
    """A test lab address (written as 127.0.X.Y) in this run's loopback net."""
    first, _unused, *rest = address.split(".")
    return ".".join([first, str(LAB_NET), *rest])


def ansible_env(**extra: str) -> dict[str, str]:
    """The environment the Ansible commands of the tests run in: this checkout's ansible.cfg, no colours."""
    return {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", **extra}


def lab_azure_env(*args: str) -> dict[str, str]:
    """The Azure credentials a user of the test lab named in ``args`` (an inventory under LAB_BASE) has: its
    credentials file (``avdlab up`` writes DIR/azure/credentials), found through AZURE_CONFIG_DIR as ~/.azure."""
    for arg in args:
        try:
            relative = Path(arg).resolve().relative_to(LAB_BASE)
        except ValueError:
            continue
        if relative.parts:
            return {"AZURE_CONFIG_DIR": str(LAB_BASE / relative.parts[0] / "azure")}
    return {}


def run_ansible(tool: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ansible, ansible-playbook, ansible-doc or ansible-inventory from the venv, in the repository; with a
    test lab's inventory, with that lab's Azure credentials (unless ``env`` names others)."""
    env = env or ansible_env()
    return subprocess.run(
        [str(BIN / tool), *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**lab_azure_env(*args), **env} if "AZURE_CONFIG_DIR" not in env else env,
        cwd=REPO,
        check=False,
    )


def avdlab(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(BIN / "avdlab"), *args], capture_output=True, text=True, timeout=180, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"avdlab {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@dataclass
class RunningLab:
    directory: Path
    inventory: Path

    @property
    def config(self) -> dict:
        return json.loads((self.directory / "lab.json").read_text())

    @property
    def hosts(self) -> list[dict]:
        return self.config["hosts"]

    def control(self, route: str, method: str = "GET") -> dict:
        info = json.loads((self.directory / "daemon.json").read_text())
        request = urllib.request.Request(info["control_url"] + route, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stats(self) -> dict:
        return self.control("/stats")

    def reset_stats(self) -> None:
        self.control("/stats/reset", method="POST")

    @property
    def azure_env(self) -> dict[str, str]:
        """The environment of a user whose Azure credentials are the lab's (its credentials file)."""
        return {"AZURE_CONFIG_DIR": str(self.directory / "azure")}

    def ansible(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_ansible(
            "ansible",
            "-i",
            str(self.inventory / "hosts.yml"),
            *args,
            env=ansible_env(**{**self.azure_env, **(env or {})}),
        )

    def playbook(
        self,
        playbook: Path | str,
        *args: str,
        inventories: tuple[str, ...] = ("hosts.yml",),
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        sources = [arg for name in inventories for arg in ("-i", str(self.inventory / name))]
        return run_ansible(
            "ansible-playbook", *sources, str(playbook), *args, env=ansible_env(**{**self.azure_env, **(env or {})})
        )


def start_lab(name: str, *args: str) -> RunningLab:
    directory = LAB_BASE / name
    if directory.exists():
        avdlab("down", "--dir", str(directory), check=False)
        shutil.rmtree(directory)
    inventory = directory / "inventory"
    args = tuple(
        lab_address(arg) if index and args[index - 1] == "--first-address" else arg for index, arg in enumerate(args)
    )
    avdlab("up", "--dir", str(directory), "--inventory", str(inventory), *args)
    return RunningLab(directory=directory, inventory=inventory)


@pytest.fixture(scope="session")
def lab_factory() -> Iterator:
    """Start labs on demand; every lab started is stopped at the end of the session."""
    started: list[RunningLab] = []

    def factory(name: str, *args: str) -> RunningLab:
        lab = start_lab(name, *args)
        started.append(lab)
        return lab

    yield factory
    for lab in started:
        avdlab("down", "--dir", str(lab.directory), check=False)


@pytest.fixture(scope="session")
def pool_lab(lab_factory) -> RunningLab:
    """Fifty healthy hosts on 127.0.2.x, apart from the demo lab's 127.0.1.x."""
    return lab_factory("pool", "--hosts", "50", "--first-address", "127.0.2.1")
