"""playbooks/remediate.yml on a lab pool: fixes, drain restored, a second run (with consent: it fixes the host with
users and changes nothing on the others), reports, the token.

Check mode, the finding selection and a host that drops mid-remediation run on labs of their own (the
test_remediate_*.py modules), so pytest-xdist runs them beside this one."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.remediate_pool import host_states, pool_view, remediate, report, start_pool, token_absent

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def pool(lab_factory, tmp_path_factory):
    work = tmp_path_factory.mktemp("remediate-work")
    return start_pool(lab_factory, work, "remediate", "127.0.29.1")


@pytest.fixture(scope="module")
def first_run(pool, tmp_path_factory):
    lab, _unused = pool
    before = host_states(lab), pool_view(lab)
    lab.reset_stats()
    out = tmp_path_factory.mktemp("first-report")
    # The diagnosis before is read by the first role however slow the machine (the default is 120 s).
    result = remediate(lab, out, "-vvv", "-e", "avd_capture_max_age=3600")
    return result, out, lab.stats(), host_states(lab), pool_view(lab), before


@pytest.fixture(scope="module")
def second_run(pool, first_run, tmp_path_factory):
    """The second run, with consent to disrupt users (-e avd_force=true): the converged hosts change nothing all the
    same, and rm-06, skipped by the first run for its users, is fixed. One run where a second run and a run of rm-06
    alone with consent were two (about 6 CPU-s a run of one host). The pool as ARM lists it after."""
    lab, _unused = pool
    out = tmp_path_factory.mktemp("second-report")
    result = remediate(lab, out, "-e", "avd_force=true")
    return result, out, pool_view(lab)


def test_every_fixable_fault_ends_healthy_and_available(first_run):
    result, out, _unused1, _unused2, pool_after, _unused3 = first_run
    assert result.returncode == 0, result.stdout[-6000:]
    hosts = report(out)["hosts"]
    for name in ("rm-01", "rm-02", "rm-03", "rm-04", "rm-08"):
        assert hosts[name]["outcome"] == "fixed", (name, hosts[name])
        assert hosts[name]["after"]["state"] == "healthy"
        assert pool_after[name]["status"] == "Available"
    assert hosts["rm-01"]["roles"] == ["registration"] and hosts["rm-03"]["roles"] == ["stack_listener"]
    assert hosts["rm-01"]["before"]["findings"] == ["INVALID_REGISTRATION_TOKEN", "BOOTLOADER_NOT_RUNNING"]


def test_a_fixed_host_takes_three_winrm_commands_probe_apply_verify(first_run):
    """The diagnosis before is the fix's probe, the fix applies and reads back in one command, the diagnosis
    after is the check (a VM restart's own commands, win_reboot's, aside)."""
    _unused1, _unused2, stats, _unused3, _unused4, _unused5 = first_run
    for name in ("rm-01", "rm-02", "rm-04", "rm-08"):
        assert stats[name]["commands"] == 3, (name, stats[name])


def test_report_only_findings_say_who_acts_and_their_hosts_are_untouched(first_run):
    _unused1, out, stats, states_after, _unused2, (states_before, _unused3) = first_run
    hosts = report(out)["hosts"]
    assert [f["id"] for f in hosts["rm-07"]["report_only"]] == ["GATEWAY_UNREACHABLE"]
    assert "network team" in hosts["rm-07"]["report_only"][0]["who"]
    assert "Active Directory" in hosts["rm-05"]["report_only"][0]["who"]
    for name in ("rm-05", "rm-07", "rm-09"):
        assert hosts[name]["outcome"] == "unchanged"
        assert states_after[name] == states_before[name], name
        assert stats[name]["commands"] == 2  # diagnosed before and after, nothing else


def test_a_host_with_users_is_drained_messaged_skipped_and_reopened(first_run):
    result, out, _unused1, states_after, pool_after, (states_before, pool_before) = first_run
    # The bounded wait for the users ran out, a normal outcome: no [ERROR] (ansible-core 2.19 prints one for an
    # exhausted `until`, with "Unknown error", whatever failed_when says).
    waits = [part for part in result.stdout.split("TASK [")[1:] if part.startswith("avdops.sessionhost.drain : Wait")]
    assert waits and any("rm-06" in part for part in waits), result.stdout[-3000:]
    assert not [part for part in waits if "[ERROR]" in part], [part[:2000] for part in waits]
    entry = report(out)["hosts"]["rm-06"]
    assert entry["outcome"] == "skipped" and "avd_force=true" in entry["skipped"]
    assert entry["drained"] and entry["drain_restored"]
    assert pool_after["rm-06"]["allow_new_session"] is True and pool_after["rm-06"]["sessions"] == 2
    assert states_after["rm-06"]["registry"] == states_before["rm-06"]["registry"]
    assert states_after["rm-06"]["boot_time"] == states_before["rm-06"]["boot_time"]  # not restarted
    assert [messages for _unused1, _unused2, messages in states_after["rm-06"]["sessions"]] == [
        1,
        1,
    ]  # each user was told
    assert pool_before["rm-08"]["allow_new_session"] is False and pool_after["rm-08"]["allow_new_session"] is False


def test_reports_beside_each_other(first_run):
    _unused1, out, _unused2, _unused3, _unused4, _unused5 = first_run
    suite = ET.parse(out / "junit-remediation.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "9" and suite.get("failures") == "0"
    assert suite.get("skipped") == "1"
    html = (out / "remediation.html").read_text()
    assert "rm-06" in html and "GATEWAY_UNREACHABLE" in html and "network team" in html


def test_second_run_changes_nothing_on_converged_hosts(second_run):
    result, out, _unused = second_run
    assert result.returncode == 0, result.stdout[-4000:]
    recap = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("rm-")}
    for name, line in recap.items():
        if name != "rm-06":  # still has users: the consent test reads its fix
            assert "changed=0" in line, line
    assert {e["outcome"] for n, e in report(out)["hosts"].items() if n != "rm-06"} == {"unchanged"}


def test_the_planted_token_is_in_no_output_or_report(pool, first_run, second_run):
    _unused, token = pool
    texts = [first_run[0].stdout, first_run[0].stderr, second_run[0].stdout, second_run[0].stderr]
    for directory in (first_run[1], second_run[1]):
        texts += [path.read_text() for path in directory.iterdir()]
    assert "ESTABLISH WINRM CONNECTION" in first_run[0].stdout  # the first run was verbose
    token_absent(token, texts)


def test_consent_lets_the_fix_disrupt_users(second_run):
    result, out, pool_after = second_run
    assert result.returncode == 0, result.stdout[-4000:]
    assert report(out)["hosts"]["rm-06"]["outcome"] == "fixed"
    assert pool_after["rm-06"] == {"status": "Available", "allow_new_session": True, "sessions": 0}
