"""Input checks for what users hand the diagnosis: facts, host pool data, registered results.

Each check raises :class:`InputError` with a message that names the field
(``facts.agent``, ``facts.events[0]``, ``host_pool.max_session_limit``,
``results['sh-01'].diagnosis.findings[0].severity``) and says what was
expected, so bad input is refused before any rule or report reads it.
Fields not listed here are not checked (newer facts may carry more).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._azure import MAX_EXPIRATION_HOURS, MIN_EXPIRATION_HOURS
from ._facts import FACTS_SCHEMA_VERSION
from ._image import AGENT_MODES as IMAGE_AGENT_MODES
from ._installers import InstallerError, load_manifest
from ._remediation import known_ids
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


# --- the playbooks' variables (-e avd_serial=..., group_vars) ------------------------------
# Every playbook checks the variables it reads before it contacts any host or the host pool: each check
# returns what is wrong with one value ('' when it is fine), in words naming what the variable accepts.
BOOLEAN_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "t", "f", "1", "0"})
Check = Callable[[Any], str]


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _whole(value: Any) -> int | None:
    """A whole number given as a number or as text (-e gives text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def boolean() -> Check:
    def check(value: Any) -> str:
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return ""
        if isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS:
            return ""
        return "expected true or false (or yes/no)"

    return check


def whole(low: int, high: int | None = None, what: str = "") -> Check:
    bounds = f"from {low} to {high}" if high is not None else f"{low} or more"

    def check(value: Any) -> str:
        number = _whole(value)
        if number is None or number < low or (high is not None and number > high):
            return f"expected a whole number {bounds}{what}"
        return ""

    return check


def number(low: float, high: float) -> Check:
    def check(value: Any) -> str:
        got = _number(value)
        if got is None or not low <= got <= high:
            return f"expected a number from {low:g} to {high:g}"
        return ""

    return check


def choice(*options: str) -> Check:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            return f"expected one of {', '.join(options)}"
        return ""

    return check


def fail_on(value: Any) -> str:
    # _reports imports this module (its results checks), so its FAIL_ON is read when a value is checked
    from ._reports import FAIL_ON  # noqa: PLC0415

    return choice(*FAIL_ON)(value)


def text(what: str = "a non-empty string") -> Check:
    def check(value: Any) -> str:
        return "" if _is_text(value) else f"expected {what}"

    return check


def serial(value: Any) -> str:
    """Ansible's serial: a number of hosts per batch, a percentage of the play's hosts, or a list of them."""
    items = value if isinstance(value, list) and value else [value]
    for item in items:
        number_ = _whole(item)
        if number_ is not None and number_ >= 1:
            continue
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", item) if isinstance(item, str) else None
        if match and 0 < float(match.group(1)) <= 100:
            continue
        return "expected a whole number of hosts per batch, 1 or more, or a percentage of the hosts from 1% to 100%"
    return ""


def finding_list(known: Iterable[str]) -> Check:
    names = set(known)

    def check(value: Any) -> str:
        if isinstance(value, str):
            items = value.split(",")
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            items = list(value)
        else:
            return "expected finding ids separated by commas (e.g. INVALID_REGISTRATION_TOKEN,DISK_SPACE_LOW)"
        ids = [item.strip().upper() for item in items if item.strip()]
        unknown = sorted(set(ids) - names)
        if unknown:
            return f"unknown finding id(s) {', '.join(unknown)}; the finding ids are {', '.join(sorted(names))}"
        return ""

    return check


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor) if path.anchor else Path.cwd()


def folder_to_write(value: Any) -> str:
    """A folder the run writes to: created when missing, but never where a file is."""
    if not _is_text(value):
        return "expected the path of a folder (a non-empty string)"
    path = Path(str(value)).expanduser()
    if path.exists() and not path.is_dir():
        return f"{path} is a file, not a folder"
    existing = _first_existing(path)
    if not existing.is_dir():
        return f"{existing} is a file, so the folder {path} cannot be made"
    return ""


def existing_folder(value: Any) -> str:
    if not _is_text(value):
        return "expected the path of a folder (a non-empty string)"
    path = Path(str(value)).expanduser()
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_dir():
        return f"{path} is a file, not a folder"
    return ""


