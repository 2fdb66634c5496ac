"""TurnRunner on its own: one turn per message, passive reply within the deadline, otherwise one
customer-service delivery (never both). Real ledger and option memory on a MemoryStore, the bots
from tests/wechat/bots.py, and a courier that records what it would send. Timings are tenths of
a second so the whole file runs in a few seconds (mutation testing runs it once per mutant)."""
from __future__ import annotations

import asyncio
import time

import pytest

from tests.wechat.bots import ButtonsBot, EchoBot, RaisingBot, SilentBot
from wechat_adapter.dedupe import MessageLedger
from wechat_adapter.replies import OptionMemory
from wechat_adapter.store import MemoryStore
from vetbot.rest_channel import apology
from wechat_adapter.turns import TurnRunner

OPENID = "oPinghuVeteran0003"
METADATA = {"wechat": {"msg_type": "text", "event": None}}
# uvloop (installed by Sanic when the channel tests run first) rounds timers to the millisecond,
# so a sleep can end up to 1 ms before the exact monotonic time.
TIMER_SLACK = 0.002


class RecordingCourier:
    """Stands in for CustomerServiceCourier: records each send and when it happened."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str]]] = []
        self.sent_at: list[float] = []

    async def send(self, openid: str, parts: list[str]) -> bool:
        self.sent.append((openid, list(parts)))
        self.sent_at.append(time.monotonic())
        return True


class TimedBot(EchoBot):
    """EchoBot that also records when each turn finished."""

    def __init__(self, delay: float = 0.0, answer=None) -> None:
        super().__init__(delay, answer)
        self.finished_at: list[float] = []

    async def __call__(self, message) -> None:
        await super().__call__(message)
        self.finished_at.append(time.monotonic())


def make_runner(bot, **timing) -> TurnRunner:
    store = MemoryStore()
    timing.setdefault("overflow_delay", 0.05)
    return TurnRunner(bot, MessageLedger(store, poll_interval=0.01), OptionMemory(store), RecordingCourier(), **timing)


def handle(runner: TurnRunner, text: str, budget: float, key: str = "msg:1", from_user: bool = True):
    """The channel's call for one delivery of message `key`, answering within `budget` seconds."""
    return runner.handle(key, OPENID, text, from_user, "1", time.monotonic() + budget, METADATA)


def test_apology_gives_the_hotline(monkeypatch):
    monkeypatch.setenv("VETBOT_HOTLINE", "0573-85000000")
    assert apology() == "抱歉，系统暂时出了点问题，刚才的内容没有办成，请您稍后再发一次。着急的话请拨打服务热线：0573-85000000。"


def test_fast_turn_is_the_passive_reply():
    async def scenario():
        bot = EchoBot()
        runner = make_runner(bot)
        assert await handle(runner, "优待证怎么办", budget=1.0) == "收到：优待证怎么办"
        await runner.wait_idle(2)
        [message] = bot.messages
        assert (message.text, message.sender_id, message.message_id) == ("优待证怎么办", OPENID, "1")
        assert (message.input_channel, message.output_channel.name()) == ("wechat", "wechat")
        assert message.metadata == METADATA
        assert runner.courier.sent == []

    asyncio.run(scenario())


def test_numbers_resolve_to_the_last_options_for_user_messages_only():
    async def scenario():
        bot = ButtonsBot()
        runner = make_runner(bot)
        assert (await handle(runner, "你好", 1.0, key="msg:1")).endswith("3 反映诉求\n4 转人工")
        assert await handle(runner, "2", 1.0, key="msg:2") == "意图：/book_service"
        await handle(runner, "你好", 1.0, key="msg:3")
        # An event's text is never a numbered answer.
        await handle(runner, "2", 1.0, key="event:x", from_user=False)
        assert bot.texts == ["你好", "/book_service", "你好", "2"]

    asyncio.run(scenario())


def test_failed_or_silent_user_turn_is_an_apology(monkeypatch):
    monkeypatch.setenv("VETBOT_HOTLINE", "0573-85000000")

    async def scenario():
        assert await handle(make_runner(RaisingBot()), "你好", 1.0) == apology()
        assert await handle(make_runner(SilentBot()), "你好", 1.0) == apology()

    asyncio.run(scenario())


def test_silent_event_sends_nothing_now_or_later():
    async def scenario():
        fast = make_runner(SilentBot())
        assert await handle(fast, "/greet", 1.0, from_user=False) is None
        slow = make_runner(SilentBot(delay=0.1))
        assert await handle(slow, "/greet", 0.02, from_user=False) is None
        await slow.wait_idle(2)
        # A retry finds the empty answer and has nothing to carry either.
        assert await handle(slow, "/greet", 0.1, from_user=False) is None
        assert fast.courier.sent == slow.courier.sent == []

    asyncio.run(scenario())


FIRST, SECOND = "优" * 500, "待" * 500  # 1500 bytes each: an answer of two parts (at most 2048 bytes)


def two_parts(text: str) -> str:
    return f"{FIRST}\n{SECOND}"


