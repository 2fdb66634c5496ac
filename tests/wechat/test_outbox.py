"""The notification outbox: durable across restarts, 48-hour aware, retried with backoff, and
safe when a sender dies or stalls past its lease (tests/wechat/test_outbox_concurrency.py runs
sender processes against one database). Every test runs on a migrated SQLite database, and on
PostgreSQL too (see tests/booking/databases.py)."""
from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import select

from tests.wechat.conftest import APP_ID, APP_SECRET
from tests.wechat.outbox_db import BACKENDS, migrated_sqlite, outbox_database
from wechat_adapter.api import WeChatAPI, WeChatAPIError
from wechat_adapter.outbox import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    STAFF,
    LeaseLost,
    Outbox,
    OutboxSender,
    enqueue,
    insert_message,
    template_payload,
)
from vetbot.storage import upgrade_to_head
from wechat_adapter.models import OutboxMessage
from wechat_adapter.replies import split_text

OPENID = "oPinghuVeteran0003"
HOUR = 3600.0
LONG_TEXT = "\n".join(f"第{i}项：请携带身份证、户口簿和退役证件原件及复印件。" for i in range(80))
# Errors no retry fixes: invalid openid, invalid template_id, not subscribed, user refused
# messages, invalid template data.
PERMANENT = [40003, 40037, 43004, 43101, 47003]


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


class Crash(BaseException):
    """The sender process dying mid-send: nothing in the sender catches it."""


class StubAPI:
    """WeChat without HTTP: records each send, and raises the next queued error if any."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.sent: list[tuple[str, str]] = []

    async def _send(self, method: str, content: str) -> dict:
        self.sent.append((method, content))
        if self.errors:
            raise self.errors.pop(0)
        return {"errcode": 0}

    async def send_text(self, openid: str, content: str) -> dict:
        return await self._send("custom", content)

    async def send_template(self, openid: str, template_id: str, data: dict) -> dict:
        return await self._send(template_id, data["content"]["value"])


def drain_stub(outbox: Outbox, api: StubAPI, **kwargs) -> int:
    return asyncio.run(OutboxSender(outbox, api, **kwargs).drain_once())


@pytest.fixture(scope="session")
def template(tmp_path_factory):
    return migrated_sqlite(tmp_path_factory.mktemp("outbox-template"))


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path, template):
    """The URL of an empty, migrated database."""
    with outbox_database(request.param, tmp_path, template) as url:
        yield url


def raw_row(outbox: Outbox, message_id: int) -> dict:
    """Every column of the message's row, lease_until and updated_at included."""
    table = OutboxMessage.__table__
    with outbox.engine.connect() as connection:
        return dict(connection.execute(select(table).where(table.c.id == message_id)).one()._mapping)


def outbox_with_window_open(db) -> tuple[Outbox, Clock]:
    clock = Clock()
    outbox = Outbox(db, clock=clock)
    outbox.touch(OPENID, at=clock.now)
    return outbox, clock


# -- storing -------------------------------------------------------------------------------
def test_enqueue_uses_the_shared_database_and_survives_a_restart(tmp_path, monkeypatch):
    monkeypatch.delenv("VETBOT_DATABASE_URL", raising=False)  # the data dir's database (conftest)
    shared = f"sqlite:///{tmp_path / 'var' / 'vetbot.sqlite3'}"
    upgrade_to_head()  # `vetbot db upgrade`
    message_id = enqueue(OPENID, "您预约的评残代办在明天上午9点，请带好身份证。", kind="booking_reminder")
    restarted = Outbox(shared)  # a new process opening the same database
    [item] = restarted.list()
    assert (item.id, item.status, item.kind, item.via, item.template_data) == (
        message_id, PENDING, "booking_reminder", "auto", None
    )
    assert (item.attempts, item.parts_sent, item.claim, item.sent_via, item.last_error) == (0, 0, None, None, None)
    second_id = enqueue(OPENID, "明天9点", kind="booking_reminder", template_data={"time2": "明天 9:00"}, via="template")
    second = restarted.get(second_id)
    assert (second.template_data, second.via) == ({"time2": "明天 9:00"}, "template")


