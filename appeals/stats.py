"""On-time and satisfaction rates of the appeals, per town, category or month of filing.

On time: an appeal is judged once it is closed or late (a step taken after its deadline, or open
and past it now); on-time rate = closed and never late / judged. Satisfaction: each answer to the
回访 question (leaving follow_up_state for a final state = satisfied, back to work = not);
satisfaction rate = satisfied / answers. A rate with nothing to judge is None."""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from appeals.models import MOVED, Appeal
from appeals.texts import assignee_text
from appeals.workflow import load_workflow
from booking.calendar import TZ

GROUPINGS = ("town", "category", "month")
UNKNOWN_TOWN = "未识别的镇（街道）"


def stats(session: Session, *, by: str, today: date, date_from: date | None = None,
          date_to: date | None = None) -> list[dict]:
    """One row per group (sorted by name): total, closed, on_time, late, on_time_rate,
    satisfied, unsatisfied, satisfaction_rate. Dates (inclusive) filter the day of filing."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {GROUPINGS}")
    workflow = load_workflow()
    rows: dict[str, dict] = defaultdict(lambda: dict.fromkeys(
        ("total", "closed", "on_time", "late", "satisfied", "unsatisfied"), 0))
    for appeal in session.execute(select(Appeal).options(selectinload(Appeal.events))).scalars():
        filed = appeal.created_at.astimezone(TZ).date()
        if (date_from and filed < date_from) or (date_to and filed > date_to):
            continue
        row = rows[_group(appeal, by, filed, workflow)]
        closed = workflow.final(appeal.status)
        late = appeal.late or (not closed and appeal.deadline is not None and appeal.deadline < today)
        row["total"] += 1
        row["closed"] += closed
        row["late"] += late
        row["on_time"] += closed and not late
        for event in appeal.events:
            if event.action == MOVED and event.from_state == workflow.follow_up_state:
                row["satisfied" if workflow.final(event.to_state) else "unsatisfied"] += 1
    return [{by: key, **row,
             "on_time_rate": _rate(row["on_time"], row["on_time"] + row["late"]),
             "satisfaction_rate": _rate(row["satisfied"], row["satisfied"] + row["unsatisfied"])}
            for key, row in sorted(rows.items())]


def _group(appeal: Appeal, by: str, filed: date, workflow) -> str:
    if by == "month":
        return filed.strftime("%Y-%m")
    if by == "category":
        return workflow.category(appeal.category).label
    return assignee_text(appeal.station_code) if appeal.station_code else UNKNOWN_TOWN


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None
