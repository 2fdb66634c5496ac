"""The dashboard API (console/routes_dashboard.py) over real bookings, appeals and gap records:
counts per day / service / location (cancelled left out), appeal groups, the overdue and urgent
lists, the knowledge gaps with their counts, masking, and the login."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from booking import service
from booking.calendar import TZ
from knowledge import gaps
from tests.appeals.helpers import file
from tests.console.test_bookings_api import book, workdays
from vetbot.storage import session_scope


def test_dashboard_counts_lists_and_gaps(console_db, staff_client):
    day = workdays()[1]
    book(day=day)
    book(day=day, at=time(10))
    book(location="centre", service_code="youdaizheng-shenling", day=day)
    cancelled = book(day=day, at=time(11))
    with session_scope() as session:
        service.cancel(session, cancelled, actor="veteran:rest:s1")
    now = datetime.now(TZ)
    urgent = file(console_db, key="u", signals=["hardship"], category="kunnan", town="新仓镇", when=now)
    overdue = file(console_db, key="o", category="zhengce", town="乍浦", when=now - timedelta(days=20))
    old = file(console_db, key="x", when=now - timedelta(days=200))  # outside a 30-day window
    for _ in range(3):
        gaps.record("我的电话13812345678，残疾金什么时候发", gaps.REFUSED)
    gaps.record("优待证能坐高铁吗", gaps.DID_YOU_MEAN)

    answer = staff_client().get("/api/dashboard", params={"days": 30})
    assert answer.status_code == 200, answer.text
    d = answer.json()
    per_day = {row["key"]: row["count"] for row in d["bookings_per_day"]}
    assert per_day[day.isoformat()] == 3 and sum(per_day.values()) == 3  # the cancelled one left out
    assert d["bookings_cancelled"] == 1
    assert [(r["key"], r["count"]) for r in d["bookings_per_service"]] == [
        ("pingcan-xinban", 2), ("youdaizheng-shenling", 1)]
    assert [(r["label"], r["count"]) for r in d["bookings_per_location"]] == [
        ("乍浦镇退役军人服务站", 2), ("平湖市退役军人服务中心", 1)]
    categories = {r["key"]: r["total"] for r in d["appeals_per_category"]}
    assert categories == {"生活困难": 1, "政策咨询": 1}  # the 200-day-old one is outside the window
    assert sum(r["total"] for r in d["appeals_per_town"]) == 2
    assert sum(r["total"] for r in d["appeals_per_month"]) == 3  # a year of months
    # open and past their deadline whenever filed; nearest deadline first
    assert [a["reference"] for a in d["overdue_appeals"]] == [old, overdue]
    assert [a["reference"] for a in d["urgent_appeals"]] == [urgent]
    assert [(g["question"], g["count"]) for g in d["knowledge_gaps"]] == [
        ("我的电话138****5678,残疾金什么时候发", 3), ("优待证能坐高铁吗", 1)]
    assert "13812345678" not in answer.text

    year = staff_client().get("/api/dashboard", params={"days": 366}).json()
    assert {r["key"]: r["total"] for r in year["appeals_per_category"]}["待遇落实"] == 1


def test_dashboard_window_bounds_and_login(console_client, staff_client):
    client = staff_client()
    assert client.get("/api/dashboard", params={"days": 0}).status_code == 422
    assert client.get("/api/dashboard", params={"days": 367}).status_code == 422
    assert console_client.get("/api/dashboard").status_code == 401
    assert console_client.get("/dashboard", follow_redirects=False).status_code == 303
    page = client.get("/dashboard")
    assert page.status_code == 200 and "chart-4.4.7.umd.js" in page.text
