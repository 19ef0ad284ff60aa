"""The lab process: every host's WinRM listeners, the AVD service's endpoints, a control API.

Started in the background by ``avdlab up`` as ``python -m avdlab.daemon DIR``.
It writes ``DIR/daemon.json`` (pid, control URL) once every listener is
bound, or ``DIR/daemon-error.json`` naming what failed, and removes its
runtime files when it stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import signal
import ssl
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .ansible_put_file import AnsiblePsrpPutFile, AnsibleWinrmPutFile
from .arm import ArmApi, ArmSettings, Client
from .auth import Account
from .config import DAEMON_FILE, ERROR_FILE, HostConfig, LabConfig
from .handlers import Handler, default_handlers
from .host import Hold, LabHost
from .model import LabModel, Scenario
from .reboot_handlers import WinRebootCommands
from .runtime_handler import CollectionRuntime
from .server import ConnectionState, HttpRequest, HttpResponse, WinRMEndpoint, serve_http, start_endpoint
from .service import WinRMService
from .shells import ShellTable

log = logging.getLogger("avdlab")
NTLM_USERS_FILE = "ntlm-users"
BOOTED_AGO = 300.0


def write_ntlm_users(config: LabConfig) -> Path:
    """pyspnego's NTLM acceptor reads accounts from NTLM_USER_FILE (DOMAIN:USER:PASSWORD)."""
    domains = ["", ".", *(host.name.upper() for host in config.hosts)]
    path = Path(config.directory) / NTLM_USERS_FILE
    path.write_text("".join(f"{domain}:{config.username}:{config.password}\n" for domain in domains))
    path.chmod(0o600)
    return path


def lab_handlers() -> list[Handler]:
    return [CollectionRuntime(), WinRebootCommands(), AnsiblePsrpPutFile(), AnsibleWinrmPutFile(), *default_handlers()]


class HostRuntime:
    """One host's listeners and power: restarts take the host off the network and bring it back booted."""

    def __init__(self, lab: Lab, config: HostConfig, host: LabHost) -> None:
        self.lab = lab
        self.config = config
        self.host = host
        self.service = WinRMService(host, lab.handlers)
        self.servers: list[asyncio.Server] = []
        self.connections: set[asyncio.StreamWriter] = set()
        self._restart: asyncio.Task[None] | None = None
        host.power = self

    async def open(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.config.cert, self.config.key)
        der = ssl.PEM_cert_to_DER_cert(Path(self.config.cert).read_text())
        for endpoint, ssl_context in (
            (WinRMEndpoint(self.host, self.service, port=self.config.http_port, tls_certificate=None), None),
            (WinRMEndpoint(self.host, self.service, port=self.config.https_port, tls_certificate=der), context),
        ):
            try:
                self.servers.append(await start_endpoint(endpoint, ssl_context, self.connections))
            except OSError as exc:
                raise OSError(
                    f"cannot listen on {self.host.address}:{endpoint.port} for {self.host.name}: {exc.strerror or exc}"
                ) from exc

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        for writer in list(self.connections):
            writer.transport.abort()
        self.host.shells.close_all()
        for server in self.servers:
            await server.wait_closed()
        self.servers = []

    def drop_connections(self) -> None:
        """The network between the clients and the host fails: every open connection is reset (the host, its
        listeners, shells and running commands stay; a command ends only when its client signals or deletes it)."""
        for writer in list(self.connections):
            writer.transport.abort()

    # Power, as shutdown.exe asks for it
    def schedule_restart(self, delay: float) -> None:
        state = self.host.state
        state.shutdown_at = time.time() + delay
        self._restart = asyncio.get_running_loop().create_task(
            self._restart_after(max(delay, 0.5), self.lab.config.reboot_seconds)
        )

    def crash(self, down_seconds: float) -> None:
        """The VM drops off the network now (a crash, a host failure) and boots again later."""
        self.host.state.shutdown_at = time.time()
        self._restart = asyncio.get_running_loop().create_task(self._restart_after(0, down_seconds))

    async def power(self, on: bool) -> None:
        """The VM stops (its listeners close, connections drop) or starts and boots (they open again)."""
        assert self.host.model is not None
        if on:
            if self.host.state.powered_off_at is not None:
                self.host.model.power(self.host.name, on=True)
                await self.open()
            return
        if self.host.state.powered_off_at is None:
            self.abort_restart()
            await self.close()
            self.host.model.power(self.host.name, on=False)

    def abort_restart(self) -> bool:
        if self._restart is None or self._restart.done():
            return False
        self._restart.cancel()
        self._restart = None
        self.host.state.shutdown_at = None
        return True

    async def _restart_after(self, delay: float, down_seconds: float) -> None:
        await asyncio.sleep(delay)
        log.info("%s: restarting (down for %.1fs)", self.host.name, down_seconds)
        await self.close()
        await asyncio.sleep(down_seconds)
        assert self.host.model is not None
        self.host.model.reboot(self.host.state)
        await self.open()
        log.info("%s: up again", self.host.name)


