"""The conversation list, kept from Rasa's event broker: a tailer reads the new rows of the broker's
`events` table (vetbot/event_broker.py, already masked) by id and updates Conversation,
ConversationMessage and ConversationKey, then tells the live hub which conversations changed.

The cursor (FeedCursor) moves in the same transaction as the rows it covers, so a restart resumes
where it stopped and nothing is applied twice; a message also carries its broker_event_id (unique).

State from events: the hand-over action, or the second fallback in a row (fallback_misses reaching
2), makes a conversation wait for a person; Rasa's `pause` event means a staff member holds it,
`resume` gives it back to the bot. A bot message whose metadata names `vetbot_staff` is a staff reply."""
from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from console.live import notify_conversation
from console.models import BOT, STAFF, WAITING, Conversation, ConversationKey, ConversationMessage, FeedCursor
from booking.pii import KEYS
from vetbot.settings import settings
from vetbot.storage.engine import session_scope

log = logging.getLogger(__name__)

FEED_NAME = "rasa_events"
POLL_SECONDS = 0.25
BATCH = 500
HANDOFF_ACTION = "action_handoff"  # bot/actions/handoff.py
MISSES_SLOT = "fallback_misses"  # bot/domain/handoff.yml: misunderstood messages in a row
MISSES_FOR_A_PERSON = 2
STAFF_META = "vetbot_staff"  # bot event metadata: the display name of the staff member who wrote it
SOURCES_META = "vetbot_sources"  # bot event metadata: the citations of a policy answer
# Masks as booking.pii.redact writes them: 138****5678, 330482********1234 (old 15-digit: 5 stars).
MASK = re.compile(r"\d{6}\*{5,8}[\dX]{4}|\d{3}\*{4}\d{4}")
# The source line of a policy answer (knowledge/answer.py citation): a law, a press report, practice.
CITATION = re.compile(r"^(?:依据：《.+|据.+报道.*为准|说明：这是本地一般做法.*)$", re.MULTILINE)


@dataclass
class PollResult:
    read: int = 0  # broker rows read this time
    changed: dict[str, str] = field(default_factory=dict)  # sender_id -> state after the batch


@lru_cache(maxsize=None)
def _events_engine(url: str) -> Engine:
    # A plain reader: no BEGIN IMMEDIATE (vetbot.storage), so reading never holds up Rasa's writes.
    if url.startswith("sqlite"):
        return create_engine(url, future=True, connect_args={"timeout": 30})
    return create_engine(url, future=True, pool_pre_ping=True)


