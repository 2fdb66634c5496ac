"""Bookings in the console API (console/routes_bookings.py) over the real booking service, logged
in through the real auth (tests/console/conftest.py): filters, detail, status changes in the
allowed order only, reschedule and cancel, the CSV, masking, the audit rows."""
from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from booking import service
from booking.calendar import TZ, bookable_days
from booking.models import BookingEvent
from console.models import StaffAudit
from vetbot.storage import session_scope

PHONE, OTHER_PHONE = "13812345678", "13998765432"
ID_NUMBER = "330482195001011234"


def workdays() -> list[date]:
    """Bookable working days from tomorrow on (a reschedule must be in the future)."""
    today = datetime.now(TZ).date()
    return [day for day in bookable_days(today) if day > today]


def book(*, location: str = "zhapu", service_code: str = "pingcan-xinban", day: date | None = None,
         at: time = time(9), phone: str = PHONE, channel: str = "rest") -> str:
    with session_scope() as session:
        return service.create_booking(
            session, service_code=service_code, location_code=location, date=day or workdays()[1],
            start_time=at, name="张建国", phone=phone, id_number=ID_NUMBER, capacity=4,
            actor=f"veteran:{channel}:s1", channel=channel, sender_id="s1").reference


@pytest.fixture
def three(console_db):
    """Two bookings at 乍浦 (one cancelled) and one at the centre, on two days."""
    first, second = workdays()[1:3]
    zhapu = book(day=first)
    centre = book(location="centre", service_code="youdaizheng-shenling", day=second, phone=OTHER_PHONE)
    cancelled = book(day=second, at=time(10))
    with session_scope() as session:
        service.cancel(session, cancelled, actor="veteran:rest:s1")
    return {"zhapu": zhapu, "centre": centre, "cancelled": cancelled, "first": first, "second": second}


def references(client, **params) -> list[str]:
    answer = client.get("/api/bookings", params=params)
    assert answer.status_code == 200, answer.text
    return [b["reference"] for b in answer.json()["items"]]


