"""Hand-made wrong diagnoses (issue 14): each must make the unit tests fail.

Each entry is a mistake an administrator would act on wrongly (a staleness cut
removed, qwinsta's ``#`` filter dropped, a severity or a link changed, a
boundary moved, a fact read under a wrong name, a failed result reported as
diagnosed). The script applies one at a time to a staged copy of the collection
(``.mutation/hand``; the work tree is never changed), runs the unit tests of
of the issue's classes there (``test_rules_cases.py``, ``test_chain.py``) and says KILLED or SURVIVED. An entry whose code
is no longer found is reported NOT FOUND: update it with the code it guards.

Usage: python tests/mutation/hand.py   (a few minutes)
"""

from __future__ import annotations

import os
import subprocess
import sys

from mutation import PACKAGE, REPO, TARGETS, TESTS, stage

HAND = REPO / ".mutation" / "hand"
RULES, PARSERS, FACTS, REPORTS = (PACKAGE / target for target in TARGETS[:4])
VERDICTS = PACKAGE / "plugins/plugin_utils/_verdicts.py"
# (what goes wrong, file, code, the wrong code)
MUTANTS = (
    ("staleness: the boot cut removed", RULES, "if boot is not None and when < boot:", "if False:"),
    ("staleness: an event at the boot itself taken as stale", RULES, "when < boot:", "when <= boot:"),
    (
        "staleness: the registration cut removed",
        RULES,
        'event.get("kind") in REGISTRATION_KINDS and self.registered_now and last_check and when < last_check',
        "False",
    ),
    (
        "staleness: the registration cut while not registered",
        RULES,
        "and self.registered_now and last_check",
        "and last_check",
    ),
    (
        "staleness: the registration cut for every kind of event",
        RULES,
        'event.get("kind") in REGISTRATION_KINDS and ',
        "",
    ),
    (
        "health report: LastHealthCheckInUTC of the first check, not the latest",
        FACTS,
        'max((c["last_checked"] for c in checks if c["last_checked"]), default=None)',
        'min((c["last_checked"] for c in checks if c["last_checked"]), default=None)',
    ),
    (
        "qwinsta: users' rows taken for listeners (the listener filter dropped)",
        PARSERS,
        "listeners = [r for r in rows if is_listener(r)]",
        "listeners = list(rows)",
    ),
    (
        "qwinsta: the first rdp-sxs row taken for the stack's listener, users' rows included",
        PARSERS,
        'stacks = [r for r in listeners if r.session_name.lower().startswith("rdp-sxs")]',
        'stacks = [r for r in rows if r.session_name.lower().startswith("rdp-sxs")]',
    ),
    (
        "qwinsta: listeners told by a name without '#', not by their session id",
        PARSERS,
        "return row.id is not None and row.id >= LISTENER_FIRST_ID",
        'return "#" not in row.session_name',
    ),
    (
        "severity: INVALID_FORM with its event not critical",
        RULES,
        "CRITICAL if events or len(failing) == 2 else WARNING",
        "CRITICAL if len(failing) == 2 else WARNING",
    ),
    (
        "severity: warnings ranked as critical",
        RULES,
        "SEVERITY_RANK = {CRITICAL: 0, WARNING: 1, INFO: 2}",
        "SEVERITY_RANK = {CRITICAL: 0, WARNING: 0, INFO: 2}",
    ),
    (
        "fail_on: the threshold itself does not fail",
        REPORTS,
        'SEVERITY_RANK[f["severity"]] <= threshold',
        'SEVERITY_RANK[f["severity"]] < threshold',
    ),
    (
        "fail_on: 'warning' no longer a threshold",
        REPORTS,
        'FAIL_ON = ("none", "warning", "critical")',
        'FAIL_ON = ("none", "critical")',
    ),
    ("summary: findings not counted by severity", REPORTS, 'by_severity[finding["severity"]] += 1', "pass"),
    ("summary: symptoms counted as root causes", REPORTS, 'if not finding.get("explained_by"):', "if True:"),
    (
        "links: EXPIRED_REGISTRATION_TOKEN no longer explains the stopped boot loader",
        RULES,
        '"EXPIRED_REGISTRATION_TOKEN": ("BOOTLOADER_NOT_RUNNING",),',
        '"EXPIRED_REGISTRATION_TOKEN": (),',
    ),
    (
        "links: a chain of causes not followed to its top",
        RULES,
        "finding.explained_by = by_id[finding.explained_by].explained_by",
        "break",
    ),
    (
        "links: INVALID_FORM no longer explains the stopped boot loader",
        RULES,
        '"INVALID_FORM": ("BOOTLOADER_NOT_RUNNING",',
        '"INVALID_FORM": (',
    ),
    ("boundary: .NET 4.7.2 itself too old", FACTS, "release >= k.DOTNET_472_MINIMUM", "release > k.DOTNET_472_MINIMUM"),
    ("boundary: exactly 300 MB free is low", RULES, "free < k.DISK_MSI_BYTES", "free <= k.DISK_MSI_BYTES"),
    (
        "boundary: exactly 5% free is low",
        RULES,
        "free * 100 < k.DISK_LOW_PERCENT * size",
        "free * 100 <= k.DISK_LOW_PERCENT * size",
    ),
    ("boundary: a low disk without its event says nothing", RULES, "if not events and not low:", "if not events:"),
    ("boundary: the session limit one early", RULES, "int(sessions) < int(limit)", "int(sessions) + 1 < int(limit)"),
    (
        "fact names: .NET 'installed' read from a wrong key",
        FACTS,
        '"installed": bool(read and read.get("exists")),',
        '"installed": bool(read and read.get("installed")),',
    ),
    ("fact names: AzureVmId read as VmId", FACTS, 'rdinfra.get("azurevmid")', 'rdinfra.get("vmid")'),
    (
        "fact names: AgentHealthCheckReport read as HealthCheckReport",
        FACTS,
        'health.get("agenthealthcheckreport")',
        'health.get("healthcheckreport")',
    ),
    (
        "fact names: a service's 'exists' read from a wrong key",
        FACTS,
        '"exists": bool(entry.get("exists")),',
        '"exists": bool(entry.get("installed")),',
    ),
    (
        "editions: Server editions taken for unsupported ones",
        PARSERS,
        "if lowered.startswith(k.SXS_SUPPORTED_EDITION_PREFIXES):",
        'if lowered.startswith("enterprise"):',
    ),
    (
        "partial subsets: a check whose subsets were left out counted as run",
        VERDICTS,
        "        if left_out:\n",
        "        if False:\n",
    ),
    (
        "partial subsets: a check whose subset failed counted as run",
        VERDICTS,
        "        if reasons:\n",
        "        if False:\n",
    ),
    (
        "partial subsets: a subset whose read failed believed (a failed read taken for a fault)",
        RULES,
        "return value if isinstance(value, Mapping) and name not in self.broken else None",
        "return value if isinstance(value, Mapping) else None",
    ),
    (
        "report states: a failed result with a diagnosis reported as diagnosed",
        REPORTS,
        'if result.get("failed") or not isinstance(diagnosis, Mapping):',
        "if not isinstance(diagnosis, Mapping):",
    ),
)