class Lab:
    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.handlers = lab_handlers()
        scenario = Scenario.from_json(config.scenario)
        # The hosts have been up for a few minutes when the lab answers: boots and first agent runs are behind them.
        self.model = LabModel(scenario, state_dir=Path(config.directory) / "hosts", now=time.time() - BOOTED_AGO)
        account = Account(config.username, config.password)
        self.runtimes: dict[str, HostRuntime] = {}
        for host_config in config.hosts:
            host = LabHost(
                name=host_config.name,
                address=host_config.address,
                account=account,
                allow_unencrypted=config.allow_unencrypted,
                command_latency=config.command_latency,
                shells=ShellTable(config.max_shells_per_user, config.max_operations_per_shell),
                model=self.model,
            )
            self.runtimes[host.name] = HostRuntime(self, host_config, host)
        arm = config.arm
        self.arm_settings = ArmSettings(
            tenant_id=arm["tenant_id"],
            base_url=arm["url"],
            clients=[
                Client(arm["client_id"], arm["client_secret"], can_write=True),
                Client(arm["reader_client_id"], arm["reader_client_secret"], can_write=False),
            ],
        )
        self.arm = ArmApi(self.model, self.arm_settings)

    def arm_ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.config.arm["cert"], self.config.arm["key"])
        return context

    @property
    def hosts(self) -> dict[str, LabHost]:
        return {name: runtime.host for name, runtime in self.runtimes.items()}

    async def start(self) -> None:
        for runtime in self.runtimes.values():
            await runtime.open()

    async def stop(self) -> None:
        for runtime in self.runtimes.values():
            if runtime._restart is not None:
                runtime._restart.cancel()
            await runtime.close()

    # --- control API -------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "host_pool": self.model.pool.name,
            "host_pools": [pool.name for pool in self.model.pools],
            "hosts": {
                name: {
                    "address": host.address,
                    "shells": len(host.shells.shells),
                    "up": bool(self.runtimes[name].servers),
                    "power": "off" if host.state.powered_off_at is not None else "on",
                    "faults": host.state.faults,
                }
                for name, host in self.hosts.items()
            },
        }

    def stats(self) -> dict[str, dict[str, int]]:
        return {name: host.stats.as_dict() for name, host in self.hosts.items()}

    async def control(self, request: HttpRequest, state: ConnectionState) -> HttpResponse:
        url = urlsplit(request.target)
        parts = [unquote(part) for part in url.path.strip("/").split("/")]
        query = parse_qs(url.query)
        method = request.method
        try:
            if (method, parts) == ("GET", ["status"]):
                return _json(200, self.status())
            if (method, parts) == ("GET", ["stats"]):
                return _json(200, self.stats())
            if (method, parts) == ("POST", ["stats", "reset"]):
                for host in self.hosts.values():
                    host.stats = type(host.stats)()
                return _json(200, self.stats())
            if (method, parts) == ("GET", ["arm", "stats"]):
                return _json(
                    200,
                    {
                        "requests": self.arm_settings.requests,
                        "token_requests": self.arm_settings.token_requests,
                        "throttle": self.arm_settings.throttle,
                    },
                )
            if (method, parts) == ("POST", ["arm", "throttle"]):
                self.arm_settings.throttle = int((query.get("count") or ["1"])[0])
                return _json(200, {"throttle": self.arm_settings.throttle})
            if method == "GET" and len(parts) == 2 and parts[0] == "hosts":
                return _json(200, self.model.show(parts[1]))
            if method == "POST" and len(parts) == 3 and parts[0] == "hosts" and parts[2] == "crash":
                self.runtimes[self.model.host(parts[1]).name].crash(float((query.get("down") or ["5"])[0]))
                return _json(200, {"crashed": parts[1]})
            if method == "POST" and len(parts) == 3 and parts[0] == "hosts" and parts[2] == "power":
                wanted = (query.get("state") or [""])[0]
                if wanted not in ("on", "off"):
                    return _json(400, {"error": f"power state must be on or off, not {wanted!r}"})
                await self.runtimes[self.model.host(parts[1]).name].power(wanted == "on")
                return _json(200, self.model.show(parts[1]))
            if len(parts) == 3 and parts[0] == "hosts" and parts[2] in ("hold", "release"):
                return self.hold(method, self.hosts[self.model.host(parts[1]).name], parts[2], query)
            if method == "POST" and len(parts) == 3 and parts[0] == "hosts" and parts[2] == "inject":
                fault = (query.get("fault") or [""])[0]
                self.model.inject(parts[1], fault)
                return _json(200, self.model.show(parts[1]))
        except KeyError as exc:
            return _json(404, {"error": exc.args[0] if exc.args else str(exc)})
        return _json(404, {"error": f"no control route {request.method} {request.target}"})

    def hold(self, method: str, host: LabHost, verb: str, query: dict[str, list[str]]) -> HttpResponse:
        """Test control, not Windows behaviour: POST hold?op=..&FIELD=.. catches the host's next matching runtime
        operation; GET hold says whether one waits; POST release?run=1 runs it, run=0 (default) fails it unrun."""
        if method == "GET" and verb == "hold":
            hold = host.hold
            return _json(200, {"held": hold is not None, "waiting": hold is not None and hold.waiting})
        if method != "POST":
            return _json(405, {"error": f"{verb} takes POST"})
        if verb == "hold":
            match = {name: values[0] for name, values in query.items() if values}
            if "op" not in match:
                return _json(400, {"error": "hold needs op=<runtime operation> (and any other field to match)"})
            host.hold = Hold(match)
            return _json(200, {"held": True, "match": match})
        hold = host.hold
        if hold is None:
            return _json(404, {"error": f"no hold on {host.name}"})
        hold.run = (query.get("run") or ["0"])[0] == "1"
        host.hold = None
        hold.released.set()
        return _json(200, {"released": True, "run": hold.run})


