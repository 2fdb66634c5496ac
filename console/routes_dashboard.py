"""Console API and page: the dashboard (统计) — bookings per day / service / location, appeals per
category / town / month with their on-time and satisfaction rates (appeals/stats.py), the overdue
and urgent open appeals, and the questions the bot could not answer (knowledge/gaps.py)."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel

from appeals import service as appeals
from appeals.stats import stats
from booking.present import name_of
from booking.service import catalogue as booking_catalogue
from booking import service as bookings
from booking.calendar import DEFAULT_HORIZON_DAYS, TZ
from booking.models import CANCELLED
from booking.pii import redact
from console.auth import StaffPrincipal, current_staff
from console.routes_appeals import AppealOut, _out as appeal_out
from knowledge import gaps
from vetbot.storage import session_scope

router = APIRouter(tags=["dashboard"])
PAGE = Path(__file__).resolve().parent / "static" / "dashboard.html"
MONTHS = 12  # the appeals-per-month trend always covers a year, whatever the window


class Count(BaseModel):
    key: str
    label: str
    count: int


class AppealGroup(BaseModel):
    key: str
    total: int
    closed: int
    on_time: int
    late: int
    on_time_rate: float | None
    satisfied: int
    unsatisfied: int
    satisfaction_rate: float | None


class GapOut(BaseModel):
    question: str
    kind: str
    count: int
    first_seen: str
    last_seen: str


class Dashboard(BaseModel):
    today: str
    days: int
    bookings_from: str
    bookings_to: str
    bookings_per_day: list[Count]
    bookings_per_service: list[Count]
    bookings_per_location: list[Count]
    bookings_cancelled: int
    appeals_from: str
    appeals_per_category: list[AppealGroup]
    appeals_per_town: list[AppealGroup]
    appeals_per_month: list[AppealGroup]
    overdue_appeals: list[AppealOut]
    urgent_appeals: list[AppealOut]
    knowledge_gaps: list[GapOut]


def _counts(counter: Counter, label) -> list[dict]:
    """Most first; ties by key, so the order is stable."""
    return [{"key": key, "label": label(key), "count": n}
            for key, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


def _booking_counts(session, first: date, last: date) -> dict:
    catalogue = booking_catalogue()
    listed = bookings.list_bookings(session, date_from=first, date_to=last)
    kept = [b for b in listed if b.status != CANCELLED]
    per_day = Counter({first + timedelta(days=i): 0 for i in range((last - first).days + 1)})
    per_day.update(b.date for b in kept)
    return {
        "bookings_per_day": [{"key": d.isoformat(), "label": f"{d.month}月{d.day}日", "count": n}
                             for d, n in sorted(per_day.items())],
        "bookings_per_service": _counts(Counter(b.service_code for b in kept),
                                        lambda code: name_of(catalogue.service, code)),
        "bookings_per_location": _counts(Counter(b.location_code for b in kept),
                                         lambda code: name_of(catalogue.location, code)),
        "bookings_cancelled": len(listed) - len(kept),
    }


def _appeal_groups(session, by: str, today: date, since: date) -> list[dict]:
    return [{**row, "key": row.pop(by)} for row in stats(session, by=by, today=today, date_from=since)]


@router.get("/api/dashboard", response_model=Dashboard,
            summary="统计：预约按天（过去 days 天到可预约的最后一天，不含已取消）、事项、地点；"
                    "诉求按分类、镇（近 days 天登记的）和月份（近 12 个月）；超期和紧急的未办结诉求；"
                    "近 days 天问到的答不上的问题")
def dashboard(days: int = Query(30, ge=1, le=366), staff: StaffPrincipal = Depends(current_staff)) -> dict:
    today = datetime.now(TZ).date()
    since = today - timedelta(days=days - 1)
    bookings_to = today + timedelta(days=DEFAULT_HORIZON_DAYS)
    months_back = today.year * 12 + today.month - 1 - (MONTHS - 1)
    first_month = date(months_back // 12, months_back % 12 + 1, 1)
    with session_scope() as session:
        result = {
            "today": today.isoformat(), "days": days, "bookings_from": since.isoformat(),
            "bookings_to": bookings_to.isoformat(), "appeals_from": since.isoformat(),
            **_booking_counts(session, since, bookings_to),
            "appeals_per_category": _appeal_groups(session, "category", today, since),
            "appeals_per_town": _appeal_groups(session, "town", today, since),
            "appeals_per_month": _appeal_groups(session, "month", today, first_month),
            "overdue_appeals": [appeal_out(a, today) for a in appeals.overdue(session, today)],
            "urgent_appeals": [appeal_out(a, today) for a in appeals.list_appeals(
                session, urgent=True, open_only=True)],
        }
    result["knowledge_gaps"] = [{**gap.to_dict(), "question": redact(gap.question)}
                                for gap in gaps.listing(since=since, limit=50)]
    return result


@router.get("/dashboard", include_in_schema=False)
def dashboard_page(staff: StaffPrincipal = Depends(current_staff)) -> FileResponse:
    return FileResponse(PAGE)
