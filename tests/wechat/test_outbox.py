"""The notification outbox: durable across restarts, 48-hour aware, retried with backoff."""
from __future__ import annotations

import asyncio

import pytest

from tests.wechat.conftest import APP_ID, APP_SECRET
from wechat_adapter.api import WeChatAPI
from wechat_adapter.outbox import FAILED, PENDING, SENDING, SENT, STAFF, Outbox, OutboxSender, enqueue

OPENID = "oPinghuVeteran0003"
HOUR = 3600.0


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def drain(outbox: Outbox, fake, **kwargs) -> int:
    async def run() -> int:
        api = WeChatAPI(fake.base_url, APP_ID, APP_SECRET)
        try:
            return await OutboxSender(outbox, api, **kwargs).drain_once()
        finally:
            await api.close()

    return asyncio.run(run())


def test_enqueue_uses_the_data_dir_and_survives_a_restart(tmp_path):
    message_id = enqueue(OPENID, "您预约的评残代办在明天上午9点，请带好身份证。", kind="booking_reminder")
    assert (tmp_path / "var" / "wechat" / "outbox.sqlite3").exists()
    restarted = Outbox()  # a new process opening the same file
    [item] = restarted.list()
    assert (item.id, item.status, item.kind) == (message_id, PENDING, "booking_reminder")


def test_inside_48_hours_uses_customer_service(fake, tmp_path):
    clock = Clock()
    outbox = Outbox(tmp_path / "o.sqlite3", clock=clock)
    outbox.touch(OPENID, at=clock.now - 47 * HOUR)
    message_id = outbox.enqueue(OPENID, "您反映的诉求已办结。", kind="appeal_update")
    assert drain(outbox, fake, templates={"notice": "TPL"}) == 1
    assert [m["text"]["content"] for m in fake.custom_messages] == ["您反映的诉求已办结。"]
    assert fake.template_messages == []
    item = outbox.get(message_id)
    assert (item.status, item.sent_via) == (SENT, "custom")
    assert [(a["method"], a["ok"]) for a in outbox.attempts(message_id)] == [("custom", 1)]


def test_outside_48_hours_uses_a_template(fake, tmp_path):
    clock = Clock()
    outbox = Outbox(tmp_path / "o.sqlite3", clock=clock)
    outbox.touch(OPENID, at=clock.now - 49 * HOUR)
    message_id = outbox.enqueue(
        OPENID, "明天上午9点评残代办", kind="booking_reminder", template_data={"thing1": "评残代办", "time2": "明天 9:00"}
    )
    drain(outbox, fake, templates={"booking_reminder": "TPL_BOOKING", "notice": "TPL_NOTICE"})
    [template] = fake.template_messages
    assert template["template_id"] == "TPL_BOOKING"
    assert template["data"] == {"thing1": {"value": "评残代办"}, "time2": {"value": "明天 9:00"}}
    assert fake.custom_messages == []
    assert outbox.get(message_id).sent_via == "template"


def test_window_closed_error_falls_back_to_template_in_the_same_attempt(fake, tmp_path):
    clock = Clock()
    outbox = Outbox(tmp_path / "o.sqlite3", clock=clock)
    outbox.touch(OPENID, at=clock.now - HOUR)
    fake.fail_next("custom", 45015)
    message_id = outbox.enqueue(OPENID, "您的优待证已制作完成。", kind="notice")
    drain(outbox, fake, templates={"notice": "TPL_NOTICE"})
    assert fake.template_messages[0]["data"] == {"content": {"value": "您的优待证已制作完成。"}}
    attempts = outbox.attempts(message_id)
    assert [(a["method"], a["ok"], a["errcode"]) for a in attempts] == [("custom", 0, 45015), ("template", 1, None)]


