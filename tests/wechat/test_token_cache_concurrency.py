"""The access_token across real processes: one fetch for all, one refresh for all, and the
lock-timeout fallback, with the file backend (flock) and with a real Redis."""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import time
from typing import AsyncIterator

import pytest

from tests.wechat.conftest import APP_ID, APP_SECRET
from tests.wechat.processes import flushed, holding, run_together
from wechat_adapter.api import WeChatAPI
from wechat_adapter.store import RedisStore
from wechat_adapter.token_cache import FileTokenBackend, StoreTokenBackend

PROCESSES = 6
# WeChat's token endpoint answers after this long here, so every process that started before
# the first fetch finished would fetch too if the lock did not hold it back.
TOKEN_LATENCY = 0.4
REDIS_KEY = f"wechat:access_token:{APP_ID}"


@pytest.fixture
def slow_token(fake, monkeypatch):
    handle = fake._handle

    def slow_handle(method, path, body):
        if path.startswith("/cgi-bin/token"):
            time.sleep(TOKEN_LATENCY)
        return handle(method, path, body)

    monkeypatch.setattr(fake, "_handle", slow_handle)
    return fake


@pytest.fixture(params=["file", "redis"])
def where(request, tmp_path):
    """Where the shared token lives: ("file", path) or ("redis", url)."""
    if request.param == "file":
        return ("file", tmp_path / "wechat" / f"access_token-{APP_ID}.json")
    return ("redis", flushed(request.getfixturevalue("real_redis")))


def backend(where, lock_timeout: float = 20.0):
    kind, location = where
    if kind == "file":
        return FileTokenBackend(location, lock_timeout=lock_timeout)
    return StoreTokenBackend(RedisStore.from_url(location), REDIS_KEY, lock_timeout=lock_timeout)


@contextlib.asynccontextmanager
async def client(base_url: str, where, lock_timeout: float = 20.0) -> AsyncIterator[WeChatAPI]:
    tokens = backend(where, lock_timeout)
    api = WeChatAPI(base_url, APP_ID, APP_SECRET, token_backend=tokens)
    try:
        yield api
    finally:
        await api.close()
        if isinstance(tokens, StoreTokenBackend):
            await tokens.store.client.close()


async def token(base_url: str, where, lock_timeout: float = 20.0) -> str:
    async with client(base_url, where, lock_timeout) as api:
        return await api.tokens.get()


async def first_message(ready, base_url, where) -> str:
    async with client(base_url, where) as api:
        ready()
        await api.send_text("o1", "你好")
        return await api.tokens.get()


def test_processes_starting_together_fetch_one_token(slow_token, where):
    tokens = run_together(first_message, [(slow_token.base_url, where)] * PROCESSES)
    assert slow_token.token_fetches == 1
    assert len(set(tokens)) == 1 and tokens[0] in slow_token.valid_tokens
    assert len(slow_token.custom_messages) == PROCESSES
    # The parent, another instance, reads the shared token instead of fetching.
    assert asyncio.run(token(slow_token.base_url, where)) == tokens[0]
    assert slow_token.token_fetches == 1


async def message_after_token_expired(ready, base_url, where) -> tuple[str, str]:
    async with client(base_url, where) as api:
        before = await api.tokens.get()
        ready()
        await api.send_text("o1", "你好")  # 40001, refresh(stale=before), retry
        return before, await api.tokens.get()


def test_a_rejected_token_is_refreshed_once_for_all_processes(slow_token, where):
    stale = asyncio.run(token(slow_token.base_url, where))
    slow_token.expire_tokens()  # WeChat now answers 40001 to the token every process holds
    results = run_together(message_after_token_expired, [(slow_token.base_url, where)] * PROCESSES)
    fresh = results[0][1]
    assert results == [(stale, fresh)] * PROCESSES
    assert fresh != stale and slow_token.valid_tokens == {fresh}
    assert slow_token.token_fetches == 2  # the first token and one refresh
    assert len(slow_token.custom_messages) == PROCESSES


async def hold_the_lock(ready, release, where) -> None:
    async with backend(where, lock_timeout=60).lock():
        ready()
        release()  # stuck until the test is over


LOCK_TIMEOUT = 0.5


def test_a_stuck_lock_holder_delays_a_fetch_by_the_lock_timeout_only(fake, where, caplog):
    with holding(hold_the_lock, where):
        held = asyncio.run(lock_state(where))
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="wechat_adapter.token_cache"):
            fetched = asyncio.run(token(fake.base_url, where, lock_timeout=LOCK_TIMEOUT))
        waited = time.monotonic() - started
        # The waiter left the holder's lock alone.
        assert asyncio.run(lock_state(where)) == held
    assert LOCK_TIMEOUT <= waited < LOCK_TIMEOUT + 0.5
    assert [record.getMessage() for record in caplog.records] == [
        f"access_token lock still held after {LOCK_TIMEOUT}s; fetching anyway"
    ]
    assert fake.token_fetches == 1 and fetched in fake.valid_tokens
    assert asyncio.run(backend(where).read())["access_token"] == fetched
    assert asyncio.run(lock_state(where)) is None  # released when the holder ended


async def lock_state(where) -> str | None:
    """Who holds the lock: the Redis lock key's value, "flock" for a held file lock, or None."""
    kind, location = where
    if kind == "file":
        with open(location.with_suffix(".lock"), "a+") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return "flock"
            return None
    store = RedisStore.from_url(location)
    try:
        return await store.get(REDIS_KEY + ":lock")
    finally:
        await store.client.close()
