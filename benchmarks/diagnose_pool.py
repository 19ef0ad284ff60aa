"""Benchmark: diagnose a lab pool, and compare one WinRM command per host with one per area.

Starts its own lab (hosts on 127.0.20.x), with a per-command start-up cost
like a real powershell.exe (--latency), runs playbooks/diagnose.yml, then
gathers the same areas with one command each (what a diagnosis built from
separate tasks would cost), and prints the figures. Not a test: it asserts
nothing about time.

    .venv/bin/python benchmarks/diagnose_pool.py --hosts 100 --latency 0.5 --forks 25
    .venv/bin/python benchmarks/diagnose_pool.py --hosts 100 --latency 0.5 --forks 25 --connection psrp
    .venv/bin/python benchmarks/diagnose_pool.py --hosts 500 --forks 50 100 --diagnose-only

With several --forks values, diagnose.yml runs once per value on the same lab. The controller's
memory is sampled while diagnose.yml runs: ansible-playbook and every process under it (the
forks), as RSS and as PSS (shared pages split between the processes that share them, the
fairer per-fork figure since forks share the parent's pages copy-on-write).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / ".collections"))  # the checkout as the collection, as ansible.cfg sees it
from ansible_collections.avdops.sessionhost.plugins.plugin_utils._facts import SUBSETS as AREAS  # noqa: E402


def run(*command: str, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return elapsed


def _children(pid: int) -> list[int]:
    """``pid`` and every process below it, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(parents.get(current, []))
    return found


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; (0, 0) when it has gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        return 0, 0
    return rss, pss


@dataclass
class Memory:
    peak_rss_kib: int = 0  # ansible-playbook and its forks together, at the sample where PSS peaked
    peak_pss_kib: int = 0
    parent_pss_kib: int = 0  # ansible-playbook itself at that sample
    workers: int = 0  # fork processes at that sample
    most_workers: int = 0
    worker_pss_kib: list[int] = field(default_factory=list)  # every sample of every fork


def run_measured(*command: str, env: dict[str, str]) -> tuple[float, Memory]:
    """Run a command, sampling the memory of its process tree every 0.2 s."""
    start = time.perf_counter()
    memory = Memory()
    # ansible's output goes to a file: a pipe nobody reads while sampling would fill and block it
    with tempfile.TemporaryFile("w+") as log:
        with subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO) as process:
            while process.poll() is None:
                tree = _children(process.pid)
                figures = {pid: _memory_kib(pid) for pid in tree}
                workers = [pid for pid in tree[1:] if figures[pid][1]]
                total_rss = sum(rss for rss, _pss in figures.values())
                total_pss = sum(pss for _rss, pss in figures.values())
                memory.worker_pss_kib.extend(figures[pid][1] for pid in workers)
                memory.most_workers = max(memory.most_workers, len(workers))
                if total_pss > memory.peak_pss_kib:
                    memory.peak_pss_kib, memory.peak_rss_kib = total_pss, total_rss
                    memory.parent_pss_kib, memory.workers = figures[process.pid][1], len(workers)
                time.sleep(0.2)
        log.seek(0)
        output = log.read()
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{output[-3000:]}")
    return elapsed, memory


def reset_stats(lab_dir: Path) -> None:
    subprocess.run([str(BIN / "avdlab"), "stats", "--reset", "--dir", str(lab_dir)], capture_output=True, check=True)


