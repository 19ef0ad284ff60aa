"""Input checks for what users hand the diagnosis: facts, host pool data, registered results.

Each check raises :class:`InputError` with a message that names the field
(``facts.agent``, ``facts.events[0]``, ``host_pool.max_session_limit``,
``results['sh-01'].diagnosis.findings[0].severity``) and says what was
expected, so bad input is refused before any rule or report reads it.
Fields not listed here are not checked (newer facts may carry more).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._facts import FACTS_SCHEMA_VERSION
from ._verdicts import STATES

NONE = type(None)
STR, OPT_STR, OPT_INT, BOOL, OPT_BOOL = (str,), (str, NONE), (int, NONE), (bool,), (bool, NONE)
NUMBER = (int, float, NONE)


class InputError(ValueError):
    """Input that the diagnosis refuses, with the field that is wrong."""


@dataclass(frozen=True)
class Obj:
    """A mapping whose listed fields, when present, have these shapes."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    nullable: bool = False
    what: str = "a mapping"


@dataclass(frozen=True)
class Seq:
    item: Any
    nullable: bool = False


@dataclass(frozen=True)
class MapOf:
    value: Any
    nullable: bool = False


EVENT = Obj(
    {
        "id": OPT_INT,
        "source": OPT_STR,
        "time": OPT_STR,
        "kind": OPT_STR,
        "message": OPT_STR,
        "win32_exception": OPT_BOOL,
    },
    what="an event (a mapping with id, source, time, kind, message)",
)
FACTS_SECTIONS: dict[str, Any] = {
    "gathered_at": OPT_STR,
    "gather_subset": Seq(STR),
    "boot_time": OPT_STR,
    "agent": Obj(
        {
            "installed": OPT_BOOL,
            "bootloader_installed": OPT_BOOL,
            "default_agent": OPT_STR,
            "is_registered": OPT_INT,
            "registration_token_set": OPT_BOOL,
            "registration_token_length": OPT_INT,
            "vm_id": OPT_STR,
            "health_last_checked": OPT_STR,
        },
        what="a mapping (the agent section of session_host_facts)",
    ),
    "services": MapOf(Obj({"exists": OPT_BOOL, "state": OPT_STR, "start_type": OPT_STR}, nullable=True)),
    "stack": Obj(
        {
            "qwinsta": Obj(
                {"both_listening": OPT_BOOL, "rdp_tcp": Obj(nullable=True), "rdp_sxs": Obj(nullable=True)},
                nullable=True,
            ),
            "winstations": Seq(Obj({"name": STR})),
            "winstations_key_present": OPT_BOOL,
            "reverse_connection_listener": OPT_STR,
            "reverse_connection_listener_present": OPT_BOOL,
            "session_directory_listener": OPT_STR,
            "session_directory_matches": OPT_BOOL,
        },
        nullable=True,
    ),
    "components": Obj({"programs": MapOf(Seq(Obj())), "sxs_msi_files": Seq(Obj())}),
    "os": Obj({"edition": OPT_STR, "product_name": OPT_STR, "supports_sxs_stack": OPT_BOOL}, nullable=True),
    "dotnet": Obj({"release": OPT_INT, "version": OPT_STR, "meets_472": OPT_BOOL}),
    "disk": Obj(
        {"drive": OPT_STR, "size_bytes": OPT_INT, "free_bytes": OPT_INT, "percent_free": NUMBER}, nullable=True
    ),
    "events": Seq(EVENT),
    "policies": Obj(
        {
            "disable_msi": OPT_INT,
            "disable_cmd": Obj({"machine": OPT_INT, "user_hives": MapOf(OPT_INT)}, nullable=True),
        }
    ),
    "network": Obj(
        {"broker": Obj(nullable=True), "broker_global": Obj(nullable=True), "probes": Seq(Obj())},
    ),
    "sessions": Obj({"total": OPT_INT, "by_state": MapOf(OPT_INT)}),
    "installer": Obj({"busy": OPT_BOOL, "processes": Seq(Obj())}),
    "errors": Seq(Obj({"operation": STR, "message": OPT_STR})),
}

POOL_FIELDS: dict[str, Any] = {
    "status": OPT_STR,
    "allow_new_session": OPT_BOOL,
    "agent_version": OPT_STR,
    "sxs_stack_version": OPT_STR,
    "update_state": OPT_STR,
    "vm_id": OPT_STR,
    "in_pool": OPT_BOOL,
    "registration_expiration_time": OPT_STR,
    "host_pool": OPT_STR,
    "last_heartbeat": OPT_STR,
    "read_at": OPT_STR,
    "power_state": OPT_STR,
    "health_checks": Seq(Obj(), nullable=True),
}
POOL_COUNTS = ("sessions", "max_session_limit")


def _type_names(types: tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "a whole number",
        float: "a number",
        bool: "true or false",
        NONE: "null",
    }
    return " or ".join(names.get(t, t.__name__) for t in types)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _wrong(path: str, expected: str, value: Any) -> InputError:
    return InputError(f"{path}: expected {expected}, got {type(value).__name__} {_shown(value)}")


