"""Every test lab has an address block of its own, so test modules and molecule scenarios can run at once.

pytest-xdist runs test modules (and each molecule scenario, through test_molecule_scenarios.py) on several
workers at the same time; two labs on one 127.x.N block bind the same addresses and one of them fails to start.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEST_ADDRESS = re.compile(r"127\.0\.(\d+)\.1\b")
MOLECULE_OCTET = re.compile(r"avd_molecule_octet:\s*(\d+)")
DEMO_BLOCK = 1  # avdlab's default first address, 127.0.1.1: the demo lab's


def address_blocks() -> dict[int, list[str]]:
    blocks: dict[int, list[str]] = defaultdict(list)
    tests = [*sorted((REPO / "tests").rglob("test_*.py")), REPO / "tests" / "conftest.py"]
    for path in tests:  # the test modules and their fixtures (not the lab's own code, whose default is the demo's)
        if path.name == Path(__file__).name:
            continue
        for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            # A lab's own first address, as a test asks for it (the fifty-host labs of POOL_LABS included).
            if "first-address" in line or "POOL_LABS" in line or "lab_factory(" in line:
                for match in TEST_ADDRESS.finditer(line):
                    blocks[int(match.group(1))].append(f"{path.relative_to(REPO)}:{line_number}")
    for path in sorted((REPO / "extensions" / "molecule").rglob("molecule.yml")):
        for match in MOLECULE_OCTET.finditer(path.read_text(encoding="utf-8")):
            blocks[int(match.group(1))].append(str(path.relative_to(REPO)))
    return blocks


def test_the_scan_finds_the_labs():
    blocks = address_blocks()
    assert 2 in blocks and 5 in blocks  # the fifty-host labs (conftest.POOL_LABS)
    assert 62 in blocks  # the molecule registration scenario
    assert len(blocks) >= 20


def test_no_two_labs_share_an_address_block():
    shared = {block: places for block, places in address_blocks().items() if len(places) > 1}
    assert shared == {}, f"labs on the same 127.x.N block: {shared}"


def test_no_test_lab_takes_the_demo_labs_block():
    assert DEMO_BLOCK not in address_blocks()