def test_long_answer_overflow_goes_out_once_after_the_passive_part():
    overflow_delay = 0.1

    async def scenario():
        runner = make_runner(EchoBot(answer=two_parts), overflow_delay=overflow_delay)
        asked_at = time.monotonic()
        assert await handle(runner, "优待证", 1.0, key="msg:1") == FIRST
        # WeChat did not get our reply and retries: same passive part, the overflow is not repeated.
        assert await handle(runner, "优待证", 1.0, key="msg:1") == FIRST
        await runner.wait_idle(2)
        assert runner.courier.sent == [(OPENID, [SECOND])]
        assert runner.courier.sent_at[0] - asked_at >= overflow_delay - TIMER_SLACK
        # Another message has its own overflow.
        assert await handle(runner, "评残", 1.0, key="msg:2") == FIRST
        await runner.wait_idle(2)
        assert runner.courier.sent == [(OPENID, [SECOND]), (OPENID, [SECOND])]

    asyncio.run(scenario())


def test_retry_carrying_a_long_answer_also_sends_its_overflow():
    async def scenario():
        runner = make_runner(EchoBot(delay=0.2, answer=two_parts))
        assert await handle(runner, "优待证", 0.05) is None
        assert await handle(runner, "优待证", 1.0) == FIRST
        await runner.wait_idle(2)
        assert runner.courier.sent == [(OPENID, [SECOND])]

    asyncio.run(scenario())


def test_single_part_answer_has_no_overflow():
    async def scenario():
        runner = make_runner(EchoBot())
        assert await handle(runner, "你好", 1.0) == "收到：你好"
        await runner.wait_idle(2)
        assert runner.courier.sent == []

    asyncio.run(scenario())


def test_slow_turn_answers_success_then_sends_after_the_handoff_grace():
    async def scenario():
        bot = TimedBot(delay=0.3)
        runner = make_runner(bot)  # default handoff grace: 0.2 s
        assert await handle(runner, "评残要带什么材料", 0.1) is None  # "success", not the answer
        await runner.wait_idle(2)
        assert runner.courier.sent == [(OPENID, ["收到：评残要带什么材料"])]
        grace = runner.courier.sent_at[0] - bot.finished_at[0]
        assert 0.2 - TIMER_SLACK <= grace < 0.7
        assert bot.turns == 1

    asyncio.run(scenario())


def test_a_deadline_already_past_does_not_wait_for_the_turn():
    async def scenario():
        runner = make_runner(EchoBot(delay=0.05))
        assert await handle(runner, "你好", -1.0) is None
        await runner.wait_idle(2)
        assert runner.courier.sent == [(OPENID, ["收到：你好"])]

    asyncio.run(scenario())


def test_retry_during_a_slow_turn_carries_the_answer_passively_and_nothing_is_sent():
    async def scenario():
        bot = EchoBot(delay=0.3)
        runner = make_runner(bot)
        assert await handle(runner, "优待证", 0.1) is None
        # WeChat's retry arrives while the turn still runs and the answer is ready in its budget.
        assert await handle(runner, "优待证", 1.0) == "收到：优待证"
        await runner.wait_idle(2)
        assert runner.courier.sent == []
        assert bot.turns == 1

    asyncio.run(scenario())


def test_retry_that_runs_out_of_time_answers_success_and_the_answer_is_sent_once():
    async def scenario():
        bot = EchoBot(delay=0.3)
        runner = make_runner(bot)
        assert await handle(runner, "优待证", 0.05) is None
        assert await handle(runner, "优待证", 0.05) is None
        await runner.wait_idle(2)
        assert runner.courier.sent == [(OPENID, ["收到：优待证"])]
        # A retry after the customer-service message went out must not repeat it passively.
        assert await handle(runner, "优待证", 0.05) is None
        assert bot.turns == 1

    asyncio.run(scenario())


def test_hung_up_request_still_gets_its_answer_later():
    async def scenario():
        runner = make_runner(EchoBot(delay=0.1))
        request = asyncio.create_task(handle(runner, "你好", 5.0))
        await asyncio.sleep(0.02)
        request.cancel()  # WeChat closed the connection: Sanic cancels the handler
        with pytest.raises(asyncio.CancelledError):
            await request
        await runner.wait_idle(2)
        assert runner.courier.sent == [(OPENID, ["收到：你好"])]

    asyncio.run(scenario())


def test_hung_up_request_and_its_retry_deliver_once():
    async def scenario():
        runner = make_runner(EchoBot(delay=0.1))
        request = asyncio.create_task(handle(runner, "你好", 5.0))
        await asyncio.sleep(0.02)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        assert await handle(runner, "你好", 1.0) == "收到：你好"  # WeChat's retry takes it passively
        await runner.wait_idle(2)
        assert runner.courier.sent == []

    asyncio.run(scenario())


def test_wait_idle_returns_once_background_work_is_done():
    async def scenario():
        runner = make_runner(EchoBot(delay=0.1))
        assert await handle(runner, "你好", 0.0) is None
        started = time.monotonic()
        await runner.wait_idle(2)
        assert runner.courier.sent == [(OPENID, ["收到：你好"])]
        assert time.monotonic() - started < 1.0

    asyncio.run(scenario())


def test_wait_idle_gives_up_at_its_timeout():
    async def scenario():
        runner = make_runner(EchoBot(delay=2))
        assert await handle(runner, "你好", 0.0) is None
        started = time.monotonic()
        await runner.wait_idle(0.2)
        assert 0.2 - TIMER_SLACK <= time.monotonic() - started < 0.6
        assert runner.courier.sent == []

    asyncio.run(scenario())
