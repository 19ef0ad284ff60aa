"""diagnose.yml on a lab with every catalog fault: findings, reports, exit status, browser check, secrets."""

from __future__ import annotations

import datetime
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.avdops.sessionhost.plugins.plugin_utils._rules import CHECKS
from tests.catalog import FAULT_FINDINGS
from tests.conftest import REPO, ansible_env, flat, lab_address, run_ansible

pytestmark = pytest.mark.lab

SCENARIO = REPO / "tests" / "lab" / "scenarios" / "demo.yml"
EXPECTED = FAULT_FINDINGS
REPORTS = REPO / "reports" / "test-diagnosis"
NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def demo_lab(lab_factory, tmp_path_factory):
    # avd-11's other installation (installer_busy) runs for the whole module, not the 60 s of make demo's: the psrp
    # diagnosis, taken minutes after the winrm one on a loaded machine, must still find it running
    scenario = yaml.safe_load(SCENARIO.read_text())
    for host in scenario["hosts"]:
        if "installer_busy" in host.get("faults", []):
            host["installation_seconds"] = 3600
    path = tmp_path_factory.mktemp("diagnose-scenario") / "demo.yml"
    path.write_text(yaml.safe_dump(scenario))
    lab = lab_factory("diagnose", "--scenario", str(path), "--first-address", "127.0.10.1")
    config = lab.config
    extra = {
        "all": {
            "children": {
                "avd_session_hosts": {
                    "hosts": {
                        "ghost-01": {"ansible_host": lab_address("127.0.10.250")},  # nothing listens there
                        "badcred-01": {
                            "ansible_host": config["hosts"][-1]["address"],
                            "ansible_password": "not-the-password",
                        },
                    }
                }
            }
        }
    }
    (lab.inventory / "extra.yml").write_text(yaml.safe_dump(extra))
    return lab


def run_diagnose(lab, *extra: str, report_dir: Path = REPORTS) -> subprocess.CompletedProcess[str]:
    return lab.playbook(
        REPO / "playbooks" / "diagnose.yml",
        "-e",
        f"avd_report_dir={report_dir}",
        *extra,
        inventories=("hosts.yml", "extra.yml", "hostpool.avd.yml"),  # the pool's view too, as make demo
    )


