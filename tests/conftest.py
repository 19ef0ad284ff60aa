"""Fixtures shared by the lab's tests and the integration tests: running labs."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
LAB_BASE = REPO / ".lab-test"
BIN = Path(sys.executable).parent
# Several checkouts may run their tests at once on one machine (worktrees):
# AVDLAB_NET=N moves every test lab from 127.0.X.Y to 127.N.X.Y.
LAB_NET = int(os.environ.get("AVDLAB_NET", "0"))
# Every Ansible command the tests start (molecule's too) reads no hosts unless it names its inventory with -i:
# ansible.cfg's default, inventories/lab, is where `make demo` leaves the demo lab's hosts, WinRM settings and
# host_pool source, which a play without -i would read (its Azure requests landed on a test lab's ARM).
NO_INVENTORY = REPO / "tests" / "fixtures" / "no_inventory"
os.environ["ANSIBLE_INVENTORY"] = str(NO_INVENTORY)


def lab_address(address: str) -> str:
    """A test lab address (written as 127.0.X.Y) in this run's loopback net."""
    first, _unused, *rest = address.split(".")
    return ".".join([first, str(LAB_NET), *rest])


def flat(text: str) -> str:
    """Ansible output with the callback's folding of long lines (and its YAML quotes) undone."""
    return " ".join(text.replace("'", "").split())


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


# Every Ansible output the tests produce, with the command's exit code, until the test that produced it ends
# (``no_unknown_error``, ``no_error_on_success``).
OUTPUTS: list[tuple[str, str, int | None]] = []
# What Ansible says when a module or action plugin fails without a message: a failure that does not say what
# happened nor what to do. No output of any playbook may carry it (issue 21).
SILENT_FAILURE = "Unknown error"
# What ansible-core 2.19 prints for every failed task, ignored and rescued ones and an exhausted `until` included.
# A run that ends in success prints none on its normal paths (issue 21): the one kind of real error such a run
# reports and goes on from is a host that could not be reached (an UNREACHABLE result the playbook ignores to
# report it); any other needs the test's ``ansible_errors`` mark, naming it.
ERROR_MARK = "[ERROR]"


def record_output(command: str, *texts: str | None, returncode: int | None = None) -> None:
    """Keep an Ansible command's output and exit code for the checks at the end of the test."""
    OUTPUTS.append((command, "\n".join(text for text in texts if text), returncode))


def silent_failures(outputs: list[tuple[str, str, int | None]]) -> list[str]:
    """The commands among ``outputs`` that printed Ansible's message-less failure, each with its task and line."""
    found = []
    for command, text, _returncode in outputs:
        task = ""
        for line in text.splitlines():
            if line.startswith("TASK ["):
                task = line.rstrip("* ")
            elif SILENT_FAILURE in line:
                found.append(f"{command}: {task}: {line.strip()}")
                break
    return found


# Lines that start the next result or task: where the output of one host's result ends.
NEXT_RESULT = ("fatal: [", "ok: [", "changed: [", "skipping: [", "failed: [", "TASK [", "PLAY ", "RUNNING HANDLER [")


def _ends_unreachable(lines: list[str], start: int) -> bool:
    """Whether the [ERROR] at ``lines[start]`` is the one of a host result reported UNREACHABLE and ignored (the
    result may span lines, as the YAML result format prints it, before "...ignoring")."""
    index = start + 1
    while index < len(lines) and not lines[index].startswith((*NEXT_RESULT, ERROR_MARK)):
        index += 1
    if index == len(lines) or not (lines[index].startswith("fatal: [") and "UNREACHABLE!" in lines[index]):
        return False
    for line in lines[index + 1 :]:
        if line.startswith("...ignoring"):
            return True
        if line.startswith((*NEXT_RESULT, ERROR_MARK)):
            return False
    return False


def errors_on_success(outputs: list[tuple[str, str, int | None]], allowed: list[str]) -> list[str]:
    """The [ERROR] lines of the commands among ``outputs`` that ended in success (exit code 0), each with its
    command and task: all but an ignored unreachable host's and those a pattern of ``allowed`` (a regular
    expression, searched in ``TASK [...]: [ERROR]...``) names."""
    patterns = [re.compile(pattern) for pattern in allowed]
    found = []
    for command, text, returncode in outputs:
        if returncode != 0:
            continue
        task = ""
        lines = text.splitlines()
        for index, line in enumerate(lines):
            if line.startswith("TASK ["):
                task = line.rstrip("* ")
            elif line.startswith(ERROR_MARK) and not _ends_unreachable(lines, index):
                seen = f"{task}: {line.strip()}"
                if not any(pattern.search(seen) for pattern in patterns):
                    found.append(f"{command}: {seen}")
    return found


