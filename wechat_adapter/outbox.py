"""Durable outbox for messages the bureau pushes to veterans (reminders, appeal updates,
answers that could not be delivered in the conversation).

Usage from anywhere (action server, cron, the channel):

    from wechat_adapter.outbox import enqueue
    enqueue(openid, "您预约的评残代办在明天上午9点。", kind="booking_reminder")

A sender (the channel's background task or `vetbot wechat outbox send`) drains it:
inside WeChat's 48-hour window after the veteran's last message it uses the customer-service
API, otherwise a template message (WECHAT_TEMPLATE_<KIND> or WECHAT_TEMPLATE_NOTICE); with no
template the message is handed to staff (status "staff"). Failures back off exponentially.
Every attempt is a row in `outbox_attempt`. The tables are on the shared storage (vetbot/storage,
wechat_adapter/models.py), so every instance sees the same queue and the same 48-hour windows.

A sender claims messages under a lease and a claim token. If its process dies the lease expires
and another sender claims the message again (at-least-once: nothing is lost); the abandoned
attempt counts, so a message that kills every sender still ends up `failed`. A sender renews its
lease before each part it sends, and every write it makes is conditional on its token: one that
stalled past its lease finds the message reclaimed and stops (`LeaseLost`) instead of sending the
parts again. The lease (120 s) is far above the API timeout (10 s), so a part in flight is
answered or times out before its lease can run out.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.engine import Engine

from vetbot.settings import settings
from vetbot.storage import get_engine
from wechat_adapter.api import (
    CUSTOMER_SERVICE_QUOTA,
    OUTSIDE_48H_WINDOW,
    WeChatAPI,
    WeChatAPIError,
)
from wechat_adapter.models import (
    FAILED, PENDING, SENDING, SENT, STAFF, LastSeen, OutboxAttempt, OutboxMessage, insert_message,
    upsert,
)
from wechat_adapter.replies import split_text

logger = logging.getLogger(__name__)

__all__ = ["FAILED", "PENDING", "SENDING", "SENT", "STAFF", "LeaseLost", "Outbox", "OutboxItem",
           "OutboxSender", "enqueue", "insert_message", "template_payload"]

# WeChat allows customer-service messages for 48 h after the user's last interaction; keep a margin.
CUSTOMER_SERVICE_WINDOW = 48 * 3600 - 600
# Errors that no retry will fix: hand the message to staff.
PERMANENT_ERRORS = {40003, 40037, 43004, 43101, 47003}

ATTEMPTS, LAST_SEEN = OutboxAttempt.__table__, LastSeen.__table__
MESSAGES = OutboxMessage.__table__


@dataclass
class OutboxItem:
    id: int
    openid: str
    text: str
    kind: str
    template_data: dict | None
    via: str
    status: str
    attempts: int
    parts_sent: int
    next_attempt_at: float
    created_at: float
    sent_via: str | None
    last_error: str | None
    claim: str | None  # the token of the sender holding the lease, None when nobody does

    @classmethod
    def from_row(cls, row) -> "OutboxItem":
        values = {field.name: row._mapping[field.name] for field in fields(cls)}
        if values["template_data"]:
            values["template_data"] = json.loads(values["template_data"])
        return cls(**values)


class LeaseLost(Exception):
    """The sender's claim on a message is gone (its lease expired and another sender took it)."""


