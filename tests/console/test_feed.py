"""The conversation feed: events written by the real broker class become the console's conversation
list, once each, with the state rules of the hand-over; the live hub hears of every change."""
from __future__ import annotations

import asyncio

import pytest
from rasa.shared.core.events import (
    ActionExecuted, BotUttered, ConversationPaused, ConversationResumed, SlotSet, UserUttered,
)
from sqlalchemy import select

from console import feed as feed_module
from console.feed import poll_once
from console.live import event_stream, hub
from console.models import BOT, STAFF, WAITING, Conversation, ConversationKey, ConversationMessage, FeedCursor
from booking.pii import phone_key
from vetbot.event_broker import RedactingSQLEventBroker
from vetbot.storage import session_scope

T0 = 1_790_000_000.0


@pytest.fixture
def broker(console_db):
    return RedactingSQLEventBroker()


def publish(broker, sender: str, *events) -> None:
    for event in events:
        broker.publish({"sender_id": sender, **event.as_dict()})


def user(text: str, at: float, intent: str = "ask_policy", confidence: float = 0.87, channel: str = "rest"):
    return UserUttered(text, parse_data={"text": text, "intent": {"name": intent, "confidence": confidence}},
                       input_channel=channel, timestamp=at)


def conversation(sender: str) -> Conversation:
    with session_scope() as session:
        return session.get(Conversation, sender)


def transcript(sender: str) -> list[ConversationMessage]:
    with session_scope() as session:
        return list(session.execute(select(ConversationMessage).where(ConversationMessage.sender_id == sender)
                                    .order_by(ConversationMessage.id)).scalars())


def test_messages_intent_sources_identity_and_keys(broker):
    answer = "【优待证】退役军人可以申领优待证。\n依据：《退役军人优待证管理办法》第五条（2022-03-01）"
    publish(broker, "v1",
            user("优待证怎么办", T0),
            ActionExecuted("action_answer_policy", timestamp=T0 + 1),
            BotUttered(answer, timestamp=T0 + 1),
            user("我电话13800138000", T0 + 5, intent="inform", confidence=0.6, channel="wechat"))
    result = poll_once()
    assert result.read == 4 and result.changed == {"v1": BOT}

    row = conversation("v1")
    assert (row.channel, row.identity_masked, row.last_message) == ("wechat", "138****8000", "我电话138****8000")
    assert row.last_at.timestamp() == row.last_user_at.timestamp() == T0 + 5
    lines = transcript("v1")
    assert [(m.kind, m.intent, m.confidence) for m in lines] == [
        ("user", "ask_policy", 0.87), ("bot", None, None), ("user", "inform", 0.6)]
    assert lines[1].sources == ["依据：《退役军人优待证管理办法》第五条（2022-03-01）"]
    with session_scope() as session:
        keys = session.execute(select(ConversationKey.key_hash).where(ConversationKey.sender_id == "v1")).scalars()
        assert list(keys) == [phone_key("13800138000")]


def test_sources_given_in_metadata_win_over_the_text(broker):
    publish(broker, "v1", BotUttered("答复", metadata={"vetbot_sources": ["依据：《条例》第三条"]}, timestamp=T0))
    poll_once()
    assert transcript("v1")[0].sources == ["依据：《条例》第三条"]


def test_hand_over_action_waits_then_pause_and_resume(broker):
    publish(broker, "v1", user("转人工", T0), ActionExecuted("action_handoff", timestamp=T0 + 1))
    assert poll_once().changed == {"v1": WAITING}
    assert conversation("v1").waiting_since.timestamp() == T0 + 1

    publish(broker, "v1", ConversationPaused(timestamp=T0 + 10))
    assert poll_once().changed == {"v1": STAFF}
    assert conversation("v1").waiting_since is None

    publish(broker, "v1", BotUttered("您好，我是工作人员", metadata={"vetbot_staff": "王芳"}, timestamp=T0 + 11),
            ConversationResumed(timestamp=T0 + 20))
    assert poll_once().changed == {"v1": BOT}
    staff_line = transcript("v1")[-1]
    assert (staff_line.kind, staff_line.staff_name, staff_line.text) == ("staff", "王芳", "您好，我是工作人员")


