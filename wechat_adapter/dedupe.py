"""Process each WeChat message once, across WeChat's retries and across instances.

For every message key (MsgId, or FromUserName+CreateTime for events) the ledger records:
  turn:<key>      who runs the Rasa turn (SET NX: the first delivery wins, retries do not)
  answer:<key>    the finished answer, so a retry can carry it passively
  delivery:<key>  "passive" or "cs" (SET NX): an answer goes out passively OR through the
                  customer-service API, never both
  overflow:<key>  parts beyond the first passive one are sent once, even if a retry repeats
                  the passive reply
"""
from __future__ import annotations

import asyncio
import json
import logging
import time

from wechat_adapter.store import KeyValueStore

logger = logging.getLogger(__name__)

PASSIVE = "passive"
CUSTOMER_SERVICE = "cs"


def message_key(fields: dict[str, str]) -> str:
    """WeChat's dedupe rule: MsgId for messages, FromUserName+CreateTime for events.

    Event and EventKey are added because a retry repeats them too, while two different events
    of one user in the same second (subscribe, then a menu tap) must not collapse into one.
    """
    msg_id = fields.get("MsgId") or fields.get("MsgID")
    if msg_id:
        return f"msg:{msg_id}"
    parts = (fields.get(name, "") for name in ("FromUserName", "CreateTime", "Event", "EventKey"))
    return "event:" + ":".join(parts)


class MessageLedger:
    """If the store is down (Redis outage) the ledger fails open: veterans still get answers,
    at the risk of a duplicate turn on a WeChat retry."""

    def __init__(self, store: KeyValueStore, ttl: float = 600, poll_interval: float = 0.05) -> None:
        self.store = store
        self.ttl = ttl
        self.poll_interval = poll_interval

    async def claim_turn(self, key: str) -> bool:
        try:
            return await self.store.add(f"wechat:turn:{key}", str(time.time()), self.ttl)
        except Exception:
            logger.exception("Dedupe store unavailable; processing %s without dedupe", key)
            return True

    async def save_answer(self, key: str, parts: list[str]) -> None:
        try:
            await self.store.put(f"wechat:answer:{key}", json.dumps(parts, ensure_ascii=False), self.ttl)
        except Exception:
            logger.exception("Could not store the answer of %s for WeChat retries", key)

    async def answer(self, key: str) -> list[str] | None:
        try:
            raw = await self.store.get(f"wechat:answer:{key}")
        except Exception:
            logger.exception("Dedupe store unavailable while a retry of %s waits", key)
            return None
        return None if raw is None else json.loads(raw)

    async def wait_for_answer(self, key: str, deadline: float) -> list[str] | None:
        """Poll until the turn that owns this message stored its answer, or the deadline."""
        while True:
            parts = await self.answer(key)
            if parts is not None or time.monotonic() >= deadline:
                return parts
            await asyncio.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))

    async def claim_delivery(self, key: str, how: str) -> str:
        """Return how the answer is delivered: `how` if we won, else whatever won before."""
        try:
            if await self.store.add(f"wechat:delivery:{key}", how, self.ttl):
                return how
            return await self.store.get(f"wechat:delivery:{key}") or how
        except Exception:
            logger.exception("Dedupe store unavailable; delivering %s %s", key, how)
            return how

    async def claim_overflow(self, key: str) -> bool:
        try:
            return await self.store.add(f"wechat:overflow:{key}", "1", self.ttl)
        except Exception:
            logger.exception("Dedupe store unavailable; sending the rest of %s", key)
            return True
