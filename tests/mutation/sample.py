"""An independent check of `make mutation`: a random sample of simple mutants per file, killed or not.

mutmut decides which mutants exist and which tests run against each; this
script does neither its way. It draws, with its own generator and a seed it
prints, a sample of the four simple kinds of mistake (a comparison flipped
``<`` <-> ``<=``, ``==`` <-> ``!=``, ``in`` <-> ``not in``, ``is`` <->
``is not``; a condition negated; an integer constant moved by one; a
returned value emptied to ``None``) anywhere inside the functions of each
target file, applies each to a staged copy of the collection
(``.mutation/sample/<file>``; the work tree is never changed), runs the unit tests
of the files that import the target (``tests/unit/``) that ran the changed
function when the unmutated tests ran (recorded once per target with
coverage.py, a context per test: ``linecover.py``; a mutant in a function no
test runs survives without a run) and says KILLED or SURVIVED.

Usage: python tests/mutation/sample.py [--per-file 20] [--seed N] [--only _cleanup.py]
Exits 1 when a file's sample is killed at less than 90%.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mutation import GOAL, PACKAGE, REPO, TARGETS, stage

SAMPLE = REPO / ".mutation" / "sample"  # a staged copy per target: samples of two targets can run at once
UNIT = "tests/unit"
FLIPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


@dataclass(frozen=True)
class Site:
    """One place a simple mutant can be made: the node's position in ``ast.walk`` order and what to do there."""

    kind: str  # comparison flipped | condition negated | constant +1 | constant -1 | return emptied
    index: int
    line: int


def functions(tree: ast.AST) -> Iterator[ast.AST]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from node.body


def annotation_ids(tree: ast.AST) -> set[int]:
    """Nodes inside annotations: not code that runs (``from __future__ import annotations``)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            annotations.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            annotations.append(node.returns)
        for annotation in annotations:
            found.update(id(inner) for inner in ast.walk(annotation))
    return found


def in_functions(tree: ast.AST) -> list[ast.AST]:
    """Every node inside a function body, each once, in a stable order; docstrings and annotations left out."""
    skip = annotation_ids(tree)
    seen: set[int] = set()
    nodes: list[ast.AST] = []
    for statement in functions(tree):
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # a docstring
        for node in ast.walk(statement):
            if id(node) not in seen and id(node) not in skip:
                seen.add(id(node))
                nodes.append(node)
    return nodes


def sites(tree: ast.AST) -> list[Site]:
    found: list[Site] = []
    for index, node in enumerate(in_functions(tree)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Compare) and type(node.ops[0]) in FLIPS:
            found.append(Site("comparison flipped", index, line))
        elif isinstance(node, ast.If | ast.While | ast.IfExp):
            found.append(Site("condition negated", index, line))
        elif isinstance(node, ast.comprehension):  # no position of its own: its first condition's
            found.extend(Site("condition negated", index, test.lineno) for test in node.ifs[:1])
        elif isinstance(node, ast.Constant) and is_plain_int(node.value):
            found += [Site("constant +1", index, line), Site("constant -1", index, line)]
        elif isinstance(node, ast.Return) and node.value is not None and not is_none(node.value):
            found.append(Site("return emptied", index, line))
    return found


def is_plain_int(value: object) -> bool:
    """An int literal, not a bool (True and False are ints to isinstance)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def negate(test: ast.expr) -> ast.expr:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return test.operand
    return ast.UnaryOp(op=ast.Not(), operand=test)


def mutate(source: str, site: Site) -> tuple[str, str, str]:
    """The mutated module's source, and the site's code before and after."""
    tree = ast.parse(source)
    node = in_functions(tree)[site.index]
    before = ast.unparse(node if not isinstance(node, ast.If | ast.While) else node.test)
    if site.kind == "comparison flipped":
        assert isinstance(node, ast.Compare)
        node.ops[0] = FLIPS[type(node.ops[0])]()
    elif site.kind == "condition negated":
        if isinstance(node, ast.comprehension):
            node.ifs[0] = negate(node.ifs[0])
        else:
            assert isinstance(node, ast.If | ast.While | ast.IfExp)
            node.test = negate(node.test)
    elif site.kind.startswith("constant"):
        assert isinstance(node, ast.Constant) and is_plain_int(node.value)
        node.value = node.value + (1 if site.kind.endswith("+1") else -1)
    else:
        assert isinstance(node, ast.Return)
        node.value = ast.Constant(value=None)
    after = ast.unparse(node if not isinstance(node, ast.If | ast.While) else node.test)
    return ast.unparse(ast.fix_missing_locations(tree)), before, after


