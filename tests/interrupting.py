"""Stopping a write playbook part way, as a person (Ctrl-C: SIGINT) or AWX and CI (SIGTERM) do, and reading the
host pool the way any ARM client would, for the interrupt and concurrency tests (tests/integration)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.parse
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.conftest import BIN, REPO, ansible_env, flat, record_output


class Arm:
    """The lab's ARM endpoint, read as any ARM client would (client credentials, the lab's CA)."""

    def __init__(self, lab: Any) -> None:
        arm = lab.config["arm"]
        self.base, self.arm = arm["url"], arm
        self.context = ssl.create_default_context(cafile=lab.config["ca_cert"])
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": arm["client_id"],
                "client_secret": arm["client_secret"],
                "scope": f"{self.base}/.default",
            }
        ).encode()
        answer = self._open(urllib.request.Request(f"{self.base}/{arm['tenant_id']}/oauth2/v2.0/token", data=form))
        self.token = answer["access_token"]

    def _open(self, request: urllib.request.Request) -> dict:
        with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
            return json.loads(response.read())

    def _url(self, path: str, version: str, pool: str | None) -> str:
        return (
            f"{self.base}/subscriptions/{self.arm['subscription_id']}/resourceGroups/{self.arm['resource_group']}"
            f"/providers/Microsoft.DesktopVirtualization/hostPools/{pool or self.arm['host_pool']}{path}"
            f"?api-version={version}"
        )

    def get(self, path: str, version: str = "2024-04-03", pool: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self._open(urllib.request.Request(self._url(path, version, pool), headers=headers))

    def allow_new_session(self, name: str, pool: str | None = None) -> bool:
        return bool(self.get(f"/sessionHosts/{name}.lab.avd.test", pool=pool)["properties"]["allowNewSession"])

    def session_hosts(self, pool: str | None = None) -> dict[str, dict]:
        """The pool's session hosts by computer name: their properties (status, allowNewSession, sessions)."""
        page = self.get("/sessionHosts", pool=pool)
        listed = page["value"]
        while page.get("nextLink"):  # ARM lists them a page at a time (the lab: 3 a page)
            headers = {"Authorization": f"Bearer {self.token}"}
            page = self._open(urllib.request.Request(page["nextLink"], headers=headers))
            listed += page["value"]
        return {entry["name"].rsplit("/", 1)[-1].split(".", 1)[0]: entry["properties"] for entry in listed}

    def tags(self, pool: str | None = None) -> dict[str, str]:
        return self.get("/providers/Microsoft.Resources/tags/default", "2021-04-01", pool)["properties"]["tags"]

    def generate_key(self, hours: int, pool: str | None = None) -> str:
        """A registration key for the pool valid ``hours`` from now, as an admin generates one in the portal (runs of
        several hosts at once then all reuse it: none generates one that replaces another's)."""
        expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + hours * 3600))
        body = json.dumps(
            {"properties": {"registrationInfo": {"expirationTime": expiry, "registrationTokenOperation": "Update"}}}
        ).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        url = self._url("", "2024-04-03", pool)
        answer = self._open(urllib.request.Request(url, data=body, method="PATCH", headers=headers))
        return str(answer["properties"]["registrationInfo"]["token"])

    def registration_key(self, pool: str | None = None) -> str:
        """The pool's current registration key (retrieveRegistrationToken), as an admin copies it in the portal."""
        headers = {"Authorization": f"Bearer {self.token}"}
        url = self._url("/retrieveRegistrationToken", "2024-04-03", pool)
        return str(self._open(urllib.request.Request(url, data=b"", method="POST", headers=headers))["token"])

    def drain(self, name: str, pool: str | None = None) -> None:
        body = json.dumps({"properties": {"allowNewSession": False}}).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        url = self._url(f"/sessionHosts/{name}.lab.avd.test", "2024-04-03", pool)
        self._open(urllib.request.Request(url, data=body, method="PATCH", headers=headers))

    def remove(self, name: str, pool: str | None = None) -> None:
        """The session host removed from the pool (as the portal's Remove does; refused while it has users)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        url = self._url(f"/sessionHosts/{name}.lab.avd.test", "2024-04-03", pool)
        request = urllib.request.Request(url, method="DELETE", headers=headers)
        with urllib.request.urlopen(request, context=self.context, timeout=30):
            pass


def start(lab: Any, playbook: str, *args: str, inventories: tuple[str, ...] = ("hosts.yml",)) -> subprocess.Popen[str]:
    """ansible-playbook in its own process group, as a terminal or a CI runner starts it."""
    sources = [arg for name in inventories for arg in ("-i", str(lab.inventory / name))]
    return subprocess.Popen(
        [str(BIN / "ansible-playbook"), *sources, str(REPO / "playbooks" / playbook), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ansible_env(PYTHONUNBUFFERED="1", **lab.azure_env),
        cwd=REPO,
        start_new_session=True,
    )


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 300) -> str:
    """The run's output up to the first line with ``marker`` (a task's name as Ansible prints it)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} never came:\n{''.join(seen)[-4000:]}")


