"""Remediation across a pool: which role fixes which root cause, and the before/after report.

``plan_host`` maps a host's diagnosis to the roles that fix its root causes
(a symptom another finding explains is not fixed on its own), what is only
reported and who must act, and what this collection has no role for yet.
``build_report`` and the renderers turn the diagnoses before and after and
what happened on each host into remediation.json, remediation.html and
junit-remediation.xml beside the diagnosis reports.
"""

from __future__ import annotations

import datetime
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"

# finding id -> the role that fixes it (playbooks/remediate.yml applies them in ROLE_ORDER)
ROLE_FOR: dict[str, str] = {
    "INSTALL_MSI_BLOCKED": "policies",
    "CMD_BLOCKED": "policies",
    "INSTALLER_BUSY": "installer_busy",
    "AGENT_NOT_INSTALLED": "reinstall",  # the article's last resort: uninstall, re-register, reinstall
    "INVALID_REGISTRATION_TOKEN": "registration",
    "EXPIRED_REGISTRATION_TOKEN": "registration",
    "REGISTRATION_INCOMPLETE": "registration",
    "ENDPOINT_NOT_FOUND": "registration",
    "BOOTLOADER_NOT_RUNNING": "boot_loader",
    "HEARTBEAT_LOST": "boot_loader",  # restarted: a fresh agent heartbeats again
    # Article: Stack listener isn't working - the flags and a restart; the role hands over to sxs_stack when
    # that is not enough (no rdp-sxs WinStation, or still not listening after the restart).
    "STACK_LISTENER_NOT_LISTENING": "stack_listener",
    # Article: InstallationHealthCheckFailedException - "if the stack listener isn't working, uninstall and
    # reinstall the stack". A broken listener is found as STACK_LISTENER_NOT_LISTENING, which explains this
    # finding (the listener's fix first, then the handover); found alone, the stack the update installed failed
    # the agent's check: the reinstall itself.
    "INSTALLATION_HEALTH_CHECK_FAILED": "sxs_stack",
    "SXS_STACK_NOT_INSTALLED": "sxs_stack",  # article: stuck in Unavailable or Upgrading state
    "DISK_SPACE_LOW": "disk_cleanup",  # article: DownloadMsiException
    "DOTNET_OUTDATED": "dotnet",  # .NET Framework 4.8 installed, VM restarted: the agent update then succeeds
}
# Policies and a busy installer first (they block what follows), disk space before anything that installs,
# .NET right after them (its restart lets the agent update before the agent's own fixes are looked at), the full
# reinstall next (it brings a new agent, boot loader and stack, registered: the lighter fixes then find nothing),
# the stack's reboots last.
ROLE_ORDER = (
    "policies",
    "installer_busy",
    "disk_cleanup",
    "dotnet",
    "reinstall",
    "registration",
    "boot_loader",
    "stack_listener",
    "sxs_stack",
)
# Roles that restart a service users depend on or the VM: the host is drained and its sessions waited for first
# (disk_cleanup restarts RDAgentBootLoader; sxs_stack uninstalls the stack users connect through and reboots).
DISRUPTIVE_ROLES = frozenset(
    {"policies", "installer_busy", "disk_cleanup", "dotnet", "reinstall", "registration", "stack_listener", "sxs_stack"}
)
# Findings whose fix restarts a service even though their role alone (starting a stopped service) does not.
DISRUPTIVE_FINDINGS = frozenset({"HEARTBEAT_LOST"})

