"""Notices to veterans about their bookings, through the channel they booked on (vetbot.notify:
WeChat → the outbox; any other channel, or a booking staff made on the phone → a staff task, for
someone to phone the veteran), once per dedupe key, in the caller's transaction."""
from __future__ import annotations

from datetime import date
from functools import lru_cache

from sqlalchemy.orm import Session

from booking.calendar import day_label
from booking.models import CANCELLED, Booking
from vetbot import notify

REMINDER, CHANGED = "booking_reminder", "booking_changed"
CANCEL_HINT = "不能来的话，请回复“取消预约”。"


def send_notice(session: Session, booking: Booking, kind: str, text: str, dedupe_key: str) -> bool:
    """Queue the notice on the booking's channel (vetbot.notify); True if it was new."""
    return notify.send_notice(session, channel=booking.channel, sender_id=booking.sender_id,
                              reference=booking.reference, kind=kind, text=text,
                              dedupe_key=dedupe_key)


def reminder_text(booking: Booking) -> str:
    service = _catalogue().service(booking.service_code)
    return "\n".join([
        f"【预约提醒】您明天要办理{service.name}：",
        _when_and_where(booking.date, booking.start_time, booking.location_code),
        f"预约号：{booking.reference}",
        "请带好：", service.checklist(),
        CANCEL_HINT,
    ])


def notify_change(session: Session, booking: Booking) -> bool:
    """Call after staff changed `booking` (booking.service.reschedule / cancel): its latest audit
    event says who changed what. A reschedule or cancel by staff is told to the veteran; a
    veteran's own change is not (they saw the answer in the chat), nor any other change.
    True if a notice was queued; at most one per event."""
    event = booking.events[-1]
    before = event.before
    if event.actor.startswith("veteran:") or before is None:
        return False
    service = _catalogue().service(booking.service_code)
    if booking.status == CANCELLED and before["status"] != CANCELLED:
        lines = [f"【预约取消】您{_when(before)}办理{service.name}的预约（预约号 {booking.reference}）"
                 "已由工作人员取消。", "如需重新预约，请回复“预约”，或打电话问工作人员。"]
    elif event.action == "rescheduled":
        lines = [f"【预约变更】工作人员把您办理{service.name}的预约（预约号 {booking.reference}）改到：",
                 _when_and_where(booking.date, booking.start_time, booking.location_code),
                 CANCEL_HINT]
    else:
        return False
    return send_notice(session, booking, CHANGED, "\n".join(lines),
                       f"changed:{booking.reference}:{event.id}")


def _when(snapshot: dict) -> str:
    return f"{day_label(date.fromisoformat(snapshot['date']))}{_clock(snapshot['start_time'])}"


def _when_and_where(day, start_time, location_code: str) -> str:
    location = _catalogue().location(location_code)
    where = location.name
    if not location.address.startswith("待确认"):
        where += f"（{location.address}）"
    return f"{day_label(day)}{_clock(start_time.strftime('%H:%M'))}，{where}"


def _clock(hh_mm: str) -> str:
    """"09:00" → "上午9:00", "14:30" → "下午2:30"."""
    hour, minute = (int(part) for part in hh_mm.split(":"))
    half = "上午" if hour < 12 else "下午"
    return f"{half}{hour if hour <= 12 else hour - 12}:{minute:02d}"


@lru_cache(maxsize=None)
def _catalogue():
    from booking.catalogue import load_catalogue

    return load_catalogue()
