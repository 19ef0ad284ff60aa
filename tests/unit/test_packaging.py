"""Packaging for where Ansible users run the collection: execution environments, dependencies, docs, license."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())


def run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False, env=env or dict(os.environ)
    )


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build")
    result = run(str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(out))
    assert result.returncode == 0, result.stderr
    return out / f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"


@pytest.fixture(scope="module")
def installed(tarball, tmp_path_factory) -> Path:
    """The built collection installed into a fresh path (its dependency ansible.windows comes with ansible)."""
    path = tmp_path_factory.mktemp("collections")
    # away from this checkout's ansible.cfg, whose collections path already resolves avdops.sessionhost
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_CONFIG"}
    result = run(
        str(BIN / "ansible-galaxy"),
        "collection",
        "install",
        "--force",
        "--no-deps",
        "-p",
        str(path),
        str(tarball),
        cwd=path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert (path / "ansible_collections" / "avdops" / "sessionhost" / "MANIFEST.json").exists(), result.stdout
    return path


def test_the_tarball_ships_what_an_execution_environment_needs_and_no_lab_only_content(tarball):
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert {"LICENSE", "meta/execution-environment.yml", "requirements.txt", "bindep.txt", "CHANGELOG.rst"} <= names
    lab_only = [
        n
        for n in names
        if n.split("/")[0] in ("benchmarks", "extensions", "tests")
        or n
        in (
            "docs/lab.md",
            "docs/benchmarks.md",
            "docs/testing.md",
        )
    ]
    assert lab_only == []
    assert not [n for n in names if n.startswith("changelogs/fragments")], "changelog fragments are build input"
    assert "changelogs/changelog.yaml" in names


def test_license_is_the_gpl_galaxy_names():
    assert GALAXY["license"] == ["GPL-3.0-or-later"]
    text = (REPO / "LICENSE").read_text()
    assert text.lstrip().startswith("GNU GENERAL PUBLIC LICENSE") and "Version 3, 29 June 2007" in text


def test_introspection_reads_the_collections_dependencies(installed):
    result = run(str(BIN / "ansible-builder"), "introspect", "--sanitize", str(installed))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for requirement in (
        "pywinrm>=0.4.3",
        "pypsrp>=0.8.1",
        "azure-identity>=1.15.0",
        "azure-mgmt-desktopvirtualization",
    ):
        assert requirement in out and "avdops.sessionhost" in out, out
    assert "ca-certificates [platform:dpkg platform:rpm]" in out


def test_ansible_builder_create_builds_from_the_tarball_with_kerberos(tarball, tmp_path):
    """The EE example installs the built collection (it is not on Galaxy) and carries Kerberos for WinRM/PSRP."""
    definition = tmp_path / "examples" / "awx" / "execution-environment.yml"  # where make build's output is beside
    definition.parent.mkdir(parents=True)
    definition.write_text((REPO / "examples" / "awx" / "execution-environment.yml").read_text())
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / tarball.name).write_bytes(tarball.read_bytes())
    context = tmp_path / "context"
    result = run(
        str(BIN / "ansible-builder"),
        "create",
        "-f",
        str(definition),
        "--context",
        str(context),
        "--output-filename",
        "Containerfile",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy" in containerfile and "introspect" in containerfile
    assert "quay.io/centos/centos:stream9" in containerfile
    assert "COPY _build/collections/ /build/collections/" in containerfile
    assert (context / "_build" / "collections" / tarball.name).read_bytes() == tarball.read_bytes()
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert {"name": f"/build/collections/{tarball.name}", "type": "file"} in galaxy["collections"]
    assert "ansible.windows" in {c["name"] for c in galaxy["collections"]}
    python = (context / "_build" / "requirements.txt").read_text()
    assert "pywinrm[kerberos]" in python and "pypsrp[kerberos]" in python
    system = (context / "_build" / "bindep.txt").read_text()
    assert all(package in system for package in ("krb5-workstation", "krb5-libs", "krb5-devel"))


def test_dependencies_are_exactly_what_the_content_uses():
    requirements = yaml.safe_load((REPO / "requirements.yml").read_text())
    listed = {c["name"]: c.get("version", "*") for c in requirements["collections"]}
    assert listed == GALAXY["dependencies"]
    used = set()
    for folder in ("roles", "playbooks"):
        for path in (REPO / folder).rglob("*.yml"):
            for word in path.read_text().replace(":", " ").split():
                parts = word.split(".")
                if len(parts) >= 3 and parts[0] == "ansible" and parts[1] in ("windows", "utils", "posix", "netcommon"):
                    used.add(".".join(parts[:2]))
    assert used <= set(listed), used - set(listed)


def plugin_names(kind: str) -> list[str]:
    folder = REPO / "plugins" / kind
    if kind == "filter":
        return sorted(p.stem for p in folder.glob("*.yml"))
    return sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize(("kind", "folder"), [("module", "modules"), ("inventory", "inventory"), ("filter", "filter")])
def test_every_plugin_lists_its_requirements(kind, folder):
    names = [f"avdops.sessionhost.{name}" for name in plugin_names(folder)]
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    result = run(str(BIN / "ansible-doc"), "-t", kind, "--json", *names, env=env)
    assert result.returncode == 0, result.stderr
    docs = json.loads(result.stdout)
    assert sorted(docs) == sorted(names)
    missing = [name for name, doc in docs.items() if not doc["doc"].get("requirements")]
    assert missing == []


def test_the_azure_modules_share_one_action_group():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    azure = sorted(
        p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if "avdops.sessionhost.azure" in p.read_text()
    )
    assert sorted(runtime["action_groups"]["azure"]) == azure


def test_the_host_pool_is_named_host_pool_everywhere_with_the_old_name_as_alias():
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    names = [f"avdops.sessionhost.{n}" for n in runtime["action_groups"]["azure"]]
    docs = json.loads(run(str(BIN / "ansible-doc"), "--json", *names, env=env).stdout)
    for name, doc in docs.items():
        assert "host_pool" in doc["doc"]["options"], name
    assert docs["avdops.sessionhost.host_pool_info"]["doc"]["options"]["host_pool"]["aliases"] == ["name"]


def test_the_inventory_plugin_and_the_modules_document_every_variable_they_read():
    """The plugin and the modules resolve credentials in one place (_azure.settings_from, azure.azcollection's
    order), not through Ansible's option env entries: each variable it reads is named in both documentations."""
    from ansible_collections.avdops.sessionhost.plugins.plugin_utils._azure import ENV_VARIABLES

    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    result = run(str(BIN / "ansible-doc"), "-t", "inventory", "--json", "avdops.sessionhost.host_pool", env=env)
    plugin = json.dumps(json.loads(result.stdout)["avdops.sessionhost.host_pool"]["doc"]["options"])
    result = run(str(BIN / "ansible-doc"), "--json", "avdops.sessionhost.host_pool_info", env=env)
    module = json.dumps(json.loads(result.stdout)["avdops.sessionhost.host_pool_info"]["doc"]["options"])
    wanted = {name for names in ENV_VARIABLES.values() for name in names} | {"ANSIBLE_AZURE_AUTH_SOURCE"}
    for documentation in (plugin, module):
        assert not {name for name in wanted if f"C({name})" not in documentation}
