"""Helpers for the lab's own tests: a lab world in-process, the ARM API called without a network, an event loop."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from avdlab.arm import API_VERSION, ArmApi, ArmSettings, Client
from avdlab.avd import fqdn
from avdlab.model import HostSpec, LabModel, Scenario
from avdlab.server import ConnectionState, HttpRequest
from avdlab.windows import known as k
from avdlab.windows.agent import FAILURE_STOP_SECONDS
from avdlab.windows.state import HostState

TENANT = "11111111-2222-3333-4444-555555555555"


def world(*hosts: HostSpec, max_session_limit: int = 4) -> LabModel:
    return LabModel(Scenario(max_session_limit=max_session_limit, hosts=list(hosts)))


def later(state: HostState, seconds: float = FAILURE_STOP_SECONDS + 1) -> None:
    """Let the host's clock run on (a failing boot loader stops a moment after it started)."""
    state.settle(time.time() + seconds)


class Arm:
    """Calls the lab's ARM API in-process, authenticated as the lab's contributor."""

    def __init__(self, model: LabModel, can_write: bool = True) -> None:
        self.settings = ArmSettings(
            tenant_id=TENANT, clients=[Client("app", "secret", can_write=can_write)], base_url="https://arm.test"
        )
        self.api = ArmApi(model, self.settings)
        self.pool = model.pool
        answer = self._send(
            "POST",
            f"/{TENANT}/oauth2/v2.0/token",
            b"grant_type=client_credentials&client_id=app&client_secret=secret&scope=x",
            auth=False,
        )
        self.token = answer[1]["access_token"]

    def _send(self, method: str, target: str, body: bytes = b"", auth: bool = True) -> tuple[int, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if auth else {}
        response = asyncio.run(self.api(HttpRequest(method, target, headers, body), ConnectionState(client_ip="")))
        return response.status, (json.loads(response.body) if response.body else None)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, query: str = "") -> tuple[int, Any]:
        target = f"{self.pool.arm_id}{path}?api-version={API_VERSION}{query}"
        return self._send(method, target, json.dumps(body).encode() if body is not None else b"")

    def new_token(self, hours: float = 2) -> str:
        expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + hours * 3600))
        status, answer = self.call(
            "PATCH",
            "",
            {"properties": {"registrationInfo": {"expirationTime": expiry, "registrationTokenOperation": "Update"}}},
        )
        assert status == 200, answer
        return str(answer["properties"]["registrationInfo"]["token"])

    def session_host(self, state: HostState) -> tuple[int, Any]:
        return self.call("GET", f"/sessionHosts/{fqdn(state.name)}")

    def status(self, state: HostState) -> str | None:
        code, answer = self.session_host(state)
        return answer["properties"]["status"] if code == 200 else None


def error_events(state: HostState) -> list[tuple[int, str, str]]:
    return [(e.event_id, e.source, e.message) for e in state.events if e.level == "Error"]


def sxs_row(state: HostState) -> str | None:
    """The STATE of the rdp-sxs row in qwinsta (None when it is not listed)."""
    from avdlab.windows.operations import run_qwinsta

    for line in run_qwinsta(state)["text"].splitlines()[1:]:
        fields = line[1:].split()
        if fields and fields[0].startswith("rdp-sxs") and "#" not in fields[0]:
            return fields[-1]
    return None


def registry(state: HostState, name: str, path: str = k.RDINFRA_AGENT) -> Any:
    return state.registry.get_data(path, name)


class LoopThread:
    """An event loop in a thread, so blocking clients (pywinrm, pypsrp) can drive the async service."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
