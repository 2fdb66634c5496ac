"""The outbox's tables on the shared storage (vetbot/storage): messages, one row per send attempt,
and when each veteran last wrote (WeChat's 48-hour customer-service window); and
`insert_message`, the one way a message gets into the outbox.

Times are epoch seconds (float), as the sender's clock gives them. This module imports only
SQLAlchemy, so the migrations and the booking package use it without loading the channel."""
from __future__ import annotations

import json
import time

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from vetbot.storage.base import Base

PENDING, SENDING, SENT, FAILED, STAFF = "pending", "sending", "sent", "failed", "staff"


class OutboxMessage(Base):
    __tablename__ = "outbox"
    id = Column(Integer, primary_key=True)
    openid = Column(String(128), nullable=False)
    text = Column(Text, nullable=False)
    kind = Column(String(64), nullable=False)
    template_data = Column(Text)  # JSON, Chinese kept readable
    via = Column(String(16), nullable=False, default="auto")
    status = Column(String(16), nullable=False, default=PENDING)
    attempts = Column(Integer, nullable=False, default=0)
    parts_sent = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(Float, nullable=False)
    lease_until = Column(Float)
    claim = Column(String(32))  # the token of the sender holding the lease
    created_at = Column(Float, nullable=False)
    updated_at = Column(Float, nullable=False)
    sent_via = Column(String(16))
    last_error = Column(Text)
    # Set by producers that must queue a message once only (e.g. "reminder:<ref>:<date>").
    dedupe_key = Column(String(128), unique=True)
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class OutboxAttempt(Base):
    __tablename__ = "outbox_attempt"
    id = Column(Integer, primary_key=True)
    outbox_id = Column(Integer, ForeignKey("outbox.id"), nullable=False, index=True)
    attempted_at = Column(Float, nullable=False)
    method = Column(String(16), nullable=False)
    ok = Column(Boolean, nullable=False)
    errcode = Column(Integer)
    detail = Column(Text)


class LastSeen(Base):
    __tablename__ = "wechat_last_seen"
    openid = Column(String(128), primary_key=True)
    seen_at = Column(Float, nullable=False)


def upsert(connection: Connection):
    """The dialect's INSERT, which has ON CONFLICT on both backends."""
    return pg_insert if connection.dialect.name == "postgresql" else sqlite_insert


def insert_message(connection: Connection, openid: str, text: str, kind: str, *,
                   template_data: dict | None = None, via: str = "auto",
                   dedupe_key: str | None = None, now: float | None = None) -> tuple[int, bool]:
    """Queue a message inside the caller's transaction (a Connection; a Session's is
    `session.connection()`); returns (id, added). With a `dedupe_key` already queued — also by a
    concurrent transaction — nothing is added and the existing message's id is returned."""
    if not openid or not text:
        raise ValueError("openid and text are required")
    if via not in ("auto", "template"):
        raise ValueError("via must be 'auto' or 'template'")
    now = time.time() if now is None else now
    inserted = connection.execute(
        upsert(connection)(OutboxMessage).values(
            openid=openid, text=text, kind=kind, via=via, status=PENDING, attempts=0, parts_sent=0,
            # Readable Chinese in the database. (The mutant ensure_ascii=None is equivalent: None is falsy too.)
            template_data=json.dumps(template_data, ensure_ascii=False) if template_data else None,
            next_attempt_at=now, created_at=now, updated_at=now, dedupe_key=dedupe_key,
        ).on_conflict_do_nothing(index_elements=["dedupe_key"]))
    if inserted.rowcount == 1:
        return int(inserted.inserted_primary_key[0]), True
    existing = connection.execute(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
    return int(existing.scalar_one()), False
