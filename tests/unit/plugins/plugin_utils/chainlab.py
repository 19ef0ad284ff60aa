"""Runtime answers from the lab's model of a session host, in-process (no WinRM), for fast chain tests.

``plan`` lists the operations, the lab's runtime operations answer them, the
answer goes through the runtime's JSON parsing as it would over the wire, and
``assemble`` makes the facts the rules read. The lab is written from the
article, not from the collection, so a wrong fact key, registry value name or
event reading fails a unit test in milliseconds, not only the lab's
integration tests.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import json
import time
from typing import Any

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _facts as f
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _runtime as rt
from avdlab.model import HostSpec, LabModel, Scenario
from avdlab.runtime_handler import OPERATIONS
from avdlab.windows import known as lab_known
from avdlab.windows.boot import boot
from tests.catalog import FAULT_FINDINGS

HOST = "sh-01"
LIMIT = 4
OPTIONS = {
    "gather_subset": ["all"],
    "events_max_age": 120,
    "events_max_count": 50,
    "probe_timeout": 10,
    "probe_urls": [],
}
POOL = {"max_session_limit": LIMIT}
# The design's fault catalog, less the one that needs the host pool's heartbeat view (not built here).
FAULTS = {fault: finding for fault, finding in FAULT_FINDINGS.items() if fault != "agent_heartbeat_lost"}
# agent_heartbeat_lost shows only in the host pool's view (lastHeartBeat), which these tests do not build.
# The article's root cause where it is not the fault's own finding: the installation health check
# fails because the stack listener does not work ("check the stack listener" is its fix).
ROOT_OF = {"stack_health_check_failed": "STACK_LISTENER_NOT_LISTENING"}
# Editions that run the side-by-side stack: (EditionID, ProductName, InstallationType) as Windows writes them.
EDITIONS = [
    ("EnterpriseMultiSession", "Windows 10 Enterprise multi-session", "Client"),
    ("EnterpriseMultiSession", "Windows 11 Enterprise multi-session", "Client"),
    ("ServerRdsh", "Windows 10 Enterprise for Virtual Desktops", "Client"),
    ("Enterprise", "Windows 11 Enterprise", "Client"),
    ("ServerDatacenter", "Windows Server 2022 Datacenter", "Server"),
    ("ServerStandard", "Windows Server 2019 Standard", "Server"),
]
# Server Core installations: the RD Session Host role is not in their image (Microsoft's Server Core docs)
SERVER_CORE_EDITIONS = [
    ("ServerDatacenterACor", "Windows Server 2022 Datacenter", "Server Core"),
    ("ServerStandard", "Windows Server 2025 Standard", "Server Core"),
]


# Lab hosts and their answers are shared between tests (the lab is not what is tested, and
# mutation testing runs these tests once per mutant): a host is built once per kind, and each
# operation answered once per host and request. Tests that change a host ask for a fresh one.
_SHARED: dict[tuple[Any, ...], tuple[LabModel, Any]] = {}
_ANSWERED: dict[tuple[int, str], dict[str, Any]] = {}


def lab(
    *faults: str,
    sessions: int = 0,
    hours_ago: float = 0,
    edition: tuple[str, str, str] | None = None,
    fresh: bool = False,
    locale: str = "en-US",
) -> tuple[LabModel, Any]:
    """One lab host with these faults (and edition), booted ``hours_ago``, after its failing services stopped.

    Shared with other tests unless ``fresh``: do not change a shared host.
    """
    key = (faults, sessions, hours_ago, edition, locale)
    if not fresh and key in _SHARED:
        return _SHARED[key]
    model = LabModel(
        Scenario(
            max_session_limit=LIMIT, hosts=[HostSpec(HOST, faults=list(faults), sessions=sessions, locale=locale)]
        ),
        now=time.time() - hours_ago * 3600,
    )
    state = model.host(HOST)
    if edition is not None:
        for name, value in zip(("EditionID", "ProductName", "InstallationType"), edition, strict=True):
            state.registry.set(lab_known.WINDOWS_NT, name, "REG_SZ", value)
        boot(state, model.avd, time.time())  # the edition decides at boot which listeners start
    state.settle(time.time() + 5)
    if not fresh:
        _SHARED[key] = (model, state)
    return model, state


def _answer(model: LabModel, state: Any, op: rt.Operation) -> dict[str, Any]:
    request = op.to_request()
    shared = any(state is host for _unused, host in _SHARED.values())
    key = (id(state), json.dumps(request, sort_keys=True))
    if shared and key in _ANSWERED:
        return {**copy.deepcopy(_ANSWERED[key]), "id": op.id}
    entry: dict[str, Any] = {"id": op.id, "op": op.op}
    try:
        entry["result"] = asyncio.run(OPERATIONS[op.op](state, model.avd, request))
        entry["ok"] = True
    except Exception as exc:  # the runtime reports every failure per operation
        entry.update(ok=False, error=str(exc) or type(exc).__name__)
    entry = json.loads(json.dumps(entry, ensure_ascii=False))  # what crosses the wire is JSON
    if shared:
        _ANSWERED[key] = copy.deepcopy(entry)
    return entry


def answers(model: LabModel, state: Any, subsets: frozenset[str]) -> dict[str, rt.OperationResult]:
    """The runtime's answer for ``plan(subsets)``, produced by the lab and parsed as the controller parses it."""
    operations = f.plan(subsets, OPTIONS)
    results = [_answer(model, state, op) for op in operations]
    body = json.dumps({"version": rt.RUNTIME_VERSION, "results": results}, ensure_ascii=False)
    return rt.parse_output(0, body + "\r\n", "", operations)


def gather(model: LabModel, state: Any, subsets: frozenset[str] = frozenset(f.SUBSETS)) -> dict[str, Any]:
    return f.assemble(subsets, answers(model, state, subsets), OPTIONS, datetime.datetime.now(datetime.UTC))


def roots(diagnosis: dict[str, Any]) -> list[str]:
    return [x["id"] for x in diagnosis["findings"] if not x["explained_by"]]


def healthy_facts() -> dict[str, Any]:
    """The facts of a healthy lab host (Windows 10 Enterprise multi-session), gathered with every subset."""
    return gather(*lab())
