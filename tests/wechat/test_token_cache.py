"""access_token: fetched once, shared, refreshed before expiry and once on token errors."""
from __future__ import annotations

import asyncio

import fakeredis
import pytest

from tests.wechat.conftest import APP_ID, APP_SECRET
from wechat_adapter.api import WeChatAPI, WeChatAPIError
from wechat_adapter.store import RedisStore
from wechat_adapter.token_cache import StoreTokenBackend


def run(coroutine):
    return asyncio.run(coroutine)


async def send_and_close(api: WeChatAPI, count: int = 1) -> None:
    try:
        for number in range(count):
            await api.send_text("o1", f"消息{number}")
    finally:
        await api.close()


def test_token_is_fetched_once_and_shared_between_processes(fake):
    run(send_and_close(WeChatAPI(fake.base_url, APP_ID, APP_SECRET), count=3))
    # A second client (another process) reads the shared file instead of fetching.
    run(send_and_close(WeChatAPI(fake.base_url, APP_ID, APP_SECRET), count=2))
    assert fake.token_fetches == 1
    assert len(fake.custom_messages) == 5


def test_concurrent_first_use_fetches_once(fake):
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


def test_a_refresh_by_another_process_is_reused(fake):
    async def scenario():
        first, second = (WeChatAPI(fake.base_url, APP_ID, APP_SECRET) for _ in range(2))
        stale = await first.tokens.get()
        assert await second.tokens.get() == stale
        fresh = await first.tokens.refresh(stale=stale)
        # The second process meets the stale token's 40001 and finds the fresh one on disk.
        assert await second.tokens.refresh(stale=stale) == fresh
        await first.close()
        await second.close()

    run(scenario())
    assert fake.token_fetches == 2


def test_token_shared_through_redis(fake):
    server = fakeredis.FakeServer()

    def client() -> WeChatAPI:
        store = RedisStore(fakeredis.aioredis.FakeRedis(server=server, decode_responses=True))
        return WeChatAPI(fake.base_url, APP_ID, APP_SECRET, token_backend=StoreTokenBackend(store, "wechat:token"))

    run(send_and_close(client()))
    run(send_and_close(client()))
    assert fake.token_fetches == 1


def test_unreachable_wechat_is_reported_as_unavailable():
    api = WeChatAPI("http://127.0.0.1:9", APP_ID, APP_SECRET, timeout=2)
    with pytest.raises(WeChatAPIError) as error:
        run(send_and_close(api))
    assert error.value.errcode == -1
