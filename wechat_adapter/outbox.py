"""Durable outbox for messages the bureau pushes to veterans (reminders, appeal updates,
answers that could not be delivered in the conversation).

Usage from anywhere (action server, cron, the channel):

    from wechat_adapter.outbox import enqueue
    enqueue(openid, "您预约的评残代办在明天上午9点。", kind="booking_reminder")

A sender (the channel's background task or `vetbot wechat outbox send`) drains it:
inside WeChat's 48-hour window after the veteran's last message it uses the customer-service
API, otherwise a template message (WECHAT_TEMPLATE_<KIND> or WECHAT_TEMPLATE_NOTICE); with no
template the message is handed to staff (status "staff"). Failures back off exponentially.
Every attempt is a row in `attempts`.

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
import os
import sqlite3
import time
import uuid
from contextlib import closing, suppress
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from vetbot.config import subdir
from vetbot.sqlite_wal import enable_wal
from wechat_adapter.api import (
    CUSTOMER_SERVICE_QUOTA,
    OUTSIDE_48H_WINDOW,
    WeChatAPI,
    WeChatAPIError,
)
from wechat_adapter.replies import split_text

logger = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED, STAFF = "pending", "sending", "sent", "failed", "staff"
# WeChat allows customer-service messages for 48 h after the user's last interaction; keep a margin.
CUSTOMER_SERVICE_WINDOW = 48 * 3600 - 600
# Errors that no retry will fix: hand the message to staff.
PERMANENT_ERRORS = {40003, 40037, 43004, 43101, 47003}

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    openid TEXT NOT NULL,
    text TEXT NOT NULL,
    kind TEXT NOT NULL,
    template_data TEXT,
    via TEXT NOT NULL DEFAULT 'auto',
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    parts_sent INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    lease_until REAL,
    claim TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    sent_via TEXT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id INTEGER NOT NULL REFERENCES outbox(id),
    attempted_at REAL NOT NULL,
    method TEXT NOT NULL,
    ok INTEGER NOT NULL,
    errcode INTEGER,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS last_seen (
    openid TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
"""


def default_path() -> Path:
    return subdir("wechat") / "outbox.sqlite3"


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
    def from_row(cls, row: sqlite3.Row) -> "OutboxItem":
        values = {field.name: row[field.name] for field in fields(cls)}
        if values["template_data"]:
            values["template_data"] = json.loads(values["template_data"])
        return cls(**values)


class LeaseLost(Exception):
    """The sender's claim on a message is gone (its lease expired and another sender took it)."""


