"""ansible-test sanity's pylint refuses ``_`` as a name (disallowed-name): catch it in the fast unit tests.

``make sanity`` runs the full ``ansible-test sanity``; this check gives the same answer for the one
rule that new code trips most, in a second, so it shows up before a landing.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [REPO / name for name in listed if not name.startswith(".collections/") and (REPO / name).is_file()]


def underscore_names(tree: ast.AST) -> list[int]:
    stored = [
        n.lineno for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Store)
    ]
    arguments = [  # named parameters (pylint lets **_ and *_ pass)
        a.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for a in (*n.args.posonlyargs, *n.args.args, *n.args.kwonlyargs)
        if a.arg == "_"
    ]
    return sorted(stored + arguments)


def test_no_underscore_names_which_ansible_test_pylint_refuses():
    found = [
        f"{path.relative_to(REPO)}:{line}"
        for path in python_files()
        for line in underscore_names(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    ]
    assert found == [], "name them (e.g. _unused, _validation): ansible-test's pylint refuses '_': " + ", ".join(found)
