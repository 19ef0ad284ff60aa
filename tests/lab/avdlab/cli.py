"""``avdlab``: start, stop and inspect the lab of simulated session hosts."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from .config import (
    DAEMON_FILE,
    ERROR_FILE,
    HTTP_PORT,
    HTTPS_PORT,
    LAB_FILE,
    HostConfig,
    LabConfig,
    host_addresses,
    host_names,
)

# The commands the tests run most (show, inject, power, crash, stats, status, down) only talk to the running lab's
# control API: the lab's model, PKI and fault catalog (a third of a second of imports, each time) are imported by
# the commands that use them (up, faults, inject).

DEFAULT_DIR = ".lab"
DEFAULT_INVENTORY = "inventories/lab"
DEFAULT_USER = "avdadmin"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0


class LabError(Exception):
    """A problem to report to the user in one line, exit code 1."""


# --- process bookkeeping ---------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    # A reused pid that is not our daemon (or a zombie with no cmdline) does not count.
    return b"avdlab.daemon" in cmdline


def running_daemon(directory: Path) -> dict[str, Any] | None:
    path = directory / DAEMON_FILE
    try:
        info: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if _pid_alive(int(info["pid"])):
        return info
    path.unlink(missing_ok=True)
    return None


def control(directory: Path, method: str, route: str) -> object:
    info = running_daemon(directory)
    if info is None:
        raise LabError(f"no lab is running in {directory} (start one with: avdlab up --dir {directory})")
    request = urllib.request.Request(f"{info['control_url']}{route}", method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


# --- up --------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _check_free(address: str, port: int) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError as exc:
            return f"{address}:{port} is not available ({exc.strerror or exc})"
    return None


def _probe(host: HostConfig, ca_cert: str) -> str | None:
    """An unauthenticated POST must get WinRM's 401 on both ports."""
    context = ssl.create_default_context(cafile=ca_cert)
    for connection in (
        http.client.HTTPConnection(host.address, host.http_port, timeout=5),
        http.client.HTTPSConnection(host.address, host.https_port, timeout=5, context=context),
    ):
        try:
            connection.request(
                "POST", "/wsman", body=b"", headers={"Content-Type": "application/soap+xml;charset=UTF-8"}
            )
            status = connection.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            return f"{host.name} ({host.address}:{connection.port}): {exc}"
        finally:
            connection.close()
        if status != 401:
            return f"{host.name} ({host.address}:{connection.port}) answered HTTP {status}, expected 401"
    return None


def _write_private(path: Path, header: str, data: dict[str, Any]) -> None:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(data, sort_keys=False))
    path.chmod(0o600)


def installers_manifest(config: LabConfig) -> Path:
    return Path(config.directory) / "installers" / "manifest.yml"


def azure_config_dir(config: LabConfig) -> Path:
    """Where the lab keeps its Azure credentials file: ``AZURE_CONFIG_DIR=<this>`` stands for ``~/.azure``."""
    return Path(config.directory) / "azure"


def write_azure_credentials(config: LabConfig) -> Path:
    """The lab's service principal as a real user keeps one: a ``[default]`` profile of an azure.azcollection
    credentials file (``~/.azure/credentials``), plus where the lab's Azure answers (its ARM endpoint, which also
    issues tokens, and the CA that signed its certificate)."""
    arm = config.arm
    path = azure_config_dir(config) / "credentials"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# Written by `avdlab up --dir {config.directory}`: use it with AZURE_CONFIG_DIR={path.parent}\n"
        "[default]\n"
        f"subscription_id = {arm['subscription_id']}\n"
        f"client_id = {arm['client_id']}\n"
        f"secret = {arm['client_secret']}\n"
        f"tenant = {arm['tenant_id']}\n"
        f"arm_endpoint = {arm['url']}\n"
        f"authority = {arm['url']}\n"
        f"ca_bundle = {config.ca_cert}\n"
    )
    path.chmod(0o600)
    return path