class Outbox:
    """The outbox tables on the shared storage (vetbot/storage: SQLite by default, PostgreSQL by
    $VETBOT_DATABASE_URL), migrated by `vetbot db upgrade`. Every method is a short transaction.

    `database` is a URL or a SQLite file's path; default: the shared database."""

    def __init__(self, database: str | Path | None = None, clock=time.time) -> None:
        url = f"sqlite:///{database}" if isinstance(database, Path) else database
        self.engine: Engine = get_engine(url)
        self.clock = clock

    # -- producers -------------------------------------------------------------------------
    def enqueue(
        self,
        openid: str,
        text: str,
        kind: str,
        template_data: dict | None = None,
        via: str = "auto",
        dedupe_key: str | None = None,
    ) -> int:
        with self.engine.begin() as connection:
            message_id, _ = insert_message(connection, openid, text, kind, template_data=template_data,
                                           via=via, dedupe_key=dedupe_key, now=self.clock())
        return message_id

    def touch(self, openid: str, at: float | None = None) -> None:
        """Record that the veteran just interacted (opens the 48-hour window)."""
        seen_at = self.clock() if at is None else at
        with self.engine.begin() as connection:
            connection.execute(
                upsert(connection)(LAST_SEEN).values(openid=openid, seen_at=seen_at)
                .on_conflict_do_update(index_elements=["openid"], set_={"seen_at": seen_at}))

    def last_seen(self, openid: str) -> float | None:
        with self.engine.begin() as connection:
            return connection.execute(
                select(LAST_SEEN.c.seen_at).where(LAST_SEEN.c.openid == openid)).scalar_one_or_none()

    # -- sender side -----------------------------------------------------------------------
    def claim_due(self, limit: int, lease: float) -> list[OutboxItem]:
        """Take due messages (and ones whose lease expired) under a lease and a fresh claim token.
        Atomic on both backends: SQLite's transaction holds the write lock from its start (BEGIN
        IMMEDIATE, see vetbot/storage/engine.py); PostgreSQL locks the rows it reads, and a
        concurrent claim skips them (FOR UPDATE SKIP LOCKED)."""
        now = self.clock()
        claim = uuid.uuid4().hex
        due = or_(and_(MESSAGES.c.status == PENDING, MESSAGES.c.next_attempt_at <= now),
                  and_(MESSAGES.c.status == SENDING, MESSAGES.c.lease_until <= now))
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(MESSAGES).where(due).order_by(MESSAGES.c.id).limit(limit)
                .with_for_update(skip_locked=True)).fetchall()
            items = []
            for row in rows:
                item = OutboxItem.from_row(row)
                # A lease that expired is an attempt its sender never finished (it died or stalled): it counts.
                attempts = item.attempts + (item.status == SENDING)
                items.append(replace(item, status=SENDING, attempts=attempts, claim=claim))
            if items:
                connection.execute(
                    update(MESSAGES).where(MESSAGES.c.id == bindparam("item_id")).values(
                        status=SENDING, attempts=bindparam("item_attempts"), claim=claim,
                        lease_until=now + lease, updated_at=now),
                    [{"item_id": item.id, "item_attempts": item.attempts} for item in items])
        return items

    def _update_claimed(self, item: OutboxItem, **values) -> None:
        """UPDATE the item's row only while the item's claim still holds it, else raise LeaseLost."""
        with self.engine.begin() as connection:
            result = connection.execute(
                update(MESSAGES).where(MESSAGES.c.id == item.id, MESSAGES.c.claim == item.claim)
                .values(**values, updated_at=self.clock()))
            if result.rowcount != 1:
                raise LeaseLost(f"outbox {item.id} is no longer held by claim {item.claim}")

    def renew(self, item: OutboxItem, lease: float) -> None:
        self._update_claimed(item, lease_until=self.clock() + lease)

    def log_attempt(self, outbox_id: int, method: str, ok: bool, errcode: int | None = None, detail: str = "") -> None:
        with self.engine.begin() as connection:
            connection.execute(ATTEMPTS.insert().values(
                outbox_id=outbox_id, attempted_at=self.clock(), method=method, ok=ok, errcode=errcode,
                detail=detail[:500]))

    def record_parts_sent(self, item: OutboxItem, parts_sent: int) -> None:
        self._update_claimed(item, parts_sent=parts_sent)

    def mark_sent(self, item: OutboxItem, method: str) -> None:
        self._update_claimed(item, status=SENT, sent_via=method, claim=None, lease_until=None)

    def mark_final(self, item: OutboxItem, status: str, error: str) -> None:
        self._update_claimed(item, status=status, last_error=error, claim=None, lease_until=None)

    def mark_retry(self, item: OutboxItem, error: str, delay: float, max_attempts: int) -> str:
        attempts = item.attempts + 1
        status = FAILED if attempts >= max_attempts else PENDING
        self._update_claimed(item, status=status, attempts=attempts, next_attempt_at=self.clock() + delay,
                             last_error=error, claim=None, lease_until=None)
        return status

    # -- staff / CLI -------------------------------------------------------------------------
    def list(self, status: str | None = None, limit: int = 50) -> list[OutboxItem]:
        query = select(MESSAGES).order_by(MESSAGES.c.id.desc()).limit(limit)
        if status:
            query = query.where(MESSAGES.c.status == status)
        with self.engine.begin() as connection:
            return [OutboxItem.from_row(row) for row in connection.execute(query)]

    def get(self, outbox_id: int) -> OutboxItem | None:
        with self.engine.begin() as connection:
            row = connection.execute(select(MESSAGES).where(MESSAGES.c.id == outbox_id)).first()
        return OutboxItem.from_row(row) if row else None

    def attempts(self, outbox_id: int) -> list[dict[str, Any]]:
        with self.engine.begin() as connection:
            rows = connection.execute(
                select(ATTEMPTS).where(ATTEMPTS.c.outbox_id == outbox_id).order_by(ATTEMPTS.c.id))
            return [dict(row._mapping) for row in rows]

    def retry(self, outbox_id: int | None = None, statuses: tuple[str, ...] = (FAILED, STAFF)) -> int:
        """Put failed (or staff) messages back in the queue, now."""
        now = self.clock()
        query = update(MESSAGES).where(MESSAGES.c.status.in_(statuses)).values(
            status=PENDING, attempts=0, next_attempt_at=now, updated_at=now)
        if outbox_id is not None:
            query = query.where(MESSAGES.c.id == outbox_id)
        with self.engine.begin() as connection:
            return connection.execute(query).rowcount


def enqueue(openid: str, text: str, kind: str, template_data: dict | None = None, via: str = "auto",
            dedupe_key: str | None = None) -> int:
    """Queue a message for a veteran in the shared database's outbox; with a `dedupe_key` that is
    already queued, nothing is added and the existing message's id is returned."""
    return Outbox().enqueue(openid, text, kind, template_data, via, dedupe_key)