def test_two_fallbacks_in_a_row_wait_for_a_person(broker):
    def miss(n: int, at: float):
        return [user("阿巴阿巴", at, intent="nlu_fallback", confidence=0.2),
                ActionExecuted("action_fallback_rephrase", timestamp=at), BotUttered("没听明白", timestamp=at),
                SlotSet("fallback_misses", float(n), timestamp=at)]

    publish(broker, "v1", *miss(1, T0))
    poll_once()
    assert (conversation("v1").state, conversation("v1").misses) == (BOT, 1)
    publish(broker, "v1", user("优待证", T0 + 5), ActionExecuted("action_answer_policy", timestamp=T0 + 5))
    poll_once()
    assert conversation("v1").misses == 0  # an answer in between ends the run
    publish(broker, "v1", *miss(1, T0 + 6), *miss(2, T0 + 7))
    poll_once()
    assert (conversation("v1").state, conversation("v1").misses) == (WAITING, 2)


def test_a_handover_while_staff_hold_it_keeps_it_with_them(broker):
    publish(broker, "v1", user("你好", T0), ConversationPaused(timestamp=T0 + 1),
            ActionExecuted("action_handoff", timestamp=T0 + 2))
    poll_once()
    assert conversation("v1").state == STAFF


def test_the_cursor_resumes_and_nothing_is_read_twice(broker):
    publish(broker, "v1", user("第一句", T0), BotUttered("好的", timestamp=T0 + 1))
    assert poll_once().read == 2
    feed_module._applied.clear()  # as after a restart: the cursor is in the database
    assert poll_once().read == 0
    publish(broker, "v1", user("第二句", T0 + 2))
    assert poll_once().read == 1
    assert [m.text for m in transcript("v1")] == ["第一句", "好的", "第二句"]
    with session_scope() as session:
        assert session.get(FeedCursor, feed_module.FEED_NAME).last_id == 3


def test_events_read_again_are_not_stored_twice(broker):
    publish(broker, "v1", user("第一句", T0), user("13800138000", T0 + 1))
    poll_once()
    with session_scope() as session:
        session.get(FeedCursor, feed_module.FEED_NAME).last_id = 0  # a cursor lost: the rows come again
    feed_module._applied.clear()  # … to a console started afresh
    assert poll_once().read == 2
    assert len(transcript("v1")) == 2
    with session_scope() as session:
        assert len(session.execute(select(ConversationKey)).all()) == 1


def test_no_broker_database_yet_reads_nothing(console_db):
    assert poll_once().read == 0


def test_the_running_feed_announces_each_changed_conversation(broker):
    async def scenario() -> list[str]:
        disconnected = asyncio.Event()

        async def is_disconnected() -> bool:
            return disconnected.is_set()

        stream = event_stream(is_disconnected, keep_alive=0.05)
        assert (await stream.__anext__()).startswith("retry:")  # subscribed from here on
        feed = feed_module.Feed(interval=0.05)
        feed.start()
        publish(broker, "v9", user("转人工", T0), ActionExecuted("action_handoff", timestamp=T0 + 1))
        received, deadline = [], asyncio.get_running_loop().time() + 5
        while not any("data:" in chunk for chunk in received) and asyncio.get_running_loop().time() < deadline:
            received.append(await stream.__anext__())
        await feed.stop()
        disconnected.set()
        await stream.aclose()
        return received

    received = asyncio.run(scenario())
    assert received[-1] == 'data: {"type": "conversation", "sender_id": "v9", "state": "waiting"}\n\n'
    assert hub.subscriber_count == 0