def run_without_pool(lab, *extra: str, report_dir: Path) -> subprocess.CompletedProcess[str]:
    """For the runs that test the exit status, the target and --limit: none of their results depends on the pool's
    view, and the host_pool source's ARM reads cost about 0.5 CPU-s a run."""
    return lab.playbook(
        REPO / "playbooks" / "diagnose.yml", "-e", f"avd_report_dir={report_dir}", *extra,
        inventories=("hosts.yml", "extra.yml"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def diagnosis(demo_lab):
    if REPORTS.exists():
        shutil.rmtree(REPORTS)
    demo_lab.reset_stats()
    result = run_diagnose(demo_lab)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    stats = demo_lab.stats()
    return json.loads((REPORTS / "diagnosis.json").read_text()), result, stats


def hosts_by_fault() -> dict[str, list[str]]:
    scenario = yaml.safe_load(SCENARIO.read_text())
    return {h["name"]: h.get("faults", []) for h in scenario["hosts"]}


def test_each_fault_yields_its_finding_root_cause_first(diagnosis):
    report, _unused1, _unused2 = diagnosis
    for host, faults in hosts_by_fault().items():
        entry = report["hosts"][host]
        ids = [f["id"] for f in entry["findings"]]
        for fault in faults:
            assert EXPECTED[fault] in ids, (host, fault, ids)
        if faults:
            assert entry["state"] == "unhealthy"
            assert entry["findings"][0]["explained_by"] is None  # a root cause leads
            for finding in entry["findings"]:
                assert finding["evidence"] and finding["remediation"] and finding["doc"].startswith("https://")
                assert set(finding) >= {"id", "severity", "title", "evidence", "remediation", "doc"}


def test_healthy_hosts_have_no_warning_or_critical(diagnosis):
    report, _unused1, _unused2 = diagnosis
    for host, faults in hosts_by_fault().items():
        if not faults:
            entry = report["hosts"][host]
            assert entry["state"] == "healthy", (host, entry["findings"])
            assert not [f for f in entry["findings"] if f["severity"] in ("critical", "warning")]


def test_two_faults_yield_both(diagnosis):
    report, _unused1, _unused2 = diagnosis
    ids = {f["id"] for f in report["hosts"]["avd-20"]["findings"]}
    assert {"GATEWAY_UNREACHABLE", "DOTNET_OUTDATED"} <= ids


def test_unreachable_and_wrong_credentials_are_reported_per_host(diagnosis):
    report, result, _unused = diagnosis
    assert report["hosts"]["ghost-01"]["state"] == "unreachable"
    bad = report["hosts"]["badcred-01"]
    assert bad["state"] == "unreachable" and "credentials were rejected" in bad["reason"]
    assert report["summary"]["unreachable"] == 2
    assert "ghost-01" in result.stdout and "avd-23" in result.stdout


def test_one_winrm_command_per_host(diagnosis):
    _unused1, _unused2, stats = diagnosis
    lab_hosts = hosts_by_fault()
    assert {name: stats[name]["commands"] for name in lab_hosts} == {name: 1 for name in lab_hosts}


def test_junit_and_summary(diagnosis):
    _unused1, result, _unused2 = diagnosis
    junit = (REPORTS / "junit-diagnosis.xml").read_text()
    assert junit.count("<testcase") == 26 * len(CHECKS) + 2
    assert "HOST" in result.stdout and "26 hosts" not in result.stdout  # 28 with the two unreachable ones
    summary = "28 hosts, 26 diagnosed: 3 healthy, 23 unhealthy, 0 incomplete, 0 stopped, 2 unreachable, 0 failed"
    assert summary in flat(result.stdout), result.stdout[result.stdout.find("Show the summary") :][:3000]


def test_fail_on_sets_the_exit_status(demo_lab, tmp_path):
    failing = run_without_pool(
        demo_lab, "-e", "avd_fail_on=critical", "-e", "target=avd-01:avd-23", report_dir=tmp_path
    )
    assert failing.returncode != 0 and "host(s) at or above 'critical' or not fully checked: avd-01" in failing.stdout
    passing = run_without_pool(
        demo_lab, "-e", "avd_fail_on=critical", "-e", "target=avd-21:avd-23", report_dir=tmp_path
    )
    assert passing.returncode == 0, passing.stdout[-2000:]
    assert json.loads((tmp_path / "diagnosis.json").read_text())["summary"]["hosts"] == 2


def test_planted_tokens_appear_in_no_report_or_output(demo_lab, diagnosis):
    _unused1, result, _unused2 = diagnosis
    tokens = []
    for name in ("avd-03", "avd-04", "avd-19"):
        state = json.loads((demo_lab.directory / "hosts" / f"{name}.json").read_text())
        for _key, values in state["registry"].items():
            tokens += [v["data"] for v in values if v["name"] == "RegistrationToken" and v["data"]]
    assert len(tokens) == 3
    texts = [result.stdout, result.stderr] + [
        p.read_text() for p in REPORTS.iterdir() if p.suffix in (".json", ".html", ".xml")
    ]
    for token in tokens:
        assert all(token not in text and token[:32] not in text for text in texts)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through playwright, started once for the module's two browser tests (a start of playwright
    and chromium costs about 1.3 CPU-s); each test opens its own page."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed for this test (make test installs it)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


def test_html_report_in_a_real_browser(diagnosis, browser):
    report, _unused1, _unused2 = diagnosis
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 1800})
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((REPORTS / "diagnosis.html").as_uri())
    assert page.locator("section.host").count() == len(report["hosts"])
    for host, entry in report["hosts"].items():
        section = page.locator(f"#host-{host}")
        assert section.is_visible()
        assert section.locator(".finding").count() == len(entry["findings"])
    assert page.locator("#count-unreachable").inner_text() == "2"
    first = page.locator("section.host").first.get_attribute("data-state")
    assert first in ("unreachable", "failed")  # unhealthy first
    page.locator("#only-problems").check()
    assert not page.locator("#host-avd-23").is_visible()
    page.locator("#only-problems").uncheck()
    check_triage_grid(page, report)
    page.screenshot(path=str(REPORTS / "diagnosis-screenshot.png"), full_page=False)
    page.close()
    assert errors == []
    assert (REPORTS / "diagnosis-screenshot.png").stat().st_size > 10_000


