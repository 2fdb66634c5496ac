"""Console API and page: bookings (预约) for staff, over booking.service.

What a booking looks like to staff and its CSV (booking/present.py), the filters' place and service
look-ups and the calendar's check before a reschedule (booking/service.py) are the ones
`vetbot bookings` uses, so the console and the CLI show and refuse the same things. Phones are masked in every response, the CSV
included (the CLI's --show-phone has no counterpart here). Every change and export is audited."""
from __future__ import annotations

from datetime import date as Date, datetime, time
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from booking import present, service
from booking.calendar import TZ
from booking.models import STATUSES
from booking.pii import redact
from console import audit
from console.auth import StaffPrincipal, current_staff
from console.csv_export import csv_response
from vetbot.storage import session_scope

router = APIRouter(tags=["bookings"])
PAGE = Path(__file__).resolve().parent / "static" / "bookings.html"
MAX_LIMIT = 1000


class BookingEventOut(BaseModel):
    at: str
    actor: str
    action: str
    change: str


class NextStatus(BaseModel):
    status: str
    label: str


class BookingOut(BaseModel):
    reference: str
    status: str
    status_label: str
    service_code: str
    service: str
    location_code: str
    location: str
    date: str
    start_time: str
    name: str
    phone: str = Field(description="隐去中间四位，如 138****5678")
    id_number: str = Field(description="隐去中间八位，如 330482********1234")
    channel: str | None
    created_at: str


class BookingDetail(BookingOut):
    events: list[BookingEventOut]
    next_statuses: list[NextStatus]


class BookingChanged(BookingDetail):
    notice: str = Field(description="老兵怎么得知：wechat 已发微信 / call 已列入待电话通知 / none 不用通知")


class BookingPage(BaseModel):
    total: int
    items: list[BookingOut]


class StatusChange(BaseModel):
    status: str = Field(description="arrived 已到场 / done 已办结 / no_show 未到场 / cancelled 已取消")
    note: str | None = Field(None, max_length=500)


class Reschedule(BaseModel):
    date: Date
    start_time: str = Field(regex=r"^\d{1,2}:\d{2}$", description="整点或半点，如 14:00")


class Cancel(BaseModel):
    reason: str | None = Field(None, max_length=500)


def _refusal(error: Exception) -> HTTPException:
    """A service refusal as the staff member should read it (the service's Chinese text)."""
    if isinstance(error, service.NotFound):
        return HTTPException(404, str(error))
    if isinstance(error, service.Refusal):
        return HTTPException(400, str(error))
    return HTTPException(409, str(error))


def _out(booking) -> dict:
    return present.as_dict(booking, show_phone=False)


def _detail(booking) -> dict:
    events = [{"at": present.local_time(e.at), "actor": e.actor, "action": e.action,
               "change": redact(present.change_text(e.before, e.after))} for e in booking.events]
    allowed = service.TRANSITIONS.get(booking.status, ())
    return {**_out(booking), "events": events,
            "next_statuses": [{"status": s, "label": service.STATUS_LABELS[s]}
                              for s in STATUSES if s in allowed]}


def _filtered(session, date_from, date_to, location, service_name, status, town) -> list:
    if date_from and date_to and date_from > date_to:
        raise HTTPException(400, "开始日期晚于结束日期，请检查日期范围。")
    try:
        codes = {service.location_code(text) for text in (location, town) if text}
        service_code = service.service_code(service_name)
    except service.Refusal as refusal:
        raise _refusal(refusal) from None
    if len(codes) > 1:  # a place and a town of two different stations: nothing is at both
        return []
    bad = [s for s in status or () if s not in STATUSES]
    if bad:
        raise HTTPException(400, f"没有“{bad[0]}”这个状态。可以是：{'、'.join(STATUSES)}")
    return service.list_bookings(session, date_from=date_from, date_to=date_to,
                                 location_code=next(iter(codes), None), service_code=service_code,
                                 statuses=status or None)


FILTER_NAMES = ("date_from", "date_to", "location", "service", "status", "town")


def _filters(date_from: Date | None = None, date_to: Date | None = None,
             location: str | None = Query(None, description="地点编号或名称，如 zhapu、乍浦"),
             service: str | None = Query(None, description="事项编号或名称，如 评残（新办）"),
             status: list[str] | None = Query(None, description="可重复：booked / arrived / done / no_show / cancelled"),
             town: str | None = Query(None, description="镇（街道）或村名，找它的服务站")) -> tuple:
    """The list and CSV filters (one dependency, so both read them the same way)."""
    return date_from, date_to, location, service, status, town


class Option(BaseModel):
    value: str
    label: str


class BookingOptions(BaseModel):
    services: list[Option]
    locations: list[Option]
    statuses: list[Option]


@router.get("/api/booking-options", response_model=BookingOptions, summary="筛选用的事项、地点和状态")
def booking_options(staff: StaffPrincipal = Depends(current_staff)) -> dict:
    catalogue = service.catalogue()
    return {"services": [{"value": s.id, "label": s.name} for s in catalogue.services],
            "locations": [{"value": loc.id, "label": loc.name} for loc in catalogue.locations],
            "statuses": [{"value": s, "label": service.STATUS_LABELS[s]} for s in STATUSES]}


