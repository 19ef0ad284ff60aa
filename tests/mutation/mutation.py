"""`make mutation`: mutmut over the controller-side core logic with the unit tests, scored per file.

mutmut 3 names a mutant after the module path of its file and records which
tests call each function by the module the tests import. The tests import the
collection as ``ansible_collections.avdops.sessionhost...`` (through
``.collections/``), so this script stages, per target file, a copy whose file
layout gives exactly that module path
(``.mutation/mutmut/<file>/src/ansible_collections/avdops/sessionhost/plugins/...``,
mutmut strips ``src.``), runs ``mutmut run`` there with only the unit test
files that import the target (mutmut then runs, per mutant, only those of
their tests that call the mutated function), runs up to ``--jobs`` targets at
once, and then reads mutmut's own result files to print, per target file:
mutants, killed, survivors, and the score with string-only mutants of human
wording set aside (see docs/testing.md for which survivors are accepted and
why). Each target keeps its own results: re-measuring one file leaves the
others' last results in place for ``--report-only``.

Usage: python tests/mutation/mutation.py [--only _cleanup] [--jobs N] [--max-children N] [--report-only]
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STAGE = REPO / ".mutation" / "mutmut"
PACKAGE = Path("src/ansible_collections/avdops/sessionhost")
TARGETS = (
    "plugins/plugin_utils/_rules.py",
    "plugins/plugin_utils/_parsers.py",
    "plugins/plugin_utils/_facts.py",
    "plugins/plugin_utils/_reports.py",
    "plugins/plugin_utils/_plans.py",  # remediation: desired vs. current, what to change
    "plugins/plugin_utils/_change.py",  # remediation: probe, plan, apply, verify; check mode, diff, secrets
    "plugins/plugin_utils/_remediation.py",  # remediation: which role fixes what, outcomes before/after
    "plugins/plugin_utils/_verdicts.py",
    "plugins/plugin_utils/_validate.py",
    # the write-side planners: what is deleted, installed, restarted or left on a host
    "plugins/plugin_utils/_cleanup.py",
    "plugins/plugin_utils/_reinstall.py",
    "plugins/plugin_utils/_installers.py",
    "plugins/plugin_utils/_sxs.py",
    "plugins/plugin_utils/_dotnet.py",
    "plugins/plugin_utils/_image.py",
)
TESTS = "tests/unit/plugins/plugin_utils"  # hand.py's tests; mutation selects per target from UNIT
UNIT = "tests/unit"
GOAL = 90.0
# mutmut's exit codes (mutmut.stats.status_by_exit_code)
KILLED = {1, 3}
SURVIVED = {0}
TIMEOUT = {36, -24, 24, 152, 255}
NO_TESTS = {5, 33}

PYPROJECT = """\
# Written by tests/mutation/mutation.py for one mutmut run; not the project's configuration.
[tool.mutmut]
source_paths = ["src"]
only_mutate = {only_mutate}
also_copy = {also_copy}
pytest_add_cli_args_test_selection = {tests}
pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:timeout", "-q"]
use_git_change_detection = false

