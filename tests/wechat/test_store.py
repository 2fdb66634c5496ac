"""The key-value store: the same contract in memory and on a real Redis, and expiry."""
from __future__ import annotations

import asyncio

import pytest

from tests.wechat.processes import flushed
from wechat_adapter.store import MemoryStore, RedisStore, make_store


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        yield MemoryStore()
        return
    redis_store = RedisStore.from_url(flushed(request.getfixturevalue("real_redis")))
    yield redis_store
    asyncio.run(redis_store.client.close())


def run(store, *steps):
    """Run store calls in order in one event loop (a Redis client belongs to one loop)."""

    async def scenario():
        return [await step(store) for step in steps]

    try:
        return asyncio.run(scenario())
    finally:
        if isinstance(store, RedisStore):
            # The connections belong to the finished loop; the next run opens new ones.
            store.client.connection_pool.reset()


def test_add_sets_only_an_absent_key(store):
    assert run(
        store,
        lambda s: s.add("k", "first", 60),
        lambda s: s.add("k", "second", 60),
        lambda s: s.get("k"),
        lambda s: s.add("other", "third", 60),
        lambda s: s.get("other"),
    ) == [True, False, "first", True, "third"]


def test_put_replaces_and_delete_removes(store):
    assert run(
        store,
        lambda s: s.get("k"),
        lambda s: s.put("k", "one", 60),
        lambda s: s.put("k", "two", 60),
        lambda s: s.get("k"),
        lambda s: s.delete("k"),
        lambda s: s.get("k"),
        lambda s: s.delete("k"),  # deleting what is absent is fine
        lambda s: s.add("k", "three", 60),
    ) == [None, None, None, "two", None, None, None, True]


def test_delete_if_deletes_only_the_expected_value(store):
    assert run(
        store,
        lambda s: s.delete_if("k", "mine"),
        lambda s: s.add("k", "theirs", 60),
        lambda s: s.delete_if("k", "mine"),
        lambda s: s.get("k"),
        lambda s: s.delete_if("k", "theirs"),
        lambda s: s.get("k"),
    ) == [False, True, False, "theirs", True, None]


def test_redis_keys_expire_after_their_ttl_in_milliseconds(real_redis):
    redis_store = RedisStore.from_url(flushed(real_redis))
    assert run(
        redis_store,
        lambda s: s.add("added", "v", 1.5),
        lambda s: s.put("put", "v", 2.5),
        lambda s: s.add("tiny", "v", 0.0001),  # rounds to 1 ms, not 0 (which Redis refuses)
        lambda s: asyncio.sleep(0.01),
        lambda s: s.get("tiny"),
    ) == [True, None, True, None, None]
    ttls = run(redis_store, lambda s: s.client.pttl("added"), lambda s: s.client.pttl("put"))
    assert 1400 < ttls[0] <= 1500 and 2400 < ttls[1] <= 2500
    assert [RedisStore._ms(ttl) for ttl in (0, 0.0004, 0.0025, 1.5)] == [1, 1, 2, 1500]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_memory_keys_expire_at_their_ttl():
    clock = Clock()
    memory = MemoryStore(clock)
    run(memory, lambda s: s.add("added", "a", 10), lambda s: s.put("put", "p", 20))
    clock.now = 109.99
    assert run(memory, lambda s: s.get("added"), lambda s: s.add("added", "x", 10)) == ["a", False]
    clock.now = 110
    assert run(memory, lambda s: s.get("added"), lambda s: s.delete_if("put", "p")) == [None, True]
    clock.now = 200
    assert run(memory, lambda s: s.add("added", "b", 10), lambda s: s.get("added")) == [True, "b"]


def test_memory_expired_keys_are_neither_kept_nor_deleted_by_value():
    clock = Clock()
    memory = MemoryStore(clock)
    run(memory, lambda s: s.put("k", "v", 10))
    clock.now = 110
    assert run(memory, lambda s: s.delete_if("k", "v")) == [False]
    assert memory._items == {}


@pytest.mark.parametrize("writes", ["add", "put"])
def test_memory_sweeps_expired_keys_once_it_holds_more_than_ten_thousand(writes):
    clock = Clock()
    memory = MemoryStore(clock)

    async def fill(count: int) -> None:
        for number in range(count):
            await getattr(memory, writes)(f"old{number}", "v", 1)

    asyncio.run(fill(10_000))
    clock.now += 1  # all of them expired
    run(memory, lambda s: getattr(s, writes)("new1", "v", 60))
    assert len(memory._items) == 10_001  # at 10 000 no sweep yet
    run(memory, lambda s: getattr(s, writes)("new2", "v", 60))
    assert sorted(memory._items) == ["new1", "new2"]


def test_make_store_uses_redis_only_when_configured(monkeypatch):
    assert isinstance(make_store(), MemoryStore)
    monkeypatch.setenv("VETBOT_REDIS_URL", "redis://127.0.0.1:6399/3")
    store = make_store()
    assert isinstance(store, RedisStore)
    assert store.client.connection_pool.connection_kwargs["port"] == 6399
    assert store.client.connection_pool.connection_kwargs["db"] == 3
    assert store.client.connection_pool.connection_kwargs["decode_responses"] is True
