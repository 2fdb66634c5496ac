"""Tasks for staff, shared by every domain: notices for veterans who cannot be reached on WeChat
(someone has to phone them), an urgent appeal to look at now, an overdue appeal to chase (催办).
`reference` is the booking or appeal the task is about; `assignee` who should act (None: whoever
keeps the call list). Each task is added once per `dedupe_key`; staff mark it done with who and when."""
from __future__ import annotations

from sqlalchemy import Column, Integer, String, Text, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vetbot.storage.base import Base, UTCDateTime, utcnow


class StaffTask(Base):
    __tablename__ = "staff_task"
    id = Column(Integer, primary_key=True)
    kind = Column(String(64), nullable=False)  # booking_reminder / appeal_overdue / …
    reference = Column(String(16), nullable=False, index=True)  # the booking's or the appeal's
    assignee = Column(String(64))
    text = Column(Text, nullable=False)  # what to tell the veteran, or what to do
    dedupe_key = Column(String(128), nullable=False, unique=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    done_at = Column(UTCDateTime)
    done_by = Column(String(128))


def add_task(session: Session, *, kind: str, reference: str, text: str, dedupe_key: str,
             assignee: str | None = None) -> bool:
    """Add the task unless one with this key exists (also under a concurrent add); True if added."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = session.execute(
        insert(StaffTask).values(kind=kind, reference=reference, assignee=assignee, text=text,
                                 dedupe_key=dedupe_key, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["dedupe_key"]))
    return result.rowcount == 1


def open_tasks(session: Session, kinds=None) -> list[StaffTask]:
    """Tasks not done yet, oldest first; only these kinds when given."""
    query = select(StaffTask).where(StaffTask.done_at.is_(None))
    if kinds is not None:
        query = query.where(StaffTask.kind.in_(kinds))
    return list(session.execute(query.order_by(StaffTask.id)).scalars())


def mark_done(session: Session, task_id: int, *, by: str, kinds=None) -> bool:
    """Mark an open task (of these kinds, when given) done; False if there is no such open task."""
    if not by.strip():
        raise ValueError("done_by is required")
    query = update(StaffTask).where(StaffTask.id == task_id, StaffTask.done_at.is_(None))
    if kinds is not None:
        query = query.where(StaffTask.kind.in_(kinds))
    result = session.execute(query.values(done_at=utcnow(), done_by=by.strip())
                             .execution_options(synchronize_session=False))
    return result.rowcount == 1