# Its own pytest section, so pytest does not climb to the project's pyproject.toml
# (whose pythonpath would import the unmutated collection through .collections/).
[tool.pytest.ini_options]
addopts = "-p no:cacheprovider"
"""


def stage(targets: tuple[str, ...], directory: Path, tests: list[str] | None = None) -> None:
    """A copy of the collection laid out as its import path, with its tests beside it.

    The whole collection is copied (tests read files such as docs/runtime.md next to the code), and
    once more at the copy's top, as the checkout has it, for tests that read the repository itself
    (README.md, docs/, plugins/: the article anchors); the tests of the copy's ``tests/`` directory
    are the ones that run.
    """
    if directory.exists():
        shutil.rmtree(directory)
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        source = REPO / name
        if not source.is_file():
            continue  # deleted in the work tree
        for base in (directory / PACKAGE, directory):
            target = base / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    only = json.dumps([str(PACKAGE / target) for target in targets])
    tops = sorted({name.split("/", 1)[0] for name in listed if "/" in name and (REPO / name).is_file()})
    also = json.dumps(["README.md", *(top for top in tops if top not in ("src", "tests"))])
    (directory / "pyproject.toml").write_text(
        PYPROJECT.format(only_mutate=only, also_copy=also, tests=json.dumps(tests or [TESTS])), encoding="utf-8"
    )


def stage_dir(target: str) -> Path:
    return STAGE / Path(target).stem


def tests_of(target: str) -> list[str]:
    """The unit test files that can call the target: those that import it, or a module of the collection that
    imports it (its callers, followed up), directly or through a helper module of the tests (``chainlab.py``).
    Only these run against the target's mutants; mutmut then runs, per mutant, those of their tests that
    call the mutated function."""
    modules = {path.stem: path.read_text(encoding="utf-8") for path in (REPO / "plugins/plugin_utils").glob("_*.py")}
    names = {Path(target).stem}
    while True:
        callers = {name for name, text in modules.items() if any(imports(text, module) for module in names)}
        if callers <= names:
            break
        names |= callers
    texts = {path: path.read_text(encoding="utf-8") for path in sorted((REPO / UNIT).rglob("*.py"))}
    names |= {
        p.stem for p, text in texts.items() if not p.name.startswith("test_") and any(mentions(text, n) for n in names)
    }
    return [
        str(path.relative_to(REPO))
        for path, text in texts.items()
        if path.name.startswith("test_") and any(mentions(text, name) for name in names)
    ]


def imports(text: str, module: str) -> bool:
    """Whether a module of plugin_utils imports ``module`` (``from ._x import`` or ``from . import _x``)."""
    return (
        re.search(rf"^from \.{re.escape(module)} import|^from \. import .*\b{re.escape(module)}\b", text, re.M)
        is not None
    )


def mentions(text: str, module: str) -> bool:
    return re.search(rf"\b{re.escape(module)}\b", text) is not None


def last_cost(target: str) -> tuple[float, float | None] | None:
    """Wall and CPU seconds of the target's last mutmut run (CPU None when only the wall time was recorded, as
    before CPU was), or None when it never ran."""
    path = stage_dir(target) / "seconds"
    if not path.is_file():
        return None
    figures = [float(word) for word in path.read_text(encoding="utf-8").split()]
    return (figures[0], figures[1] if len(figures) > 1 else None)


def record_cost(target: str, seconds: float, cpu: float, exit_code: int) -> None:
    """Keep a finished run's wall and CPU seconds for the next run's order. A failed run's are dropped (and an
    older record with them): a run that failed in seconds says nothing of the target's cost, and its small
    figures would schedule the target last, to run alone at the end."""
    path = stage_dir(target) / "seconds"
    if exit_code == 0:
        path.write_text(f"{seconds:.0f} {cpu:.0f}\n", encoding="utf-8")
    else:
        path.unlink(missing_ok=True)


def longest_first(targets: tuple[str, ...]) -> list[str]:
    """The targets by the CPU seconds of their last run, the costliest first and those never measured before
    all: with several targets at once, a long one started last would run alone at the end."""

    def cost(target: str) -> float:
        last = last_cost(target)
        return float("inf") if last is None else last[0] if last[1] is None else last[1]

    return sorted(targets, key=cost, reverse=True)


def run_mutmut(targets: tuple[str, ...], jobs: int, max_children: int) -> None:
    """One mutmut run per target, each in its own staged copy, up to ``jobs`` at a time, the costliest first;
    each run's output goes to ``.mutation/mutmut/<file>/mutmut.log``, its wall and CPU seconds (mutmut and
    every worker it forked) to ``.mutation/mutmut/<file>/seconds``."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "ANSIBLE_CONFIG")}
    command = [str(Path(sys.executable).parent / "mutmut"), "run", "--max-children", str(max_children)]
    waiting = longest_first(targets)
    running: dict[str, tuple[subprocess.Popen[bytes], float]] = {}
    failed = []
    while waiting or running:
        while waiting and len(running) < jobs:
            target = waiting.pop(0)
            directory = stage_dir(target)
            tests = tests_of(target)
            stage((target,), directory, tests)
            log = (directory / "mutmut.log").open("wb")
            print(f"{Path(target).name}: mutmut with {len(tests)} test file(s), log {directory / 'mutmut.log'}")
            process = subprocess.Popen(command, cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT)
            running[target] = (process, time.monotonic())
        time.sleep(1)
        for target, (process, started) in list(running.items()):
            # wait4, not poll: its resource usage is the CPU time of mutmut and of every worker it waited for
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid == 0:
                continue
            process.returncode = os.waitstatus_to_exitcode(status)
            del running[target]
            seconds, cpu = time.monotonic() - started, usage.ru_utime + usage.ru_stime
            record_cost(target, seconds, cpu, process.returncode)
            print(
                f"{Path(target).name}: done in {seconds / 60:.1f} min, {cpu / 60:.1f} CPU min "
                f"(exit code {process.returncode})"
            )
            if process.returncode != 0:
                failed.append(target)
    if failed:
        sys.exit(f"mutmut run failed for {', '.join(failed)}; see the mutmut.log of each under {STAGE}")