class Outbox:
    """The SQLite tables; every method is a short transaction on its own connection.

    Lines of SQL text carry `# pragma: no mutate`: SQL is case-insensitive, so the upper- and
    lower-case mutants mutmut makes of them are equivalent (and "XX…XX" ones fail every test)."""

    def __init__(self, path: Path | str | None = None, clock=time.time) -> None:
        self.path = Path(path) if path else default_path()
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            enable_wal(db)
            db.executescript(SCHEMA)
            # A file from before claim tokens gets the column; under the write lock, so only once.
            db.execute("BEGIN IMMEDIATE")  # pragma: no mutate
            columns = db.execute("PRAGMA table_info(outbox)").fetchall()  # pragma: no mutate
            if "claim" not in {column[1] for column in columns}:  # (cid, name, type, ...)
                db.execute("ALTER TABLE outbox ADD COLUMN claim TEXT")  # pragma: no mutate
            db.execute("COMMIT")  # pragma: no mutate

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path,
            timeout=30,  # pragma: no mutate (how long to wait for another process's lock: no test tells 30 s from 31)
            isolation_level=None,
        )
        db.row_factory = sqlite3.Row
        return db

    # -- producers -------------------------------------------------------------------------
    def enqueue(
        self,
        openid: str,
        text: str,
        kind: str,
        template_data: dict | None = None,
        via: str = "auto",
    ) -> int:
        if not openid or not text:
            raise ValueError("openid and text are required")
        if via not in ("auto", "template"):
            raise ValueError("via must be 'auto' or 'template'")
        now = self.clock()
        with closing(self._connect()) as db:
            cursor = db.execute(
                "INSERT INTO outbox (openid, text, kind, template_data, via, next_attempt_at, created_at, updated_at)"  # pragma: no mutate
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # pragma: no mutate
                # Readable Chinese in the file. (The mutant ensure_ascii=None is equivalent: None is falsy too.)
                (openid, text, kind, json.dumps(template_data, ensure_ascii=False) if template_data else None,
                 via, now, now, now),
            )
            return int(cursor.lastrowid)

    def touch(self, openid: str, at: float | None = None) -> None:
        """Record that the veteran just interacted (opens the 48-hour window)."""
        with closing(self._connect()) as db:
            db.execute(
                "INSERT INTO last_seen (openid, seen_at) VALUES (?, ?)"  # pragma: no mutate
                " ON CONFLICT(openid) DO UPDATE SET seen_at = excluded.seen_at",  # pragma: no mutate
                (openid, self.clock() if at is None else at),
            )

    def last_seen(self, openid: str) -> float | None:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT seen_at FROM last_seen WHERE openid = ?",  # pragma: no mutate
                (openid,),
            ).fetchone()
        return row[0] if row else None

    # -- sender side -----------------------------------------------------------------------
    def claim_due(self, limit: int, lease: float) -> list[OutboxItem]:
        """Take due messages (and ones whose lease expired) under a lease and a fresh claim token."""
        now = self.clock()
        claim = uuid.uuid4().hex
        with closing(self._connect()) as db:
            # The write lock before the SELECT: no other sender can read the same rows as due.
            db.execute("BEGIN IMMEDIATE")  # pragma: no mutate
            rows = db.execute(
                "SELECT * FROM outbox WHERE (status = ? AND next_attempt_at <= ?)"  # pragma: no mutate
                " OR (status = ? AND lease_until <= ?) ORDER BY id LIMIT ?",  # pragma: no mutate
                (PENDING, now, SENDING, now, limit),
            ).fetchall()
            items = []
            for row in rows:
                item = OutboxItem.from_row(row)
                # A lease that expired is an attempt its sender never finished (it died or stalled): it counts.
                attempts = item.attempts + (item.status == SENDING)
                items.append(replace(item, status=SENDING, attempts=attempts, claim=claim))
            db.executemany(
                "UPDATE outbox SET status = ?, attempts = ?, claim = ?, lease_until = ?, updated_at = ? WHERE id = ?",  # pragma: no mutate
                [(SENDING, item.attempts, claim, now + lease, now, item.id) for item in items],
            )
            db.execute("COMMIT")  # pragma: no mutate
        return items

    def _update_claimed(self, item: OutboxItem, assignments: str, values: tuple) -> None:
        """UPDATE the item's row only while the item's claim still holds it, else raise LeaseLost."""
        with closing(self._connect()) as db:
            cursor = db.execute(
                f"UPDATE outbox SET {assignments}, updated_at = ? WHERE id = ? AND claim = ?",
                (*values, self.clock(), item.id, item.claim),
            )
            if cursor.rowcount != 1:
                raise LeaseLost(f"outbox {item.id} is no longer held by claim {item.claim}")

    def renew(self, item: OutboxItem, lease: float) -> None:
        self._update_claimed(
            item,
            "lease_until = ?",  # pragma: no mutate
            (self.clock() + lease,),
        )

    def log_attempt(self, outbox_id: int, method: str, ok: bool, errcode: int | None = None, detail: str = "") -> None:
        with closing(self._connect()) as db:
            db.execute(
                "INSERT INTO attempts (outbox_id, attempted_at, method, ok, errcode, detail) VALUES (?, ?, ?, ?, ?, ?)",  # pragma: no mutate
                (outbox_id, self.clock(), method, int(ok), errcode, detail[:500]),
            )

    def record_parts_sent(self, item: OutboxItem, parts_sent: int) -> None:
        self._update_claimed(
            item,
            "parts_sent = ?",  # pragma: no mutate
            (parts_sent,),
        )

    def mark_sent(self, item: OutboxItem, method: str) -> None:
        self._update_claimed(
            item,
            "status = ?, sent_via = ?, claim = NULL, lease_until = NULL",  # pragma: no mutate
            (SENT, method),
        )

    def mark_final(self, item: OutboxItem, status: str, error: str) -> None:
        self._update_claimed(
            item,
            "status = ?, last_error = ?, claim = NULL, lease_until = NULL",  # pragma: no mutate
            (status, error),
        )

    def mark_retry(self, item: OutboxItem, error: str, delay: float, max_attempts: int) -> str:
        attempts = item.attempts + 1
        status = FAILED if attempts >= max_attempts else PENDING
        self._update_claimed(
            item,
            "status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, claim = NULL, lease_until = NULL",  # pragma: no mutate
            (status, attempts, self.clock() + delay, error),
        )
        return status

    # -- staff / CLI -------------------------------------------------------------------------
    def list(self, status: str | None = None, limit: int = 50) -> list[OutboxItem]:
        with closing(self._connect()) as db:
            if status:
                rows = db.execute(
                    "SELECT * FROM outbox WHERE status = ? ORDER BY id DESC LIMIT ?",  # pragma: no mutate
                    (status, limit),
                )
            else:
                rows = db.execute(
                    "SELECT * FROM outbox ORDER BY id DESC LIMIT ?",  # pragma: no mutate
                    (limit,),
                )
            return [OutboxItem.from_row(row) for row in rows.fetchall()]

    def get(self, outbox_id: int) -> OutboxItem | None:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT * FROM outbox WHERE id = ?",  # pragma: no mutate
                (outbox_id,),
            ).fetchone()
        return OutboxItem.from_row(row) if row else None

    def attempts(self, outbox_id: int) -> list[dict[str, Any]]:
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT * FROM attempts WHERE outbox_id = ? ORDER BY id",  # pragma: no mutate
                (outbox_id,),
            ).fetchall()
        return [dict(row) for row in rows]

    def retry(self, outbox_id: int | None = None, statuses: tuple[str, ...] = (FAILED, STAFF)) -> int:
        """Put failed (or staff) messages back in the queue, now."""
        now = self.clock()
        marks = ",".join("?" for _ in statuses)
        with closing(self._connect()) as db:
            if outbox_id is not None:
                cursor = db.execute(
                    f"UPDATE outbox SET status = ?, attempts = 0, next_attempt_at = ?, updated_at = ?"
                    f" WHERE id = ? AND status IN ({marks})",
                    (PENDING, now, now, outbox_id, *statuses),
                )
            else:
                cursor = db.execute(
                    f"UPDATE outbox SET status = ?, attempts = 0, next_attempt_at = ?, updated_at = ?"
                    f" WHERE status IN ({marks})",
                    (PENDING, now, now, *statuses),
                )
            return cursor.rowcount


def enqueue(openid: str, text: str, kind: str, template_data: dict | None = None, via: str = "auto") -> int:
    """Queue a message for a veteran in the default outbox (data_dir()/wechat/outbox.sqlite3)."""
    return Outbox().enqueue(openid, text, kind, template_data, via)


def template_payload(item: OutboxItem) -> dict:
    """WeChat wants {"field": {"value": "..."}}; callers may pass plain strings."""
    if item.template_data:
        return {
            key: value if isinstance(value, dict) else {"value": str(value)}
            for key, value in item.template_data.items()
        }
    field_name = os.environ.get("WECHAT_NOTICE_FIELD") or "content"
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