def check_triage_grid(page, report) -> None:
    """The grid opens the page: every host, filter by state, finding and pool, sort, findings link to it."""
    rows = page.locator("#grid tbody tr")
    visible = page.locator("#grid tbody tr:visible")
    assert rows.count() == len(report["hosts"])
    assert page.locator("#grid").bounding_box()["y"] < page.locator("#findings-summary").bounding_box()["y"]
    assert rows.first.get_attribute("data-state") in ("unreachable", "failed")  # problems first
    page.select_option("#filter-state", "healthy")
    assert visible.count() == report["summary"]["healthy"] == int(page.locator("#grid-shown").inner_text())
    page.select_option("#filter-state", "")
    page.locator('button.card[data-filter-state="unreachable"]').click()
    assert sorted(visible.evaluate_all("rows => rows.map(r => r.dataset.host)")) == ["badcred-01", "ghost-01"]
    page.locator('button.card[data-filter-state=""]').click()
    assert visible.count() == len(report["hosts"])
    page.select_option("#filter-pool", "hp-demo")
    in_pool = [n for n, e in report["hosts"].items() if (e.get("details") or {}).get("host_pool") == "hp-demo"]
    assert visible.count() == len(in_pool) > 0
    page.select_option("#filter-pool", "")
    page.locator('#findings-summary a.finding-filter[data-finding="DOTNET_OUTDATED"]').click()
    with_dotnet = sorted(n for n, e in report["hosts"].items() if "DOTNET_OUTDATED" in {f["id"] for f in e["findings"]})
    assert sorted(visible.evaluate_all("rows => rows.map(r => r.dataset.host)")) == with_dotnet
    assert page.locator("#filter-finding").input_value() == "DOTNET_OUTDATED"
    page.select_option("#filter-finding", "")
    page.fill("#filter-text", "avd-2")
    assert all("avd-2" in name for name in visible.evaluate_all("rows => rows.map(r => r.dataset.host)"))
    page.fill("#filter-text", "")
    page.locator('#grid th[data-key="name"]').click()
    names = rows.evaluate_all("rows => rows.map(r => r.dataset.host)")
    assert names == sorted(names, key=lambda n: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", n)])
    page.locator('#grid th[data-key="name"]').click()
    assert rows.first.get_attribute("data-host") == names[-1]  # descending
    host_link = page.locator('#findings-summary a.host-link[href="#host-avd-15"]')
    # one link under each finding of the host (DOTNET_OUTDATED, and the pool drift it explains)
    assert host_link.count() == len({finding["id"] for finding in report["hosts"]["avd-15"]["findings"]}) >= 1
    assert "every reachable" not in page.content()


def test_html_of_a_run_that_reached_no_host_says_so_in_a_real_browser(browser, tmp_path):
    from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _reports as rep

    results = {"sh-01": {"unreachable": True, "msg": "timed out"}, "sh-02": {}}
    report = rep.build_report(rep.entries_from(results, {"sh-02": {"status": "Shutdown"}}), NOW, {"target": "all"})
    report["run"]["failure"] = rep.run_failure(report, "critical")
    rep.write_reports(report, tmp_path)
    errors: list[str] = []
    page = browser.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((tmp_path / "diagnosis.html").as_uri())
    assert (
        page.locator("#run-failure").is_visible()
        and "no host was diagnosed" in page.locator("#run-failure").inner_text()
    )
    assert page.locator("#count-diagnosed").inner_text() == "0"
    assert "no host was diagnosed" in page.locator("#no-findings").inner_text()
    states = page.locator("#grid tbody tr").evaluate_all("rows => rows.map(r => r.dataset.state)")
    assert states == ["unreachable", "stopped"]
    assert "healthy" not in page.locator("#no-findings").inner_text()
    page.close()
    assert errors == []


@pytest.fixture(scope="module")
def psrp_diagnosis(demo_lab, diagnosis, tmp_path_factory):
    """The same lab diagnosed over Ansible's psrp connection: the inventory's psrp vars, one -e."""
    report_dir = tmp_path_factory.mktemp("psrp-diagnosis")
    demo_lab.reset_stats()
    result = run_diagnose(demo_lab, "-e", "ansible_connection=psrp", report_dir=report_dir)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return json.loads((report_dir / "diagnosis.json").read_text()), result, demo_lab.stats()


def test_psrp_gives_the_same_diagnosis_as_winrm(diagnosis, psrp_diagnosis):
    over_winrm, _unused1, _unused2 = diagnosis
    over_psrp, result, _unused = psrp_diagnosis
    assert set(over_psrp["hosts"]) == set(over_winrm["hosts"])
    for host in hosts_by_fault():
        assert without_heartbeat(over_psrp["hosts"][host]) == without_heartbeat(over_winrm["hosts"][host]), host
    for host in ("ghost-01", "badcred-01"):
        assert over_psrp["hosts"][host]["state"] == "unreachable"
    assert over_psrp["summary"] == over_winrm["summary"]
    assert "28 hosts, 26 diagnosed: 3 healthy, 23 unhealthy, 0 incomplete, 0 stopped, 2 unreachable" in result.stdout


def without_heartbeat(entry):
    """A host's report entry without the pool's lastHeartBeat and read time, which move on between runs."""
    pool = {
        key: value for key, value in (entry.get("host_pool") or {}).items() if key not in ("last_heartbeat", "read_at")
    }
    findings = [
        {**f, "evidence": [e for e in f["evidence"] if not e.startswith("host pool's lastHeartBeat is")]}
        for f in entry["findings"]
    ]
    details = {key: value for key, value in (entry.get("details") or {}).items() if key != "last_heartbeat"}
    return {**entry, "host_pool": pool, "findings": findings, "details": details}


def test_one_psrp_pipeline_per_host(psrp_diagnosis):
    _unused1, _unused2, stats = psrp_diagnosis
    lab_hosts = hosts_by_fault()
    assert {name: (stats[name]["shells"], stats[name]["commands"], stats[name]["pipelines"]) for name in lab_hosts} == {
        name: (1, 1, 1) for name in lab_hosts
    }


# --- verdicts a pipeline can trust --------------------------------------------------------
def old_report(directory: Path) -> None:
    """Reports left by an earlier run, which the next run must replace whatever happens."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "diagnosis.json").write_text(
        json.dumps({"generated": "2020-01-01T00:00:00Z", "summary": {"hosts": 9}})
    )
    (directory / "diagnosis.html").write_text("<p>old</p>")


def test_a_target_that_matches_nothing_fails_with_fail_on_and_still_rewrites_the_reports(demo_lab, tmp_path):
    old_report(tmp_path)
    failing = run_without_pool(
        demo_lab, "-e", "target=no-such-group", "-e", "avd_fail_on=critical", report_dir=tmp_path
    )
    assert failing.returncode != 0 and "no host was diagnosed: the run had no hosts" in failing.stdout
    report = json.loads((tmp_path / "diagnosis.json").read_text())
    assert report["generated"] != "2020-01-01T00:00:00Z" and report["summary"]["hosts"] == 0
    assert report["summary"]["diagnosed"] == 0 and report["run"]["target"] == "no-such-group"
    assert "<p>old</p>" not in (tmp_path / "diagnosis.html").read_text()
    assert 'classname="run"' in (tmp_path / "junit-diagnosis.xml").read_text()
    # no avd_fail_on: nothing asked
    passing = run_without_pool(demo_lab, "-e", "target=no-such-group", report_dir=tmp_path)  # no avd_fail_on
    assert passing.returncode == 0, passing.stdout[-2000:]
    assert "0 hosts, 0 diagnosed" in passing.stdout


def test_a_run_where_every_host_failed_exits_non_zero_without_fail_on(demo_lab, tmp_path):
    import certifi

    tls = {  # a lab host whose certificate the controller does not trust (the public roots only)
        "all": {
            "hosts": {
                "tls-01": {
                    "ansible_host": demo_lab.config["hosts"][0]["address"],
                    "ansible_winrm_ca_trust_path": certifi.where(),
                }
            }
        }
    }
    (demo_lab.inventory / "tls.yml").write_text(yaml.safe_dump(tls))
    result = demo_lab.playbook(
        REPO / "playbooks" / "diagnose.yml",
        "-e",
        f"avd_report_dir={tmp_path}",
        "-e",
        "target=ghost-01:badcred-01:tls-01",
        inventories=("hosts.yml", "extra.yml", "tls.yml"),
    )
    assert result.returncode != 0 and "no host was diagnosed: 3 unreachable" in result.stdout
    report = json.loads((tmp_path / "diagnosis.json").read_text())
    assert {n: h["reason_class"] for n, h in report["hosts"].items()} == {
        "ghost-01": "refused",
        "badcred-01": "credentials",
        "tls-01": "tls",
    }
    assert "certificate verify failed" in report["hosts"]["tls-01"]["reason"]  # in full in the report
    out = flat(result.stdout)  # the summary's lines, as the callback folds them
    assert "ghost-01 unreachable connection refused: [Errno 111] Connection refused" in out
    assert "badcred-01 unreachable credentials rejected: the specified credentials were rejected" in out
    assert "tls-01 unreachable TLS verification failed: certificate verify failed" in out


def test_an_inventory_that_fails_to_parse_fails_the_run(demo_lab, tmp_path):
    broken = tmp_path / "broken.avd.yml"
    broken.write_text(
        "plugin: avdops.sessionhost.host_pool\nhost_pools: [{name: hp, resource_group: rg}]\n"
        "auth_source: credential\nsubscription_id: s\ntenant: t\nclient_id: c\nsecret: wrong\n"
        f"arm_endpoint: https://{lab_address('127.0.10.251')}:1\nauthority: https://{lab_address('127.0.10.251')}:1\n"
        "retries: 0\n"
    )
    args = (str(REPO / "playbooks" / "diagnose.yml"), "-e", f"avd_report_dir={tmp_path}", "-e", "avd_fail_on=critical")
    result = run_ansible("ansible-playbook", "-i", str(broken), *args)
    assert result.returncode != 0 and "no host was diagnosed" in result.stdout
    assert json.loads((tmp_path / "diagnosis.json").read_text())["summary"]["hosts"] == 0
    strict = run_ansible(
        "ansible-playbook", "-i", str(broken), *args, env=ansible_env(ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1")
    )
    assert strict.returncode != 0 and "Completely failed to parse inventory source" in strict.stdout + strict.stderr


def test_a_stopped_vm_is_stopped_not_unreachable_and_fails_only_when_asked(demo_lab, tmp_path):
    stopped = {
        "all": {
            "hosts": {
                "off-01": {
                    "ansible_host": lab_address("127.0.10.252"),  # nothing listens: the VM is off
                    "avd_status": "Shutdown",
                    "avd_host_pool": "hp-demo",
                    "avd_sessions": 0,
                    "avd_allow_new_session": True,
                }
            }
        }
    }
    (demo_lab.inventory / "stopped.yml").write_text(yaml.safe_dump(stopped))
    inventories = ("hosts.yml", "stopped.yml")
    args = ("-e", f"avd_report_dir={tmp_path}", "-e", "target=off-01:avd-21", "-e", "avd_fail_on=critical")
    demo_lab.reset_stats()
    passing = demo_lab.playbook(REPO / "playbooks" / "diagnose.yml", *args, inventories=inventories)
    assert passing.returncode == 0, passing.stdout[-3000:]
    report = json.loads((tmp_path / "diagnosis.json").read_text())
    assert report["hosts"]["off-01"]["state"] == "stopped" and "status=Shutdown" in report["hosts"]["off-01"]["reason"]
    assert report["summary"]["stopped"] == 1 and report["summary"]["diagnosed"] == 1
    asked = demo_lab.playbook(
        REPO / "playbooks" / "diagnose.yml", *args, "-e", "avd_fail_on_stopped=true", inventories=inventories
    )
    assert asked.returncode != 0 and "off-01" in asked.stdout


def test_a_narrowed_gather_on_a_host_without_agent_is_incomplete_not_healthy(demo_lab):
    result = demo_lab.ansible("avd-02", "-m", "avdops.sessionhost.diagnose", "-a", "gather_subset=disk")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "state: incomplete" in result.stdout and "AGENT_NOT_INSTALLED: gather_subset left out agent" in result.stdout


def test_a_controller_without_pywinrm_fails_the_run_and_says_why(demo_lab, tmp_path):
    shadow = tmp_path / "shadow"
    (shadow / "winrm").mkdir(parents=True)
    (shadow / "winrm" / "__init__.py").write_text("raise ImportError(\"No module named 'winrm'\")\n")
    result = demo_lab.playbook(
        REPO / "playbooks" / "diagnose.yml",
        "-e",
        f"avd_report_dir={tmp_path / 'reports'}",
        "-e",
        "target=avd-21:avd-22",
        env={"PYTHONPATH": str(shadow)},
    )
    assert result.returncode != 0 and "no host was diagnosed" in result.stdout, result.stdout[-3000:]
    report = json.loads((tmp_path / "reports" / "diagnosis.json").read_text())
    assert report["summary"]["diagnosed"] == 0
    assert all("install pywinrm on the controller" in entry["reason"] for entry in report["hosts"].values())


def test_an_unknown_fail_on_is_refused_before_any_host_is_contacted(demo_lab, tmp_path):
    demo_lab.reset_stats()
    result = run_without_pool(demo_lab, "-e", "avd_fail_on=high", "-e", "target=avd-21", report_dir=tmp_path)
    assert (
        result.returncode != 0 and "avd_fail_on: expected one of none, warning, critical, got 'high'" in result.stdout
    )
    assert demo_lab.stats()["avd-21"]["commands"] == 0 and not (tmp_path / "diagnosis.json").exists()


def test_a_limit_without_localhost_is_refused_not_a_silent_green_run(demo_lab, tmp_path):
    demo_lab.reset_stats()
    refused = run_without_pool(demo_lab, "--limit", "avd-21", report_dir=tmp_path)
    assert refused.returncode != 0 and "leaves out localhost" in refused.stdout
    assert demo_lab.stats()["avd-21"]["commands"] == 0 and not (tmp_path / "diagnosis.json").exists()
    limited = run_without_pool(demo_lab, "--limit", "avd-21,localhost", report_dir=tmp_path)
    assert limited.returncode == 0, limited.stdout[-2000:]
    assert list(json.loads((tmp_path / "diagnosis.json").read_text())["hosts"]) == ["avd-21"]


# --- the contract: every field and finding id README promises, from the real playbooks ---------------------
README = (REPO / "README.md").read_text(encoding="utf-8")
DIAGNOSED = ("healthy", "unhealthy", "incomplete")


def documented_diagnosis_json() -> dict[str, list[str]]:
    """The fields README's report table promises in diagnosis.json (read from README, so the two cannot part)."""
    line = next(x for x in README.splitlines() if x.startswith("| `diagnosis.json` |"))

    def names(pattern: str) -> list[str]:
        match = re.search(pattern, line)
        assert match, pattern
        return [name.strip(' "') for name in match.group(1).split(",") if name.strip()]

    host = re.search(r'"<host>": \{(.*)\}\}, "summary"', line)
    assert host
    return {
        "run": names(r'"run": \{([^}]*)\}'),
        "host": re.findall(r'"(\w+)"', re.sub(r"\[\{[^]]*\]|\{[^}]*\}", "", host.group(1))),
        "finding": names(r'"findings": \[\{([^}]*)\}\]'),
        "versions": names(r'"versions": \{([^}]*)\}'),
        "summary": [
            field
            for name in names(r'"summary": \{([^}]*)\}')
            for field in ((*DIAGNOSED, "stopped", "unreachable", "failed") if name == "<count per state>" else (name,))
        ],
    }


def documented_finding_ids() -> set[str]:
    """Every finding id README names in backticks (the article's, the service's signals, drift)."""
    return {x for x in re.findall(r"`([A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+)`", README) if x in CHECKS}


def test_diagnosis_json_has_every_documented_field(diagnosis):
    report, _unused1, _unused2 = diagnosis
    contract = documented_diagnosis_json()
    assert set(contract["host"]) >= {"state", "reason", "findings", "unchecked", "details", "versions"}
    assert set(contract["versions"]) == {"agent", "sxs_stack", "os_build", "dotnet_release"}
    assert {"generated", "run", "hosts", "summary"} <= set(report)
    assert set(contract["run"]) <= set(report["run"])
    assert set(contract["summary"]) <= set(report["summary"]), set(contract["summary"]) - set(report["summary"])
    for name, entry in report["hosts"].items():
        if entry["state"] not in DIAGNOSED:
            assert entry.get("reason"), name  # unreachable, failed, stopped: always why
            continue
        missing = [field for field in contract["host"] if field not in entry and field != "reason"]
        assert missing == [], (name, missing)
        if entry["state"] == "incomplete":
            assert entry["reason"], name
        assert set(entry["versions"]) == set(contract["versions"]), name
        for finding in entry["findings"]:
            assert set(contract["finding"]) <= set(finding), (name, finding["id"])
            assert finding["id"] in CHECKS and finding["title"] and finding["remediation"] and finding["doc"]
            assert finding["severity"] in ("critical", "warning", "info") and isinstance(finding["evidence"], list)


def test_every_finding_id_in_the_report_is_documented(diagnosis):
    report, _unused1, _unused2 = diagnosis
    documented = documented_finding_ids()
    assert set(CHECKS) <= documented, set(CHECKS) - documented  # README names every id the collection can raise
    found = {f["id"] for entry in report["hosts"].values() for f in entry["findings"]}
    assert found <= documented


def test_versions_per_host_are_the_hosts_and_the_older_agent_drifts(diagnosis):
    """README: diagnosis.json carries versions per host; hosts off the pool's majority agent carry AGENT_VERSION_DRIFT,
    linked to the root cause that kept the agent from updating when one is found on the host."""
    from ansible_collections.avdops.sessionhost.plugins.plugin_utils._pool import DRIFT_EXPLAINED_BY

    report, _unused1, _unused2 = diagnosis
    diagnosed = {n: e for n, e in report["hosts"].items() if e["state"] in DIAGNOSED}
    agents = {n: e["versions"]["agent"] for n, e in diagnosed.items() if e["versions"]["agent"]}
    assert len(agents) >= 20 and all(re.fullmatch(r"1\.0\.\d+\.\d+", v) for v in agents.values())
    assert all(e["versions"]["os_build"] and e["versions"]["dotnet_release"] for e in diagnosed.values())
    majority = max(set(agents.values()), key=list(agents.values()).count)
    behind = sorted(n for n, v in agents.items() if v != majority)
    assert behind, "the demo lab runs two agent versions"
    for name, entry in diagnosed.items():
        drift = [f for f in entry["findings"] if f["id"] == "AGENT_VERSION_DRIFT"]
        assert bool(drift) == (name in behind), name
        if drift:
            assert drift[0]["severity"] == "info" and agents[name] in drift[0]["evidence"][0]
            # the update failure found on the host, or the root cause that failure itself is explained by
            causes = [f for f in entry["findings"] if f["id"] in DRIFT_EXPLAINED_BY["AGENT_VERSION_DRIFT"]]
            expected = {f["explained_by"] or f["id"] for f in causes} or {None}
            assert drift[0]["explained_by"] in expected, (name, drift[0]["explained_by"], expected)
    assert report["summary"]["by_finding"]["AGENT_VERSION_DRIFT"] == len(behind)
    html = (REPORTS / "diagnosis.html").read_text()
    assert all(version in html for version in set(agents.values()))  # the grid's agent column
    junit = (REPORTS / "junit-diagnosis.xml").read_text()
    assert all(f'classname="{name}"' in junit or name in junit for name in behind)


def test_merged_slices_keep_versions_and_drift(demo_lab, diagnosis, tmp_path):
    """merge_reports.yml over two slices of the same run gives the same hosts, versions and drift."""
    report, _unused1, _unused2 = diagnosis
    names = sorted(report["hosts"])
    for index, part in enumerate((names[::2], names[1::2])):
        directory = tmp_path / "slices" / str(index)
        directory.mkdir(parents=True)
        piece = {**report, "hosts": {n: report["hosts"][n] for n in part}}
        (directory / "diagnosis.json").write_text(json.dumps(piece))
    result = run_ansible(
        "ansible-playbook",
        str(REPO / "playbooks" / "merge_reports.yml"),
        "-e",
        f"avd_slice_dir={tmp_path / 'slices'}",
        "-e",
        f"avd_report_dir={tmp_path / 'pool'}",
    )
    assert result.returncode == 0, result.stdout[-3000:]
    merged = json.loads((tmp_path / "pool" / "diagnosis.json").read_text())
    assert sorted(merged["hosts"]) == names
    for name in names:
        assert merged["hosts"][name].get("versions") == report["hosts"][name].get("versions"), name
        if report["hosts"][name]["state"] in DIAGNOSED:
            assert merged["hosts"][name]["versions"]["agent"] or name == "avd-02", name  # avd-02: no agent
        assert drift_ids(merged["hosts"][name]) == drift_ids(report["hosts"][name]), name


def drift_ids(entry: dict) -> list[str]:
    return sorted(finding["id"] for finding in entry["findings"] if finding["id"].endswith("_DRIFT"))


def test_the_live_host_pool_wins_over_a_static_one_and_the_run_says_so(demo_lab, tmp_path):
    """A static avd_host_pool (after a move, or a user's own vars) beside the host_pool inventory: the diagnosis names
    the pool Azure lists the host in (avd_host_pool_id) and says which static value disagrees."""
    static = {"all": {"hosts": {"avd-23": {"avd_host_pool": "hp-old-static", "avd_resource_group": "rg-old-static"}}}}
    (demo_lab.inventory / "static-moved.yml").write_text(yaml.safe_dump(static))
    result = demo_lab.playbook(
        REPO / "playbooks" / "diagnose.yml",
        "-e",
        f"avd_report_dir={tmp_path}",
        "--limit",
        "avd-23,localhost",
        inventories=("hosts.yml", "hostpool.avd.yml", "static-moved.yml"),  # the static file last: it outranks
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    entry = json.loads((tmp_path / "diagnosis.json").read_text())["hosts"]["avd-23"]
    assert entry["host_pool"]["host_pool"] == "hp-demo" and entry["details"]["host_pool"] == "hp-demo"
    notes = " ".join(entry["host_pool"]["static_disagrees"])
    assert "avd_host_pool=hp-old-static disagrees" in notes and "using hp-demo" in notes
    assert "avd_resource_group=rg-old-static disagrees" in notes
    output = " ".join((result.stdout + result.stderr).split())
    assert "avd_host_pool=hp-old-static disagrees with the host pool's live data" in output