# --- reading the results ---------------------------------------------------------------
MARKER = "# type: ignore # mutmut generated"
PROSE = re.compile(r"[A-Za-z]{2,}.*\s|\s.*[A-Za-z]{2,}", re.S)  # a word and a space: text for people
FINDING_ID = re.compile(r"\b[A-Z0-9]+(?:_[A-Z0-9]+)+\b")  # an id such as SESSION_LIMIT_REACHED is matched on


def string_constants(tree: ast.AST) -> list[tuple[ast.AST, str | None]]:
    return [
        (node, node.value if isinstance(node.value, str) else None)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
    ]


def skeleton(tree: ast.AST) -> str:
    """The function without its name and with every string emptied: equal skeletons differ in strings only."""
    tree = ast.parse(ast.unparse(tree))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.name = "f"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(tree)


def is_wording(original: str, mutant: str) -> bool:
    """A mutant that only changes text written for people: prose (words and spaces) in messages and evidence.

    Any other string is not wording, however small: a key, a value name, a state word, a separator,
    a marker such as the ``#`` of qwinsta's user rows, or prose that names a finding id (the JUnit
    report matches unchecked entries on it) changes what is diagnosed or reported.
    """
    first, second = ast.parse(textwrap.dedent(original)), ast.parse(textwrap.dedent(mutant))
    if skeleton(first) != skeleton(second):
        return False
    before = [value for _unused, value in string_constants(first)]
    after = [value for _unused, value in string_constants(second)]
    changed = [old for old, new in zip(before, after, strict=True) if old != new]
    return bool(changed) and all(
        old is not None and PROSE.search(old) and not FINDING_ID.search(old) for old in changed
    )


@dataclass
class FileScore:
    target: str
    minutes: float | None = None  # how long its last mutmut run took
    cpu_minutes: float | None = None  # the CPU time it took (mutmut and its workers); None: not recorded
    mutants: int = 0
    killed: int = 0
    timeouts: int = 0
    survivors: list[str] = field(default_factory=list)
    wording: list[str] = field(default_factory=list)
    no_tests: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    changes: dict[str, str] = field(default_factory=dict)

    @property
    def considered(self) -> int:
        return self.mutants - len(self.wording)

    @property
    def score(self) -> float:
        return 100.0 * (self.killed + self.timeouts) / self.considered if self.considered else 100.0


def read_scores(targets: tuple[str, ...]) -> list[FileScore]:
    scores = []
    for target in targets:
        path, mutants = PACKAGE / target, stage_dir(target) / "mutants"
        if not (mutants / f"{path}.meta").is_file():
            print(f"{target}: not measured yet (make mutation TARGET={Path(target).stem})")
            continue
        meta = json.loads((mutants / f"{path}.meta").read_text(encoding="utf-8"))
        spans = json.loads((mutants / f"{path}.spans").read_text(encoding="utf-8"))["spans"]
        lines = (mutants / path).read_text(encoding="utf-8").splitlines(keepends=True)

        def source(name: str, spans: dict[str, list[int]] = spans, lines: list[str] = lines) -> str:
            start, end = spans[name]
            return "".join(lines[start - 1 : end])

        cost = last_cost(target)
        score = FileScore(target)
        if cost is not None:
            score.minutes = cost[0] / 60
            score.cpu_minutes = None if cost[1] is None else cost[1] / 60
        for key, code in sorted(meta["exit_code_by_key"].items(), key=lambda item: natural(item[0])):
            score.mutants += 1
            if code in KILLED:
                score.killed += 1
            elif code in TIMEOUT:
                score.timeouts += 1
            elif code in SURVIVED or code in NO_TESTS:
                function = key.rpartition(".")[2]
                original = function.rpartition("__mutmut_")[0] + "__mutmut_orig"
                score.changes[key] = changed_lines(source(original), source(function))
                if is_wording(source(original), source(function)):
                    score.wording.append(key)
                elif code in SURVIVED:
                    score.survivors.append(key)
                else:
                    score.no_tests.append(key)
            else:
                score.other.append(f"{key} (exit code {code})")
        scores.append(score)
    return scores


