"""WeChat's 5-second rule: dedupe across retries and instances, passive vs customer-service."""
from __future__ import annotations

import threading
import time

import fakeredis
import pytest

from tests.wechat.bots import ButtonsBot, EchoBot
from tests.wechat.outbox_db import migrated_sqlite
from wechat_adapter.outbox import Outbox
from wechat_adapter.store import RedisStore

OPENID = "oPinghuVeteran0002"


def wait_until(condition, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def test_duplicate_msgid_runs_one_turn(fake, serve):
    bot = EchoBot()
    server = serve(bot)
    first = fake.push_text(server.webhook_url, OPENID, "优待证怎么申请", msg_id=5001)
    again = fake.push_text(server.webhook_url, OPENID, "优待证怎么申请", msg_id=5001)
    assert bot.turns == 1
    # A repeated delivery means WeChat did not get our reply, so it gets the same answer again.
    assert first.content == again.content == "收到：优待证怎么申请"


def test_events_dedupe_on_openid_and_create_time(fake, serve):
    bot = EchoBot()
    server = serve(bot)
    for _ in range(2):
        fake.push_event(server.webhook_url, OPENID, "subscribe", create_time=1700000000)
    fake.push_event(server.webhook_url, "oAnotherVeteran", "subscribe", create_time=1700000000)
    # A different event of the same veteran in the same second is not a retry.
    fake.push_event(server.webhook_url, OPENID, "CLICK", event_key="POLICY_QA", create_time=1700000000)
    assert bot.texts == ["/greet", "/greet", "/ask_policy"]


def test_slow_turn_answers_success_in_time_and_sends_the_answer_later(fake, serve):
    bot = EchoBot(delay=6.0)  # slower than WeChat's 5 s
    server = serve(bot)  # default budget 4.0 s
    result = fake.push_text(server.webhook_url, OPENID, "评残要带什么材料")
    assert result.attempts == 1, "WeChat got an answer in time, so it did not retry"
    assert result.raw == b"success" and result.latency < 5.0
    assert fake.wait_for(lambda: fake.custom_messages, timeout=10)
    server.wait_idle()
    assert [m["text"]["content"] for m in fake.custom_messages] == ["收到：评残要带什么材料"]
    assert fake.custom_messages[0]["touser"] == OPENID
    assert bot.turns == 1


def test_retry_during_a_turn_starts_no_second_turn_and_carries_the_answer(fake, serve):
    fake.reply_timeout = 1.0  # WeChat gives up on the first try while the bot still works
    bot = EchoBot(delay=1.5)
    server = serve(bot)
    result = fake.push_text(server.webhook_url, OPENID, "一次性经济补助有多少")
    assert result.attempts == 2
    assert result.content == "收到：一次性经济补助有多少"
    server.wait_idle()
    time.sleep(0.5)
    assert bot.turns == 1
    assert fake.custom_messages == [], "answered passively, so not also by customer-service message"


def test_answer_later_than_every_retry_goes_out_once_by_customer_service(fake, serve):
    fake.reply_timeout = 0.3  # all three tries time out
    bot = EchoBot(delay=2.0)
    server = serve(bot)
    result = fake.push_text(server.webhook_url, OPENID, "优抚金什么时候发")
    assert result.attempts == 3 and result.status is None
    assert fake.wait_for(lambda: fake.custom_messages, timeout=10)
    server.wait_idle()
    time.sleep(0.3)
    assert bot.turns == 1
    assert [m["text"]["content"] for m in fake.custom_messages] == ["收到：优抚金什么时候发"]


@pytest.mark.parametrize("errcode", [45015, 45047])
def test_customer_service_refused_goes_to_outbox_and_template(fake, serve, tmp_path, errcode):
    fake.fail_next("custom", errcode)
    outbox = Outbox(migrated_sqlite(tmp_path))
    server = serve(EchoBot(delay=0.6), outbox=outbox, reply_budget=0.2, templates={"notice": "TPL_NOTICE"})
    result = fake.push_text(server.webhook_url, OPENID, "我的诉求办得怎么样了")
    assert result.raw == b"success"
    assert fake.wait_for(lambda: fake.template_messages, timeout=10)
    [template] = fake.template_messages
    assert template["touser"] == OPENID and template["template_id"] == "TPL_NOTICE"
    assert template["data"]["content"]["value"] == "收到：我的诉求办得怎么样了"
    assert fake.custom_messages == []
    assert wait_until(lambda: outbox.list()[0].status == "sent")
    [item] = outbox.list()
    assert (item.kind, item.via, item.status, item.sent_via) == ("reply", "template", "sent", "template")
    assert [a["method"] for a in outbox.attempts(item.id)] == ["template"]


def test_token_refresh_on_40001(fake, serve):
    server = serve(EchoBot(delay=0.5), reply_budget=0.1)
    fake.push_text(server.webhook_url, OPENID, "第一条")
    assert fake.wait_for(lambda: len(fake.custom_messages) == 1, timeout=10)
    assert fake.token_fetches == 1
    fake.fail_next("custom", 40001)  # WeChat says the token is no longer valid
    fake.push_text(server.webhook_url, OPENID, "第二条")
    assert fake.wait_for(lambda: len(fake.custom_messages) == 2, timeout=10)
    assert fake.token_fetches == 2, "refreshed exactly once"
    fake.push_text(server.webhook_url, OPENID, "第三条")
    assert fake.wait_for(lambda: len(fake.custom_messages) == 3, timeout=10)
    assert fake.token_fetches == 2, "the new token is cached, not fetched per message"


def _shared_redis_store(server: fakeredis.FakeServer) -> RedisStore:
    return RedisStore(fakeredis.aioredis.FakeRedis(server=server, decode_responses=True))


def test_redis_dedupe_across_two_instances(fake, serve):
    redis_server = fakeredis.FakeServer()
    bot_a, bot_b = EchoBot(delay=0.5), EchoBot(delay=0.5)
    instance_a = serve(bot_a, store=_shared_redis_store(redis_server))
    instance_b = serve(bot_b, store=_shared_redis_store(redis_server))
    results = {}

    def push(name, url):
        results[name] = fake.push_text(url, OPENID, "优待证在哪里办", msg_id=7001)

    threads = [
        threading.Thread(target=push, args=("a", instance_a.webhook_url)),
        threading.Thread(target=push, args=("b", instance_b.webhook_url)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert bot_a.turns + bot_b.turns == 1
    assert results["a"].content == results["b"].content == "收到：优待证在哪里办"
    # The dedupe claim really lives in Redis (SET NX with expiry).
    client = fakeredis.FakeRedis(server=redis_server, decode_responses=True)
    assert client.exists("wechat:turn:msg:7001") and 0 < client.ttl("wechat:turn:msg:7001") <= 600


def test_numbered_options_are_shared_through_redis(fake, serve):
    redis_server = fakeredis.FakeServer()
    bot_a, bot_b = ButtonsBot(), ButtonsBot()
    instance_a = serve(bot_a, store=_shared_redis_store(redis_server))
    instance_b = serve(bot_b, store=_shared_redis_store(redis_server))
    assert "回复数字" in fake.push_text(instance_a.webhook_url, OPENID, "你好").content
    assert fake.push_text(instance_b.webhook_url, OPENID, "1").content == "意图：/ask_policy"
    assert bot_b.texts == ["/ask_policy"]


def test_redis_outage_fails_open(fake, serve):
    """With Redis unreachable the veteran still gets answers (dedupe is best effort then)."""
    bot = EchoBot()
    server = serve(bot, store=RedisStore.from_url("redis://127.0.0.1:9/0"))
    assert fake.push_text(server.webhook_url, OPENID, "你好").content == "收到：你好"
    assert bot.turns == 1


def test_interactions_open_the_48_hour_window(fake, serve, tmp_path):
    outbox = Outbox(migrated_sqlite(tmp_path))
    server = serve(EchoBot(), outbox=outbox)
    fake.push_event(server.webhook_url, "oOnlyOpenedALink", "VIEW", event_key="https://example.org")
    fake.push_event(server.webhook_url, "oLeaving", "unsubscribe")
    fake.push_text(server.webhook_url, OPENID, "你好")
    assert wait_until(lambda: outbox.last_seen(OPENID) is not None)
    server.wait_idle()
    assert outbox.last_seen("oOnlyOpenedALink") is None and outbox.last_seen("oLeaving") is None
