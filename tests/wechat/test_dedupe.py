"""The message ledger: one turn and one delivery per message across instances (real Redis,
real processes), expiry, and failing open when the store is down."""
from __future__ import annotations

import asyncio
import logging
import time

import pytest

from tests.wechat.processes import flushed, run_together
from wechat_adapter.dedupe import CUSTOMER_SERVICE, PASSIVE, MessageLedger, message_key
from wechat_adapter.store import MemoryStore, RedisStore

LOG = "wechat_adapter.dedupe"
PROCESSES = 4
CLIENTS = 8  # per process, each with its own Redis connection


def run(coroutine):
    return asyncio.run(coroutine)


# -- message_key ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, key",
    [
        ({"MsgId": "7001", "FromUserName": "o1", "CreateTime": "1700000000"}, "msg:7001"),
        ({"MsgID": "7002", "FromUserName": "o1"}, "msg:7002"),  # template-send receipts spell it MsgID
        ({"MsgId": "7003", "MsgID": "9999"}, "msg:7003"),
        (
            {"MsgId": "", "FromUserName": "o1", "CreateTime": "1700000000", "Event": "CLICK", "EventKey": "POLICY"},
            "event:o1:1700000000:CLICK:POLICY",
        ),
        ({"FromUserName": "o1", "CreateTime": "1700000000", "Event": "subscribe"}, "event:o1:1700000000:subscribe:"),
        ({}, "event::::"),
    ],
    ids=["msgid", "msgID", "msgid-first", "event", "event-without-key", "nothing"],
)
def test_message_key(fields, key):
    assert message_key(fields) == key


def test_two_events_of_one_user_in_one_second_are_two_messages():
    base = {"FromUserName": "o1", "CreateTime": "1700000000"}
    assert message_key({**base, "Event": "subscribe"}) != message_key({**base, "Event": "CLICK", "EventKey": "POLICY"})
    assert message_key({**base, "Event": "CLICK", "EventKey": "A"}) != message_key({**base, "Event": "CLICK", "EventKey": "B"})


# -- many instances at once against a real Redis ------------------------------------------------


async def contend(ready, url: str, key: str, name: str) -> tuple[list[bool], list[str], list[bool]]:
    """CLIENTS ledgers, each on its own connection, claim the same message at once."""
    stores = [RedisStore.from_url(url) for _ in range(CLIENTS)]
    await asyncio.gather(*(store.client.ping() for store in stores))  # connected before the start
    ledgers = [MessageLedger(store) for store in stores]
    ready()
    try:
        turns = await asyncio.gather(*(ledger.claim_turn(key) for ledger in ledgers))
        methods = await asyncio.gather(
            *(ledger.claim_delivery(key, f"{name}-{number}") for number, ledger in enumerate(ledgers))
        )
        overflows = await asyncio.gather(*(ledger.claim_overflow(key) for ledger in ledgers))
        return list(turns), list(methods), list(overflows)
    finally:
        for store in stores:
            await store.client.close()


def test_one_turn_and_one_delivery_per_message_across_instances(real_redis):
    url = flushed(real_redis)
    results = run_together(contend, [(url, "msg:7001", f"p{number}") for number in range(PROCESSES)])
    turns, methods, overflows = ([value for result in results for value in result[part]] for part in range(3))
    contenders = {f"p{p}-{c}" for p in range(PROCESSES) for c in range(CLIENTS)}
    assert len(turns) == len(overflows) == PROCESSES * CLIENTS
    assert turns.count(True) == 1
    assert overflows.count(True) == 1  # the parts after the first passive one go out once
    # Every contender asked for its own method; exactly one won and all others were told its.
    winner = methods[0]
    assert winner in contenders and methods == [winner] * len(contenders)

    async def afterwards() -> tuple[bool, str, bool, int, int]:
        store = RedisStore.from_url(url)
        ledger = MessageLedger(store)
        result = (
            await ledger.claim_turn("msg:7001"),
            await ledger.claim_delivery("msg:7001", "late"),
            await ledger.claim_overflow("msg:7001"),
            await store.client.pttl("wechat:turn:msg:7001"),
            await store.client.pttl("wechat:delivery:msg:7001"),
        )
        await store.client.close()
        return result

    late_turn, late_method, late_overflow, turn_ttl, delivery_ttl = run(afterwards())
    assert (late_turn, late_method, late_overflow) == (False, winner, False)
    assert 590_000 < turn_ttl <= 600_000 and 590_000 < delivery_ttl <= 600_000


# -- expiry and the stored answer ---------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_claims_hold_for_the_ttl_and_then_expire():
    clock = Clock()
    ledger = MessageLedger(MemoryStore(clock), ttl=600)

    def claims(how: str) -> tuple:
        return (
            run(ledger.claim_turn("k")),
            run(ledger.claim_delivery("k", how)),
            run(ledger.claim_overflow("k")),
        )

    assert claims(CUSTOMER_SERVICE) == (True, CUSTOMER_SERVICE, True)
    run(ledger.save_answer("k", ["答复"]))
    clock.now += 599.9
    assert claims(PASSIVE) == (False, CUSTOMER_SERVICE, False)
    assert run(ledger.answer("k")) == ["答复"]
    clock.now += 0.1  # 600 s: all of it expired
    assert run(ledger.answer("k")) is None
    assert claims(PASSIVE) == (True, PASSIVE, True)