@pytest.fixture(autouse=True)
def no_unknown_error(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test when an Ansible command it (or a fixture it uses) ran printed "Unknown error", or ended in
    success yet printed "[ERROR]" (but for what its ``ansible_errors`` marks allow, each a real error it expects)."""
    yield
    allowed = [pattern for mark in request.node.iter_markers("ansible_errors") for pattern in mark.args]
    found = silent_failures(OUTPUTS)
    errors = errors_on_success(OUTPUTS, allowed)
    OUTPUTS.clear()
    if found:
        pytest.fail("A failure without a message (say what happened and what to do):\n" + "\n".join(found))
    if errors:
        pytest.fail("[ERROR] in a run that ended in success (a normal path prints none):\n" + "\n".join(errors))


def run_ansible(tool: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ansible, ansible-playbook, ansible-doc or ansible-inventory from the venv, in the repository; with a
    test lab's inventory, with that lab's Azure credentials (unless ``env`` names others)."""
    env = env or ansible_env()
    result = subprocess.run(
        [str(BIN / tool), *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**lab_azure_env(*args), **env} if "AZURE_CONFIG_DIR" not in env else env,
        cwd=REPO,
        check=False,
    )
    record_output(" ".join([tool, *args]), result.stdout, result.stderr, returncode=result.returncode)
    return result


def avdlab(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(BIN / "avdlab"), *args], capture_output=True, text=True, timeout=180, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"avdlab {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def stop_lab(directory: Path) -> int:
    """`avdlab down --dir DIRECTORY` (nothing to do when no lab runs there), run in-process by avdlab's own cli.main
    for the fixtures' teardown: a process each cost 0.15 CPU-s. tests/lab/tests/test_cli.py runs the command."""
    from avdlab import cli

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli.main(["down", "--dir", str(directory)])


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

    # What `avdlab show|status|inject|power|crash --dir DIR` print, asked of the running lab in-process as avdlab's
    # cli.py asks it (a process each cost 0.15 to 0.3 CPU-s); tests/lab/tests/test_cli.py, test_power.py and
    # test_lab_hosts.py's test_inject_and_show run the commands themselves.
    def _command(self, route: str, method: str = "GET") -> dict:
        try:
            return self.control(route, method)
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {route}: {json.loads(exc.read()).get('error', str(exc))}") from exc

    def show(self, host: str) -> dict:
        """`avdlab show HOST`: the host's state (registration token redacted)."""
        return self._command(f"/hosts/{host}")

    def status(self) -> dict:
        """`avdlab status`: the lab and its hosts (up, power)."""
        return self._command("/status")

    def inject(self, host: str, fault: str) -> dict:
        """`avdlab inject HOST FAULT`: the host gets the fault and restarts; its state after."""
        return self._command(f"/hosts/{host}/inject?fault={fault}", "POST")

    def power(self, host: str, state: str) -> dict:
        """`avdlab power HOST on|off`: its VM started (and booted) or stopped; its state after."""
        return self._command(f"/hosts/{host}/power?state={state}", "POST")

    def crash(self, host: str, down: float = 5.0) -> dict:
        """`avdlab crash HOST --down SECONDS`: the host drops off the network now and boots DOWN seconds later."""
        return self._command(f"/hosts/{host}/crash?down={float(down)}", "POST")

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
        stop_lab(directory)
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
        stop_lab(lab.directory)


# Each test module that asks for the fifty-host lab gets its own, on its own addresses (apart from the demo lab's
# 127.0.1.x), so that pytest-xdist can run the modules on different workers at once.
POOL_LABS = {"test_winrm_lab": "127.0.2.1", "test_psrp_lab": "127.0.5.1"}


@pytest.fixture(scope="module")
def pool_lab(request: pytest.FixtureRequest, lab_factory) -> RunningLab:
    """Fifty healthy hosts, started once for the module that asks (POOL_LABS names its address block)."""
    module = request.module.__name__.rpartition(".")[2]
    if module not in POOL_LABS:
        raise AssertionError(f"{module} needs its own address block for the fifty-host lab: add it to POOL_LABS")
    lab = lab_factory(f"pool-{module}", "--hosts", "50", "--first-address", POOL_LABS[module])
    yield lab
    stop_lab(lab.directory)


# `make test` runs pytest with pytest-xdist (-n N --dist loadscope) and this scheduler: a test module runs whole on
# one worker (its module-scoped lab starts once, on the module's own addresses), each molecule scenario is a unit
# of its own (its lab has its own octet), and the units that take longest go first, so that no worker is left with
# a long one at the end: by their measured durations (DURATIONS), then those not measured yet in SLOW_FIRST's order.
SPLIT_BY_TEST = ("tests/integration/test_molecule_scenarios.py",)
SLOW_FIRST = (
    "tests/integration/test_unkind_all_at_once.py",
    "tests/integration/test_molecule_scenarios.py",
    "tests/integration/",
    "tests/lab/",
    "tests/unit/",
)
# Each unit's duration in seconds (its tests' setup, call and teardown), as the last run with --store-durations
# measured it (docs/testing.md, "Running in parallel"): that run updates the units it ran and keeps the others.
DURATIONS = REPO / "tests" / "durations.json"


def work_unit(nodeid: str) -> str:
    """The unit of work an xdist worker takes whole: the test's module, or the test itself (SPLIT_BY_TEST)."""
    path = nodeid.split("::", maxsplit=1)[0]
    return nodeid if path in SPLIT_BY_TEST else path


def slow_first(nodeid: str) -> int:
    path = nodeid.split("::", maxsplit=1)[0]
    return next((index for index, prefix in enumerate(SLOW_FIRST) if path.startswith(prefix)), len(SLOW_FIRST))


def read_durations(path: Path = DURATIONS) -> dict[str, float]:
    """The measured units' durations; none when the file is missing or not a JSON object of numbers."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(unit): float(seconds) for unit, seconds in data.items() if isinstance(seconds, int | float)}


def schedule_key(nodeid: str, durations: dict[str, float]) -> tuple[float, int]:
    """Longest measured unit first; the units not measured after them, in SLOW_FIRST's order."""
    return (-durations.get(work_unit(nodeid), 0.0), slow_first(nodeid))


def store_durations(measured: dict[str, float], path: Path = DURATIONS) -> None:
    """Write the units' durations, ``measured`` over those the file had, longest first."""
    durations = {**read_durations(path), **{unit: round(seconds, 1) for unit, seconds in measured.items()}}
    ordered = dict(sorted(durations.items(), key=lambda item: (-item[1], item[0])))
    path.write_text(json.dumps(ordered, indent=1) + "\n")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-durations",
        action="store_true",
        default=False,
        help="write each work unit's duration (seconds) to tests/durations.json, which orders the units longest "
        "first (the units that ran are updated, the others kept)",
    )


