"""A host pool has one registration key, and generating a key invalidates the one before (the lab's broker refuses a
key that is not the pool's current one). Two tasks of one run that get a key at once (hosts in parallel, the free
strategy of remediate.yml) must end with the same key: the controller's lock per pool (``_host_pool.key_lock``),
which the registration_token action holds around ``ensure_token``. Without it, both found no valid key and each
generated one: the first host registered with a key the pool no longer accepted (seen in a whole run of the suite)."""

from __future__ import annotations

import contextlib
import datetime
import threading
import time
from types import SimpleNamespace

import pytest

from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _azure as az
from ansible_collections.avdops.sessionhost.plugins.plugin_utils import _host_pool as hp

BASE = {"auth_source": "auto", "cloud_environment": "AzureCloud", "retries": 4, "subscription_id": "s"}
POOL = hp.PoolRef("rg", "hp-01")
NOW = datetime.datetime(2026, 12, 7, 20, 0, tzinfo=datetime.UTC)


class OneKeyPool:
    """host_pools as the SDK gives them, for a pool with one key: reading it takes a moment (as an ARM call does),
    and an update replaces it."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.expiry: datetime.datetime | None = None
        self.generated = 0

    def retrieve_registration_token(self, resource_group: str, name: str) -> SimpleNamespace:
        seen = SimpleNamespace(token=self.token, expiration_time=self.expiry)
        time.sleep(0.2)  # the other task reads the same answer meanwhile
        return seen

    def update(self, resource_group: str, name: str, patch: object) -> SimpleNamespace:
        self.generated += 1
        self.token = f"key-{self.generated}"
        self.expiry = patch.registration_info.expiration_time  # type: ignore[attr-defined]
        return SimpleNamespace(registration_info=SimpleNamespace(token=self.token, expiration_time=self.expiry))


def two_tasks_at_once(pool: OneKeyPool, lock_path: str | None) -> list[str]:
    settings = az.settings_from(BASE, {})
    client = SimpleNamespace(host_pools=pool)
    keys: list[str] = []

    def task() -> None:
        held = hp.key_lock(lock_path, POOL) if lock_path else contextlib.nullcontext()
        with held:
            answer = hp.ensure_token(
                client, settings, POOL, expiration_hours=2, min_valid_hours=1, check_mode=False, now=NOW
            )
        keys.append(answer["token"])

    threads = [threading.Thread(target=task) for _unused in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return keys


def test_without_the_lock_two_tasks_each_generate_a_key_and_the_first_is_no_longer_the_pools():
    pool = OneKeyPool()
    keys = two_tasks_at_once(pool, None)
    assert pool.generated == 2 and len(set(keys)) == 2  # the race the lock is for
    assert pool.token in keys and len([k for k in keys if k != pool.token]) == 1


def test_under_the_lock_the_second_task_reuses_the_key_the_first_generated(tmp_path):
    pool = OneKeyPool()
    keys = two_tasks_at_once(pool, hp.key_lock_path("s", POOL, str(tmp_path)))
    assert pool.generated == 1 and keys == [pool.token, pool.token]


def test_the_lock_is_one_per_pool_subscription_and_user_in_the_temp_directory(tmp_path):
    path = hp.key_lock_path("S", hp.PoolRef("RG", "HP-01"), str(tmp_path))
    assert path == hp.key_lock_path("s", hp.PoolRef("rg", "hp-01"), str(tmp_path))  # Azure names ignore case
    assert path != hp.key_lock_path("s", hp.PoolRef("rg", "hp-02"), str(tmp_path))
    assert path != hp.key_lock_path("other", hp.PoolRef("rg", "hp-01"), str(tmp_path))
    assert path.startswith(str(tmp_path)) and path.endswith(".lock")


def test_a_lock_held_too_long_is_an_error_naming_the_pool(tmp_path):
    path = hp.key_lock_path("s", POOL, str(tmp_path))
    with hp.key_lock(path, POOL), pytest.raises(az.AzureError) as refused, hp.key_lock(path, POOL, seconds=0.3):
        pass
    assert "getting a registration key of host pool 'hp-01' for 0 s" in str(refused.value)
    with hp.key_lock(path, POOL, seconds=0.3):  # released again: the next task gets it at once
        pass


def test_the_registration_token_action_gets_the_key_under_the_pools_lock(monkeypatch, tmp_path):
    from ansible_collections.avdops.sessionhost.plugins.action import registration_token

    held: list[str] = []

    @contextlib.contextmanager
    def recording_lock(path: str, pool: hp.PoolRef, seconds: float = hp.KEY_LOCK_SECONDS):
        held.append(path)
        assert pool == POOL
        yield
        held.append("released")

    monkeypatch.setattr(registration_token, "key_lock", recording_lock)
    monkeypatch.setattr(registration_token, "key_lock_path", lambda s, p: f"{tmp_path}/{s}-{p.name}.lock")
    pool = OneKeyPool()
    action = registration_token.ActionModule.__new__(registration_token.ActionModule)
    action._task = SimpleNamespace(check_mode=False, diff=False)
    args = {
        "host_pool": "hp-01",
        "resource_group": "rg",
        "state": "present",
        "expiration_hours": 2,
        "min_valid_hours": 1,
    }
    result = action.work(args, az.settings_from(BASE, {}), SimpleNamespace(host_pools=pool))
    assert held == [f"{tmp_path}/s-hp-01.lock", "released"] and result["token"] == pool.token == "key-1"