def main() -> None:
    stage((), HAND)
    env = {**os.environ, "PYTHONPATH": str(HAND / "src")}
    env.pop("ANSIBLE_CONFIG", None)
    tests = [f"{TESTS}/test_rules_cases.py", f"{TESTS}/test_chain.py"]
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:timeout", *tests]
    clean = subprocess.run(command, cwd=HAND, env=env, capture_output=True, text=True, check=False)
    if clean.returncode != 0:
        sys.exit(f"the unit tests fail without any mutation:\n{clean.stdout[-3000:]}")
    survived = missing = 0
    for what, path, code, wrong in MUTANTS:
        file = HAND / path
        original = file.read_text(encoding="utf-8")
        if original.count(code) != 1:
            print(f"NOT FOUND  {what}  ({path.name}: {code!r})")
            missing += 1
            continue
        file.write_text(original.replace(code, wrong), encoding="utf-8")
        try:
            done = subprocess.run(command, cwd=HAND, env=env, capture_output=True, text=True, check=False)
        finally:
            file.write_text(original, encoding="utf-8")
        failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
        if done.returncode == 0:
            survived += 1
            print(f"SURVIVED   {what}")
        else:
            print(f"KILLED     {what}  ({failed[0].split('::', 1)[-1].split(' - ')[0] if failed else 'error'})")
    print(
        f"{len(MUTANTS)} hand mutants: {len(MUTANTS) - survived - missing} killed, {survived} survived, {missing} not found"
    )
    sys.exit(1 if survived or missing else 0)


if __name__ == "__main__":
    main()