def cpu_seconds() -> float:
    """User and system CPU of this process and of every child it has waited for (an ansible-playbook and the
    workers it forked, a lab the test stopped, molecule): what a test cost, read before and after it."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class CpuMeter:
    """In the process that runs the tests (an xdist worker): each phase report carries the CPU spent since the
    last one (``cpu`` in its user_properties), so a module's fixtures count in its first and last tests."""

    def __init__(self) -> None:
        self.last = cpu_seconds()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        now = cpu_seconds()
        report.user_properties.append(("cpu", now - self.last))
        self.last = now
        return report


class DurationRecorder:
    """Sums the durations (and the CPU) of each unit's reports in the process that writes the results (xdist's
    controller); the CPU per unit is printed at the end, the costliest first."""

    def __init__(self) -> None:
        self.durations: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        unit = work_unit(report.nodeid)
        self.durations[unit] = self.durations.get(unit, 0.0) + report.duration
        spent = sum(value for name, value in report.user_properties if name == "cpu")
        self.cpu[unit] = self.cpu.get(unit, 0.0) + spent

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_sep("=", f"CPU seconds per unit ({sum(self.cpu.values()):.0f} in all)")
        for unit, spent in sorted(self.cpu.items(), key=lambda item: -item[1]):
            terminalreporter.write_line(f"{spent:8.1f} {self.durations[unit]:8.1f} s  {unit}")

    def pytest_sessionfinish(self) -> None:
        if self.durations:
            store_durations(self.durations)


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("--store-durations"):
        return
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", 0):
        config.pluginmanager.register(CpuMeter(), "avd-cpu")  # where the tests run (a worker, or pytest -n 0)
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(DurationRecorder(), "avd-durations")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    durations = read_durations()
    items.sort(key=lambda item: schedule_key(item.nodeid, durations))  # stable: a unit's tests stay in order


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False  # keep the longest-first order, not the units' test counts
    return ModuleScheduling(config, log)
