"""The message cap (vetbot/message_cap.py) through the WeChat adapter over real HTTP, with the fake
WeChat as the peer: a long text or voice message reaches the bot cut, the notice follows the
answer in the passive reply, and a retry still makes one turn."""
from __future__ import annotations

import pytest

from tests.wechat.bots import EchoBot, SilentBot
from vetbot.message_cap import NOTICE, cut
from vetbot.rest_channel import apology

OPENID = "oPinghuVeteranCap01"
LIMIT = 200
DESCRIPTION = "我是当涂镇的退役军人，去年申请评残，材料都交齐了。到现在一直没有消息，打电话问也说不清楚。" * 40


@pytest.fixture(autouse=True)
def limit(monkeypatch):
    monkeypatch.setenv("VETBOT_MAX_MESSAGE_CHARS", str(LIMIT))


def counting_bot() -> EchoBot:
    return EchoBot(answer=lambda text: f"收到{len(text)}字")


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_a_long_text_reaches_the_bot_cut_and_the_notice_follows_the_answer(fake, serve, mode):
    bot = counting_bot()
    server = serve(bot)
    result = fake.push_text(server.webhook_url, OPENID, DESCRIPTION, msg_id=7001, mode=mode)
    kept = cut(DESCRIPTION, LIMIT)
    assert kept.endswith("。") and len(kept) <= LIMIT
    assert bot.texts == [kept]
    assert result.attempts == 1 and result.content == f"收到{len(kept)}字\n{NOTICE}"


def test_a_long_voice_message_is_cut_too(fake, serve):
    bot = counting_bot()
    server = serve(bot)
    fields = {"ToUserName": fake.account_id, "FromUserName": OPENID, "CreateTime": 1, "MsgType": "voice",
              "MediaId": "m1", "Format": "amr", "Recognition": DESCRIPTION, "MsgId": 7002}
    assert fake.push(server.webhook_url, fields).content.endswith(NOTICE)
    assert bot.texts == [cut(DESCRIPTION, LIMIT)]


def test_a_short_message_is_untouched(fake, serve):
    bot = counting_bot()
    server = serve(bot)
    assert fake.push_text(server.webhook_url, OPENID, "优待证怎么申请", msg_id=7003).content == "收到7字"
    assert bot.texts == ["优待证怎么申请"]


def test_a_silent_turn_is_answered_with_the_apology_alone(fake, serve):
    server = serve(SilentBot())
    assert fake.push_text(server.webhook_url, OPENID, DESCRIPTION, msg_id=7004).content == apology()


def test_a_slow_turn_goes_out_later_with_the_notice_and_a_retry_makes_no_second_turn(fake, serve):
    bot = EchoBot(delay=0.6, answer=lambda text: f"收到{len(text)}字")
    server = serve(bot, reply_budget=0.2)
    first = fake.push_text(server.webhook_url, OPENID, DESCRIPTION, msg_id=7005, tries=1)
    assert first.content is None  # "success" at once, the answer later
    server.wait_idle()
    again = fake.push_text(server.webhook_url, OPENID, DESCRIPTION, msg_id=7005, tries=1)
    server.wait_idle()
    assert bot.turns == 1 and again.content is None
    sent = [m["text"]["content"] for m in fake.custom_messages if m["touser"] == OPENID]
    assert sent == [f"收到{len(cut(DESCRIPTION, LIMIT))}字\n{NOTICE}"]
