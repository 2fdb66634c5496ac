"""access_token: fetched once, shared, refreshed before expiry and once on token errors.

Several processes at once: test_token_cache_concurrency.py."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time

import pytest

from tests.wechat.conftest import APP_ID, APP_SECRET
from tests.wechat.processes import flushed, holding
from wechat_adapter.api import WeChatAPI, WeChatAPIError
from wechat_adapter.store import MemoryStore, RedisStore
from wechat_adapter.token_cache import FileTokenBackend, StoreTokenBackend, TokenCache

NOW = 1_700_000_000.0
LOG = "wechat_adapter.token_cache"


def run(coroutine):
    return asyncio.run(coroutine)


async def send_and_close(api: WeChatAPI, count: int = 1) -> None:
    try:
        for number in range(count):
            await api.send_text("o1", f"消息{number}")
    finally:
        await api.close()


class Fetcher:
    """WeChat's token endpoint in miniature: T1, T2, ... valid for expires_in seconds."""

    def __init__(self, expires_in: int = 7200) -> None:
        self.expires_in = expires_in
        self.calls = 0

    async def __call__(self) -> tuple[str, int]:
        self.calls += 1
        return f"T{self.calls}", self.expires_in


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def memory_cache(fetch=None, clock=None, store=None) -> TokenCache:
    backend = StoreTokenBackend(store or MemoryStore(), "wechat:token", lock_timeout=1)
    return TokenCache(fetch or Fetcher(), backend, clock=clock or Clock())


# -- through the HTTP client and the fake WeChat ------------------------------------------------


def test_a_second_instance_reuses_the_shared_token_file(fake):
    run(send_and_close(WeChatAPI(fake.base_url, APP_ID, APP_SECRET), count=3))
    # A second client (another instance, later) reads the shared file instead of fetching.
    run(send_and_close(WeChatAPI(fake.base_url, APP_ID, APP_SECRET), count=2))
    assert fake.token_fetches == 1
    assert len(fake.custom_messages) == 5


def test_concurrent_first_use_in_one_process_fetches_once(fake):
    async def scenario():
        clients = [WeChatAPI(fake.base_url, APP_ID, APP_SECRET) for _ in range(5)]
        await asyncio.gather(*(send_and_close(client) for client in clients))

    run(scenario())
    assert fake.token_fetches == 1


def test_token_is_refreshed_before_it_expires(fake):
    fake.token_expires_in = 1000  # refresh margin = min(300, 1000 / 5) = 200 s
    api = WeChatAPI(fake.base_url, APP_ID, APP_SECRET)
    now = [1_700_000_000.0]
    api.tokens.clock = lambda: now[0]

    async def scenario():
        first = await api.tokens.get()
        now[0] += 700
        assert await api.tokens.get() == first
        now[0] += 150  # 850 s: inside the safety margin, WeChat still accepts it but we renew
        assert await api.tokens.get() != first
        await api.close()

    run(scenario())
    assert fake.token_fetches == 2


def test_token_error_refreshes_once_and_retries_once(fake):
    fake.fail_next("custom", 42001, times=2)
    api = WeChatAPI(fake.base_url, APP_ID, APP_SECRET)
    with pytest.raises(WeChatAPIError) as error:
        run(send_and_close(api))
    assert error.value.errcode == 42001
    assert fake.token_fetches == 2  # the first token + exactly one refresh
    assert len(fake.requests_to("/cgi-bin/message/custom/send")) == 2


def test_other_errors_are_not_retried(fake):
    fake.fail_next("custom", 45047)
    with pytest.raises(WeChatAPIError) as error:
        run(send_and_close(WeChatAPI(fake.base_url, APP_ID, APP_SECRET)))
    assert error.value.errcode == 45047
    assert fake.token_fetches == 1
    assert len(fake.requests_to("/cgi-bin/message/custom/send")) == 1


