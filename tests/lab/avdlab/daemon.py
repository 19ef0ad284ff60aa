"""The lab process: every host's WinRM listeners and a small control API.

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
from pathlib import Path

from .auth import Account
from .config import DAEMON_FILE, LabConfig
from .handlers import default_handlers
from .host import LabHost
from .server import ConnectionState, HttpRequest, HttpResponse, WinRMEndpoint, serve_http, start_endpoint
from .service import WinRMService
from .shells import ShellTable

log = logging.getLogger("avdlab")
ERROR_FILE = "daemon-error.json"
NTLM_USERS_FILE = "ntlm-users"


def write_ntlm_users(config: LabConfig) -> Path:
    """pyspnego's NTLM acceptor reads accounts from NTLM_USER_FILE (DOMAIN:USER:PASSWORD)."""
    domains = ["", ".", *(host.name.upper() for host in config.hosts)]
    path = Path(config.directory) / NTLM_USERS_FILE
    path.write_text("".join(f"{domain}:{config.username}:{config.password}\n" for domain in domains))
    path.chmod(0o600)
    return path


def build_hosts(config: LabConfig) -> dict[str, LabHost]:
    account = Account(config.username, config.password)
    return {
        host.name: LabHost(
            name=host.name,
            address=host.address,
            account=account,
            allow_unencrypted=config.allow_unencrypted,
            command_latency=config.command_latency,
            shells=ShellTable(config.max_shells_per_user, config.max_operations_per_shell),
        )
        for host in config.hosts
    }


class Lab:
    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.hosts = build_hosts(config)
        handlers = default_handlers()
        self.services = {name: WinRMService(host, handlers) for name, host in self.hosts.items()}
        self.servers: list[asyncio.Server] = []

    async def start(self) -> None:
        for host_config in self.config.hosts:
            host = self.hosts[host_config.name]
            service = self.services[host.name]
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(host_config.cert, host_config.key)
            der = ssl.PEM_cert_to_DER_cert(Path(host_config.cert).read_text())
            for endpoint, ssl_context in (
                (WinRMEndpoint(host, service, port=host_config.http_port, tls_certificate=None), None),
                (WinRMEndpoint(host, service, port=host_config.https_port, tls_certificate=der), context),
            ):
                try:
                    self.servers.append(await start_endpoint(endpoint, ssl_context))
                except OSError as exc:
                    raise OSError(
                        f"cannot listen on {host.address}:{endpoint.port} for {host.name}: {exc.strerror or exc}"
                    ) from exc

    async def stop(self) -> None:
        for server in self.servers:
            server.close()
        for host in self.hosts.values():
            host.shells.close_all()
        for server in self.servers:
            await server.wait_closed()

    # --- control API -------------------------------------------------------
    def status(self) -> dict[str, object]:
        return {
            "pid": os.getpid(),
            "hosts": {
                name: {"address": host.address, "shells": len(host.shells.shells)} for name, host in self.hosts.items()
            },
        }

    def stats(self) -> dict[str, dict[str, int]]:
        return {name: host.stats.as_dict() for name, host in self.hosts.items()}

    async def control(self, request: HttpRequest, state: ConnectionState) -> HttpResponse:
        route = (request.method, request.target.split("?", 1)[0])
        if route == ("GET", "/status"):
            return _json(200, self.status())
        if route == ("GET", "/stats"):
            return _json(200, self.stats())
        if route == ("POST", "/stats/reset"):
            for host in self.hosts.values():
                host.stats = type(host.stats)()
            return _json(200, self.stats())
        return _json(404, {"error": f"no control route {request.method} {request.target}"})


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

    control = await asyncio.start_server(on_control, host="127.0.0.1", port=0)
    port = control.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runtime = directory / DAEMON_FILE
    runtime.write_text(json.dumps({"pid": os.getpid(), "control_url": f"http://127.0.0.1:{port}"}) + "\n")
    log.info("lab up: %d hosts, control on 127.0.0.1:%d", len(lab.hosts), port)
    await stop.wait()
    log.info("lab stopping")
    control.close()
    await lab.stop()
    runtime.unlink(missing_ok=True)
    return 0


def main() -> None:
    directory = Path(sys.argv[1]).resolve()
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    (directory / ERROR_FILE).unlink(missing_ok=True)
    sys.exit(asyncio.run(run(directory)))


if __name__ == "__main__":
    main()
