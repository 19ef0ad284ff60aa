"""tests/interrupting.py's clean-up after an interrupted run: the workers ansible-core left behind (each in a session
of its own, so the run's process group misses them) are killed; a live run with the same command line is not."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.interrupting import command_line_of, parent_of, stop_left_workers


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def processes_with(command_line: bytes) -> list[int]:
    return [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and command_line_of(int(p.name)) == command_line
    ]


def test_an_orphaned_worker_is_killed_and_a_live_run_with_the_same_command_line_is_not():
    argv = [sys.executable, "-c", "import time; time.sleep(120)", f"run-{uuid.uuid4()}"]
    live = subprocess.Popen(argv)
    # the orphan: started by a shell that exits at once, as a worker outlives its controller
    subprocess.run(["sh", "-c", f"{shlex.join(argv)} >/dev/null 2>&1 &"], check=True)
    try:
        assert wait_for(lambda: len(processes_with(command_line_of(live.pid))) == 2)
        command_line = command_line_of(live.pid)
        (orphan,) = [pid for pid in processes_with(command_line) if pid != live.pid]
        assert parent_of(live.pid) == os.getpid() and parent_of(orphan) != live.pid

        assert stop_left_workers(command_line) == [orphan]

        assert wait_for(lambda: processes_with(command_line) == [live.pid])
        assert live.poll() is None
    finally:
        live.kill()
        live.wait()


def test_a_run_that_already_ended_leaves_nothing_to_look_for():
    assert stop_left_workers(b"") == []
    assert command_line_of(2**22 + 1) == b""
