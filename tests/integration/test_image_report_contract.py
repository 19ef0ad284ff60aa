"""The contract of validate_image.yml's reports: every field README promises in image-validation.json and every case
it promises in junit-image-validation.xml, from one real run over the lab's image-build VMs (one per image fault)
and one image host that cannot be reached. README's report table and check table are read, so a field or a check
documented there and not written (or written and not documented) fails here."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
import yaml

from tests.conftest import REPO, lab_address

pytestmark = pytest.mark.lab

PLAYBOOK = REPO / "playbooks" / "validate_image.yml"
SCENARIO = REPO / "tests" / "lab" / "scenarios" / "images.yml"
README = (REPO / "README.md").read_text(encoding="utf-8")
IMAGE_SECTION = README.split("## Is my golden image good?", 1)[1].split("\n## ", 1)[0]
DIAGNOSED = ("healthy", "unhealthy", "incomplete")
STATES = (*DIAGNOSED, "stopped", "unreachable", "failed")
# The image hosts of images.yml whose image fault fails one check (agent mode any), and the clean ones.
FAILING = {
    "img-registered": "IMAGE_NO_REGISTRATION",
    "img-token": "IMAGE_NO_REGISTRATION",
    "img-reboot": "IMAGE_NO_PENDING_REBOOT",
    "img-dotnet": "IMAGE_DOTNET_472",
    "img-msi": "IMAGE_NO_MSI_POLICY",
    "img-cmd": "IMAGE_NO_CMD_POLICY",
    "img-pro": "IMAGE_EDITION_SUPPORTED",
    "img-disk": "IMAGE_DISK_HEADROOM",
    "img-stack": "IMAGE_STACK_LISTENER_KEYS",
}
CLEAN = ("img-clean", "img-noagent")


def documented_checks() -> list[str]:
    """The check ids of README's check table, in its order (a row may name two: `A` / `B`)."""
    table = IMAGE_SECTION.split("| check | fails when |", 1)[1].split("\n\n", 1)[0]
    first_cells = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `")]
    return [check for cell in first_cells for check in re.findall(r"`(IMAGE_[A-Z0-9_]+)`", cell)]


def documented_json() -> dict[str, list[str]]:
    line = next(x for x in IMAGE_SECTION.splitlines() if x.startswith("| `image-validation.json` |"))
    text = re.search(r"`(\{.*?\}\}\})`", line)
    assert text, line
    shape = text.group(1)
    host = re.search(r'"<host>": \{(.*)\}\}, "summary"', shape)
    assert host

    def inner(pattern: str, source: str) -> list[str]:
        match = re.search(pattern, source)
        assert match, pattern
        return [field.strip(' "') for field in match.group(1).split(",")]

    return {
        "top": top_level(shape),
        "run": inner(r'"run": \{([^}]*)\}', shape),
        "host": re.findall(r'"(\w+)"', re.sub(r"\[\{[^]]*\]", "", host.group(1))),
        "finding": inner(r'"findings": \[\{([^}]*)\}\]', host.group(1)),
        "check": inner(r'"checks": \[\{([^}]*)\}\]', host.group(1)),
        "summary": inner(r'"summary": \{([^}]*)\}', shape),
        "finding_info": inner(r'"findings": \{"<id>": \{([^}]*)\}\}', shape),
        "unchecked_host": inner(r"carry only ([^|]*?) \|", line.replace(" and ", ", ").replace("`", "")),
        "statuses": re.findall(r"`(passed|failed|error|skipped)`", line),
    }


def top_level(shape: str) -> list[str]:
    """The quoted names directly inside the outermost braces of a documented shape."""
    depth, names = 0, []
    for match in re.finditer(r'[{}\[\]]|"([^"]+)"', shape):
        token = match.group(0)
        if token in "{[":
            depth += 1
        elif token in "}]":
            depth -= 1
        elif depth == 1:
            names.append(match.group(1))
    return names


@pytest.fixture(scope="module")
def image_run(lab_factory, tmp_path_factory):
    lab = lab_factory("image-contract", "--scenario", str(SCENARIO), "--first-address", "127.0.184.1")
    ghost = {
        "all": {
            "children": {"avd_image_builds": {"hosts": {"img-ghost": {"ansible_host": lab_address("127.0.184.250")}}}}
        }
    }
    (lab.inventory / "ghost.yml").write_text(yaml.safe_dump(ghost))
    out = tmp_path_factory.mktemp("image-contract")
    result = lab.playbook(
        PLAYBOOK,
        "-e",
        "target=avd_image_builds",
        "-e",
        f"avd_report_dir={out}",
        inventories=("hosts.yml", "ghost.yml"),
    )
    return out, result


def test_readme_names_the_checks_the_collection_runs():
    from ansible_collections.avdops.sessionhost.plugins.plugin_utils._image import IMAGE_CHECKS

    assert documented_checks() == list(IMAGE_CHECKS)


def test_readme_and_the_module_docs_give_a_check_the_same_fields():
    """image_check's RETURN (validation.checks) and README's ``checks`` entries name the same fields."""
    module = (REPO / "plugins" / "modules" / "image_check.py").read_text(encoding="utf-8")
    returned = yaml.safe_load(module.split('RETURN = r"""', 1)[1].split('"""', 1)[0])
    sample = returned["validation"]["contains"]["checks"]["sample"]
    assert sample and all(sorted(check) == sorted(documented_json()["check"]) for check in sample)
    assert {check["status"] for check in sample} <= set(documented_json()["statuses"])


