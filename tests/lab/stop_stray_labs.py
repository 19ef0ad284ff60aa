"""Stop lab processes whose directory lies under a base folder (a safety net for `make test`).

The test fixtures stop every lab they start; this catches the ones a killed
or timed-out test run left behind, so `make test` never leaves a process.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path


def stray_labs(base: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"avdlab.daemon" in argv and any(arg.startswith(str(base).encode()) for arg in argv):
            pids.append(int(proc.name))
    return pids


def main() -> int:
    base = Path(sys.argv[1] if len(sys.argv) > 1 else ".lab-test").resolve()
    pids = stray_labs(base)
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        time.sleep(0.1)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    if pids:
        print(f"stopped {len(pids)} stray lab process(es) under {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