def test_enqueue_goes_to_the_database_the_url_names(monkeypatch, db):
    monkeypatch.setenv("VETBOT_DATABASE_URL", db)
    message_id = enqueue(OPENID, "提醒", kind="notice")
    assert [item.id for item in Outbox(db).list()] == [message_id]


def test_enqueue_validates_input(db):
    outbox = Outbox(db)
    with pytest.raises(ValueError, match="^openid and text are required$"):
        outbox.enqueue("", "text", "notice")
    with pytest.raises(ValueError, match="^openid and text are required$"):
        outbox.enqueue(OPENID, "", "notice")
    with pytest.raises(ValueError, match="^via must be 'auto' or 'template'$"):
        outbox.enqueue(OPENID, "text", "notice", via="carrier-pigeon")
    assert outbox.list() == []
    message_id = outbox.enqueue(OPENID, "text", "notice", template_data={"thing1": "评残"}, via="template")
    item = outbox.get(message_id)
    assert (item.via, item.template_data) == ("template", {"thing1": "评残"})
    assert raw_row(outbox, message_id)["template_data"] == '{"thing1": "评残"}'  # readable in the database
    assert raw_row(outbox, outbox.enqueue(OPENID, "text", "notice"))["template_data"] is None


def test_a_dedupe_key_queues_a_message_once(db):
    clock = Clock()
    outbox = Outbox(db, clock=clock)
    first = outbox.enqueue(OPENID, "明天上午9点评残", kind="booking_reminder", dedupe_key="reminder:ABC:2026-12-10")
    clock.now += 60
    again = outbox.enqueue(OPENID, "另一段文字", kind="notice", via="template", dedupe_key="reminder:ABC:2026-12-10")
    other = outbox.enqueue(OPENID, "明天上午9点评残", kind="booking_reminder", dedupe_key="reminder:ABC:2026-12-11")
    unkeyed = [outbox.enqueue(OPENID, "无键", kind="notice") for _ in range(2)]  # no key: each is queued
    assert again == first
    assert [item.id for item in outbox.list()] == [*unkeyed[::-1], other, first]
    kept = outbox.get(first)
    assert (kept.text, kept.kind, kept.via, kept.created_at) == ("明天上午9点评残", "booking_reminder", "auto", clock.now - 60)
    assert raw_row(outbox, first)["dedupe_key"] == "reminder:ABC:2026-12-10"


def test_insert_message_is_part_of_the_callers_transaction(db):
    outbox = Outbox(db)
    with outbox.engine.begin() as connection:
        assert insert_message(connection, OPENID, "提醒", "notice", dedupe_key="k") == (1, True)
        assert insert_message(connection, OPENID, "提醒", "notice", dedupe_key="k") == (1, False)
    with pytest.raises(RuntimeError), outbox.engine.begin() as connection:
        insert_message(connection, OPENID, "撤回", "notice", dedupe_key="rolled back")
        raise RuntimeError("the caller's change failed")
    assert [item.text for item in outbox.list()] == ["提醒"]


def test_touch_and_last_seen(db):
    clock = Clock()
    outbox = Outbox(db, clock=clock)
    assert outbox.last_seen(OPENID) is None
    outbox.touch(OPENID)
    assert outbox.last_seen(OPENID) == clock.now
    outbox.touch(OPENID, at=clock.now - HOUR)
    assert outbox.last_seen(OPENID) == clock.now - HOUR
    assert outbox.last_seen("oSomeoneElse") is None


