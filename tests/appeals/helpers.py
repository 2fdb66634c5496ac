"""Filing and reading appeals in the domain tests."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select, update

from appeals import service
from appeals.models import Appeal
from vetbot.staff_tasks import StaffTask
from vetbot.storage import get_engine, session_scope

SHANGHAI = timezone(timedelta(hours=8))
OPENID = "oPinghuVeteran0008"
PHONE = "13812345678"


def at(day: date, hour: int = 10) -> datetime:
    """An instant given in Asia/Shanghai time."""
    return datetime.combine(day, time(hour), SHANGHAI)


def file(url: str, *, key: str = "m1", category: str = "daiyu", channel: str | None = "wechat",
         sender_id: str | None = OPENID, signals=(), town: str = "乍浦镇雅山村", visit: bool = False,
         phone: str = PHONE, when: datetime | None = None,
         description: str = "我儿子当义务兵，家庭优待金今年还没发") -> str:
    with session_scope(get_engine(url)) as s:
        return service.file_appeal(
            s, description=description, category=category, name="张建国", phone=phone, town=town,
            visit_wanted=visit, urgent_signals=list(signals), channel=channel, sender_id=sender_id,
            dedupe_key=key, actor=f"veteran:{channel}:{sender_id}",
            now=when or at(date(2026, 12, 2))).reference


def move(url: str, reference: str, to: str, role: str = "hotline", *, when: datetime | None = None,
         **kwargs) -> Appeal:
    with session_scope(get_engine(url)) as s:
        return service.transition(s, reference, to, actor="staff:王五", role=role,
                                  now=when or at(date(2026, 12, 2), 11), **kwargs)


def force_status(url: str, reference: str, status: str) -> None:
    """Put an appeal in a state directly (the appeal row is mutable; its events are not)."""
    with session_scope(get_engine(url)) as s:
        s.execute(update(Appeal).where(Appeal.reference == reference).values(status=status))


def tasks(url: str) -> list[tuple]:
    with session_scope(get_engine(url)) as s:
        return [tuple(r) for r in s.execute(select(
            StaffTask.kind, StaffTask.reference, StaffTask.assignee, StaffTask.dedupe_key, StaffTask.text
        ).order_by(StaffTask.id))]