# finding id -> who must act (nothing on the host changes)
REPORT_ONLY: dict[str, str] = {
    "INVALID_FORM": "the network team: unblock BrokerURI and BrokerURIGlobal (firewall, proxy, DNS, TLS 1.2 ciphers)",
    "GATEWAY_UNREACHABLE": "the network team: allow the Required URL list (RD Gateway) through firewall and proxy",
    "WEBSOCKET_UNREACHABLE": "the network team: allow the Required URL list (web socket transport) through",
    "UNSUPPORTED_OS": "the VM's owner: replace it with a Windows Enterprise (multi-session) or Server session host",
    "SESSION_LIMIT_REACHED": "the host pool's owner: a capacity decision (session limit, VM size, more hosts)",
    "NAME_ALREADY_REGISTERED": "the host pool's owner: remove the other registration and give this VM a unique name",
    "DOMAIN_TRUST_LOST": "the Active Directory team: repair the VM's trust with the domain",
    "FSLOGIX_UNHEALTHY": "the profile storage owner: fix the FSLogix profile container location or its access",
}
# finding id -> why remediate.yml leaves it (documented fix, not a role of this collection yet)
NO_ROLE_YET: dict[str, str] = {
    "HEALTH_CHECK_FAILED": "the failed health check it names (the finding's remediation), not automated",
}
# finding id -> why its role waits for the critical form of the finding: the full reinstall is the most disruptive
# fix, so an agent load error logged while the agent, boot loader and DefaultAgent are all present (a warning, as
# an agent update logs it too) never starts it.
CRITICAL_ONLY: dict[str, str] = {
    "AGENT_NOT_INSTALLED": (
        "only an agent load error was logged; the agent, its boot loader and DefaultAgent are present now, so the "
        "full reinstall is not started: diagnose again, and run playbooks/reinstall.yml by hand if it persists"
    ),
}
# Information about the pool (versions that differ): reported by the diagnosis, nothing to fix on the host.
INFO_ONLY = frozenset({"AGENT_VERSION_DRIFT", "STACK_VERSION_DRIFT", "OS_BUILD_DRIFT", "DOTNET_DRIFT"})


class RemediationInputError(ValueError):
    """avd_only / avd_skip name something that is not a finding id."""


def finding_ids(text: str | Iterable[str] | None) -> list[str]:
    """``-e avd_only=A,B`` (or a list) as upper-case ids."""
    if text is None:
        return []
    items = text.split(",") if isinstance(text, str) else list(text)
    return [str(item).strip().upper() for item in items if str(item).strip()]


def check_ids(ids: list[str], known: Iterable[str], option: str) -> None:
    unknown = sorted(set(ids) - set(known))
    if unknown:
        raise RemediationInputError(f"{option} names unknown finding ids: {', '.join(unknown)}")


def known_ids() -> set[str]:
    return set(ROLE_FOR) | set(REPORT_ONLY) | set(NO_ROLE_YET) | INFO_ONLY


POLICY_FINDINGS = ("INSTALL_MSI_BLOCKED", "CMD_BLOCKED")
POLICY_OWNER = (
    "the Active Directory team: set the policy to Not configured for session hosts (group policy re-applies a "
    "local change); -e avd_remove_local_policy=true removes the local value now"
)


def plan_host(
    diagnosis: Mapping[str, Any] | None, only: list[str], skip: list[str], remove_local_policy: bool = False
) -> dict[str, Any]:
    """What remediate.yml does on one host, from its diagnose result.

    The policy findings are only reported unless ``remove_local_policy`` (the admin's consent).
    """
    findings = list((diagnosis or {}).get("findings") or [])
    roots = [f for f in findings if not f.get("explained_by") and f.get("severity") in ("critical", "warning")]
    roles: list[str] = []
    fixing: list[str] = []
    report_only: list[dict[str, str]] = []
    not_automated: list[dict[str, str]] = []
    excluded: list[str] = []
    for finding in roots:
        fid = str(finding.get("id"))
        if (only and fid not in only) or fid in skip:
            excluded.append(fid)
        elif fid in POLICY_FINDINGS and not remove_local_policy:
            report_only.append({"id": fid, "who": POLICY_OWNER})
        elif fid in CRITICAL_ONLY and finding.get("severity") != "critical":
            not_automated.append({"id": fid, "reason": CRITICAL_ONLY[fid]})
        elif fid in ROLE_FOR:
            fixing.append(fid)
            if ROLE_FOR[fid] not in roles:
                roles.append(ROLE_FOR[fid])
        elif fid in REPORT_ONLY:
            report_only.append({"id": fid, "who": REPORT_ONLY[fid]})
        else:
            reason = NO_ROLE_YET.get(fid, "no role in this collection: follow the finding's remediation")
            not_automated.append({"id": fid, "reason": reason})
    roles.sort(key=ROLE_ORDER.index)
    return {
        "roles": roles,
        "fixing": fixing,
        "findings": [str(f.get("id")) for f in findings],
        "report_only": report_only,
        "not_automated": not_automated,
        "excluded": excluded,
        "disruptive": any(role in DISRUPTIVE_ROLES for role in roles) or bool(DISRUPTIVE_FINDINGS & set(fixing)),
    }