def test_list_get_attempts_and_retry_for_staff(db):
    outbox, clock = outbox_with_window_open(db)
    ids = [outbox.enqueue(OPENID, f"消息{n}", kind="notice") for n in range(4)]
    assert outbox.get(ids[0]).created_at == clock.now
    items = outbox.claim_due(limit=4, lease=60)
    outbox.mark_sent(items[0], "custom")
    outbox.mark_final(items[1], STAFF, "no template")
    outbox.mark_retry(items[2], "busy", delay=0, max_attempts=1)
    assert [item.id for item in outbox.list()] == ids[::-1]
    assert [item.id for item in outbox.list(limit=2)] == ids[:1:-1]
    assert [item.id for item in outbox.list(STAFF)] == [ids[1]]
    assert outbox.get(999) is None
    outbox.log_attempt(ids[0], "custom", True)
    outbox.log_attempt(ids[0], "template", False, 40037, "x" * 600)
    first, second = outbox.attempts(ids[0])
    assert (first["method"], first["ok"], first["errcode"], first["detail"], first["attempted_at"]) == (
        "custom", 1, None, "", clock.now
    )
    assert (second["ok"], second["errcode"], second["detail"]) == (0, 40037, "x" * 500)
    assert outbox.attempts(ids[1]) == []

    clock.now += 10
    assert outbox.retry(ids[0]) == 0  # sent: nothing to retry
    assert outbox.retry(ids[1]) == 1
    item = outbox.get(ids[1])
    assert (item.status, item.attempts, item.next_attempt_at, item.claim) == (PENDING, 0, clock.now, None)
    assert outbox.retry(ids[2], statuses=(STAFF,)) == 0  # failed, but only staff asked for
    assert outbox.retry() == 1  # the failed one
    assert (outbox.get(ids[2]).status, outbox.get(ids[2]).attempts) == (PENDING, 0)
    assert [outbox.get(message_id).status for message_id in ids] == [SENT, PENDING, PENDING, SENDING]


# -- claiming and leases ---------------------------------------------------------------------
def test_claims_take_due_messages_in_order_under_a_lease(db):
    clock = Clock()
    outbox = Outbox(db, clock=clock)
    ids = [outbox.enqueue(OPENID, f"消息{n}", kind="notice") for n in range(3)]
    first = outbox.claim_due(limit=2, lease=60)
    assert [item.id for item in first] == ids[:2]
    assert [(item.status, item.attempts) for item in first] == [(SENDING, 0), (SENDING, 0)]
    assert first[0].claim == first[1].claim and len(first[0].claim) == 32
    assert outbox.get(ids[0]).claim == first[0].claim
    [third] = outbox.claim_due(limit=2, lease=60)
    assert third.id == ids[2] and third.claim != first[0].claim
    clock.now += 59.9
    assert outbox.claim_due(limit=5, lease=60) == []
    clock.now += 0.1  # the leases end now
    reclaimed = outbox.claim_due(limit=5, lease=60)
    assert [item.id for item in reclaimed] == ids
    assert [item.attempts for item in reclaimed] == [1, 1, 1]  # each abandoned attempt counts


def test_a_message_is_due_from_its_next_attempt_time(db):
    clock = Clock()
    outbox = Outbox(db, clock=clock)
    message_id = outbox.enqueue(OPENID, "提醒", kind="notice")
    [item] = outbox.claim_due(limit=1, lease=60)
    assert outbox.mark_retry(item, "busy", delay=30, max_attempts=3) == PENDING
    clock.now += 29.9
    assert outbox.claim_due(limit=1, lease=60) == []
    clock.now += 0.1
    [again] = outbox.claim_due(limit=1, lease=60)
    assert (again.id, again.attempts) == (message_id, 1)  # a finished attempt is not counted twice


def test_renewing_extends_the_lease(db):
    clock = Clock()
    outbox = Outbox(db, clock=clock)
    outbox.enqueue(OPENID, "提醒", kind="notice")
    [item] = outbox.claim_due(limit=1, lease=60)
    clock.now += 50
    outbox.renew(item, 60)
    clock.now += 59.9
    assert outbox.claim_due(limit=1, lease=60) == []
    clock.now += 0.1
    assert [other.id for other in outbox.claim_due(limit=1, lease=60)] == [item.id]


WRITES = {
    "renew": lambda outbox, item: outbox.renew(item, 60),
    "record_parts_sent": lambda outbox, item: outbox.record_parts_sent(item, 1),
    "mark_sent": lambda outbox, item: outbox.mark_sent(item, "custom"),
    "mark_final": lambda outbox, item: outbox.mark_final(item, STAFF, "no template"),
    "mark_retry": lambda outbox, item: outbox.mark_retry(item, "busy", 30, 10),
}