def test_list_filters(staff_client, three):
    client = staff_client()
    assert sorted(references(client)) == sorted([three["zhapu"], three["centre"], three["cancelled"]])
    assert sorted(references(client, location="乍浦")) == sorted([three["zhapu"], three["cancelled"]])
    assert references(client, location="centre") == [three["centre"]]
    assert sorted(references(client, town="乍浦镇")) == sorted([three["zhapu"], three["cancelled"]])
    assert references(client, location="centre", town="乍浦") == []  # two stations: nothing is at both
    assert references(client, service="youdaizheng-shenling") == [three["centre"]]
    assert references(client, status="cancelled") == [three["cancelled"]]
    assert sorted(references(client, status=["booked", "cancelled"], location="zhapu")) == sorted(
        [three["zhapu"], three["cancelled"]])
    assert references(client, date_from=three["first"].isoformat(), date_to=three["first"].isoformat()) == [three["zhapu"]]
    page = client.get("/api/bookings", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 3 and len(page["items"]) == 1


def test_list_refuses_unknown_values_in_chinese(staff_client, three):
    client = staff_client()
    answer = client.get("/api/bookings", params={"location": "火星"})
    assert answer.status_code == 400 and "没有叫“火星”的地点" in answer.json()["detail"]
    answer = client.get("/api/bookings", params={"status": "lost"})
    assert answer.status_code == 400 and "lost" in answer.json()["detail"]


def test_phones_and_id_numbers_masked_in_list_and_detail(staff_client, three):
    client = staff_client()
    listed = client.get("/api/bookings")
    detail = client.get(f"/api/bookings/{three['zhapu']}")
    for answer in (listed, detail):
        assert PHONE not in answer.text and OTHER_PHONE not in answer.text and ID_NUMBER not in answer.text
    assert detail.json()["phone"] == "138****5678"
    assert detail.json()["id_number"] == "330482********1234"


def test_detail_offers_only_the_allowed_statuses_and_the_view_is_audited(staff_client, three, audit_rows):
    client = staff_client(username="wangwu")
    detail = client.get(f"/api/bookings/{three['zhapu']}").json()
    assert [s["status"] for s in detail["next_statuses"]] == ["arrived", "no_show", "cancelled"]
    assert [e["action"] for e in detail["events"]] == ["created"]
    assert client.get(f"/api/bookings/{three['cancelled']}").json()["next_statuses"] == []
    missing = client.get("/api/bookings/ZZZZZZZ")
    assert missing.status_code == 404 and missing.json()["detail"] == "没有找到这个预约，请核对预约号。"
    assert audit_rows("view_booking") == [("wangwu", "view_booking", "booking", three["zhapu"]),
                                          ("wangwu", "view_booking", "booking", three["cancelled"])]


def test_status_change_in_order_audited_and_an_illegal_one_refused(staff_client, three, audit_rows):
    client = staff_client(username="wangwu")
    refused = client.post(f"/api/bookings/{three['zhapu']}/status", json={"status": "done"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == f"预约 {three['zhapu']} 现在是“已预约”，不能改为“已办结”。"
    assert audit_rows("booking_status") == []

    arrived = client.post(f"/api/bookings/{three['zhapu']}/status", json={"status": "arrived", "note": "本人到场"})
    assert arrived.status_code == 200, arrived.text
    assert arrived.json()["status"] == "arrived"
    assert [s["status"] for s in arrived.json()["next_statuses"]] == ["done"]
    assert audit_rows("booking_status") == [("wangwu", "booking_status", "booking", three["zhapu"])]
    with session_scope() as session:
        event = session.execute(select(BookingEvent).order_by(BookingEvent.id.desc())).scalars().first()
        assert (event.actor, event.after["status"], event.after["reason"]) == ("staff:wangwu", "arrived", "本人到场")


def test_reschedule_checks_the_calendar_and_tells_the_veteran(staff_client, three, audit_rows):
    client = staff_client(username="wangwu")
    day = three["first"].isoformat()
    closed = client.post(f"/api/bookings/{three['zhapu']}/reschedule", json={"date": day, "start_time": "12:00"})
    assert closed.status_code == 409 and "办理时间是上午" in closed.json()["detail"]
    moved = client.post(f"/api/bookings/{three['zhapu']}/reschedule", json={"date": day, "start_time": "14:30"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["date"], moved.json()["start_time"]) == (day, "14:30")
    assert moved.json()["notice"] == "call"  # booked over REST: staff phone the veteran
    assert moved.json()["events"][-1]["change"] == "改期 09:00 → 14:30"
    assert audit_rows("booking_reschedule") == [("wangwu", "booking_reschedule", "booking", three["zhapu"])]


def test_cancel_with_reason_audited_and_twice_refused(staff_client, three, audit_rows):
    client = staff_client(username="wangwu")
    cancelled = client.post(f"/api/bookings/{three['zhapu']}/cancel", json={"reason": "老兵来电说住院了，电话13812345678"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert "原因：老兵来电说住院了，电话138****5678" in cancelled.json()["events"][-1]["change"]
    again = client.post(f"/api/bookings/{three['zhapu']}/cancel", json={})
    assert again.status_code == 409 and "不能改为“已取消”" in again.json()["detail"]
    assert audit_rows("booking_cancel") == [("wangwu", "booking_cancel", "booking", three["zhapu"])]


def test_csv_is_excel_ready_masked_filtered_and_audited(staff_client, three, audit_rows):
    client = staff_client(username="wangwu")
    answer = client.get("/api/bookings.csv", params={"location": "zhapu"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    text = answer.content.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("预约号,日期,时间,地点,事项,姓名,手机,身份证号")
    assert len(lines) == 3 and {three["zhapu"], three["cancelled"]} == {line.split(",")[0] for line in lines[1:]}
    assert "138****5678" in text and PHONE not in text and ID_NUMBER not in text
    assert audit_rows("export") == [("wangwu", "export", "booking", None)]


def test_export_audit_keeps_the_filters_masked(staff_client, three):
    client = staff_client()
    answer = client.get("/api/bookings.csv", params={"town": "乍浦 13812345678", "status": "booked"})
    assert answer.status_code == 200
    with session_scope() as session:
        detail = session.execute(select(StaffAudit.detail).where(StaffAudit.action == "export")).scalar_one()
    assert detail == {"rows": 1, "filters": {"town": "乍浦 138****5678", "status": ["booked"]}}


def test_page_needs_a_login(console_client, staff_client):
    assert console_client.get("/bookings", follow_redirects=False).status_code == 303
    assert console_client.get("/api/bookings").status_code == 401
    page = staff_client().get("/bookings")
    assert page.status_code == 200 and "/static/bookings.js" in page.text
