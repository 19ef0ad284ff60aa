"""The built collection: what `ansible-galaxy collection build` puts in the tarball."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_build_ships_the_collection_and_nothing_local(tmp_path):
    result = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    tarball = tmp_path / f"{galaxy['namespace']}-{galaxy['name']}-{galaxy['version']}.tar.gz"
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert {"MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml"} <= set(names)
    forbidden = (".lab", ".venv", ".collections", "tests", "reports", "build", ".git", ".ci")
    leaked = [name for name in names if name.split("/")[0] in forbidden or name.split("/")[0].startswith(".lab")]
    assert leaked == []
    assert not [name for name in names if "__pycache__" in name or name.endswith((".key", ".pem", ".tar.gz"))]


def test_checkout_resolves_as_the_collection():
    link = REPO / ".collections" / "ansible_collections" / "avdops" / "sessionhost"
    assert link.is_symlink() and link.resolve() == REPO
    config = (REPO / "ansible.cfg").read_text()
    assert "collections_path = ./.collections" in config


def test_runtime_requires_the_oldest_tested_ansible_core():
    """requires_ansible is the oldest core `make test-matrix` tests (MATRIX_CORES); the pinned one (make test) and
    every role's min_ansible_version agree."""
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    pins = dict(line.split("==") for line in (REPO / "requirements-dev.txt").read_text().splitlines() if "==" in line)
    matrix = re.search(r"^MATRIX_CORES \?= (.+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert matrix is not None
    tested = sorted([*matrix.group(1).split(), pins["ansible-core"]], key=lambda v: tuple(map(int, v.split("."))))
    oldest = ".".join(tested[0].split(".")[:2])
    assert runtime["requires_ansible"] == f">={oldest}.0"
    for meta in sorted(REPO.glob("roles/*/meta/main.yml")):
        assert yaml.safe_load(meta.read_text())["galaxy_info"]["min_ansible_version"] == oldest, meta


PLUGINS = [
    ("module", "session_host_facts"),
    ("module", "diagnose"),
    ("module", "diagnosis_report"),
    ("module", "host_pool_info"),
    ("module", "registration_token"),
    ("module", "session_host"),
    ("module", "user_session"),
    ("inventory", "host_pool"),
    ("filter", "avd_diagnose"),
]


def test_every_plugin_has_docs_that_ansible_doc_renders():
    import os

    names = [f"avdops.sessionhost.{name}" for _unused, name in PLUGINS]
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    for kind in ("module", "inventory", "filter"):
        wanted = [n for (k, _unused), n in zip(PLUGINS, names, strict=True) if k == kind]
        result = subprocess.run(
            [str(BIN / "ansible-doc"), "-t", kind, "--json", *wanted],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        docs = __import__("json").loads(result.stdout)
        assert sorted(docs) == sorted(wanted)
        for name, doc in docs.items():
            assert doc["doc"]["short_description"] and doc["examples"], name