@pytest.mark.parametrize("write", WRITES)
def test_a_sender_whose_lease_was_taken_over_cannot_write(db, write):
    clock = Clock()
    outbox = Outbox(db, clock=clock)
    message_id = outbox.enqueue(OPENID, "提醒", kind="notice")
    [stale] = outbox.claim_due(limit=1, lease=60)
    clock.now += 60
    [current] = outbox.claim_due(limit=1, lease=60)
    before = raw_row(outbox, message_id)
    clock.now += 1
    with pytest.raises(LeaseLost, match=f"outbox {message_id} is no longer held by claim {stale.claim}"):
        WRITES[write](outbox, stale)
    assert raw_row(outbox, message_id) == before
    WRITES[write](outbox, current)  # the holder can
    assert raw_row(outbox, message_id)["updated_at"] == clock.now


@pytest.mark.parametrize("finish", ["mark_sent", "mark_final", "mark_retry"])
def test_finishing_releases_the_claim(db, finish):
    outbox = Outbox(db)
    message_id = outbox.enqueue(OPENID, "提醒", kind="notice")
    [item] = outbox.claim_due(limit=1, lease=60)
    WRITES[finish](outbox, item)
    released = raw_row(outbox, message_id)
    assert (released["claim"], released["lease_until"], released["status"] != SENDING) == (None, None, True)
    with pytest.raises(LeaseLost):
        outbox.record_parts_sent(item, 1)


def test_message_in_flight_at_a_crash_is_sent_after_restart(fake, db):
    clock = Clock()
    before_crash = Outbox(db, clock=clock)
    before_crash.touch(OPENID, at=clock.now)
    message_id = before_crash.enqueue(OPENID, "您的预约已确认。", kind="booking_reminder")
    [claimed] = before_crash.claim_due(limit=20, lease=120)  # the sender took it ... and the process died
    assert claimed.id == message_id and before_crash.get(message_id).status == SENDING

    after_restart = Outbox(db, clock=clock)
    clock.now += 119.9
    assert drain(after_restart, fake) == 0, "still leased: another sender may be sending it"
    clock.now += 0.1
    assert drain(after_restart, fake) == 1
    item = after_restart.get(message_id)
    assert (item.status, item.attempts, item.claim) == (SENT, 1, None)
    assert [m["text"]["content"] for m in fake.custom_messages] == ["您的预约已确认。"]


def test_a_message_that_kills_every_sender_fails_after_max_attempts(db, caplog):
    outbox, clock = outbox_with_window_open(db)
    message_id = outbox.enqueue(OPENID, "提醒", kind="notice")
    api = StubAPI(Crash(), Crash(), Crash(), Crash())
    for attempt in range(3):
        with pytest.raises(Crash):
            drain_stub(outbox, api, max_attempts=3)
        item = outbox.get(message_id)
        assert (item.status, item.attempts) == (SENDING, attempt)
        clock.now += 119.9
        assert drain_stub(outbox, api, max_attempts=3) == 0  # the sender's default lease: 120 s
        clock.now += 0.1
    assert drain_stub(outbox, api, max_attempts=3) == 1
    item = outbox.get(message_id)
    detail = "gave up after 3 attempts; the last sender stopped mid-send"
    assert (item.status, item.attempts, item.last_error, item.claim) == (FAILED, 3, detail, None)
    assert api.sent == [("custom", "提醒")] * 3
    assert f"Outbox {message_id} {detail}" in caplog.messages
    assert drain_stub(outbox, api, max_attempts=3) == 0


def test_a_reclaimed_message_is_still_sent_on_its_last_attempt(db):
    outbox, clock = outbox_with_window_open(db)
    message_id = outbox.enqueue(OPENID, "提醒", kind="notice")
    outbox.claim_due(limit=1, lease=60)  # a sender that died
    clock.now += 60
    api = StubAPI()
    assert drain_stub(outbox, api, max_attempts=2) == 1
    assert (outbox.get(message_id).status, api.sent) == (SENT, [("custom", "提醒")])