def changed_lines(original: str, mutant: str) -> str:
    """The mutant's lines that differ from the original function's (its def line aside), for the listing."""
    before, after = textwrap.dedent(original).splitlines(), textwrap.dedent(mutant).splitlines()
    new = [
        line[2:].strip()
        for line in difflib.ndiff(before, after)
        if line.startswith("+ ") and not line[2:].lstrip().startswith(("def ", "async def "))
    ]
    text = " | ".join(line.replace(MARKER, "").strip() for line in new) or "(a line removed)"
    return text if len(text) <= 150 else text[:147] + "..."


def natural(key: str) -> tuple[str, int]:
    name, _unused, number = key.rpartition("__mutmut_")
    return name, int(number) if number.isdigit() else 0


def report(scores: list[FileScore], seconds: float, wording: bool) -> bool:
    print()
    print(
        f"{'FILE':<34} {'MUTANTS':>7} {'KILLED':>7} {'WORDING':>8} {'SURVIVED':>9} {'NO TEST':>8} {'SCORE':>7} "
        f"{'MINUTES':>8} {'CPU MIN':>8}"
    )
    for s in scores:
        minutes = f"{s.minutes:>8.1f}" if s.minutes is not None else f"{'-':>8}"
        cpu = f"{s.cpu_minutes:>8.1f}" if s.cpu_minutes is not None else f"{'-':>8}"
        print(
            f"{s.target:<34} {s.mutants:>7} {s.killed + s.timeouts:>7} {len(s.wording):>8} {len(s.survivors):>9} "
            f"{len(s.no_tests):>8} {s.score:>6.1f}% {minutes} {cpu}"
        )
    print(f"SCORE = killed / (mutants - wording-only survivors); the goal is {GOAL:.0f}% per file")
    for s in scores:
        lists = [("surviving mutants", s.survivors), ("mutants no test runs", s.no_tests), ("other results", s.other)]
        if wording:
            lists.append(("wording-only survivors (accepted)", s.wording))
        for title, keys in lists:
            if not keys:
                continue
            module = keys[0].rpartition(".")[0]
            print(f"\n{s.target}: {title} ({len(keys)}), as mutant: mutated line(s)")
            for key in keys:
                print(f"  {key.rpartition('.')[2]}: {s.changes.get(key, '')}")
            where = stage_dir(s.target).relative_to(REPO)
            print(f"  (the whole diff: cd {where} && ../../../.venv/bin/mutmut show {module}.NAME)")
    accepted = sum(len(s.wording) for s in scores)
    print(f"\nwording-only survivors (accepted; --wording lists them): {accepted}")
    print(f"mutation run took {seconds / 60:.1f} min")
    measured = [s.cpu_minutes for s in scores if s.cpu_minutes is not None]
    if measured:
        cores = os.cpu_count() or 1
        print(
            f"CPU time of the last run of {len(measured)} of {len(scores)} target(s): {sum(measured):.1f} min; "
            f"on an idle machine with {cores} core(s) all of them at once take about {sum(measured) / cores:.1f} min"
        )
    return all(s.score >= GOAL for s in scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="targets measured at once (default 2)")
    parser.add_argument(
        "--max-children", type=int, default=None, help="mutmut's workers per target (default: CPUs / jobs, 1 or more)"
    )
    parser.add_argument("--report-only", action="store_true", help="read the last results again")
    parser.add_argument("--wording", action="store_true", help="also list the accepted wording-only survivors")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="mutate only this target (_rules or _rules.py); repeatable"
    )
    args = parser.parse_args()
    only = {name if name.endswith(".py") else f"{name}.py" for name in args.only or []}
    targets = tuple(t for t in TARGETS if not only or Path(t).name in only)
    if not targets or len(targets) < len(only):
        parser.error(f"--only: choose from {', '.join(Path(t).stem for t in TARGETS)}")
    jobs = max(1, min(args.jobs, len(targets)))
    children = args.max_children or max(1, (os.cpu_count() or 2) // jobs)
    started = time.monotonic()
    if not args.report_only:
        run_mutmut(targets, jobs, children)
    ok = report(read_scores(targets), time.monotonic() - started, args.wording)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