def _json(status: int, payload: object) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(payload).encode() + b"\n")


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def run(directory: Path) -> int:
    config = LabConfig.load(directory)
    os.environ["NTLM_USER_FILE"] = str(write_ntlm_users(config))
    _raise_fd_limit()
    lab = Lab(config)
    try:
        await lab.start()
    except OSError as exc:
        (directory / ERROR_FILE).write_text(json.dumps({"error": str(exc)}) + "\n")
        await lab.stop()
        return 3

    async def on_control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_http(reader, writer, lab.control, ConnectionState(client_ip="127.0.0.1"))

    arm = config.arm
    try:
        arm_server = await asyncio.start_server(
            lambda r, w: serve_http(r, w, lab.arm, ConnectionState(client_ip="127.0.0.1")),
            host="127.0.0.1",
            port=int(arm["port"]),
            ssl=lab.arm_ssl_context(),
            reuse_address=True,
        )
    except OSError as exc:
        (directory / ERROR_FILE).write_text(
            json.dumps(
                {"error": f"cannot listen on 127.0.0.1:{arm['port']} for the Azure endpoint: {exc.strerror or exc}"}
            )
            + "\n"
        )
        await lab.stop()
        return 3

    control = await asyncio.start_server(on_control, host="127.0.0.1", port=0)
    port = control.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runtime = directory / DAEMON_FILE
    runtime.write_text(json.dumps({"pid": os.getpid(), "control_url": f"http://127.0.0.1:{port}"}) + "\n")
    log.info("lab up: %d hosts, control on 127.0.0.1:%d", len(lab.runtimes), port)
    await stop.wait()
    log.info("lab stopping")
    control.close()
    arm_server.close()
    await lab.stop()
    runtime.unlink(missing_ok=True)
    return 0


def main() -> None:
    directory = Path(sys.argv[1]).resolve()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    (directory / ERROR_FILE).unlink(missing_ok=True)
    sys.exit(asyncio.run(run(directory)))


if __name__ == "__main__":
    main()
