"""Benchmark: diagnose a lab pool, and compare one WinRM command per host with one per area.

Starts its own lab (hosts on 127.0.20.x), with a per-command start-up cost
like a real powershell.exe (--latency), runs playbooks/diagnose.yml, then
gathers the same areas with one command each (what a diagnosis built from
separate tasks would cost), and prints the figures. Not a test: it asserts
nothing about time.

    .venv/bin/python benchmarks/diagnose_pool.py --hosts 100 --latency 0.5 --forks 25
    .venv/bin/python benchmarks/diagnose_pool.py --hosts 100 --latency 0.5 --forks 25 --connection psrp
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
    parser.add_argument("--forks", type=int, default=25)
    parser.add_argument("--first-address", default="127.0.20.1", help="loopback address of the lab's first host")
    parser.add_argument(
        "--connection", choices=("winrm", "psrp"), default="winrm", help="Ansible connection plugin (default winrm)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="avd-bench-"))
    lab_dir, inventory = work / "lab", work / "inventory"
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_FORKS": str(args.forks)}
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
    try:
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
        one = run(
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
        one_stats = stats(lab_dir)
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
        many_stats = stats(lab_dir)
    finally:
        subprocess.run([str(BIN / "avdlab"), "down", "--dir", str(lab_dir)], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)

    def per_host(figures: dict[str, dict[str, int]], key: str) -> float:
        return sum(f[key] for f in figures.values()) / len(figures)

    print(
        f"hosts={args.hosts} forks={args.forks} command start-up latency={args.latency}s connection={args.connection}"
    )
    print(f"{'approach':<36}{'wall s':>8}{'s/host':>8}{'cmds/host':>11}{'KiB in/host':>13}{'KiB out/host':>14}")
    for name, elapsed, figures in (
        ("diagnose.yml (1 command per host)", one, one_stats),
        (f"facts per area ({len(AREAS)} commands per host)", many, many_stats),
    ):
        print(
            f"{name:<36}{elapsed:>8.1f}{elapsed / args.hosts:>8.2f}{per_host(figures, 'commands'):>11.1f}"
            f"{per_host(figures, 'bytes_in') / 1024:>13.1f}{per_host(figures, 'bytes_out') / 1024:>14.1f}"
        )


if __name__ == "__main__":
    main()