def existing_path(value: Any) -> str:
    if isinstance(value, Mapping):
        return ""
    if not _is_text(value):
        return "expected the path of a file or folder (a non-empty string)"
    path = Path(str(value)).expanduser()
    return "" if path.exists() else f"{path} does not exist"


def installer_manifest(value: Any) -> str:
    """An installer manifest that parses, whose controller-side sources are files (https sources are fetched later)."""
    if value is None or value == "":
        return ""
    if not _is_text(value):
        return "expected the path of an installer manifest (a YAML file)"
    path = Path(str(value)).expanduser()
    if path.is_dir():
        return f"{path} is a folder, not an installer manifest file"
    try:
        manifest = load_manifest(path)
    except InstallerError as exc:
        return str(exc)
    for installer in manifest.installers.values():
        if installer.is_url:
            continue
        source = Path(installer.source).expanduser()
        if not source.is_absolute():
            source = path.parent / source
        where = f"installers.{installer.name}.source"
        if source.is_dir():
            return f"{where}: {source} is a folder, not the installer file"
        if not source.is_file():
            return f"{where}: {source} does not exist on the controller"
    return ""


def reinstall_packages(value: Any) -> str:
    if value is None or (isinstance(value, Mapping) and not value):
        return ""
    what = "expected a mapping {agent: PATH, boot_loader: PATH} (+ agent_sha256, boot_loader_sha256) on the host"
    if not isinstance(value, Mapping):
        return what
    unknown = sorted(
        str(key) for key in value if key not in ("agent", "boot_loader", "agent_sha256", "boot_loader_sha256")
    )
    if unknown or not all(_is_text(value.get(key)) for key in ("agent", "boot_loader")):
        return what
    for key in ("agent_sha256", "boot_loader_sha256"):
        if key in value and not (isinstance(value[key], str) and re.fullmatch(r"[0-9a-fA-F]{64}", value[key])):
            return f"{key}: expected 64 hexadecimal digits (the file's SHA-256)"
    return ""


def url_list(value: Any) -> str:
    if not isinstance(value, list):
        return "expected a list of http:// or https:// URLs"
    for index, url in enumerate(value):
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            return f"item {index}: expected an http:// or https:// URL, got {_shown(url)}"
    return ""