def test_a_refresh_by_another_instance_is_reused(fake):
    async def scenario():
        first, second = (WeChatAPI(fake.base_url, APP_ID, APP_SECRET) for _ in range(2))
        stale = await first.tokens.get()
        assert await second.tokens.get() == stale
        fresh = await first.tokens.refresh(stale=stale)
        # The second instance meets the stale token's 40001 and finds the fresh one on disk.
        assert await second.tokens.refresh(stale=stale) == fresh
        await first.close()
        await second.close()

    run(scenario())
    assert fake.token_fetches == 2


def test_token_shared_through_redis(fake, real_redis):
    url = flushed(real_redis)

    async def send_once() -> None:
        store = RedisStore.from_url(url)
        backend = StoreTokenBackend(store, "wechat:token")
        await send_and_close(WeChatAPI(fake.base_url, APP_ID, APP_SECRET, token_backend=backend))
        await store.client.close()

    run(send_once())
    run(send_once())
    assert fake.token_fetches == 1


def test_unreachable_wechat_is_reported_as_unavailable():
    api = WeChatAPI("http://127.0.0.1:9", APP_ID, APP_SECRET, timeout=2)
    with pytest.raises(WeChatAPIError) as error:
        run(send_and_close(api))
    assert error.value.errcode == -1


# -- TokenCache: when it fetches and what it records --------------------------------------------


@pytest.mark.parametrize(
    "expires_in, refresh_after",
    [(7200, 6900), (1000, 800)],  # margin: 300 s, but never more than a fifth of the lifetime
)
def test_the_record_says_when_to_refresh(expires_in, refresh_after, caplog):
    store = MemoryStore()
    cache = memory_cache(Fetcher(expires_in), store=store)
    with caplog.at_level(logging.INFO, logger=LOG):
        assert run(cache.get()) == "T1"
    assert run(cache.backend.read()) == {
        "access_token": "T1",
        "fetched_at": NOW,
        "expires_at": NOW + expires_in,
        "refresh_at": NOW + refresh_after,
    }
    assert [record.getMessage() for record in caplog.records] == [
        f"Fetched a new WeChat access_token (valid {expires_in}s)"
    ]


def test_the_token_is_used_until_refresh_at_and_renewed_from_then():
    clock, fetch = Clock(), Fetcher()
    cache = memory_cache(fetch, clock)
    assert run(cache.get()) == "T1"
    clock.now = NOW + 6900 - 0.001
    assert run(cache.get()) == "T1"
    clock.now = NOW + 6900
    assert run(cache.get()) == "T2"
    assert fetch.calls == 2


def test_a_fresh_token_is_served_from_memory_without_reading_the_shared_copy():
    store, clock = MemoryStore(), Clock()
    cache = memory_cache(Fetcher(), clock, store)
    run(cache.get())
    # Another writer replaces the shared record; this process keeps its copy until refresh_at.
    other = memory_cache(Fetcher(), clock, store)
    run(other.backend.write({"access_token": "OTHER", "refresh_at": NOW + 10, "expires_at": NOW + 100}))
    assert run(cache.get()) == "T1"
    assert run(other.get()) == "OTHER"


def test_a_token_read_from_the_shared_copy_is_remembered():
    store, clock = MemoryStore(), Clock()
    run(memory_cache(Fetcher(), clock, store).get())
    reader = memory_cache(Fetcher(), clock, store)
    assert run(reader.get()) == "T1"
    run(store.delete("wechat:token"))  # the shared copy is gone (e.g. evicted)
    assert run(reader.get()) == "T1"
    assert reader.fetch.calls == 0


def test_a_fresh_shared_token_is_read_without_waiting_for_the_lock(caplog):
    # Another instance holds the lock (e.g. a stuck fetch); the token it left earlier is fresh.
    store = MemoryStore()
    run(memory_cache(store=store).get())
    reader = memory_cache(store=store)

    async def read_while_locked() -> str:
        async with StoreTokenBackend(store, "wechat:token").lock():
            return await reader.get()

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=LOG):
        assert run(read_while_locked()) == "T1"
    assert time.monotonic() - started < 0.5  # its lock_timeout is 1 s
    assert caplog.records == []