# --- the full reinstall (playbooks/reinstall.yml) --------------------------------------------
# What the article's last resort fixes: the agent, its registration, the boot loader and the stack it brings back.
REINSTALL_FIXES = frozenset(
    {
        "AGENT_NOT_INSTALLED",
        "INVALID_REGISTRATION_TOKEN",
        "EXPIRED_REGISTRATION_TOKEN",
        # A key left in the registry (an install stopped between writing it and the agent's install, or a
        # registration the agent never finished): the reinstall removes the registry keys and writes it anew.
        "REGISTRATION_INCOMPLETE",
        "ENDPOINT_NOT_FOUND",
        "BOOTLOADER_NOT_RUNNING",
        "HEARTBEAT_LOST",
        "STACK_LISTENER_NOT_LISTENING",
        "INSTALLATION_HEALTH_CHECK_FAILED",
        "SXS_STACK_NOT_INSTALLED",
    }
)
# What makes the reinstall itself fail (a full disk: msiexec 1603; an old .NET: the agent's install):
# remediate.yml's role for it comes first.
REINSTALL_PREREQUISITES = frozenset({"DISK_SPACE_LOW", "DOTNET_OUTDATED"})
# What the reinstall waits out itself (another installation, msiexec 1618: it waits and tries again).
REINSTALL_WAITS = frozenset({"INSTALLER_BUSY"})


