"""Benchmark: remediate a lab pool with every fixable fault on several hosts.

Starts its own lab (hosts from --first-address), with a per-command start-up
cost like a real powershell.exe (--latency), runs playbooks/remediate.yml
over the static inventory and the host_pool inventory (the pool's view, as in production),
and prints per fault the WinRM commands each fixed host took (the diagnosis
before and after included) and the wall time of the whole pool against the
slowest single host fixed alone. Not a test: it asserts nothing about time.

    .venv/bin/python benchmarks/remediate_pool.py --copies 3 --latency 0.5 --forks 25
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
# Fixable catalog faults and the fix each gets (the article's sections).
FIXABLE = {
    "invalid_registration_token": "registration",
    "expired_registration_token": "registration",
    "endpoint_not_found": "registration",
    "bootloader_stopped": "boot_loader",
    "agent_heartbeat_lost": "boot_loader (restart)",
    "stack_listener_broken": "stack_listener (reboot)",
    "stack_health_check_failed": "stack_listener (reboot)",
}


def avdlab(*args: str) -> str:
    result = subprocess.run([str(BIN / "avdlab"), *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"avdlab {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def remediate(inventory: Path, report_dir: Path, forks: int, *extra: str) -> float:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_FORKS": str(forks)}
    command = [
        str(BIN / "ansible-playbook"),
        # Every host (hosts.yml: a host removed from the pool is still one), with the pool's view where it has one.
        "-i",
        str(inventory / "hosts.yml"),
        "-i",
        str(inventory / "hostpool.avd.yml"),
        str(REPO / "playbooks" / "remediate.yml"),
        "-e",
        f"avd_report_dir={report_dir}",
        *extra,
    ]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"remediate.yml failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    return elapsed


def outcomes(report_dir: Path) -> dict[str, str]:
    report = json.loads((report_dir / "remediation.json").read_text())
    return {name: entry["outcome"] for name, entry in report["hosts"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=3, help="hosts per fixable fault")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds each WinRM command takes to start")
    parser.add_argument("--forks", type=int, default=25)
    parser.add_argument("--first-address", default="127.0.23.1", help="loopback address of the lab's first host")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="avd-remediate-bench-"))
    lab_dir, inventory_dir = work / "lab", work / "inventory"
    hosts: list[dict[str, str]] = [
        {"name": f"fx-{index:02d}", "fault": fault}
        for index, fault in enumerate(
            (fault for fault in FIXABLE for _ in range(args.copies)),
            start=1,
        )
    ]
    scenario = work / "scenario.yml"
    scenario.write_text(
        json.dumps(
            {"host_pool": {"name": "hp-bench"}, "hosts": [{"name": h["name"], "faults": [h["fault"]]} for h in hosts]}
        )
    )
    avdlab(
        "up",
        "--scenario",
        str(scenario),
        "--dir",
        str(lab_dir),
        "--inventory",
        str(inventory_dir),
        "--first-address",
        args.first_address,
        "--latency",
        str(args.latency),
    )
    inventory = inventory_dir
    try:
        avdlab("stats", "--reset", "--dir", str(lab_dir))
        pool_seconds = remediate(inventory, work / "pool", args.forks)
        figures = json.loads(avdlab("stats", "--dir", str(lab_dir)))
        done = outcomes(work / "pool")
        # The slowest fix alone: a stack listener host, restarted (its fault injected again).
        alone = next(h["name"] for h in hosts if h["fault"] == "stack_health_check_failed")
        avdlab("inject", "--dir", str(lab_dir), alone, "stack_health_check_failed")
        alone_seconds = remediate(inventory, work / "alone", args.forks, "-e", f"target={alone}")
        alone_outcome = outcomes(work / "alone")[alone]
    finally:
        avdlab("down", "--dir", str(lab_dir))
    print(f"{len(hosts)} hosts ({args.copies} per fault), latency {args.latency} s, forks {args.forks}")
    print(f"{'fault':<28} {'fix':<26} {'fixed':>6} {'commands/host':>14}")
    for fault, fix in FIXABLE.items():
        names = [h["name"] for h in hosts if h["fault"] == fault]
        fixed = sum(done.get(name) == "fixed" for name in names)
        commands = sorted(figures[name]["commands"] for name in names)
        print(f"{fault:<28} {fix:<26} {fixed:>3}/{len(names):<2} {'-'.join(map(str, sorted(set(commands)))):>14}")
    print(f"pool: {pool_seconds:.1f} s; slowest host alone ({alone}, {alone_outcome}): {alone_seconds:.1f} s; ")
    print(f"ratio {pool_seconds / alone_seconds:.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