def check(value: Any, spec: Any, path: str) -> None:
    """Raise InputError naming ``path`` when ``value`` does not have the shape ``spec``."""
    if isinstance(spec, tuple):
        if isinstance(value, bool) and bool not in spec:
            raise _wrong(path, _type_names(spec), value)
        if not isinstance(value, spec):
            raise _wrong(path, _type_names(spec), value)
        return
    if value is None and spec.nullable:
        return
    if isinstance(spec, Obj):
        if not isinstance(value, Mapping):
            raise _wrong(path, spec.what, value)
        for name, inner in spec.fields.items():
            if name in value:
                check(value[name], inner, f"{path}.{name}")
    elif isinstance(spec, Seq):
        if not isinstance(value, list):
            raise _wrong(path, "a list", value)
        for index, item in enumerate(value):
            check(item, spec.item, f"{path}[{index}]")
    elif isinstance(spec, MapOf):
        if not isinstance(value, Mapping):
            raise _wrong(path, "a mapping", value)
        for key, item in value.items():
            check(item, spec.value, f"{path}[{key!r}]")


def validate_facts(facts: Any, path: str = "facts") -> None:
    """The ``avd_session_host`` facts of session_host_facts, of the schema version this collection reads."""
    if not isinstance(facts, Mapping):
        raise _wrong(path, "the avd_session_host facts of session_host_facts (a mapping)", facts)
    version = facts.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise InputError(
            f"{path}.schema_version: expected {FACTS_SCHEMA_VERSION} (the avd_session_host facts of "
            f"session_host_facts), got {_shown(version) if 'schema_version' in facts else 'none'}"
        )
    if version != FACTS_SCHEMA_VERSION:
        raise InputError(
            f"{path}.schema_version: this collection reads facts of schema version {FACTS_SCHEMA_VERSION}, "
            f"got {version}; gather them again with this collection's session_host_facts"
        )
    for name, spec in FACTS_SECTIONS.items():
        if name in facts:
            check(facts[name], spec, f"{path}.{name}")


def validate_pool(pool: Any, path: str = "host_pool", *, variables: bool = False) -> None:
    """The host pool's view of a host (diagnose's host_pool option, or, with ``variables``, the avd_* variables)."""
    if pool is None:
        return
    if not isinstance(pool, Mapping):
        raise _wrong(path, "a mapping of the host pool's view of the host (status, sessions, ...)", pool)

    def where(name: str) -> str:
        return f"avd_{name}" if variables else f"{path}.{name}"

    for name, spec in POOL_FIELDS.items():
        if pool.get(name) is not None:
            check(pool[name], spec, where(name))
    for name in POOL_COUNTS:
        value = pool.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not (
            (isinstance(value, int) and value >= 0) or (isinstance(value, str) and value.strip().isdigit())
        ):
            raise _wrong(where(name), "a whole number, 0 or more", value)


def pool_counts(pool: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The pool data with its counts as numbers (``-e avd_max_session_limit=8`` gives a string)."""
    if pool is None:
        return None
    return {key: int(value) if key in POOL_COUNTS and value is not None else value for key, value in pool.items()}


# --- registered diagnose results (diagnosis_report's input) --------------------------------
FINDING = Obj(
    {
        "id": STR,
        "severity": STR,
        "title": STR,
        "evidence": Seq(STR),
        "remediation": STR,
        "doc": STR,
        "explained_by": OPT_STR,
        "explains": Seq(STR),
    },
    what="a finding (a mapping with id, severity, title, evidence, remediation, doc)",
)
DIAGNOSIS = Obj(
    {
        "state": STR,
        "findings": Seq(FINDING),
        "unchecked": Seq(STR),
        "stale_events": Seq(STR),
        "host_pool": Obj(nullable=True),
        "reason": OPT_STR,
    },
    what="a diagnosis (a mapping with state, findings, unchecked)",
)


def validate_result(name: str, result: Any, severities: Mapping[str, int]) -> None:
    """One host's registered diagnose result, as diagnosis_report reads it (None or {} for a host not run)."""
    path = f"results[{name!r}]"
    if result is None:
        return
    if not isinstance(result, Mapping):
        raise _wrong(path, "the host's registered diagnose result (a mapping)", result)
    if "diagnosis" not in result:
        return  # unreachable, failed or not run: reported as such
    diagnosis = result["diagnosis"]
    check(diagnosis, DIAGNOSIS, f"{path}.diagnosis")
    state = diagnosis.get("state")
    if state is not None and state not in STATES:
        raise InputError(f"{path}.diagnosis.state: expected one of {', '.join(STATES)}, got {_shown(state)}")
    for index, finding in enumerate(diagnosis.get("findings") or []):
        for required in ("id", "severity"):
            if required not in finding:
                raise InputError(f"{path}.diagnosis.findings[{index}]: has no {required}")
        if finding["severity"] not in severities:
            raise InputError(
                f"{path}.diagnosis.findings[{index}].severity: expected one of {', '.join(severities)}, "
                f"got {_shown(finding['severity'])}"
            )


def validate_gather_options(options: Mapping[str, Any]) -> None:
    """session_host_facts' and diagnose's gather options that the argument spec cannot bound."""
    for name in ("events_max_age", "events_max_count", "probe_timeout"):
        if options.get(name) is not None and options[name] < 1:
            raise InputError(f"{name} must be at least 1, got {options[name]}")
    for index, url in enumerate(options.get("probe_urls") or []):
        if not str(url).lower().startswith(("http://", "https://")):
            raise InputError(f"probe_urls[{index}]: expected an http:// or https:// URL, got {_shown(url)}")
