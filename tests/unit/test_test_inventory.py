"""The tests read no hosts they do not name: a checkout where `make demo` ran (its lab's inventory left in
inventories/lab, ansible.cfg's default) gives them the same Ansible as a fresh clone."""

from __future__ import annotations

import json

from tests.conftest import REPO, ansible_env, run_ansible


def test_a_demo_inventory_in_the_default_place_is_not_read(tmp_path):
    demo = tmp_path / "inventories" / "lab"
    demo.mkdir(parents=True)
    (demo / "hosts.yml").write_text("all:\n  hosts:\n    demo-01: {ansible_host: 127.0.0.9}\n")
    config = tmp_path / "ansible.cfg"
    config.write_text((REPO / "ansible.cfg").read_text().replace("inventory = inventories/lab", f"inventory = {demo}"))
    assert str(demo) in config.read_text()  # the checkout's ansible.cfg still names its default inventory so

    listed = run_ansible("ansible-inventory", "--list", env=ansible_env(ANSIBLE_CONFIG=str(config)))

    assert listed.returncode == 0, listed.stderr
    assert "demo-01" not in json.loads(listed.stdout)["_meta"]["hostvars"]
