"""Tasks for staff: notices for veterans who did not book through WeChat (REST, web chat, or a
booking staff made on the phone), which someone has to phone through. Each task is added once
per `dedupe_key`; staff mark it done with who and when (`vetbot bookings calls`)."""
from __future__ import annotations

from sqlalchemy import Column, Integer, String, Text, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vetbot.storage.base import Base, UTCDateTime, utcnow


class StaffTask(Base):
    __tablename__ = "staff_task"
    id = Column(Integer, primary_key=True)
    kind = Column(String(64), nullable=False)  # booking_reminder / booking_changed
    booking_reference = Column(String(16), nullable=False, index=True)
    text = Column(Text, nullable=False)  # what to tell the veteran
    dedupe_key = Column(String(128), nullable=False, unique=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    done_at = Column(UTCDateTime)
    done_by = Column(String(128))


def add_task(session: Session, *, kind: str, booking_reference: str, text: str,
             dedupe_key: str) -> bool:
    """Add the task unless one with this key exists (also under a concurrent add); True if added."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = session.execute(
        insert(StaffTask).values(kind=kind, booking_reference=booking_reference, text=text,
                                 dedupe_key=dedupe_key, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["dedupe_key"]))
    return result.rowcount == 1


def open_tasks(session: Session) -> list[StaffTask]:
    return list(session.execute(
        select(StaffTask).where(StaffTask.done_at.is_(None)).order_by(StaffTask.id)).scalars())


def mark_done(session: Session, task_id: int, *, by: str) -> bool:
    """Mark an open task done; False if there is no such open task."""
    if not by.strip():
        raise ValueError("done_by is required")
    result = session.execute(
        update(StaffTask).where(StaffTask.id == task_id, StaffTask.done_at.is_(None))
        .values(done_at=utcnow(), done_by=by.strip()).execution_options(synchronize_session=False))
    return result.rowcount == 1