def test_claims_of_different_messages_are_independent():
    ledger = MessageLedger(MemoryStore())
    assert run(ledger.claim_turn("a")) and run(ledger.claim_turn("b"))
    assert run(ledger.claim_delivery("a", PASSIVE)) == PASSIVE
    assert run(ledger.claim_delivery("b", CUSTOMER_SERVICE)) == CUSTOMER_SERVICE
    assert run(ledger.claim_overflow("a")) and run(ledger.claim_overflow("b"))


def test_the_answer_is_stored_as_readable_json():
    store = MemoryStore()
    ledger = MessageLedger(store)
    run(ledger.save_answer("k", ["您好", "第二段"]))
    assert run(store.get("wechat:answer:k")) == '["您好", "第二段"]'
    assert run(ledger.answer("k")) == ["您好", "第二段"]


def test_a_delivery_claim_whose_key_vanished_keeps_its_own_method():
    class LostKey(MemoryStore):
        """The winner's claim expired between our SET NX and our GET."""

        async def add(self, key: str, value: str, ttl: float) -> bool:
            return False

    assert run(MessageLedger(LostKey()).claim_delivery("k", PASSIVE)) == PASSIVE


def test_a_retry_waits_for_the_answer_of_the_running_turn():
    ledger = MessageLedger(MemoryStore(), poll_interval=0.02)

    async def scenario() -> tuple[list[str] | None, float]:
        async def finish_turn() -> None:
            await asyncio.sleep(0.15)
            await ledger.save_answer("k", [])  # an empty answer is an answer too

        started = time.monotonic()
        finisher = asyncio.create_task(finish_turn())
        parts = await asyncio.wait_for(ledger.wait_for_answer("k", time.monotonic() + 2), 3)
        await finisher
        return parts, time.monotonic() - started

    parts, waited = run(scenario())
    assert parts == []
    assert 0.15 <= waited < 1


def test_a_retry_sees_the_answer_soon_by_default():
    ledger = MessageLedger(MemoryStore())

    async def scenario() -> float:
        waiter = asyncio.create_task(ledger.wait_for_answer("k", time.monotonic() + 2))
        await asyncio.sleep(0.1)
        await ledger.save_answer("k", ["答复"])
        saved = time.monotonic()
        assert await asyncio.wait_for(waiter, 3) == ["答复"]
        return time.monotonic() - saved

    assert run(scenario()) < 0.5  # a poll interval of a second would show


def test_waiting_for_an_answer_gives_up_at_the_deadline():
    ledger = MessageLedger(MemoryStore(), poll_interval=5)

    async def scenario() -> tuple[list[str] | None, float]:
        started = time.monotonic()
        parts = await asyncio.wait_for(ledger.wait_for_answer("k", started + 0.2), 3)
        return parts, time.monotonic() - started

    parts, waited = run(scenario())
    assert parts is None
    assert 0.2 <= waited < 1  # the last sleep is cut to the deadline, not a full poll interval


# -- the store is down: fail open -----------------------------------------------------------------


class DownStore:
    async def fail(self, *arguments):
        raise ConnectionError("Redis is down")

    add = get = put = fail


@pytest.mark.parametrize(
    "call, result, message",
    [
        (lambda ledger: ledger.claim_turn("k"), True, "Dedupe store unavailable; processing k without dedupe"),
        (lambda ledger: ledger.save_answer("k", ["答"]), None, "Could not store the answer of k for WeChat retries"),
        (lambda ledger: ledger.answer("k"), None, "Dedupe store unavailable while a retry of k waits"),
        (lambda ledger: ledger.claim_delivery("k", PASSIVE), PASSIVE, "Dedupe store unavailable; delivering k passive"),
        (lambda ledger: ledger.claim_overflow("k"), True, "Dedupe store unavailable; sending the rest of k"),
    ],
    ids=["claim_turn", "save_answer", "answer", "claim_delivery", "claim_overflow"],
)
def test_a_store_outage_fails_open(call, result, message, caplog):
    with caplog.at_level(logging.ERROR, logger=LOG):
        assert run(call(MessageLedger(DownStore()))) == result
    assert [(record.levelname, record.getMessage()) for record in caplog.records] == [("ERROR", message)]
    assert caplog.records[0].exc_info[0] is ConnectionError


def test_a_delivery_claim_fails_open_when_reading_the_winner_fails(caplog):
    class ReadDown(MemoryStore):
        async def get(self, key: str) -> str | None:
            raise ConnectionError("Redis is down")

    store = ReadDown()
    run(store.add("wechat:delivery:k", PASSIVE, 60))
    with caplog.at_level(logging.ERROR, logger=LOG):
        assert run(MessageLedger(store).claim_delivery("k", CUSTOMER_SERVICE)) == CUSTOMER_SERVICE
    assert [record.getMessage() for record in caplog.records] == ["Dedupe store unavailable; delivering k cs"]