@router.get("/api/bookings", response_model=BookingPage, summary="预约列表（按日期、时间）")
def list_bookings(filters: tuple = Depends(_filters), limit: int = Query(100, ge=1, le=MAX_LIMIT),
                  offset: int = Query(0, ge=0), staff: StaffPrincipal = Depends(current_staff)) -> dict:
    with session_scope() as session:
        bookings = _filtered(session, *filters)
        return {"total": len(bookings), "items": [_out(b) for b in bookings[offset:offset + limit]]}


@router.get("/api/bookings.csv", summary="导出预约 CSV（UTF-8 带 BOM；手机号隐去中间四位）",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_bookings(filters: tuple = Depends(_filters), staff: StaffPrincipal = Depends(current_staff)):
    with session_scope() as session:
        bookings = _filtered(session, *filters)
        text = present.csv_text(bookings, show_phone=False)
        audit.record(session, staff, "export", "booking", None,
                     {"rows": len(bookings), "filters": _filter_note(filters)})
    return csv_response(text, "bookings")


def _filter_note(filters: tuple) -> dict:
    """The filters of an export, for the audit row (free text masked: staff may type anything)."""
    shown = {str: redact, Date: Date.isoformat}
    return {k: shown.get(type(v), lambda x: x)(v) for k, v in zip(FILTER_NAMES, filters) if v}


@router.get("/api/bookings/{reference}", response_model=BookingDetail, summary="一个预约的详情和操作记录")
def get_booking(reference: str, staff: StaffPrincipal = Depends(current_staff)) -> dict:
    with session_scope() as session:
        booking = service.get_by_reference(session, reference)
        if booking is None:
            raise _refusal(service.NotFound())
        audit.record(session, staff, "view_booking", "booking", booking.reference)
        return _detail(booking)


def _actor(staff: StaffPrincipal) -> str:
    return f"staff:{staff.username}"


@router.post("/api/bookings/{reference}/status", response_model=BookingChanged,
             summary="登记到场 / 办结 / 未到场 / 取消（按规定的先后）")
def change_status(reference: str, body: StatusChange, staff: StaffPrincipal = Depends(current_staff)) -> dict:
    if body.status not in STATUSES:
        raise HTTPException(400, f"没有“{body.status}”这个状态。可以是：{'、'.join(STATUSES)}")
    with session_scope() as session:
        try:
            booking = service.set_status(session, reference, body.status, actor=_actor(staff),
                                         reason=_clean(body.note))
        except service.BookingError as error:
            raise _refusal(error) from None
        notice = _notify(session, booking)
        audit.record(session, staff, "booking_status", "booking", booking.reference,
                     {"status": booking.status, "notice": notice})
        return {**_detail(booking), "notice": notice}


@router.post("/api/bookings/{reference}/reschedule", response_model=BookingChanged,
             summary="改时间（同一地点；会通知老兵）")
def reschedule(reference: str, body: Reschedule, staff: StaffPrincipal = Depends(current_staff)) -> dict:
    try:
        start = datetime.combine(body.date, time.fromisoformat(body.start_time.zfill(5)), TZ)
    except ValueError:
        raise HTTPException(400, "时间写成 14:00 这样的整点或半点。") from None
    with session_scope() as session:
        try:
            booking = service.staff_reschedule(session, reference, start, actor=_actor(staff))
        except service.BookingError as error:
            raise _refusal(error) from None
        notice = _notify(session, booking)
        audit.record(session, staff, "booking_reschedule", "booking", booking.reference,
                     {"date": booking.date.isoformat(), "start_time": f"{booking.start_time:%H:%M}",
                      "notice": notice})
        return {**_detail(booking), "notice": notice}


@router.post("/api/bookings/{reference}/cancel", response_model=BookingChanged,
             summary="取消预约（释放时段；会通知老兵）")
def cancel(reference: str, body: Cancel, staff: StaffPrincipal = Depends(current_staff)) -> dict:
    with session_scope() as session:
        try:
            booking = service.cancel(session, reference, actor=_actor(staff), reason=_clean(body.reason))
        except service.BookingError as error:
            raise _refusal(error) from None
        notice = _notify(session, booking)
        audit.record(session, staff, "booking_cancel", "booking", booking.reference, {"notice": notice})
        return {**_detail(booking), "notice": notice}


def _clean(text: str | None) -> str | None:
    """A staff note as the audit trail keeps it: trimmed, numbers masked."""
    return redact(text.strip()) if text and text.strip() else None


def _notify(session, booking) -> str:
    """Tell the veteran of a staff change (booking.notices); how it went: wechat / call / none."""
    from booking.notices import notify_change
    from vetbot.notify import reaches_on_wechat

    if not notify_change(session, booking):
        return "none"
    return "wechat" if reaches_on_wechat(booking.channel, booking.sender_id) else "call"


@router.get("/bookings", include_in_schema=False)
def bookings_page(staff: StaffPrincipal = Depends(current_staff)) -> FileResponse:
    return FileResponse(PAGE)