def _pool_place(pool: dict[str, Any], arm: dict[str, Any]) -> dict[str, str]:
    """A host's resource group and subscription in a static inventory, where its pool's differ from the first's."""
    place = {}  # against the first pool's (the static inventory's all.vars)
    if pool.get("resource_group", arm["resource_group"]) != arm["resource_group"]:
        place["avd_resource_group"] = pool["resource_group"]
    if pool.get("subscription", arm["subscription_id"]) != arm["subscription_id"]:
        place["avd_subscription_id"] = pool["subscription"]
    return place


def write_inventory(config: LabConfig, inventory_dir: Path) -> Path:
    """The lab's inventory, as a real user's looks: the host_pool plugin's hostpool.avd.yml, a static hosts.yml,
    the WinRM/PSRP connection in group_vars/all.yml, and no Azure credentials (they are in the lab's credentials
    file, see write_azure_credentials).

    Both inventories name hosts by computer name; host_vars/ gives each its loopback address (the lab's stand-in
    for DNS). The host pool of each host comes from the plugin (from the lab's Azure) or, in the static
    hosts.yml, from the variables a user of a static inventory writes there.
    """
    header = f"# Written by `avdlab up --dir {config.directory}`; rewritten on every up. Do not edit.\n"
    inventory_dir.mkdir(parents=True, exist_ok=True)
    for stale in (inventory_dir / "host_vars").glob("*.yml"):
        stale.unlink()
    _write_private(
        inventory_dir / "group_vars" / "all.yml",
        header,
        {
            "ansible_connection": "winrm",
            "ansible_port": HTTPS_PORT,
            "ansible_winrm_scheme": "https",
            "ansible_winrm_transport": "ntlm",
            "ansible_winrm_server_cert_validation": "validate",
            "ansible_winrm_ca_trust_path": config.ca_cert,
            # The same endpoints speak PSRP: `-e ansible_connection=psrp` is all a run over psrp needs.
            "ansible_psrp_protocol": "https",
            "ansible_psrp_port": HTTPS_PORT,
            "ansible_psrp_auth": "ntlm",
            "ansible_psrp_cert_validation": "validate",
            "ansible_psrp_ca_cert": config.ca_cert,
            "ansible_user": config.username,
            "ansible_password": config.password,
            # The installers the remediation roles copy to the hosts (`avdlab up` writes them and their sha256),
            # given as README tells a user to give theirs.
            "avd_installer_manifest": str(installers_manifest(config)),
        },
    )
    for host in config.hosts:
        _write_private(inventory_dir / "host_vars" / f"{host.name}.yml", header, {"ansible_host": host.address})
    arm = config.arm
    pools = {str(p["name"]).lower(): p for p in config.scenario.get("host_pools") or []}
    specs = {str(h.get("name")).lower(): h for h in config.scenario.get("hosts") or []}
    images = {name for name, spec in specs.items() if spec.get("kind") == "image"}
    static_hosts: dict[str, Any] = {}
    for host in config.hosts:
        if host.name.lower() in images:
            continue
        # With several host pools, a static inventory names each host's own (and its session limit).
        pool = pools.get(str(specs.get(host.name.lower(), {}).get("pool") or "").lower())
        static_hosts[host.name] = (
            {
                "avd_host_pool": pool["name"],
                "avd_max_session_limit": pool["max_session_limit"],
                **_pool_place(pool, arm),
            }
            if pool
            else None
        )
    children: dict[str, Any] = {
        "avd_session_hosts": {
            "hosts": static_hosts,
            # hostpool.avd.yml reads the session limit, and the rest of the pool's view, from the lab's Azure
            "vars": {"avd_max_session_limit": config.scenario.get("max_session_limit", 4)},
        }
    }
    if images:
        # VMs that build golden images: in no host pool (validate_image.yml runs on them).
        children["avd_image_builds"] = {"hosts": {h.name: None for h in config.hosts if h.name.lower() in images}}
    # What a static inventory must say itself: the host pool and where it is (for its hosts and for plays on
    # localhost that address the pool). Only with this file: hostpool.avd.yml alone has it from Azure.
    first = (config.scenario.get("host_pools") or [{}])[0]
    where = {
        "avd_host_pool": arm["host_pool"],
        "avd_resource_group": first.get("resource_group") or arm["resource_group"],
        "avd_subscription_id": first.get("subscription") or arm["subscription_id"],
    }
    _write_private(inventory_dir / "hosts.yml", header, {"all": {"vars": where, "children": children}})
    _write_private(
        inventory_dir / "hostpool.avd.yml",
        header,
        {
            "plugin": "avdops.sessionhost.host_pool",
            # No credentials: the plugin finds them as the modules do (AZURE_CONFIG_DIR=<lab>/azure).
            "host_pools": [
                {
                    "name": name,
                    "resource_group": (pools.get(name.lower()) or {}).get("resource_group") or arm["resource_group"],
                    # a pool in another subscription than the credentials' names its own
                    **(
                        {"subscription_id": pools[name.lower()]["subscription"]}
                        if name.lower() in pools and pools[name.lower()]["subscription"] != arm["subscription_id"]
                        else {}
                    ),
                }
                for name in arm.get("host_pools") or [arm["host_pool"]]
            ],
            "ansible_host_source": "none",
        },
    )
    return inventory_dir / "hosts.yml"