def test_image_json_has_every_documented_field_and_no_other(image_run):
    out, result = image_run
    assert result.returncode != 0 and "image host(s) failed validation" in result.stdout, result.stdout[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["image-validation.json", "junit-image-validation.xml"]  # no HTML
    report = json.loads((out / "image-validation.json").read_text(encoding="utf-8"))
    contract = documented_json()
    assert sorted(report) == sorted(contract["top"])
    assert sorted(report["run"]) == sorted(contract["run"]) and report["run"]["target"] == "avd_image_builds"
    summary = [f for name in contract["summary"] for f in (STATES if name == "<count per state>" else (name,))]
    assert sorted(report["summary"]) == sorted(summary)
    assert report["summary"]["hosts"] == 12 and report["summary"]["diagnosed"] == 11
    assert report["summary"]["healthy"] == 2 and report["summary"]["unhealthy"] == 9
    assert report["summary"]["unreachable"] == 1
    assert sorted(set(contract["statuses"])) == ["error", "failed", "passed", "skipped"]
    checks = documented_checks()
    for name, entry in report["hosts"].items():
        if name == "img-ghost":
            assert sorted(entry) == sorted(contract["unchecked_host"]) and entry["state"] == "unreachable"
            assert entry["reason"] and entry["findings"] == [] and entry["unchecked"] == []
            continue
        assert sorted(entry) == sorted(set(contract["host"]) - {"reason"}), name
        assert [c["id"] for c in entry["checks"]] == checks, name  # every check, in README's order
        for check in entry["checks"]:
            assert sorted(check) == sorted(contract["check"]), (name, check)
            assert check["status"] in contract["statuses"] and check["title"] and check["doc"]
        failing = [c["id"] for c in entry["checks"] if c["status"] in ("failed", "error")]
        assert [f["id"] for f in entry["findings"]] == failing, name
        for finding in entry["findings"]:
            assert sorted(finding) == sorted(contract["finding"]) and finding["severity"] == "critical"
            check = next(c for c in entry["checks"] if c["id"] == finding["id"])
            assert finding["evidence"] == check["evidence"] and finding["remediation"].endswith(check["reason"])
            assert report["findings"][finding["id"]] == {"title": finding["title"], "doc": finding["doc"]}
            assert sorted(report["findings"][finding["id"]]) == sorted(contract["finding_info"])
        assert entry["passed"] == {c["id"]: c["evidence"] for c in entry["checks"] if c["status"] == "passed"}
        skipped = [c for c in entry["checks"] if c["status"] == "skipped"]
        assert entry["unchecked"] == [f"{c['id']}: {c['reason']}" for c in skipped]
        assert entry["state"] == ("unhealthy" if failing else "healthy"), name
    assert {n: [f["id"] for f in e["findings"]] for n, e in report["hosts"].items() if e["findings"]} == {
        name: [check] for name, check in FAILING.items()
    }
    assert report["summary"]["by_finding"] == {
        check: list(FAILING.values()).count(check) for check in set(FAILING.values())
    }
    assert report["summary"]["by_severity"]["critical"] == len(FAILING)


def test_junit_has_a_case_per_host_and_check_as_documented(image_run):
    out, _result = image_run
    report = json.loads((out / "image-validation.json").read_text(encoding="utf-8"))
    root = ET.fromstring((out / "junit-image-validation.xml").read_text(encoding="utf-8"))
    (suite,) = root.findall("testsuite")
    cases = list(suite.iter("testcase"))
    checks = documented_checks()
    checked = [name for name in report["hosts"] if name != "img-ghost"]
    assert len(cases) == len(checked) * len(checks) + 1
    assert suite.get("tests") == str(len(cases)) and root.get("tests") == str(len(cases))
    assert suite.get("failures") == str(len(FAILING)) and suite.get("errors") == "1"
    skipped_total = sum(len(e["unchecked"]) for e in report["hosts"].values())
    assert suite.get("skipped") == str(skipped_total) and skipped_total >= len(checked)  # URLs not asked for
    by_key = {(c.get("classname"), c.get("name", "").split(":", 1)[0]): c for c in cases}
    ghost = by_key[("img-ghost", "connect and gather")]
    error = ghost.find("error")
    assert (
        error is not None
        and error.get("message", "").startswith("unreachable: ")
        and error.get("type") == "unreachable"
    )
    for name in checked:
        entry = report["hosts"][name]
        for check in entry["checks"]:
            case = by_key[(name, check["id"])]
            assert case.get("name") == f"{check['id']}: {check['title']}"
            if check["status"] in ("failed", "error"):
                failure = case.find("failure")
                assert failure is not None and failure.get("message") == f"critical: {check['title']}"
                lines = (failure.text or "").splitlines()
                assert lines[: len(check["evidence"])] == check["evidence"]
                assert f"Doc: {check['doc']}" in lines and any(line.startswith("Fix: ") for line in lines)
            elif check["status"] == "skipped":
                skipped = case.find("skipped")
                assert skipped is not None and skipped.get("message") == f"{check['id']}: {check['reason']}"
            else:
                assert case.find("failure") is None and case.find("skipped") is None
                assert (case.findtext("system-out") or "").splitlines() == check["evidence"]
