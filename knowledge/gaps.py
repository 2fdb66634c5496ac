"""Knowledge gaps: what veterans ask that the knowledge base cannot answer.

Every question the policy Q&A refused (NOT_FOUND) or only met with "您是想问…" is kept once, with
how often it was asked, so the admins who fill the corpus see what is missing (`vetbot kb gaps`,
later the staff console: both call `listing`). The question is stored normalised and with ID
numbers and mobiles masked (booking.pii.redact): the clear number never reaches the database.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import Column, Integer, String, Text, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from booking.calendar import TZ
from booking.pii import redact
from vetbot.storage import Base, UTCDateTime, session_scope, utcnow

log = logging.getLogger(__name__)

REFUSED = "refused"  # "这个问题我在政策库里没有找到…"
DID_YOU_MEAN = "did_you_mean"  # "您是想问“…”吗？"
KINDS = (REFUSED, DID_YOU_MEAN)
MAX_QUESTION_CHARS = 500  # a pasted letter is still one gap, not a page of the table
END_PUNCTUATION = "?？.。!！,，~～ "
_SPACE_BESIDE_CJK = re.compile(r"\s+(?=[^\x00-\x7f])|(?<=[^\x00-\x7f])\s+")


class KnowledgeGap(Base):
    __tablename__ = "knowledge_gap"
    id = Column(Integer, primary_key=True)
    question_key = Column(String(64), nullable=False, unique=True)  # sha256 of `question`
    question = Column(Text, nullable=False)  # normalised and masked
    kind = Column(String(16), nullable=False)  # the latest outcome: REFUSED or DID_YOU_MEAN
    passage_id = Column(String(255))  # what "您是想问" suggested (latest), else None
    count = Column(Integer, nullable=False)
    first_seen = Column(UTCDateTime, nullable=False)
    last_seen = Column(UTCDateTime, nullable=False, index=True)


@dataclass(frozen=True)
class Gap:
    question: str
    kind: str
    passage_id: str | None
    count: int
    first_seen: datetime
    last_seen: datetime

    def to_dict(self) -> dict:
        local = {name: getattr(self, name).astimezone(TZ).isoformat(timespec="seconds")
                 for name in ("first_seen", "last_seen")}
        return {"question": self.question, "kind": self.kind, "passage_id": self.passage_id,
                "count": self.count, **local}


def normalize(question: str) -> str:
    """One spelling per question: full-width folded (NFKC), no spaces beside Chinese, end
    punctuation off, lower case; ID numbers and mobiles masked. Masked first, so that taking
    spaces out cannot glue a number to other digits where redact would no longer see it, and
    again after, for a number whose digits the folding joined."""
    text = unicodedata.normalize("NFKC", redact(question))
    text = " ".join(_SPACE_BESIDE_CJK.sub("", text).split()).strip(END_PUNCTUATION).casefold()
    return redact(text)[:MAX_QUESTION_CHARS]


def record(question: str, kind: str, passage_id: str | None = None, *, engine: Engine | None = None) -> None:
    """Count one more asking of `question`. One statement (insert, or on conflict count + 1), so
    two action-server workers recording the same question at once both count."""
    if kind not in KINDS:
        raise ValueError(f"unknown gap kind: {kind}")
    text = normalize(question)
    if not text:
        return
    now = utcnow()
    with session_scope(engine) as session:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = insert(KnowledgeGap).values(
            question_key=hashlib.sha256(text.encode()).hexdigest(), question=text, kind=kind,
            passage_id=passage_id, count=1, first_seen=now, last_seen=now)
        session.execute(statement.on_conflict_do_update(
            index_elements=["question_key"],
            set_={"count": KnowledgeGap.count + 1, "last_seen": statement.excluded.last_seen,
                  "kind": statement.excluded.kind, "passage_id": statement.excluded.passage_id}))


async def note(question: str, kind: str, passage_id: str | None = None) -> None:
    """For the action server: `record` off the event loop. A storage error is logged, never raised:
    the veteran's reply must not depend on the gap log."""
    try:
        await asyncio.get_running_loop().run_in_executor(None, record, question, kind, passage_id)
    except Exception:
        log.warning("knowledge gap not recorded", exc_info=True)


def listing(since: date | datetime | None = None, limit: int = 50, *,
            engine: Engine | None = None) -> list[Gap]:
    """The gaps, most asked first (then most recent). `since`: only those asked again since then
    (a date means from its midnight, Pinghu time); counts are over all time."""
    query = select(KnowledgeGap)
    if since is not None:
        if not isinstance(since, datetime):
            since = datetime.combine(since, time(0), TZ)
        query = query.where(KnowledgeGap.last_seen >= since)
    query = query.order_by(KnowledgeGap.count.desc(), KnowledgeGap.last_seen.desc(), KnowledgeGap.id)
    with session_scope(engine) as session:
        rows = session.execute(query.limit(limit)).scalars()
        return [Gap(r.question, r.kind, r.passage_id, r.count, r.first_seen, r.last_seen) for r in rows]
