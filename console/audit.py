"""The staff audit log: who did what to which record, when.

`record(session, staff, action, target_type=None, target_id=None, detail=None)` adds one
console.models.StaffAudit row in the caller's transaction (so it is kept exactly when the action
is); `staff` is a StaffPrincipal or a username ("-" for an anonymous attempt, "cli" for the shell).
`detail` must hold no personal data in clear: pass masked values (booking/pii.py).
The table is append-only: the migration installs triggers refusing UPDATE and DELETE."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from console.models import StaffAudit
from vetbot.storage import utcnow


def record(session, staff, action: str, target_type: str | None = None, target_id: str | None = None,
           detail: dict | None = None) -> StaffAudit:
    username = staff if isinstance(staff, str) else staff.username
    row = StaffAudit(at=utcnow(), username=username, action=action, target_type=target_type,
                     target_id=None if target_id is None else str(target_id), detail=detail)
    session.add(row)
    return row


def search(session, username: str | None = None, action: str | None = None, since: datetime | None = None,
           limit: int = 50, offset: int = 0) -> tuple[list[StaffAudit], int]:
    """Audit rows newest first with the filters, one page of them, and how many match in all."""
    query = select(StaffAudit)
    if username:
        query = query.where(StaffAudit.username == username)
    if action:
        query = query.where(StaffAudit.action == action)
    if since:
        query = query.where(StaffAudit.at >= since)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(StaffAudit.at.desc(), StaffAudit.id.desc())
                           .limit(limit).offset(offset)).scalars().all()
    return list(rows), total
