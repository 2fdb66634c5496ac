"""One Rasa turn per WeChat message, answered passively when it is fast enough.

WeChat waits 5 s for the HTTP answer and otherwise retries (same MsgId, three tries). So:
  * the first delivery claims the message and starts the turn; later deliveries never do;
  * if the turn finishes within the budget the answer is the passive reply;
  * otherwise we answer "success" at once and the finished answer goes out through the
    customer-service API, unless a retry picked it up passively first (never both).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from console import handover
from vetbot.rest_channel import apology  # one apology for every channel
from wechat_adapter.dedupe import CUSTOMER_SERVICE, PASSIVE, MessageLedger
from wechat_adapter.delivery import CustomerServiceCourier
from wechat_adapter.replies import OptionMemory, format_turn, split_text

logger = logging.getLogger(__name__)

CHANNEL_NAME = "wechat"




class WeChatCollector(CollectingOutputChannel):
    """Collects the bot's messages; named "wechat" so channel-specific responses apply."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME


class TurnRunner:
    def __init__(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        ledger: MessageLedger,
        options: OptionMemory,
        courier: CustomerServiceCourier,
        overflow_delay: float,
        handoff_grace: float = 0.2,
        held_by_person: Callable[[str], bool] = handover.held_by_person,
        open_for_person: Callable[[str, str, str], Any] = handover.open_for_person,
    ) -> None:
        self.on_new_message = on_new_message
        self.ledger = ledger
        self.options = options
        self.courier = courier
        self.overflow_delay = overflow_delay
        # After a late turn finishes, give a waiting retry this long to take the answer
        # passively before we use the customer-service API.
        self.handoff_grace = handoff_grace
        # A staff member holding the conversation means the bot says nothing at all; a bot that
        # fails opens the conversation for a person (console/handover.py).
        self.held_by_person = held_by_person
        self.open_for_person = open_for_person
        self._background: set[asyncio.Task] = set()

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def wait_idle(self, timeout: float) -> None:
        """Wait for background turns and deliveries (tests, shutdown), at most `timeout` seconds."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle(), timeout)

    async def _idle(self) -> None:
        # Work spawned while we wait (a late delivery, an overflow) is waited for too.
        while self._background:
            await asyncio.wait(set(self._background))

    async def handle(
        self,
        key: str,
        openid: str,
        text: str,
        from_user: bool,
        message_id: str,
        deadline: float,
        metadata: dict | None = None,
    ) -> str | None:
        """Return the passive reply text, or None to answer "success"."""
        if not await self.ledger.claim_turn(key):
            logger.info("WeChat retry/duplicate of %s: not starting another turn", key)
            return await self._passive(key, openid, await self.ledger.wait_for_answer(key, deadline))

        turn = self._spawn(self._run_turn(key, openid, text, from_user, message_id, metadata))
        try:
            done, _ = await asyncio.wait({turn}, timeout=max(0.0, deadline - time.monotonic()))
        except asyncio.CancelledError:
            # WeChat hung up (its 5 s passed): deliver the answer later instead.
            self._spawn(self._deliver_late(key, openid, turn))
            raise
        if done:
            return await self._passive(key, openid, turn.result())
        logger.info("WeChat turn %s is slow: answering 'success' now, customer-service message later", key)
        self._spawn(self._deliver_late(key, openid, turn))
        return None

    async def _run_turn(
        self, key: str, openid: str, text: str, from_user: bool, message_id: str, metadata: dict | None
    ) -> list[str]:
        started = time.monotonic()
        try:
            if from_user:
                text = await self.options.resolve(openid, text)
            collector = WeChatCollector()
            await self.on_new_message(
                UserMessage(
                    text,
                    collector,
                    openid,
                    input_channel=CHANNEL_NAME,
                    message_id=message_id,
                    metadata=metadata,
                )
            )
            formatted = format_turn(collector.messages)
            await self.options.remember(openid, formatted.option_payloads)
            answer = formatted.text
            if from_user and not answer:
                # Paused for a person: silence. Otherwise Rasa swallowed a failed custom action and
                # answered nothing: the veteran must still hear something, and staff take over.
                answer = await self._no_answer(key, openid, "机器人没有回答（可能出错了）")
        except Exception:
            logger.exception("Rasa turn for WeChat message %s failed", key)
            answer = await self._no_answer(key, openid, "机器人出错了")
        parts = split_text(answer)  # [] for an empty answer
        await self.ledger.save_answer(key, parts)
        logger.info("WeChat turn %s took %.2fs (%d part(s))", key, time.monotonic() - started, len(parts))
        return parts

    async def is_held(self, openid: str) -> bool:
        try:
            return await asyncio.to_thread(self.held_by_person, openid)
        except Exception:
            logger.exception("Could not tell whether staff hold %s", openid)
            return False

    async def _no_answer(self, key: str, openid: str, reason: str) -> str:
        if await self.is_held(openid):
            logger.info("WeChat message %s: a staff member holds the conversation, the bot stays silent", key)
            return ""
        logger.warning("No bot reply to WeChat message %s: told to try again, opened for a person", key)
        try:
            await asyncio.to_thread(self.open_for_person, openid, CHANNEL_NAME, reason)
        except Exception:
            logger.exception("Could not open %s for a person", openid)
        return apology()

    async def _passive(self, key: str, openid: str, parts: list[str] | None) -> str | None:
        if not parts:
            return None
        if await self.ledger.claim_delivery(key, PASSIVE) != PASSIVE:
            return None  # already went out through the customer-service API
        if len(parts) > 1 and await self.ledger.claim_overflow(key):
            self._spawn(self._send_overflow(openid, parts[1:]))
        return parts[0]

    async def _send_overflow(self, openid: str, parts: list[str]) -> None:
        # Let the passive reply reach the veteran first so the parts arrive in order.
        await asyncio.sleep(self.overflow_delay)
        await self.courier.send(openid, parts)

    async def _deliver_late(self, key: str, openid: str, turn: asyncio.Task) -> None:
        parts = await turn
        if not parts:
            return
        await asyncio.sleep(self.handoff_grace)
        if await self.ledger.claim_delivery(key, CUSTOMER_SERVICE) == CUSTOMER_SERVICE:
            await self.courier.send(openid, parts)
        else:
            logger.info("Answer to %s went out passively on a WeChat retry", key)