class StallingOutbox(Outbox):
    """The sender's worker thread hangs right after it recorded its first part (a stalled disk,
    a starved thread pool) until the test lets it go on."""

    def __init__(self, path, clock, stalled: threading.Event, resume: threading.Event) -> None:
        super().__init__(path, clock=clock)
        self.stalled, self.resume = stalled, resume

    def record_parts_sent(self, item, parts_sent: int) -> None:
        super().record_parts_sent(item, parts_sent)
        if parts_sent == 1:
            self.stalled.set()
            assert self.resume.wait(30)


def test_a_sender_stalled_past_its_lease_stops_and_every_part_is_sent_once(fake, db, caplog):
    clock, stalled, resume = Clock(), threading.Event(), threading.Event()
    path = db
    outbox = Outbox(path, clock=clock)
    outbox.touch(OPENID, at=clock.now)
    parts = split_text(LONG_TEXT)
    assert len(parts) >= 3
    message_id = outbox.enqueue(OPENID, LONG_TEXT, kind="notice")

    async def scenario() -> None:
        api_a, api_b = WeChatAPI(fake.base_url, APP_ID, APP_SECRET), WeChatAPI(fake.base_url, APP_ID, APP_SECRET)
        sender_a = OutboxSender(StallingOutbox(path, clock, stalled, resume), api_a, lease=120)
        sender_b = OutboxSender(Outbox(path, clock=clock), api_b, lease=120)
        try:
            a_running = asyncio.create_task(sender_a.drain_once())
            assert await asyncio.to_thread(stalled.wait, 30)
            clock.now += 120  # A's lease runs out while it hangs
            assert await sender_b.drain_once() == 1  # B takes the message over and finishes it
            resume.set()
            assert await a_running == 1
        finally:
            await api_a.close()
            await api_b.close()

    asyncio.run(scenario())
    assert [message["text"]["content"] for message in fake.custom_messages] == parts
    item = outbox.get(message_id)
    assert (item.status, item.sent_via, item.parts_sent, item.attempts, item.claim) == (SENT, "custom", len(parts), 1, None)
    assert [(a["method"], a["ok"]) for a in outbox.attempts(message_id)] == [("custom", 1)]  # B's attempt only
    assert f"Outbox {message_id}: lease expired and another sender took it over; stopped" in caplog.messages


@pytest.mark.parametrize("via", ["auto", "template"])
def test_a_sender_holding_a_taken_over_claim_sends_nothing(db, via):
    outbox, clock = outbox_with_window_open(db)
    outbox.enqueue(OPENID, "提醒", kind="notice", via=via)
    [stale] = outbox.claim_due(limit=1, lease=60)
    clock.now += 60
    outbox.claim_due(limit=1, lease=60)  # another sender has it now
    api = StubAPI()
    with pytest.raises(LeaseLost):
        asyncio.run(OutboxSender(outbox, api, templates={"notice": "TPL"}).deliver(stale))
    assert api.sent == []


def test_a_lease_that_ran_out_unclaimed_is_still_the_senders(db):
    outbox, clock = outbox_with_window_open(db)
    message_id = outbox.enqueue(OPENID, "提醒", kind="notice")
    [item] = outbox.claim_due(limit=1, lease=60)
    clock.now += 600  # slow, but nobody took it over
    api = StubAPI()
    assert asyncio.run(OutboxSender(outbox, api).deliver(item)) == SENT
    assert (outbox.get(message_id).status, api.sent) == (SENT, [("custom", "提醒")])


def test_a_message_taken_over_mid_batch_does_not_stop_the_rest(db, caplog):
    outbox, clock = outbox_with_window_open(db)
    first = outbox.enqueue(OPENID, "第一条", kind="notice")
    second = outbox.enqueue(OPENID, "第二条", kind="notice")
    other = Outbox(db, clock=clock)

    class TakenOverWhileSending(StubAPI):
        async def send_text(self, openid: str, content: str) -> dict:
            if content == "第一条":  # while this part is in flight, A's leases run out
                clock.now += 120
                assert [item.id for item in other.claim_due(limit=1, lease=120)] == [first]
            return await super().send_text(openid, content)

    api = TakenOverWhileSending()
    assert drain_stub(outbox, api) == 2
    assert api.sent == [("custom", "第一条"), ("custom", "第二条")]
    assert (outbox.get(first).status, outbox.get(second).status) == (SENDING, SENT)
    assert f"Outbox {first}: lease expired and another sender took it over; stopped" in caplog.messages