def test_no_template_hands_the_message_to_staff(fake, tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    message_id = outbox.enqueue(OPENID, "请回电。", kind="appeal_update")  # never seen: no window
    drain(outbox, fake, templates={})
    item = outbox.get(message_id)
    assert item.status == STAFF and "template" in item.last_error
    assert fake.custom_messages == [] and fake.template_messages == []
    assert outbox.retry() == 1 and outbox.get(message_id).status == PENDING


def test_transient_failures_back_off_exponentially_then_give_up(fake, tmp_path):
    clock = Clock()
    outbox = Outbox(tmp_path / "o.sqlite3", clock=clock)
    outbox.touch(OPENID, at=clock.now)
    message_id = outbox.enqueue(OPENID, "提醒", kind="notice")
    fake.fail_next("custom", -1, times=10)  # "system busy"
    delays = []
    for _ in range(4):
        start = clock.now
        assert drain(outbox, fake, backoff_base=10, max_attempts=4) == 1
        assert drain(outbox, fake, backoff_base=10, max_attempts=4) == 0  # not due yet
        item = outbox.get(message_id)
        delays.append(item.next_attempt_at - start)
        clock.now = item.next_attempt_at
    assert delays[:3] == [10, 20, 40]
    item = outbox.get(message_id)
    assert item.status == FAILED and item.attempts == 4
    assert len(outbox.attempts(message_id)) == 4


def test_message_in_flight_at_a_crash_is_sent_after_restart(fake, tmp_path):
    clock = Clock()
    path = tmp_path / "o.sqlite3"
    before_crash = Outbox(path, clock=clock)
    before_crash.touch(OPENID, at=clock.now)
    message_id = before_crash.enqueue(OPENID, "您的预约已确认。", kind="booking_reminder")
    [claimed] = before_crash.claim_due(lease=120)  # the sender took it ... and the process died
    assert claimed.id == message_id and before_crash.get(message_id).status == SENDING

    after_restart = Outbox(path, clock=clock)
    assert drain(after_restart, fake) == 0, "still leased: another sender may be sending it"
    clock.now += 121
    assert drain(after_restart, fake) == 1
    assert after_restart.get(message_id).status == SENT
    assert [m["text"]["content"] for m in fake.custom_messages] == ["您的预约已确认。"]


def test_two_senders_never_take_the_same_message(tmp_path):
    path = tmp_path / "o.sqlite3"
    outbox = Outbox(path)
    for number in range(30):
        outbox.enqueue(OPENID, f"消息{number}", kind="notice")
    first, second = Outbox(path).claim_due(limit=20), Outbox(path).claim_due(limit=20)
    ids = [item.id for item in first + second]
    assert len(ids) == len(set(ids)) == 30


def test_long_outbox_message_is_split_and_resumes_where_it_failed(fake, tmp_path):
    clock = Clock()
    outbox = Outbox(tmp_path / "o.sqlite3", clock=clock)
    outbox.touch(OPENID, at=clock.now)
    text = "\n".join(f"第{i}项：请携带身份证、户口簿和退役证件原件及复印件。" for i in range(80))
    message_id = outbox.enqueue(OPENID, text, kind="notice")
    # The first part goes through, the second fails once.
    calls = {"n": 0}
    original = fake._take_failure

    def fail_second_call(api):
        if api == "custom":
            calls["n"] += 1
            if calls["n"] == 2:
                return -1
        return original(api)

    fake._take_failure = fail_second_call
    drain(outbox, fake, backoff_base=1)
    assert outbox.get(message_id).parts_sent == 1
    clock.now += 5
    drain(outbox, fake, backoff_base=1)
    assert outbox.get(message_id).status == SENT
    sent = [m["text"]["content"] for m in fake.custom_messages]
    assert "\n".join(sent) == text  # every part exactly once, in order


def test_enqueue_validates_input(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    with pytest.raises(ValueError):
        outbox.enqueue("", "text", "notice")
    with pytest.raises(ValueError):
        outbox.enqueue(OPENID, "text", "notice", via="carrier-pigeon")