def test_files(module: str) -> list[str]:
    """The unit test files that import the target module (by its name)."""
    pattern = re.compile(rf"\b{re.escape(module)}\b")
    return sorted(
        str(path.relative_to(REPO))
        for path in (REPO / UNIT).rglob("test_*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    )


def function_lines(tree: ast.AST, line: int) -> range:
    """The body lines of the innermost function around ``line`` (a site is always inside one)."""
    spans = [
        range(node.body[0].lineno, (node.end_lineno or node.lineno) + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.lineno <= line <= (node.end_lineno or node.lineno)
    ]
    return min(spans, key=len)


def tests_running(lines: dict[int, list[str]], span: range) -> list[str]:
    """The tests that ran any of these lines, each test function once (``file::test``: all its parameters)."""
    return sorted({node.split("[", 1)[0] for line in span for node in lines.get(line, [])})


def record_lines(
    target: Path, tests: list[str], env: dict[str, str], directory: Path
) -> tuple[dict[int, list[str]], float]:
    """The unmutated tests run once with ``linecover``: per line of the target, the tests that ran it."""
    output = directory / "lines.json"
    output.unlink(missing_ok=True)
    recording = {
        **env,
        "PYTHONPATH": os.pathsep.join([env["PYTHONPATH"], str(Path(__file__).parent)]),
        "SAMPLE_LINES_OF": str(target),
        "SAMPLE_LINES_TO": str(output),
    }
    code, seconds = run(tests, recording, directory, timeout=1200, plugins=["linecover"])
    if code != 0 or not output.is_file():
        sys.exit(f"{target.name}: the unit tests ({', '.join(tests)}) fail without any mutation")
    return {int(line): ids for line, ids in json.loads(output.read_text(encoding="utf-8")).items()}, seconds


def run(
    tests: list[str], env: dict[str, str], directory: Path, timeout: float, plugins: tuple[str, ...] | list[str] = ()
) -> tuple[int | None, float]:
    loads = [argument for plugin in plugins for argument in ("-p", plugin)]
    command = [
        sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *loads, *tests
    ]  # fmt: skip
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=directory, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - started
    return done.returncode, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-file", type=int, default=20, help="mutants drawn per file (default 20)")
    parser.add_argument("--seed", type=int, default=None, help="the draw's seed (default: from the clock, printed)")
    parser.add_argument("--only", action="append", metavar="NAME", help="sample only this target; repeatable")
    args = parser.parse_args()
    only = {name if name.endswith(".py") else f"{name}.py" for name in args.only or []}
    targets = tuple(t for t in TARGETS if not only or Path(t).name in only)
    if not targets:
        parser.error(f"--only: choose from {', '.join(Path(t).name for t in TARGETS)}")
    seed = args.seed if args.seed is not None else int(time.time())
    print(f"seed {seed} (python tests/mutation/sample.py --seed {seed} draws the same mutants again)")
    environ = {key: value for key, value in os.environ.items() if key != "ANSIBLE_CONFIG"}
    scores: list[tuple[str, int, int]] = []
    for target in targets:
        directory = SAMPLE / Path(target).stem
        stage((), directory)
        env = {**environ, "PYTHONPATH": str(directory / "src")}
        file = directory / PACKAGE / target
        original = file.read_text(encoding="utf-8")
        tests = test_files(Path(target).stem)
        lines, seconds = record_lines(file, tests, env, directory)
        timeout = 5 * seconds + 30
        tree = ast.parse(original)
        found = sites(tree)
        draw = random.Random(f"{seed}/{Path(target).name}")  # per file: the same draw whichever others are drawn
        chosen = sorted(draw.sample(found, min(args.per_file, len(found))), key=lambda s: (s.line, s.index))
        killed = 0
        print(f"\n{target}: {len(chosen)} of {len(found)} simple mutants, against {len(tests)} test file(s)")
        for site in chosen:
            mutated, before, after = mutate(original, site)
            running = tests_running(lines, function_lines(tree, site.line))
            code: int | None = 0  # no test runs the function: the mutant survives
            if running:
                file.write_text(mutated, encoding="utf-8")
                try:
                    code, _seconds = run(running, env, directory, timeout)
                finally:
                    file.write_text(original, encoding="utf-8")
            if code in (4, 5):
                sys.exit(f"{target}: pytest found no test of {running[:3]}... (exit code {code}): a selection error")
            result = "KILLED  " if code != 0 else "SURVIVED"
            killed += code != 0
            print(
                f"  {result} line {site.line:>4} {site.kind}: {shorten(before)}  ->  {shorten(after)} "
                f"({len(running)} test(s))"
            )
        scores.append((target, killed, len(chosen)))
    print()
    for target, killed, drawn in scores:
        print(f"{target:<38} {killed:>3}/{drawn:<3} killed  {100.0 * killed / drawn if drawn else 100.0:5.1f}%")
    sys.exit(0 if all(killed * 100 >= GOAL * drawn for _unused, killed, drawn in scores) else 1)


def shorten(code: str) -> str:
    line = " ".join(code.split())
    return line if len(line) <= 70 else line[:67] + "..."


if __name__ == "__main__":
    main()