def _events_exist(url: str) -> bool:
    """False until Rasa's broker has made its database (a SQLite file is not created by reading)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return True
    return bool(parsed.database) and Path(parsed.database).exists()


def read_events(url: str, after: int, limit: int = BATCH) -> list[tuple[int, str, dict]]:
    if not _events_exist(url):
        return []
    with _events_engine(url).connect() as connection:
        if not _has_events_table(connection):
            return []
        rows = connection.execute(
            text("SELECT id, sender_id, data FROM events WHERE id > :after ORDER BY id LIMIT :limit"),
            {"after": after, "limit": limit},
        ).all()
    return [(row.id, row.sender_id, json.loads(row.data)) for row in rows]


def _has_events_table(connection) -> bool:
    from sqlalchemy import inspect

    return inspect(connection).has_table("events")


def _latest_event_id(url: str) -> int:
    with _events_engine(url).connect() as connection:
        if not _has_events_table(connection):
            return 0
        return connection.execute(text("SELECT COALESCE(MAX(id), 0) FROM events")).scalar_one()


# The cursor this process last committed, per events database: while the broker has written
# nothing newer, a poll does not open a write transaction on the shared storage (4 times a second).
_applied: dict[str, int] = {}


def poll_once(events_url: str | None = None) -> PollResult:
    """Apply the next batch of broker events, in one transaction with the cursor."""
    url = events_url or settings().events_url
    if not _events_exist(url) or _latest_event_id(url) <= _applied.get(url, -1):
        return PollResult()
    with session_scope() as session:
        cursor = session.execute(select(FeedCursor).where(FeedCursor.name == FEED_NAME).with_for_update()
                                 ).scalar_one_or_none()
        if cursor is None:
            cursor = FeedCursor(name=FEED_NAME, last_id=0)
            session.add(cursor)
        rows = read_events(url, cursor.last_id)
        result = PollResult(read=len(rows))
        if rows:
            _Applier(session, result).apply(rows)
            cursor.last_id = rows[-1][0]
        last_id = cursor.last_id
    _applied[url] = last_id
    return result


class _Applier:
    def __init__(self, session: Session, result: PollResult) -> None:
        self.session = session
        self.result = result
        self.conversations: dict[str, Conversation] = {}

    def apply(self, rows: list[tuple[int, str, dict]]) -> None:
        ids = [row_id for row_id, _, _ in rows]
        self.seen = set(self.session.execute(
            select(ConversationMessage.broker_event_id).where(ConversationMessage.broker_event_id.in_(ids))
        ).scalars())
        for row_id, sender_id, event in rows:
            sender_id = sender_id or event.get("sender_id")
            if sender_id:
                self.apply_event(row_id, sender_id, event)
        for sender_id, conversation in self.conversations.items():
            self.result.changed[sender_id] = conversation.state

    def conversation(self, sender_id: str, create: bool = True) -> Conversation | None:
        if sender_id not in self.conversations:
            found = self.session.get(Conversation, sender_id)
            if found is None and create:
                found = Conversation(sender_id=sender_id, state=BOT, misses=0)
                self.session.add(found)
            if found is None:
                return None
            self.conversations[sender_id] = found
        return self.conversations[sender_id]

    def apply_event(self, row_id: int, sender_id: str, event: dict) -> None:
        kind = event.get("event")
        at = _instant(event.get("timestamp"))
        metadata = event.get("metadata") or {}
        if kind == "user":
            self.user(row_id, sender_id, event, at)
        elif kind == "bot" and event.get("text"):
            self.bot(row_id, sender_id, event, at)
        elif kind == "action" and event.get("name") not in (None, "action_listen"):
            conversation = self.conversation(sender_id, create=event.get("name") == HANDOFF_ACTION)
            if conversation is not None:
                if event.get("name") == HANDOFF_ACTION:
                    _wait_for_person(conversation, at)
                elif event.get("name") != "action_fallback_rephrase":
                    conversation.misses = 0  # any other answer ends a run of misses
        elif kind == "slot" and event.get("name") == MISSES_SLOT:
            conversation = self.conversation(sender_id)
            conversation.misses = int(event.get("value") or 0)
            if conversation.misses >= MISSES_FOR_A_PERSON:
                _wait_for_person(conversation, at)
        elif kind == "pause":
            conversation = self.conversation(sender_id)
            conversation.state, conversation.waiting_since = STAFF, None
        elif kind == "resume":
            conversation = self.conversation(sender_id)
            conversation.state, conversation.holder, conversation.waiting_since = BOT, None, None
            conversation.misses = 0
        keys = metadata.get(KEYS) or []
        if keys:
            self.add_keys(sender_id, keys)

    def user(self, row_id: int, sender_id: str, event: dict, at: datetime) -> None:
        conversation = self.conversation(sender_id)
        said = event.get("text") or ""
        if event.get("input_channel"):
            conversation.channel = event["input_channel"]
        if conversation.identity_masked is None and (mask := MASK.search(said)):
            conversation.identity_masked = mask.group()
        conversation.last_user_at = at
        intent = (event.get("parse_data") or {}).get("intent") or {}
        self.message(row_id, conversation, at, "user", said, intent=intent.get("name"),
                     confidence=intent.get("confidence"))

    def bot(self, row_id: int, sender_id: str, event: dict, at: datetime) -> None:
        conversation = self.conversation(sender_id)
        metadata = event.get("metadata") or {}
        said = event["text"]
        if metadata.get(STAFF_META):
            self.message(row_id, conversation, at, "staff", said, staff_name=str(metadata[STAFF_META]))
        else:
            sources = metadata.get(SOURCES_META) or CITATION.findall(said) or None
            self.message(row_id, conversation, at, "bot", said, sources=sources)

    def message(self, row_id: int, conversation: Conversation, at: datetime, kind: str, said: str, **fields) -> None:
        if conversation.last_at is None or at >= conversation.last_at:
            conversation.last_message, conversation.last_at = said, at
        if row_id in self.seen:
            return
        self.session.add(ConversationMessage(sender_id=conversation.sender_id, broker_event_id=row_id, at=at,
                                             kind=kind, text=said, **fields))

    def add_keys(self, sender_id: str, keys: list[str]) -> None:
        self.conversation(sender_id)
        self.session.flush()  # the conversation row first: the key refers to it
        known = set(self.session.execute(select(ConversationKey.key_hash).where(
            ConversationKey.sender_id == sender_id, ConversationKey.key_hash.in_(keys))).scalars())
        for key in dict.fromkeys(keys):
            if key not in known:
                self.session.add(ConversationKey(sender_id=sender_id, key_hash=key))


def _wait_for_person(conversation: Conversation, at: datetime) -> None:
    if conversation.state == BOT:  # a conversation a person already holds stays with them
        conversation.state, conversation.waiting_since = WAITING, at


def _instant(timestamp) -> datetime:
    if isinstance(timestamp, (int, float)):
        return datetime.fromtimestamp(timestamp, timezone.utc)
    return datetime.now(timezone.utc)


class Feed:
    """The tailer as a background task of the console's event loop; the database work runs in a
    thread, so the loop keeps serving pages and streams."""

    def __init__(self, interval: float = POLL_SECONDS) -> None:
        self.interval = interval
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None

    async def run(self) -> None:
        while True:
            try:
                result = await asyncio.to_thread(poll_once)
            except IntegrityError:  # the action server listed the same conversation at that moment: read again
                log.info("conversation feed: a conversation was listed meanwhile; reading the batch again")
                await asyncio.sleep(self.interval)
                continue
            except Exception:  # a locked or missing database: try again shortly, never stop the console
                log.exception("conversation feed: reading the event broker failed")
                await asyncio.sleep(max(self.interval, 2.0))
                continue
            for sender_id, state in result.changed.items():
                notify_conversation(sender_id, state)
            if result.read < BATCH:  # caught up: wait for more; otherwise read on at once
                await asyncio.sleep(self.interval)


feed = Feed()