def reinstall_blockers(diagnosis: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """The root-cause findings a reinstall cannot fix, each with who must act ([] when the reinstall may go on).

    Each is ``{id, who, says}``, ``says`` being the two in one phrase for the host's result.

    A host with any of them is left as it is: uninstalling the agent of a host whose network, policy, OS, domain
    trust or profile storage is broken ends with a host that has no agent and still the same problem.
    """
    blockers: list[dict[str, str]] = []
    for finding in (diagnosis or {}).get("findings") or []:
        fid = str(finding.get("id"))
        if finding.get("explained_by") or finding.get("severity") not in ("critical", "warning"):
            continue
        if fid in REINSTALL_FIXES | REINSTALL_WAITS | INFO_ONLY or any(b["id"] == fid for b in blockers):
            continue
        if fid in POLICY_FINDINGS:
            who = POLICY_OWNER.replace("-e avd_remove_local_policy", "remediate.yml -e avd_remove_local_policy")
        elif fid in REPORT_ONLY:
            who = REPORT_ONLY[fid]
        elif fid in REINSTALL_PREREQUISITES:
            who = (
                f"this collection first: remediate.yml -e avd_only={fid} (role {ROLE_FOR[fid]}); the reinstall "
                "would fail on it"
            )
        else:
            who = "a person: a reinstall does not fix it; follow the finding's remediation"
        blockers.append({"id": fid, "who": who, "says": f"{fid} needs {who}"})
    return blockers


# --- a rolling remediation ------------------------------------------------------------------
NOT_ATTEMPTED = "not attempted: the rollout stopped after a batch failed beyond avd_max_fail_percentage"


def rollout_stop(
    runs: Mapping[str, Any], current_batch: Iterable[str], max_fail_percentage: int, whole_batch: bool = False
) -> str:
    """Why the rollout stops before ``current_batch`` ('' when it goes on), as Ansible's max_fail_percentage does.

    ``whole_batch``: also stop after a batch whose every host failed, whatever ``max_fail_percentage`` (as
    Ansible ends a serial play when a whole batch failed; reinstall.yml and move.yml keep that).

    Each host's run names the batch it ran in (``batch``, the hosts of ``ansible_play_batch``); an earlier
    batch in which more than ``max_fail_percentage`` percent of the hosts failed stops the rollout. A host
    failed when its remediation raised an ``error``, or when its ``outcome`` at the end of its batch
    (``run_outcome``, remediate.yml's diagnosis after its fix) fails the run: ``not_fixed`` (attempted, and a
    finding its roles fix is still there) or ``failed`` (unreachable or not diagnosed after its fix); its
    ``outcome_why`` says why. remediate.yml asks at the start of each batch, before any host of it has changed:
    with the free strategy a check at the end of a host's remediation would end the others of its batch in the
    middle of their fix.
    """
    if isinstance(max_fail_percentage, bool) or not isinstance(max_fail_percentage, int) or max_fail_percentage < 0:
        raise RemediationInputError(
            f"avd_max_fail_percentage must be a whole number from 0 to 100; got {max_fail_percentage!r}"
        )
    current = set(current_batch)
    batches: dict[tuple[str, ...], None] = {}
    for host, run in runs.items():
        batch = run.get("batch") if isinstance(run, Mapping) else None
        if isinstance(batch, list) and batch and host not in current:
            batches.setdefault(tuple(sorted(str(name) for name in batch)), None)
    for batch in batches:
        counted = {host: why for host in batch if (why := gate_failure(runs.get(host))) is not None}
        failed = list(counted)
        if len(failed) * 100 > max_fail_percentage * len(batch):
            if any(counted.values()):  # a host attempted and not fixed (or lost after its fix): say which, why
                named = "; ".join(f"{host}: {why}" if why else host for host, why in counted.items())
                what = f"failed or were attempted and not fixed ({named})"
            else:
                what = f"failed ({', '.join(failed)})"
            return (
                f"not attempted: the rollout stopped after the batch {', '.join(batch)}, where {len(failed)} of "
                f"{len(batch)} host(s) {what}, more than avd_max_fail_percentage={max_fail_percentage}"
            )
        if whole_batch and failed and len(failed) == len(batch):
            return (
                f"not attempted: the rollout stopped after the batch {', '.join(batch)}, where every host failed "
                f"({', '.join(failed)})"
            )
    return ""


def gate_failure(run: Any) -> str | None:
    """How a host's run counts against avd_max_fail_percentage: None when it does not; '' for a remediation that
    raised an error (the host's name says it); else what its outcome at the end of its batch was, and why."""
    if not isinstance(run, Mapping):
        return None
    if run.get("error"):
        return ""
    outcome = run.get("outcome")
    if outcome not in FAILING_OUTCOMES:
        return None
    why = str(run.get("outcome_why") or "")
    if outcome == "not_fixed":
        return f"attempted and not fixed, {why}" if why else "attempted and not fixed"
    return f"failed after its fix, {why}" if why else "failed after its fix"


def run_outcome(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    plan: Mapping[str, Any] | None,
    run: Mapping[str, Any] | None,
    check_mode: bool = False,
) -> dict[str, str]:
    """``{outcome, why}``: a host's outcome once its fix is done, in the report's words (``host_outcome``), and
    why it fails the run (``why``; '' for an outcome that does not). remediate.yml notes it in the host's run as
    ``outcome`` and ``outcome_why``, which the rollout gate of the next batch counts (``gate_failure``)."""
    entry = host_outcome(before, after, plan, run, check_mode)
    outcome = str(entry["outcome"])
    return {"outcome": outcome, "why": why(entry) if outcome in FAILING_OUTCOMES else ""}


# --- the report ----------------------------------------------------------------------------
def _state(result: Mapping[str, Any] | None) -> tuple[str, list[str], str]:
    """(state, finding ids, reason) of a registered diagnose result."""
    if not result:
        return "failed", [], "not diagnosed"
    if result.get("unreachable"):
        return "unreachable", [], str(result.get("msg") or "unreachable")
    diagnosis = result.get("diagnosis")
    if result.get("failed") or not isinstance(diagnosis, Mapping):
        return "failed", [], str(result.get("msg") or "the diagnosis failed")
    ids = [str(f.get("id")) for f in diagnosis.get("findings") or [] if f.get("severity") in ("critical", "warning")]
    return str(diagnosis.get("state") or "healthy"), ids, ""


def host_outcome(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    plan: Mapping[str, Any] | None,
    run: Mapping[str, Any] | None,
    check_mode: bool = False,
    stopped: str = "",
) -> dict[str, Any]:
    """One host's before/after entry and its outcome (``planned`` in check mode: nothing was changed).

    ``fixed`` only when every finding its roles fix is gone and the host is healthy afterwards; a host whose
    roles did their part but that still has a finding (one only a person can fix, say) or is not healthy is
    ``partly_fixed``, with what ``remaining``. ``stopped`` is why the rollout stopped (``rollout_stop``): the
    reason a host it never reached is skipped.
    """
    state_before, ids_before, reason_before = _state(before)
    state_after, ids_after, reason_after = _state(after)
    plan = plan or {}
    run = run or {}
    fixing = list(plan.get("fixing") or [])
    fixed = [fid for fid in fixing if fid not in ids_after] if state_after not in ("unreachable", "failed") else []
    skipped = run.get("skipped")
    if fixing and not run.get("reached"):
        skipped = skipped or stopped or NOT_ATTEMPTED
    if skipped:
        outcome = "skipped"
    elif run.get("error") or state_after in ("unreachable", "failed"):
        outcome = "failed"
    elif not fixing:
        outcome = "unchanged"
    elif check_mode:
        outcome = "planned"
    elif len(fixed) < len(fixing):
        outcome = "not_fixed"
    elif ids_after or state_after != "healthy":
        outcome = "partly_fixed"
    else:
        outcome = "fixed"
    remaining = ids_after or ([] if state_after == "healthy" else [state_after])
    return {
        "outcome": outcome,
        "before": {"state": state_before, "findings": ids_before, "reason": reason_before},
        "after": {"state": state_after, "findings": ids_after, "reason": reason_after},
        "roles": list(plan.get("roles") or []),
        "fixing": fixing,
        "fixed": fixed,
        "remaining": remaining if outcome in ("partly_fixed", "unchanged", "not_fixed") else [],
        "report_only": list(plan.get("report_only") or []),
        "not_automated": list(plan.get("not_automated") or []),
        "excluded": list(plan.get("excluded") or []),
        "skipped": skipped,
        "error": run.get("error"),
        "drained": bool(run.get("drained")),
        "drain_restored": run.get("drain_restored"),
        # the hosts this one's fix ran beside (its avd_serial batch); [] for a host the rollout never reached
        "batch": [str(name) for name in run.get("batch") or []],
    }


OUTCOMES = ("failed", "not_fixed", "skipped", "partly_fixed", "planned", "fixed", "unchanged")
# How each outcome reads in a sentence (the summary line, the HTML header, the run's closing message).
OUTCOME_WORDS = {
    "failed": "failed",
    "not_fixed": "not fixed",
    "skipped": "skipped",
    "partly_fixed": "partly fixed",
    "planned": "planned",
    "fixed": "fixed",
    "unchanged": "unchanged",
}
# The outcomes that fail the run: an error on the host, or a finding its role fixes still there afterwards.
FAILING_OUTCOMES = ("failed", "not_fixed")


def counts_sentence(summary: Mapping[str, Any], kind: ReportKind | None = None) -> str:
    """``5 fixed, 1 partly fixed, 1 not fixed, ...``: every outcome in the same words wherever a count is shown."""
    kind = kind or REMEDIATION
    return ", ".join(f"{summary[name]} {kind.words[name]}" for name in kind.counts_order)


def failing_message(report: Mapping[str, Any], kind: ReportKind | None = None) -> str:
    """The run's closing message when hosts failed or were not fixed ('' when none), in the report's words."""
    kind = kind or REMEDIATION
    hosts = [(host, entry) for host, entry in report["hosts"].items() if entry["outcome"] in kind.failing]
    if not hosts:
        return ""
    summary = report["summary"]
    counts = " and ".join(f"{summary[name]} {kind.words[name]}" for name in kind.failing if summary[name])
    listed = "; ".join(kind.failing_host(host, entry) for host, entry in hosts)
    return f"{counts}: {listed}"


def why(entry: Mapping[str, Any]) -> str:
    """Why a host failed or was not fixed, in one phrase."""
    if entry["outcome"] == "failed":
        return str(entry["error"] or entry["after"]["reason"] or entry["after"]["state"])
    left = [fid for fid in entry["fixing"] if fid not in entry["fixed"]]
    return f"{', '.join(left)} still found after remediation"


def owner(entry: Mapping[str, Any], fid: str) -> str:
    """Who must act on a finding the run left (the report-only owner, or why it is not automated), short."""
    for item in entry["report_only"]:
        if item["id"] == fid:
            return str(item["who"]).split(":", 1)[0]
    for item in entry["not_automated"]:
        if item["id"] == fid:
            return "not automated"
    if fid in entry["excluded"]:
        return "left out by avd_only/avd_skip"
    return ""


def listed(entry: Mapping[str, Any], ids: Iterable[str]) -> str:
    """``GATEWAY_UNREACHABLE (the network team), ...``: findings with who must act on each."""
    return ", ".join(f"{fid} ({owner(entry, fid)})" if owner(entry, fid) else fid for fid in ids)


def with_roles(ids: Iterable[str]) -> str:
    """``DOTNET_OUTDATED with role dotnet, ...``."""
    return ", ".join(f"{fid} with role {ROLE_FOR[fid]}" if fid in ROLE_FOR else fid for fid in ids)


def what_happened(entry: Mapping[str, Any]) -> str:
    """One host's line in the summary: what was (or, in check mode, would be) done, by which role, what is left."""
    outcome = entry["outcome"]
    state = entry["after"]["state"]
    left = [fid for fid in entry["after"]["findings"] if fid not in entry["fixing"]]
    if left:
        still = f"; still found: {listed(entry, left)}"
    else:
        still = "" if state in ("healthy", "unreachable", "failed") else f"; {state} after the fix"
    if outcome == "planned":
        others = [fid for fid in entry["before"]["findings"] if fid not in entry["fixing"]]
        rest = f"; not by this run: {listed(entry, others)}" if others else ""
        return f"would fix {with_roles(entry['fixing'])}{rest}"
    if outcome == "fixed":
        return f"fixed {with_roles(entry['fixing'])}; healthy now"
    if outcome == "partly_fixed":
        return f"fixed {with_roles(entry['fixing'])}{still}"
    if outcome in ("not_fixed", "failed"):
        return why(entry) + still
    if outcome == "skipped":
        return f"{', '.join(entry['fixing'])} left as found: {entry['skipped']}"
    if not left and state == "healthy":
        return "healthy: nothing to fix"
    return f"nothing this run fixes: {listed(entry, left) or state}"


@dataclass(frozen=True)
class ReportKind:
    """What a write playbook's report is called and how its outcomes read: remediate.yml's, reinstall.yml's and
    move.yml's reports are built, rendered and summed up by the same functions, each in its own words."""

    name: str  # the files: NAME.json, NAME.html, junit-NAME.xml; the JUnit suite avd-NAME
    title: str  # the HTML heading: "<title> of N session host(s)"
    outcomes: tuple[str, ...]  # every outcome, in the order hosts are listed (problems first)
    words: Mapping[str, str]  # how each outcome reads in a sentence
    counts_order: tuple[str, ...]  # the order of the counts line
    failing: tuple[str, ...]  # the outcomes that fail the run
    skipped: tuple[str, ...]  # the outcomes JUnit counts as skipped
    good: tuple[str, ...]  # the outcomes whose badge is green when the host is healthy afterwards
    done_header: str  # the HTML column of what the run applied
    what: Callable[[Mapping[str, Any]], str]  # a host's summary line: what was (or would be) done
    why: Callable[[Mapping[str, Any]], str]  # why a host is in a failing outcome, in one phrase
    failing_host: Callable[[str, Mapping[str, Any]], str]  # a host in the run's closing message


def build_report(
    entries: Mapping[str, dict[str, Any]],
    generated: datetime.datetime,
    check_mode: bool,
    kind: ReportKind | None = None,
) -> dict[str, Any]:
    kind = kind or REMEDIATION
    counts = {name: 0 for name in kind.outcomes}
    for entry in entries.values():
        counts[entry["outcome"]] += 1
    return {
        "generated": generated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "check_mode": check_mode,
        "hosts": dict(sorted(entries.items(), key=lambda item: (kind.outcomes.index(item[1]["outcome"]), item[0]))),
        "summary": {"hosts": len(entries), **counts},
    }


def render_html(report: Mapping[str, Any], kind: ReportKind | None = None) -> str:
    kind = kind or REMEDIATION
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("remediation.html.j2").render(
        report=report, counts=counts_sentence(report["summary"], kind), words=kind.words, what=kind.what, kind=kind
    )


def render_junit(report: Mapping[str, Any], kind: ReportKind | None = None) -> str:
    """One test case per host: a failure when the host was not fixed, skipped when it was left for consent."""
    kind = kind or REMEDIATION
    summary = report["summary"]
    suite = ET.Element(
        "testsuite",
        name=f"avd-{kind.name}",
        tests=str(summary["hosts"]),
        failures=str(sum(summary[name] for name in kind.failing)),
        skipped=str(sum(summary[name] for name in kind.skipped)),
        timestamp=str(report["generated"]),
    )
    for host, entry in report["hosts"].items():
        case = ET.SubElement(suite, "testcase", classname=kind.name, name=host)
        detail = (
            f"before: {entry['before']['state']} {', '.join(entry['before']['findings']) or '-'}; "
            f"after: {entry['after']['state']} {', '.join(entry['after']['findings']) or '-'}"
        )
        if entry["outcome"] in kind.failing:
            message = f"{kind.words[entry['outcome']]}: {kind.why(entry)}"
            ET.SubElement(case, "failure", message=message).text = detail
        elif entry["outcome"] in kind.skipped:
            ET.SubElement(case, "skipped", message=str(entry["skipped"] or kind.what(entry)))
        else:
            ET.SubElement(case, "system-out").text = detail
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def summary_lines(report: Mapping[str, Any], report_dir: str, kind: ReportKind | None = None) -> list[str]:
    kind = kind or REMEDIATION
    lines = [
        f"{'HOST':<24} {'OUTCOME':<12} {'WHAT WAS DONE' if not report.get('check_mode') else 'WHAT WOULD BE DONE'}"
    ]
    for host, entry in report["hosts"].items():
        lines.append(f"{host:<24} {kind.words[entry['outcome']]:<12} {kind.what(entry)}")
    s = report["summary"]
    mode = " (check mode: nothing was changed)" if report.get("check_mode") else ""
    lines.append(f"{s['hosts']} hosts: {counts_sentence(s, kind)}{mode}")
    lines.append(f"Reports: {report_dir}/{kind.name}.html, {kind.name}.json, junit-{kind.name}.xml")
    return lines


def write_reports(report: Mapping[str, Any], directory: Path, kind: ReportKind | None = None) -> dict[str, str]:
    kind = kind or REMEDIATION
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "json": directory / f"{kind.name}.json",
        "html": directory / f"{kind.name}.html",
        "junit": directory / f"junit-{kind.name}.xml",
    }
    texts = {
        "json": json.dumps(report, indent=2) + "\n",
        "html": render_html(report, kind),
        "junit": render_junit(report, kind),
    }
    for form, text in texts.items():
        files[form].write_bytes(text.encode())  # UTF-8, whatever the controller's locale
    return {form: str(path) for form, path in files.items()}


REMEDIATION = ReportKind(
    name="remediation",
    title="Remediation",
    outcomes=OUTCOMES,
    words=OUTCOME_WORDS,
    counts_order=("fixed", "partly_fixed", "not_fixed", "skipped", "failed", "unchanged", "planned"),
    failing=FAILING_OUTCOMES,
    skipped=("skipped",),
    good=("fixed", "unchanged"),
    done_header="Roles applied",
    what=what_happened,
    why=why,
    failing_host=lambda host, entry: f"{host} ({OUTCOME_WORDS[entry['outcome']]}: {why(entry)})",
)