def hold(lab: Any, host: str, **match: str) -> None:
    """The lab's test control: the host's next runtime operation whose fields match waits until released."""
    lab.control(f"/hosts/{host}/hold?{urllib.parse.urlencode(match)}", method="POST")


def wait_held(lab: Any, host: str, process: subprocess.Popen[str], timeout: float = 300) -> None:
    """Until the held operation waits on the host (the run stopped exactly there), reading the run's output."""
    deadline = time.monotonic() + timeout
    while not lab.control(f"/hosts/{host}/hold")["waiting"]:
        if process.poll() is not None or time.monotonic() > deadline:
            out = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"the run never reached the held operation on {host}:\n{out[-4000:]}")
        time.sleep(0.2)


def interrupt(process: subprocess.Popen[str], sent: signal.Signals, label: str) -> str:
    """Send the signal to the run's process group (Ctrl-C reaches every process of a terminal's foreground job;
    AWX and CI stop the job's group) and return what the run printed to its end."""
    out = ""
    command_line = command_line_of(process.pid)
    try:
        # Python may drop a signal that lands in its at-fork handlers (Ansible forks a worker per task): like a
        # person pressing Ctrl-C again, or AWX sending SIGTERM again, send it until the run ends.
        # Soon enough that a dropped signal is sent again before the step's few seconds are over (the run must
        # stop there, not finish), late enough that a run already stopping is not signalled twice.
        for _attempt in range(30):
            os.killpg(process.pid, sent)
            try:
                out, _unused = process.communicate(timeout=4)
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        stop_left_workers(command_line)
    record_output(label, out, returncode=process.returncode)
    return out


def command_line_of(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # the run has already ended
        return b""


def stop_left_workers(command_line: bytes) -> list[int]:
    """Kill what is left of an interrupted run: ansible-core's workers each start a session of their own (a signal to
    the run's group misses them) and are told to stop by the controller's signal handler; one forked as the signal
    came may miss it and block for good writing its result to the gone controller (seen after a SIGTERM case: an
    orphaned worker stuck in a pipe write for 50 minutes). A worker is a fork of the controller, with its command
    line; one whose controller is gone is left. Another run with the same command line is not touched: its controller
    is this process's child, its workers that controller's."""
    if not command_line:
        return []
    left = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or command_line_of(int(entry.name)) != command_line:
            continue
        parent = parent_of(int(entry.name))
        if parent != os.getpid() and command_line_of(parent) != command_line:
            left.append(int(entry.name))
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
    return left


def parent_of(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rpartition(")")[2].split()[1])  # after the command's name: state, then the parent's pid


def release(lab: Any, host: str) -> None:
    """End a hold whose run is gone: the held operation fails unrun (the command never reached the host)."""
    if lab.control(f"/hosts/{host}/hold")["held"]:
        lab.control(f"/hosts/{host}/release?run=0", method="POST")


def journal(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def converged(arm: Arm, host: str, journal_path: Path, rerun: str, *, drained_by_admin: bool = False) -> None:
    """The host has its agent, is registered and Available in its (first) pool, drained only if its admin drained
    it; no lock is left on the pool and no drain in the journal. ``rerun`` is the output shown when it is not."""
    listed = arm.session_hosts()
    assert host in listed, flat(rerun)[-4000:]
    assert listed[host]["status"] == "Available", (listed[host], flat(rerun)[-4000:])
    assert listed[host]["allowNewSession"] is (not drained_by_admin), (listed[host], flat(rerun)[-4000:])
    assert f"avdops-run-{host}" not in arm.tags(), arm.tags()
    assert journal(journal_path) == {}


def every_step_at_once(lab: Any, tmp_path_factory: Any, steps: list, run: Any) -> dict[str, tuple[Future, Path]]:
    """Each step's interrupted run and its rerun (``run(lab, tmp, *step)``), at once, each on its own host (a
    step is ``(name, host, ...)``), by step name with the run's directory; the pool's key generated first, so no
    run generates one that replaces another's (a key not the pool's current one no longer registers)."""
    Arm(lab).generate_key(6)
    with ThreadPoolExecutor(max_workers=len(steps)) as pool:
        started = {}
        for step in steps:
            tmp = tmp_path_factory.mktemp(step[1])
            started[step[0]] = (pool.submit(run, lab, tmp, *step), tmp)
    return started
