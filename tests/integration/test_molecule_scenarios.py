"""Every molecule scenario of extensions/molecule, each as one test, so that `make test` runs them in parallel with
the other test modules (pytest-xdist; each scenario has its own lab addresses, 127.<AVDLAB_NET>.<octet>.x, and its
own ephemeral directory). `make molecule` runs them alone. The windows scenario needs a real Windows host."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import BIN, REPO, ansible_env, record_output

MOLECULE = REPO / "extensions" / "molecule"
SCENARIOS = sorted(path.parent.name for path in MOLECULE.glob("*/molecule.yml"))
WINDOWS = ("AVD_MOLECULE_HOST", "AVD_MOLECULE_USER", "AVD_MOLECULE_PASSWORD")


def test_every_scenario_is_collected():
    assert {"default", "boot_loader", "validate_image", "windows"} <= set(SCENARIOS)


@pytest.mark.molecule
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario: str) -> None:
    if scenario == "windows" and not all(os.environ.get(name) for name in WINDOWS):
        pytest.skip(
            "molecule scenario windows: set AVD_MOLECULE_HOST, AVD_MOLECULE_USER and AVD_MOLECULE_PASSWORD to run it "
            "against a real Windows host (docs/testing.md)"
        )
    env = ansible_env(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", NO_COLOR="1")
    result = subprocess.run(
        # molecule, with its check that ansible-playbook is there run once, not before each playbook
        [str(BIN / "python"), "-m", "tests.molecule_run", "test", "-s", scenario],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=REPO,
        check=False,
    )
    record_output(f"molecule test -s {scenario}", result.stdout, result.stderr, returncode=result.returncode)
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