def test_an_unexpected_error_is_retried_and_does_not_stop_the_queue(db):
    outbox, clock = outbox_with_window_open(db)
    broken = outbox.enqueue(OPENID, "第一条", kind="notice")
    fine = outbox.enqueue(OPENID, "第二条", kind="notice")
    api = StubAPI(RuntimeError("boom"))
    assert drain_stub(outbox, api, backoff_base=10) == 2
    item = outbox.get(broken)
    assert (item.status, item.attempts, item.last_error, item.next_attempt_at) == (
        PENDING, 1, "internal: boom", clock.now + 10
    )
    assert outbox.get(fine).status == SENT


def test_an_unexpected_error_after_a_takeover_leaves_the_message_to_its_new_sender(db):
    outbox, clock = outbox_with_window_open(db)
    message_id = outbox.enqueue(OPENID, "提醒", kind="notice")

    class TakenOverThenBroken(StubAPI):
        async def send_text(self, openid: str, content: str) -> dict:
            clock.now += 120
            outbox.claim_due(limit=1, lease=120)
            raise RuntimeError("boom")

    assert drain_stub(outbox, TakenOverThenBroken()) == 1
    item = outbox.get(message_id)
    assert (item.status, item.attempts, item.last_error) == (SENDING, 1, None)


# -- choosing the way: customer service or template ----------------------------------------------
def test_inside_48_hours_uses_customer_service(fake, db):
    clock = Clock()
    outbox = Outbox(db, clock=clock)
    outbox.touch(OPENID, at=clock.now - 47 * HOUR)
    message_id = outbox.enqueue(OPENID, "您反映的诉求已办结。", kind="appeal_update")
    assert drain(outbox, fake, templates={"notice": "TPL"}) == 1
    assert [m["text"]["content"] for m in fake.custom_messages] == ["您反映的诉求已办结。"]
    assert fake.template_messages == []
    item = outbox.get(message_id)
    assert (item.status, item.sent_via, item.parts_sent, item.attempts, item.claim) == (SENT, "custom", 1, 0, None)
    assert [(a["method"], a["ok"]) for a in outbox.attempts(message_id)] == [("custom", 1)]


def test_outside_48_hours_uses_a_template(fake, db):
    clock = Clock()
    outbox = Outbox(db, clock=clock)
    outbox.touch(OPENID, at=clock.now - 49 * HOUR)
    message_id = outbox.enqueue(
        OPENID, "明天上午9点评残代办", kind="booking_reminder", template_data={"thing1": "评残代办", "time2": "明天 9:00"}
    )
    drain(outbox, fake, templates={"booking_reminder": "TPL_BOOKING", "notice": "TPL_NOTICE"})
    [template] = fake.template_messages
    assert (template["touser"], template["template_id"]) == (OPENID, "TPL_BOOKING")
    assert template["data"] == {"thing1": {"value": "评残代办"}, "time2": {"value": "明天 9:00"}}
    assert fake.custom_messages == []
    item = outbox.get(message_id)
    assert (item.status, item.sent_via) == (SENT, "template")
    assert [(a["method"], a["ok"]) for a in outbox.attempts(message_id)] == [("template", 1)]


def test_the_window_closes_ten_minutes_before_48_hours(db):
    clock = Clock()
    outbox = Outbox(db, clock=clock)
    outbox.touch(OPENID, at=clock.now - (48 * HOUR - 601))
    outbox.touch("oClosed", at=clock.now - (48 * HOUR - 600))
    outbox.enqueue(OPENID, "窗口内", kind="notice")
    outbox.enqueue("oClosed", "窗口外", kind="notice")
    api = StubAPI()
    assert drain_stub(outbox, api, templates={"notice": "TPL_NOTICE"}) == 2
    assert api.sent == [("custom", "窗口内"), ("TPL_NOTICE", "窗口外")]


def test_via_template_skips_customer_service_inside_the_window(db):
    outbox, _ = outbox_with_window_open(db)
    outbox.enqueue(OPENID, "模板", kind="notice", via="template")
    api = StubAPI()
    drain_stub(outbox, api, templates={"notice": "TPL_NOTICE"})
    assert api.sent == [("TPL_NOTICE", "模板")]