def cmd_up(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from . import pki
    from .avd import API_VERSION, SUBSCRIPTION
    from .model import ScenarioError, default_scenario, parse_scenario
    from .windows.packages import write_installers

    directory = Path(args.dir).resolve()
    if args.scenario and args.hosts is not None:
        raise LabError("give either --hosts or --scenario, not both")
    if args.scenario:
        try:
            scenario = parse_scenario(Path(args.scenario).read_text(), args.scenario)
        except OSError as exc:
            raise LabError(f"cannot read scenario {args.scenario}: {exc.strerror or exc}") from exc
        except ScenarioError as exc:
            raise LabError(str(exc)) from exc
    else:
        count = 4 if args.hosts is None else args.hosts
        if count < 1:
            raise LabError("--hosts must be at least 1")
        scenario = default_scenario(count, host_names(count))
    if args.reboot_seconds < 0:
        raise LabError("--reboot-seconds must not be negative")
    directory.mkdir(parents=True, exist_ok=True)
    if (info := running_daemon(directory)) is not None:
        raise LabError(
            f"a lab is already running in {directory} (pid {info['pid']}); stop it with: avdlab down --dir {directory}"
        )
    try:
        addresses = host_addresses(len(scenario.hosts), args.first_address)
    except ValueError as exc:
        raise LabError(str(exc)) from exc
    taken = [
        problem for address in addresses for port in (HTTP_PORT, HTTPS_PORT) if (problem := _check_free(address, port))
    ]
    if taken:
        raise LabError(
            "cannot start the lab: "
            + "; ".join(taken[:5])
            + (f" (and {len(taken) - 5} more)" if len(taken) > 5 else "")
        )
    pki_dir = directory / "pki"
    ca = pki.create_ca(pki_dir)
    hosts = []
    for name, address in zip((spec.name for spec in scenario.hosts), addresses, strict=True):
        cert = pki.issue_server_cert(ca, pki_dir / "hosts", name, [name, f"{name}.lab.avd.test"], [address])
        hosts.append(HostConfig(name=name, address=address, cert=str(cert.cert), key=str(cert.key)))
    inventory_dir = Path(args.inventory).resolve()
    arm_port = args.arm_port or _free_port()
    arm_cert = pki.issue_server_cert(ca, pki_dir, "arm", ["localhost"], ["127.0.0.1"])
    arm = {
        "url": f"https://127.0.0.1:{arm_port}",
        "port": arm_port,
        "tenant_id": str(uuid.uuid4()),
        "client_id": str(uuid.uuid4()),
        "client_secret": secrets.token_urlsafe(24),
        "reader_client_id": str(uuid.uuid4()),
        "reader_client_secret": secrets.token_urlsafe(24),
        "subscription_id": SUBSCRIPTION,
        "resource_group": scenario.pools[0].resource_group,  # the first host pool's
        "host_pool": scenario.host_pool,  # the first (default) host pool
        "host_pools": [pool.name for pool in scenario.pools],
        "api_version": API_VERSION,
        "cert": str(arm_cert.cert),
        "key": str(arm_cert.key),
    }
    config = LabConfig(
        directory=str(directory),
        username=DEFAULT_USER,
        password=secrets.token_urlsafe(12) + "aA1!",
        ca_cert=str(ca.cert),
        hosts=hosts,
        allow_unencrypted=args.allow_unencrypted,
        command_latency=args.latency,
        max_operations_per_shell=args.max_operations,
        reboot_seconds=args.reboot_seconds,
        inventory=str(inventory_dir / "hosts.yml"),
        scenario=scenario.to_json(),
        arm=arm,
    )
    config.save()
    (directory / ERROR_FILE).unlink(missing_ok=True)
    log = (directory / "lab.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "avdlab.daemon", str(directory)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=directory,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while running_daemon(directory) is None:
        if process.poll() is not None:
            error_file = directory / ERROR_FILE
            reason = (
                json.loads(error_file.read_text())["error"] if error_file.exists() else f"see {directory / 'lab.log'}"
            )
            raise LabError(f"the lab did not start: {reason}")
        if time.monotonic() > deadline:
            process.terminate()
            raise LabError(f"the lab did not start within {START_TIMEOUT:.0f}s; see {directory / 'lab.log'}")
        time.sleep(0.1)
    with ThreadPoolExecutor(max_workers=32) as pool:
        problems = [problem for problem in pool.map(lambda h: _probe(h, config.ca_cert), hosts) if problem]
    if problems:
        _stop(directory)
        raise LabError("lab hosts did not answer: " + "; ".join(problems[:5]))
    write_installers(installers_manifest(config).parent)
    inventory = write_inventory(config, inventory_dir)
    credentials = write_azure_credentials(config)
    print(
        f"avdlab: {len(hosts)} session hosts answering WinRM (http {HTTP_PORT}, https {HTTPS_PORT}) "
        f"on {hosts[0].address}..{hosts[-1].address}"
    )
    print(
        f"avdlab: lab file {directory / LAB_FILE}; inventory {inventory} (and {inventory.parent / 'hostpool.avd.yml'})"
    )
    pools = config.arm["host_pools"]
    print(
        f"avdlab: Azure endpoint (host pool{'s' if len(pools) > 1 else ''} {', '.join(pools)}) at {config.arm['url']}"
    )
    print(f"avdlab: Azure credentials in {credentials}: export AZURE_CONFIG_DIR={credentials.parent}")
    return 0


# --- down, status, stats -----------------------------------------------------
def _stop(directory: Path) -> bool:
    info = running_daemon(directory)
    if info is None:
        return False
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)
        time.sleep(0.2)
    (directory / DAEMON_FILE).unlink(missing_ok=True)
    return True


def cmd_down(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    if not _stop(directory):
        print(f"avdlab: no lab running in {directory}")
        return 0
    if (directory / LAB_FILE).exists():
        config = LabConfig.load(directory)
        busy = [
            f"{host.address}:{port}"
            for host in config.hosts
            for port in (host.http_port, host.https_port)
            if _check_free(host.address, port)
        ]
        if busy:
            raise LabError("the lab stopped but these ports are still taken: " + ", ".join(busy[:5]))
    print(f"avdlab: lab in {directory} stopped")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    if running_daemon(directory) is None:
        print(f"avdlab: no lab running in {directory}")
        return 3
    status = control(directory, "GET", "/status")
    print(json.dumps(status, indent=2))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    route = "/stats/reset" if args.reset else "/stats"
    print(json.dumps(control(directory, "POST" if args.reset else "GET", route), indent=2))
    return 0


def cmd_faults(args: argparse.Namespace) -> int:
    from . import faults as fault_catalog

    if args.json:
        print(
            json.dumps(
                [{"name": f.name, "section": f.section, "changes": f.changes} for f in fault_catalog.CATALOG.values()],
                indent=2,
            )
        )
        return 0
    for fault in fault_catalog.CATALOG.values():
        print(f"{fault.name}\n    article: {fault.section}\n    changes: {fault.changes}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    print(json.dumps(_control_or_error(directory, "GET", f"/hosts/{args.host}"), indent=2))
    return 0


def cmd_inject(args: argparse.Namespace) -> int:
    from . import faults as fault_catalog

    if args.fault not in fault_catalog.CATALOG:
        raise LabError(f"unknown fault {args.fault!r}; see avdlab faults")
    directory = Path(args.dir).resolve()
    shown = _control_or_error(directory, "POST", f"/hosts/{args.host}/inject?fault={args.fault}")
    view = shown.get("pool_view") or {}
    print(f"avdlab: {args.host} now has {args.fault}; restarted; pool status {view.get('status', 'not in the pool')}")
    return 0


def cmd_crash(args: argparse.Namespace) -> int:
    if args.down < 0:
        raise LabError("--down must not be negative")
    directory = Path(args.dir).resolve()
    _control_or_error(directory, "POST", f"/hosts/{args.host}/crash?down={args.down}")
    print(f"avdlab: {args.host} dropped off the network; it boots again in {args.down:g}s")
    return 0


def cmd_power(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    shown = _control_or_error(directory, "POST", f"/hosts/{args.host}/power?state={args.state}")
    view = shown.get("pool_view") or {}
    what = "stopped: WinRM no longer answers" if args.state == "off" else "started and booted"
    print(f"avdlab: {args.host} {what}; pool status {view.get('status', 'not in the pool')}")
    return 0


def _control_or_error(directory: Path, method: str, route: str) -> Any:
    try:
        return control(directory, method, route)
    except urllib.error.HTTPError as exc:
        raise LabError(json.loads(exc.read()).get("error", str(exc))) from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avdlab", description="Simulated Azure Virtual Desktop session hosts over WinRM."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def with_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--dir", default=DEFAULT_DIR, help="lab directory (default: .lab)")
        return p

    up = with_dir(sub.add_parser("up", help="start the lab in the background; returns when every host answers"))
    up.add_argument("--hosts", type=int, default=None, help="number of healthy session hosts (default: 4)")
    up.add_argument("--scenario", help="scenario YAML: host pool(s), hosts, their pool, faults and sessions")
    up.add_argument("--reboot-seconds", type=float, default=3.0, help="how long a restarting host is off the network")
    up.add_argument(
        "--inventory", default=DEFAULT_INVENTORY, help="where to write the Ansible inventory (default: inventories/lab)"
    )
    up.add_argument(
        "--first-address", default="127.0.1.1", help="loopback address of the first host (default: 127.0.1.1)"
    )
    up.add_argument("--allow-unencrypted", action="store_true", help="accept Basic and unsealed messages over http")
    up.add_argument(
        "--latency", type=float, default=0.0, help="seconds each command takes to start, like a real process"
    )
    up.add_argument(
        "--arm-port", type=int, default=0, help="port of the simulated Azure endpoint (default: a free one)"
    )
    up.add_argument("--max-operations", type=int, default=1500, help="WinRM MaxConcurrentOperationsPerUser per shell")
    up.set_defaults(func=cmd_up)
    with_dir(sub.add_parser("down", help="stop the lab")).set_defaults(func=cmd_down)
    with_dir(sub.add_parser("status", help="is the lab running, and its hosts")).set_defaults(func=cmd_status)
    stats = with_dir(sub.add_parser("stats", help="per-host WinRM commands, bytes and errors as JSON"))
    stats.add_argument("--reset", action="store_true", help="print and zero the counters")
    stats.set_defaults(func=cmd_stats)
    faults = sub.add_parser("faults", help="the fault catalog: name, article section, what it changes")
    faults.add_argument("--json", action="store_true")
    faults.set_defaults(func=cmd_faults)
    show = with_dir(sub.add_parser("show", help="a host's state as JSON (registration token redacted)"))
    show.add_argument("host")
    show.set_defaults(func=cmd_show)
    inject = with_dir(sub.add_parser("inject", help="put a running host into a fault (the host restarts)"))
    inject.add_argument("host")
    inject.add_argument("fault")
    inject.set_defaults(func=cmd_inject)
    crash = with_dir(sub.add_parser("crash", help="drop a host off the network now (mid-command), boot it later"))
    crash.add_argument("host")
    crash.add_argument("--down", type=float, default=5.0, help="seconds before it boots again (default: 5)")
    crash.set_defaults(func=cmd_crash)
    power = with_dir(sub.add_parser("power", help="stop (off) or start (on) a host's VM; the pool reports it as Azure"))
    power.add_argument("host")
    power.add_argument("state", choices=("off", "on"))
    power.set_defaults(func=cmd_power)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except LabError as exc:
        print(f"avdlab: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