@pytest.mark.parametrize(
    "record",
    [
        None,
        {"refresh_at": NOW + 100},
        {"access_token": "", "refresh_at": NOW + 100},
        {"access_token": "OLD"},
        {"access_token": "OLD", "refresh_at": NOW},
    ],
    ids=["none", "no-token", "empty-token", "no-refresh_at", "due"],
)
def test_a_missing_or_due_shared_record_is_fetched_again(record):
    fetch = Fetcher()
    cache = memory_cache(fetch)
    if record is not None:
        run(cache.backend.write({"expires_at": NOW + 100, **record}))
    assert run(cache.get()) == "T1"
    assert fetch.calls == 1


def test_refresh_without_stale_reuses_a_token_fetched_meanwhile():
    # Two coroutines found no token; the second gets the lock after the first fetched.
    fetch = Fetcher()
    store = MemoryStore()
    first, second = memory_cache(fetch, store=store), memory_cache(fetch, store=store)
    assert run(first.refresh()) == "T1"
    assert run(second.refresh()) == "T1"
    assert fetch.calls == 1


def test_refresh_of_the_current_token_fetches_a_new_one():
    fetch = Fetcher()
    cache = memory_cache(fetch)
    stale = run(cache.get())
    assert run(cache.refresh(stale=stale)) == "T2"
    assert run(cache.get()) == "T2"
    assert run(cache.backend.read())["access_token"] == "T2"


def test_refresh_of_an_already_replaced_token_reuses_the_replacement():
    store = MemoryStore()
    first, second = memory_cache(store=store), memory_cache(store=store)
    stale = run(first.get())
    assert run(second.get()) == stale
    fresh = run(first.refresh(stale=stale))
    assert run(second.refresh(stale=stale)) == fresh
    run(store.delete("wechat:token"))
    assert run(second.get()) == fresh  # remembered
    assert second.fetch.calls == 0


def test_refresh_fetches_when_the_replacement_is_due_too():
    clock, store = Clock(), MemoryStore()
    first, second = memory_cache(clock=clock, store=store), memory_cache(clock=clock, store=store)
    stale = run(first.get())
    run(first.refresh(stale=stale))
    clock.now = NOW + 6900  # the replacement is due as well
    assert run(second.refresh(stale=stale)) == "T1"  # second's own fetcher
    assert second.fetch.calls == 1


def test_a_failed_fetch_writes_nothing_and_releases_the_lock(caplog):
    store = MemoryStore()

    async def failing() -> tuple[str, int]:
        raise WeChatAPIError(40013, "invalid appid")

    cache = memory_cache(failing, store=store)
    with pytest.raises(WeChatAPIError):
        run(cache.get())
    assert run(store.get("wechat:token")) is None
    assert run(store.get("wechat:token:lock")) is None
    with caplog.at_level(logging.WARNING, logger=LOG):
        assert run(memory_cache(store=store).get()) == "T1"
    assert caplog.records == []


# -- the backends -------------------------------------------------------------------------------


def test_file_backend_writes_a_private_file_atomically(tmp_path):
    path = tmp_path / "var" / "wechat" / "access_token-wx.json"  # directories made as needed
    backend = FileTokenBackend(path)
    assert run(backend.read()) is None
    run(backend.write({"access_token": "T1"}))
    assert run(backend.read()) == {"access_token": "T1"}
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["access_token-wx.json"]


def test_file_backend_treats_a_damaged_file_as_no_token(tmp_path):
    path = tmp_path / "access_token-wx.json"
    path.write_text('{"access_token": "T', encoding="utf-8")
    assert run(FileTokenBackend(path).read()) is None


def test_store_backend_keeps_the_token_until_it_expires(real_redis):
    url = flushed(real_redis)

    async def scenario() -> tuple[int, int]:
        store = RedisStore.from_url(url)
        backend = StoreTokenBackend(store, "wechat:token")
        await backend.write({"access_token": "T1", "expires_at": time.time() + 100})
        alive = await store.client.pttl("wechat:token")
        await backend.write({"access_token": "T0", "expires_at": time.time() - 50})
        expired = await store.client.pttl("wechat:token")
        await store.client.close()
        return alive, expired

    alive, expired = run(scenario())
    assert 99_000 < alive <= 100_000
    assert 0 < expired <= 1000  # already expired: kept one second, not refused