def test_the_template_for_the_kind_else_the_notice_template(db):
    outbox = Outbox(db)  # nobody seen: templates only
    outbox.enqueue(OPENID, "预约提醒", kind="Booking_Reminder")
    outbox.enqueue(OPENID, "诉求进展", kind="appeal_update")
    api = StubAPI()
    drain_stub(outbox, api, templates={"booking_reminder": "TPL_BOOKING", "notice": "TPL_NOTICE"})
    assert api.sent == [("TPL_BOOKING", "预约提醒"), ("TPL_NOTICE", "诉求进展")]


def test_template_payload(db, monkeypatch):
    outbox = Outbox(db)
    given = outbox.get(outbox.enqueue(OPENID, "正文", "notice", template_data={"n": 3, "t": {"value": "x", "color": "#f00"}}))
    assert template_payload(given) == {"n": {"value": "3"}, "t": {"value": "x", "color": "#f00"}}
    plain = outbox.get(outbox.enqueue(OPENID, "正文", "notice"))
    assert template_payload(plain) == {"content": {"value": "正文"}}
    monkeypatch.setenv("WECHAT_NOTICE_FIELD", "thing1")
    assert template_payload(plain) == {"thing1": {"value": "正文"}}


@pytest.mark.parametrize("errcode", [45015, 45047])  # window closed; customer-service quota used up
def test_customer_service_refused_falls_back_to_template_in_the_same_attempt(fake, db, errcode):
    clock = Clock()
    outbox = Outbox(db, clock=clock)
    outbox.touch(OPENID, at=clock.now - HOUR)
    fake.fail_next("custom", errcode)
    message_id = outbox.enqueue(OPENID, "您的优待证已制作完成。", kind="notice")
    drain(outbox, fake, templates={"notice": "TPL_NOTICE"})
    assert fake.template_messages[0]["data"] == {"content": {"value": "您的优待证已制作完成。"}}
    attempts = outbox.attempts(message_id)
    assert [(a["method"], a["ok"], a["errcode"]) for a in attempts] == [("custom", 0, errcode), ("template", 1, None)]
    assert (outbox.get(message_id).status, outbox.get(message_id).sent_via) == (SENT, "template")


def test_no_template_hands_the_message_to_staff(db, caplog):
    outbox = Outbox(db)
    message_id = outbox.enqueue(OPENID, "请回电。", kind="appeal_update")  # never seen: no window
    api = StubAPI()
    assert drain_stub(outbox, api) == 1  # no templates configured
    detail = "outside the 48-hour window and no template configured (WECHAT_TEMPLATE_NOTICE)"
    item = outbox.get(message_id)
    assert (item.status, item.last_error, item.attempts, item.claim) == (STAFF, detail, 0, None)
    assert [(a["method"], a["ok"], a["errcode"], a["detail"]) for a in outbox.attempts(message_id)] == [
        ("none", 0, None, detail)
    ]
    assert api.sent == []
    assert f"Outbox {message_id} handed to staff: {detail}" in caplog.messages


# -- failures -----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["custom", "template"])
@pytest.mark.parametrize("errcode", PERMANENT)
def test_a_permanent_error_goes_to_staff_after_one_attempt(fake, db, caplog, errcode, method):
    clock = Clock()
    outbox = Outbox(db, clock=clock)
    if method == "custom":
        outbox.touch(OPENID, at=clock.now)
    message_id = outbox.enqueue(OPENID, "提醒", kind="notice")
    fake.fail_next(method, errcode)
    assert drain(outbox, fake, templates={"notice": "TPL_NOTICE"}) == 1
    error = f"WeChat API error {errcode}: injected failure"
    item = outbox.get(message_id)
    assert (item.status, item.last_error, item.claim) == (STAFF, error, None)
    assert [(a["method"], a["ok"], a["errcode"], a["detail"]) for a in outbox.attempts(message_id)] == [
        (method, 0, errcode, error)
    ]
    assert f"Outbox {message_id} handed to staff: {error}" in caplog.messages
    clock.now += 10 * HOUR
    assert drain(outbox, fake, templates={"notice": "TPL_NOTICE"}) == 0  # never retried
    assert fake.custom_messages == [] and fake.template_messages == []