def stats(lab_dir: Path) -> dict[str, dict[str, int]]:
    output = subprocess.run(
        [str(BIN / "avdlab"), "stats", "--dir", str(lab_dir)], capture_output=True, text=True, check=True
    ).stdout
    figures: dict[str, dict[str, int]] = json.loads(output)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds each WinRM command takes to start")
    parser.add_argument("--forks", type=int, nargs="+", default=[25], help="one or more fork counts")
    parser.add_argument(
        "--diagnose-only", action="store_true", help="only diagnose.yml (no one-command-per-area comparison)"
    )
    parser.add_argument("--first-address", default="127.0.20.1", help="loopback address of the lab's first host")
    parser.add_argument(
        "--connection", choices=("winrm", "psrp"), default="winrm", help="Ansible connection plugin (default winrm)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="avd-bench-"))
    lab_dir, inventory = work / "lab", work / "inventory"
    run(
        str(BIN / "avdlab"),
        "up",
        "--hosts",
        str(args.hosts),
        "--dir",
        str(lab_dir),
        "--inventory",
        str(inventory),
        "--first-address",
        args.first_address,
        "--latency",
        str(args.latency),
    )
    rows: list[tuple[str, int, float, dict[str, dict[str, int]], Memory | None]] = []
    try:
        for forks in args.forks:
            env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_FORKS": str(forks)}
            reset_stats(lab_dir)
            one, memory = run_measured(
                str(BIN / "ansible-playbook"),
                "-i",
                str(inventory / "hosts.yml"),
                "playbooks/diagnose.yml",
                "-e",
                f"avd_report_dir={work / 'reports'}",
                "-e",
                f"ansible_connection={args.connection}",
                env=env,
            )
            rows.append(("diagnose.yml (1 command per host)", forks, one, stats(lab_dir), memory))
            if args.diagnose_only:
                continue
            playbook = work / "per_area.yml"
            playbook.write_text(
                "- name: One command per area\n  hosts: all\n  gather_facts: false\n  tasks:\n"
                + "".join(
                    f"    - name: Gather {area}\n      avdops.sessionhost.session_host_facts:\n"
                    f"        gather_subset: [{area}]\n"
                    for area in AREAS
                )
            )
            reset_stats(lab_dir)
            many = run(
                str(BIN / "ansible-playbook"),
                "-i",
                str(inventory / "hosts.yml"),
                str(playbook),
                "-e",
                f"ansible_connection={args.connection}",
                env=env,
            )
            rows.append((f"facts per area ({len(AREAS)} commands per host)", forks, many, stats(lab_dir), None))
    finally:
        subprocess.run([str(BIN / "avdlab"), "down", "--dir", str(lab_dir)], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)

    def per_host(figures: dict[str, dict[str, int]], key: str) -> float:
        return sum(f[key] for f in figures.values()) / len(figures)

    print(f"hosts={args.hosts} command start-up latency={args.latency}s connection={args.connection}")
    print(
        f"{'approach':<36}{'forks':>6}{'wall s':>8}{'s/host':>8}{'cmds/host':>11}{'KiB in/host':>13}"
        f"{'KiB out/host':>14}"
    )
    for name, forks, elapsed, figures, _memory in rows:
        print(
            f"{name:<36}{forks:>6}{elapsed:>8.1f}{elapsed / args.hosts:>8.2f}{per_host(figures, 'commands'):>11.1f}"
            f"{per_host(figures, 'bytes_in') / 1024:>13.1f}{per_host(figures, 'bytes_out') / 1024:>14.1f}"
        )
    print("controller memory while diagnose.yml ran (MiB; PSS splits the pages forks share with their parent)")
    print(
        f"{'forks':>6}{'peak RSS':>10}{'peak PSS':>10}{'parent PSS':>12}{'forks then':>12}{'most forks':>12}"
        f"{'PSS/fork':>10}{'fork PSS p50':>14}{'max':>8}"
    )
    for _name, forks, _elapsed, _figures, measured in rows:
        if measured is None:
            continue
        memory = measured
        samples = sorted(memory.worker_pss_kib) or [0]
        per_fork = (memory.peak_pss_kib - memory.parent_pss_kib) / max(memory.workers, 1)
        print(
            f"{forks:>6}{memory.peak_rss_kib / 1024:>10.0f}{memory.peak_pss_kib / 1024:>10.0f}"
            f"{memory.parent_pss_kib / 1024:>12.0f}{memory.workers:>12}{memory.most_workers:>12}"
            f"{per_fork / 1024:>10.1f}{samples[len(samples) // 2] / 1024:>14.1f}{samples[-1] / 1024:>8.1f}"
        )


if __name__ == "__main__":
    main()