def test_the_redis_lock_expires_after_the_lock_timeout_and_is_released(real_redis):
    url = flushed(real_redis)

    async def scenario() -> tuple[int, str | None]:
        store = RedisStore.from_url(url)
        backend = StoreTokenBackend(store, "wechat:token", lock_timeout=7)
        async with backend.lock():
            held_for = await store.client.pttl("wechat:token:lock")
        after = await store.get("wechat:token:lock")
        await store.client.close()
        return held_for, after

    held_for, after = run(scenario())
    assert 6_500 < held_for <= 7_000
    assert after is None


def test_a_holder_whose_redis_lock_expired_does_not_release_the_next_holders_lock(real_redis):
    """A holder outlives its lock (a fetch slower than the lock's expiry); meanwhile another
    process took the lock. The late holder must leave that lock alone."""
    url = flushed(real_redis)

    async def scenario() -> None:
        late, next_holder = (StoreTokenBackend(RedisStore.from_url(url), "wechat:token", lock_timeout=t) for t in (0.2, 5))
        third = RedisStore.from_url(url)
        taken, late_done = asyncio.Event(), asyncio.Event()

        async def hold_next() -> None:
            async with next_holder.lock():
                taken.set()
                await late_done.wait()
                # Still ours: nobody else gets in.
                assert not await third.add("wechat:token:lock", "third", 5)

        async with late.lock():
            holder = asyncio.create_task(hold_next())
            await asyncio.wait_for(taken.wait(), 3)  # after the late holder's lock expired
        late_done.set()
        await holder
        assert await third.get("wechat:token:lock") is None  # the next holder released its own
        for store in (late.store, next_holder.store, third):
            await store.client.close()

    run(scenario())


@pytest.fixture(params=["file", "memory"])
def two_backends(request, tmp_path):
    """Two instances' backends sharing one token (file, or one store)."""
    if request.param == "file":
        path = tmp_path / "token.json"
        return FileTokenBackend(path, lock_timeout=2), FileTokenBackend(path, lock_timeout=2)
    store = MemoryStore()
    return StoreTokenBackend(store, "t", lock_timeout=2), StoreTokenBackend(store, "t", lock_timeout=2)


def test_a_waiter_gets_the_lock_right_after_its_release(two_backends, caplog):
    holder, waiter = two_backends
    order = []

    async def hold() -> None:
        async with holder.lock():
            order.append("holder in")
            await asyncio.sleep(0.3)
            order.append("holder out")

    async def wait() -> float:
        await asyncio.sleep(0.05)
        started = time.monotonic()
        async with waiter.lock():
            order.append("waiter in")
        return time.monotonic() - started

    async def scenario() -> float:
        return (await asyncio.gather(hold(), wait()))[1]

    with caplog.at_level(logging.WARNING, logger=LOG):
        waited = run(scenario())
    assert order == ["holder in", "holder out", "waiter in"]
    assert 0.2 <= waited < 0.8  # polled every 50 ms, not every second
    assert caplog.records == []


async def idle(ready, release) -> None:
    ready()
    release()


def test_the_file_lock_is_released_even_while_a_forked_child_shares_its_descriptor(tmp_path, caplog):
    path = tmp_path / "token.json"

    async def lock_once(backend: FileTokenBackend) -> None:
        async with backend.lock():
            pass

    with contextlib.ExitStack() as stack:

        async def hold_and_fork() -> None:
            async with FileTokenBackend(path).lock():
                stack.enter_context(holding(idle))  # the child outlives this block

        run(hold_and_fork())
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger=LOG):
            run(lock_once(FileTokenBackend(path, lock_timeout=1)))
        waited = time.monotonic() - started
    assert waited < 0.5
    assert caplog.records == []