@pytest.mark.parametrize("method", ["custom", "template"])
@pytest.mark.parametrize("errcode", [-1, 45009, 40001])  # system busy, API rate limit, token refused twice
def test_a_transient_error_is_retried_not_handed_to_staff(fake, db, errcode, method):
    clock = Clock()
    outbox = Outbox(db, clock=clock)
    if method == "custom":
        outbox.touch(OPENID, at=clock.now)
    message_id = outbox.enqueue(OPENID, "提醒", kind="notice")
    fake.fail_next(method, errcode, times=2 if errcode == 40001 else 1)  # on 40001 the token is refreshed once
    assert drain(outbox, fake, templates={"notice": "TPL_NOTICE"}) == 1
    item = outbox.get(message_id)
    assert (item.status, item.attempts, item.next_attempt_at) == (PENDING, 1, clock.now + 30)
    clock.now += 30
    assert drain(outbox, fake, templates={"notice": "TPL_NOTICE"}) == 1
    assert outbox.get(message_id).status == SENT


def test_transient_failures_back_off_exponentially_then_give_up(fake, db, caplog):
    clock = Clock()
    outbox = Outbox(db, clock=clock)
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
    assert delays == [10, 20, 40, 80]
    item = outbox.get(message_id)
    assert (item.status, item.attempts, item.last_error) == (FAILED, 4, "WeChat API error -1: injected failure")
    assert len(outbox.attempts(message_id)) == 4
    assert [record.message for record in caplog.records if record.levelname == "ERROR"] == [
        f"Outbox {message_id} gave up after 4 attempts: WeChat API error -1: injected failure"
    ]
    assert drain(outbox, fake, backoff_base=10, max_attempts=4) == 0


def test_default_backoff_30_s_doubling_to_an_hour_ten_attempts(db):
    outbox, clock = outbox_with_window_open(db)
    message_id = outbox.enqueue(OPENID, "提醒", kind="notice")
    api = StubAPI(*(WeChatAPIError(-1, "busy") for _ in range(10)))
    delays = []
    for _ in range(10):
        start = clock.now
        assert drain_stub(outbox, api) == 1
        item = outbox.get(message_id)
        delays.append(item.next_attempt_at - start)
        clock.now = item.next_attempt_at
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert (item.status, item.attempts) == (FAILED, 10)


def test_backoff_stops_growing_at_backoff_max(db):
    outbox, clock = outbox_with_window_open(db)
    message_id = outbox.enqueue(OPENID, "提醒", kind="notice")
    api = StubAPI(*(WeChatAPIError(-1, "busy") for _ in range(3)))
    delays = []
    for _ in range(3):
        start = clock.now
        drain_stub(outbox, api, backoff_base=10, backoff_max=25)
        delays.append(outbox.get(message_id).next_attempt_at - start)
        clock.now += 25
    assert delays == [10, 20, 25]


def test_a_drain_takes_at_most_20_messages_and_the_list_shows_50(db):
    outbox = Outbox(db)
    ids = [outbox.enqueue(OPENID, f"消息{number}", kind="notice") for number in range(51)]
    assert [item.id for item in outbox.list()] == ids[:0:-1]  # the newest 50
    assert drain_stub(outbox, StubAPI()) == 20
    assert drain_stub(outbox, StubAPI()) == 20
    assert drain_stub(outbox, StubAPI()) == 11


def test_long_outbox_message_is_split_and_resumes_where_it_failed(fake, db):
    clock = Clock()
    outbox = Outbox(db, clock=clock)
    outbox.touch(OPENID, at=clock.now)
    message_id = outbox.enqueue(OPENID, LONG_TEXT, kind="notice")
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
    item = outbox.get(message_id)
    assert (item.status, item.parts_sent) == (SENT, len(split_text(LONG_TEXT)))
    sent = [m["text"]["content"] for m in fake.custom_messages]
    assert sent == split_text(LONG_TEXT)  # every part exactly once, in order