TOKEN_HOURS = whole(MIN_EXPIRATION_HOURS, MAX_EXPIRATION_HOURS, " (hours: the service takes 1 hour to 27 days)")
# variable -> its check; the playbooks below name the ones they read
RUN_VARIABLES: dict[str, Check] = {
    "target": text("a host pattern (a group, host names, a pattern)"),
    "avd_report_dir": folder_to_write,
    "avd_fail_on": fail_on,
    "avd_fail_on_stopped": boolean(),
    "avd_fail_on_incomplete": boolean(),
    "avd_save_raw": folder_to_write,
    "avd_replay": existing_path,
    "avd_slice_dir": existing_folder,
    "avd_force": boolean(),
    "avd_serial": serial,
    "avd_max_fail_percentage": whole(0, 100, " (percent)"),
    "avd_only": finding_list(known_ids()),
    "avd_skip": finding_list(known_ids()),
    "avd_remove_local_policy": boolean(),
    "avd_message_title": text(),
    "avd_message_body": text(),
    "avd_session_wait_retries": whole(0),
    "avd_session_wait_delay": whole(0, what=" (seconds)"),
    "avd_settle_seconds": whole(0, what=" (seconds)"),
    "avd_reboot_timeout": whole(1, what=" (seconds)"),
    "avd_available_retries": whole(0),
    "avd_available_delay": whole(0, what=" (seconds)"),
    "avd_lock_minutes": whole(1, 7 * 24 * 60, " (minutes, up to a week)"),
    "avd_journal": text("a file on the controller for the journal of drains, such as ~/.ansible/drains.json"),
    "avd_installer_manifest": installer_manifest,
    "avd_installer_cache_dir": text("a folder on the host, such as C:\\ProgramData\\avdops\\installers"),
    "avd_installer_busy_retries": whole(0),
    "avd_installer_busy_delay": whole(0, what=" (seconds)"),
    "avd_reinstall_packages": reinstall_packages,
    "avd_reinstall_healthy": boolean(),
    "avd_reinstall_token_hours": TOKEN_HOURS,
    "avd_target_pool": text("the name of the host pool to move the hosts to"),
    "avd_target_resource_group": text("the resource group of the target host pool"),
    "avd_move_token_hours": TOKEN_HOURS,
    "avd_image_agent": choice(*IMAGE_AGENT_MODES),
    "avd_image_check_urls": boolean(),
    "avd_image_urls": url_list,
    "avd_image_disk_min_free_mb": whole(0, what=" (MB)"),
    "avd_image_disk_min_free_percent": number(0, 100),
}
WRITE_VARIABLES = (
    "avd_force",
    "avd_serial",
    "avd_max_fail_percentage",
    "avd_message_title",
    "avd_message_body",
    "avd_session_wait_retries",
    "avd_session_wait_delay",
    "avd_settle_seconds",
    "avd_reboot_timeout",
    "avd_available_retries",
    "avd_available_delay",
    "avd_lock_minutes",
    "avd_journal",
)
PLAYBOOK_VARIABLES: dict[str, tuple[str, ...]] = {
    "diagnose": (
        "target",
        "avd_report_dir",
        "avd_fail_on",
        "avd_fail_on_stopped",
        "avd_fail_on_incomplete",
        "avd_save_raw",
        "avd_replay",
    ),
    "remediate": (
        "target",
        "avd_report_dir",
        *WRITE_VARIABLES,
        "avd_only",
        "avd_skip",
        "avd_remove_local_policy",
        "avd_installer_manifest",
        "avd_installer_cache_dir",
        "avd_installer_busy_retries",
        "avd_installer_busy_delay",
        "avd_reinstall_packages",
        "avd_reinstall_token_hours",
        "avd_replay",
    ),
    "reinstall": (
        "target",
        "avd_report_dir",
        *WRITE_VARIABLES,
        "avd_installer_manifest",
        "avd_installer_cache_dir",
        "avd_installer_busy_retries",
        "avd_installer_busy_delay",
        "avd_reinstall_packages",
        "avd_reinstall_healthy",
        "avd_reinstall_token_hours",
    ),
    "move": (
        "target",
        "avd_report_dir",
        *WRITE_VARIABLES,
        "avd_target_pool",
        "avd_target_resource_group",
        "avd_move_token_hours",
    ),
    "validate_image": (
        "target",
        "avd_report_dir",
        "avd_fail_on",
        "avd_image_agent",
        "avd_image_check_urls",
        "avd_image_urls",
        "avd_image_disk_min_free_mb",
        "avd_image_disk_min_free_percent",
    ),
    "merge_reports": ("avd_slice_dir", "avd_report_dir", "avd_fail_on"),
}
# Variables a playbook cannot run without (the others have defaults).
REQUIRED_VARIABLES: dict[str, tuple[str, ...]] = {
    "move": ("avd_target_pool",),
    "merge_reports": ("avd_slice_dir",),
}


def run_variable_pattern(playbook: str) -> str:
    """A regular expression matching the names of the variables ``playbook`` reads (for the varnames lookup)."""
    if playbook not in PLAYBOOK_VARIABLES:
        raise InputError(f"unknown playbook {playbook!r}; the playbooks are {', '.join(PLAYBOOK_VARIABLES)}")
    return "^(" + "|".join(re.escape(name) for name in PLAYBOOK_VARIABLES[playbook]) + ")$"


def check_run_variables(playbook: str, variables: Mapping[str, Any]) -> list[str]:
    """What is wrong with the variables ``playbook`` reads, one message per variable ([] when all are fine).

    A variable that is not set keeps the playbook's default and is not checked (unless it is required).
    """
    if playbook not in PLAYBOOK_VARIABLES:
        raise InputError(f"unknown playbook {playbook!r}; the playbooks are {', '.join(PLAYBOOK_VARIABLES)}")
    problems: list[str] = []
    for name in PLAYBOOK_VARIABLES[playbook]:
        if name not in variables or variables[name] is None:
            if name in REQUIRED_VARIABLES.get(playbook, ()):
                problems.append(f"{name}: required by {playbook}.yml (-e {name}=...), not given")
            continue
        value = variables[name]
        problem = RUN_VARIABLES[name](value)
        if problem:
            problems.append(f"{name}: {problem}, got {_shown(value)}")
    return problems