def template_payload(item: OutboxItem) -> dict:
    """WeChat wants {"field": {"value": "..."}}; callers may pass plain strings."""
    if item.template_data:
        return {
            key: value if isinstance(value, dict) else {"value": str(value)}
            for key, value in item.template_data.items()
        }
    field_name = settings().wechat_notice_field
    return {field_name: {"value": item.text}}


class OutboxSender:
    def __init__(
        self,
        outbox: Outbox,
        api: WeChatAPI,
        templates: dict[str, str] | None = None,
        backoff_base: float = 30.0,
        backoff_max: float = 3600.0,
        max_attempts: int = 10,
        window: float = CUSTOMER_SERVICE_WINDOW,
        lease: float = 120.0,
    ) -> None:
        self.outbox = outbox
        self.api = api
        self.templates = templates or {}
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_attempts = max_attempts
        self.window = window
        self.lease = lease

    def _template_for(self, kind: str) -> str | None:
        return self.templates.get(kind.lower()) or self.templates.get("notice")

    def _delay(self, attempts_so_far: int) -> float:
        return min(self.backoff_max, self.backoff_base * (2 ** attempts_so_far))

    async def drain_once(self, limit: int = 20) -> int:
        """Send what is due now; returns how many messages were handled."""
        items = await asyncio.to_thread(self.outbox.claim_due, limit, self.lease)
        for item in items:
            try:
                await self.deliver(item)
            except LeaseLost:
                logger.warning("Outbox %s: lease expired and another sender took it over; stopped", item.id)
            except Exception as error:  # never let one message stop the queue
                logger.exception("Outbox message %s failed unexpectedly", item.id)
                with suppress(LeaseLost):  # another sender has it now
                    await asyncio.to_thread(
                        self.outbox.mark_retry, item, f"internal: {error}", self._delay(item.attempts), self.max_attempts
                    )
        return len(items)

    async def deliver(self, item: OutboxItem) -> str:
        """Send one claimed message; raises LeaseLost when another sender has taken it over."""
        outbox = self.outbox
        if item.attempts >= self.max_attempts:
            # Only a reclaimed lease gets here (mark_retry gives up at max_attempts): its sender died mid-send.
            detail = f"gave up after {item.attempts} attempts; the last sender stopped mid-send"
            await asyncio.to_thread(outbox.mark_final, item, FAILED, detail)
            logger.error("Outbox %s %s", item.id, detail)
            return FAILED
        seen = await asyncio.to_thread(outbox.last_seen, item.openid)
        inside_window = seen is not None and outbox.clock() - seen < self.window
        if item.via != "template" and inside_window:
            parts = split_text(item.text)
            try:
                for index in range(item.parts_sent, len(parts)):
                    await asyncio.to_thread(outbox.renew, item, self.lease)
                    await self.api.send_text(item.openid, parts[index])
                    await asyncio.to_thread(outbox.record_parts_sent, item, index + 1)
                await asyncio.to_thread(outbox.log_attempt, item.id, "custom", True)
                await asyncio.to_thread(outbox.mark_sent, item, "custom")
                return SENT
            except WeChatAPIError as error:
                await asyncio.to_thread(outbox.log_attempt, item.id, "custom", False, error.errcode, str(error))
                if error.errcode not in (OUTSIDE_48H_WINDOW, CUSTOMER_SERVICE_QUOTA):
                    return await self._retry_or_give_up(item, error)
                logger.info("Outbox %s: customer-service refused (%s), trying a template", item.id, error.errcode)
        return await self._send_template(item)

    async def _send_template(self, item: OutboxItem) -> str:
        template_id = self._template_for(item.kind)
        if not template_id:
            detail = "outside the 48-hour window and no template configured (WECHAT_TEMPLATE_NOTICE)"
            await asyncio.to_thread(self.outbox.log_attempt, item.id, "none", False, None, detail)
            await asyncio.to_thread(self.outbox.mark_final, item, STAFF, detail)
            logger.warning("Outbox %s handed to staff: %s", item.id, detail)
            return STAFF
        await asyncio.to_thread(self.outbox.renew, item, self.lease)
        try:
            await self.api.send_template(item.openid, template_id, template_payload(item))
        except WeChatAPIError as error:
            await asyncio.to_thread(self.outbox.log_attempt, item.id, "template", False, error.errcode, str(error))
            return await self._retry_or_give_up(item, error)
        await asyncio.to_thread(self.outbox.log_attempt, item.id, "template", True)
        await asyncio.to_thread(self.outbox.mark_sent, item, "template")
        return SENT

    async def _retry_or_give_up(self, item: OutboxItem, error: WeChatAPIError) -> str:
        if error.errcode in PERMANENT_ERRORS:
            await asyncio.to_thread(self.outbox.mark_final, item, STAFF, str(error))
            logger.warning("Outbox %s handed to staff: %s", item.id, error)
            return STAFF
        status = await asyncio.to_thread(
            self.outbox.mark_retry, item, str(error), self._delay(item.attempts), self.max_attempts
        )
        if status == FAILED:
            logger.error("Outbox %s gave up after %s attempts: %s", item.id, self.max_attempts, error)
        return status
