"""The booking service: every function takes an open session (see vetbot.storage.session_scope) and
plain values, and leaves committing to the caller, so the dialogue, the console and the CLI share it.
Validation of service, location, date and time against the catalogue and calendar is the caller's
(the dialogue asks again in its own words), except for staff: `staff_reschedule` is the calendar's
check and the move in one, and `location_code` / `service_code` read the place or service staff
typed. Every change writes a BookingEvent (the audit trail)."""
from __future__ import annotations

from datetime import date as Date, datetime, time as Time
from functools import lru_cache

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, contains_eager

from booking import reference as ref
from booking.calendar import TZ, NotBookable, check_slot
from booking.catalogue import Catalogue, load_catalogue
from booking.models import (
    ARRIVED, BOOKED, CANCELLED, DONE, NO_SHOW, STATUSES, Booking, BookingEvent, Slot,
)
from booking.pii import ProtectedId, normalize_phone
from vetbot.storage.base import utcnow

# Which status may follow which; staff record each step with who and when.
TRANSITIONS = {BOOKED: {ARRIVED, NO_SHOW, CANCELLED}, ARRIVED: {DONE}}
# How staff and veterans read a status.
STATUS_LABELS = {BOOKED: "已预约", ARRIVED: "已到场", DONE: "已办结", NO_SHOW: "未到场",
                 CANCELLED: "已取消"}


class BookingError(Exception):
    """A refusal the dialogue or console can show as is (Chinese, short)."""


class SlotFull(BookingError):
    def __init__(self) -> None:
        super().__init__("这个时段已经约满了，请换一个时间。")


class NotFound(BookingError):
    def __init__(self) -> None:
        super().__init__("没有找到这个预约，请核对预约号。")


class InvalidTransition(BookingError):
    pass


class NotOffered(BookingError):
    """A time staff may not book: past, a rest day, outside the place's hours (the calendar's words)."""


class Refusal(BookingError):
    """What staff asked for is not there as written (an unknown place or service, a date the CLI
    cannot read); str() is the Chinese message. The console answers it 400, other errors 409."""


@lru_cache(maxsize=None)
def catalogue() -> Catalogue:
    """The services and places (catalogue.yml, locations.yml), read once per process."""
    return load_catalogue()


def location_code(text: str | None) -> str | None:
    """A place by its id or name, or the station of a town or village named (乍浦 → zhapu);
    Refusal listing the places when nothing fits."""
    if text is None:
        return None
    places = catalogue()
    for location in places.locations:
        if text in (location.id, location.name):
            return location.id
    location = places.nearest_location(text)
    if location is None:
        known = "、".join(f"{loc.id}（{loc.name}）" for loc in places.locations)
        raise Refusal(f"没有叫“{text}”的地点。可用的地点：{known}")
    return location.id


def service_code(text: str | None) -> str | None:
    """A service by its id, name or a word for it; Refusal naming the candidates when none or
    several fit."""
    if text is None:
        return None
    services = catalogue()
    for service in services.services:
        if text == service.id:
            return service.id
    found = services.find_service(text)
    if len(found) == 1:
        return found[0].id
    candidates = found or services.services
    listed = "、".join(f"{s.id}（{s.name}）" for s in candidates)
    problem = f"“{text}”对应多个事项，请写明是哪一个" if found else f"没有叫“{text}”的事项"
    raise Refusal(f"{problem}：{listed}")


def _take_seat(session: Session, location_code: str, date: Date, start_time: Time,
               capacity: int) -> Slot:
    """One seat in the slot, or SlotFull. The guard is a single conditional UPDATE
    (`booked = booked + 1 WHERE booked < capacity`) in the booking's own transaction: the database
    applies it atomically against the committed row (row lock on PostgreSQL, the write lock on
    SQLite), so N racing requests for k seats get exactly k, and a failed booking releases its
    seat by rolling back. Chosen over one row per seat number because the slot stays one row
    (capacity changes are one value, a cancel is one decrement) and nothing needs a retry loop.
    `capacity` is the configured one, recorded on the slot each time a seat is taken."""
    values = dict(location_code=location_code, date=date, start_time=start_time)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(Slot).values(**values, capacity=capacity, booked=0)
                    .on_conflict_do_nothing(index_elements=list(values)))
    where = [getattr(Slot, k) == v for k, v in values.items()]
    taken = session.execute(
        update(Slot).where(*where, Slot.booked < capacity)
        .values(booked=Slot.booked + 1, capacity=capacity)
        .execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        raise SlotFull()
    return session.execute(select(Slot).where(*where).execution_options(populate_existing=True)
                           ).scalar_one()


def _release_seat(session: Session, slot: Slot) -> None:
    session.execute(update(Slot).where(Slot.id == slot.id).values(booked=Slot.booked - 1)
                    .execution_options(synchronize_session=False))


def _record(session: Session, booking: Booking, actor: str, action: str,
            before: dict | None, reason: str | None = None) -> None:
    """`reason` (why staff made the change) is kept with the state after it, in the event."""
    if not actor:
        raise ValueError("every change needs an actor (who made it)")
    now = utcnow()
    booking.updated_at = now
    after = booking.snapshot()
    if reason:
        after["reason"] = reason
    session.add(BookingEvent(booking=booking, at=now, actor=actor, action=action,
                             before=before, after=after))
    session.flush()


def create_booking(session: Session, *, service_code: str, location_code: str, date: Date,
                   start_time: Time, name: str, phone: str, id_number: str | ProtectedId,
                   capacity: int,
                   actor: str, channel: str | None = None,
                   sender_id: str | None = None) -> Booking:
    """Book one seat; raises SlotFull, or ValueError for a malformed phone, ID or empty field.
    `id_number` may come already protected (the dialogue never keeps it in clear)."""
    name = name.strip()
    identity = id_number if isinstance(id_number, ProtectedId) else ProtectedId.of(id_number)
    if not (service_code and location_code and name):
        raise ValueError("service_code, location_code and name are required")
    booking = Booking(
        reference=_unused_reference(session), service_code=service_code, name=name,
        phone=normalize_phone(phone), id_hash=identity.hash, id_masked=identity.masked,
        status=BOOKED, channel=channel, sender_id=sender_id,
        slot=_take_seat(session, location_code, date, start_time, capacity))
    session.add(booking)
    _record(session, booking, actor, "created", before=None)
    return booking


def _unused_reference(session: Session) -> str:
    # 32**6 ≈ 10**9 references: a clash is rare; the unique constraint catches a concurrent one.
    while True:
        candidate = ref.new_reference()
        if session.execute(select(Booking.id).where(Booking.reference == candidate)).first() is None:
            return candidate


def get_by_reference(session: Session, reference: str, *, phone: str | None = None
                     ) -> Booking | None:
    """The booking with this reference; with `phone`, only if it was booked with that phone
    (a veteran's look-up: a wrong phone looks exactly like a wrong reference)."""
    if not ref.is_valid(reference):
        return None
    booking = session.execute(select(Booking).where(Booking.reference == ref.normalize(reference))
                              ).scalar_one_or_none()
    if booking is None or (phone is not None and booking.phone != _phone_or_none(phone)):
        return None
    return booking


def _phone_or_none(phone: str) -> str | None:
    try:
        return normalize_phone(phone)
    except ValueError:
        return None


def find_by_phone(session: Session, phone: str, *, statuses=(BOOKED,)) -> list[Booking]:
    """Bookings made with this phone, in the given statuses, earliest first."""
    return list_bookings(session, phone=normalize_phone(phone), statuses=statuses)


def _for_change(session: Session, reference: str) -> Booking:
    """The booking, locked until the transaction ends (PostgreSQL; SQLite's write lock is already
    held), re-read, so two concurrent changes of one booking apply one after the other."""
    booking = session.execute(
        select(Booking).where(Booking.reference == ref.normalize(reference))
        .with_for_update(of=Booking).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if booking is None:
        raise NotFound()
    return booking


def reschedule(session: Session, reference: str, *, date: Date, start_time: Time, capacity: int,
               actor: str, location_code: str | None = None) -> Booking:
    """Move a booked booking to another slot (same location unless given); SlotFull leaves it as
    it was. Moving to the slot it already has changes nothing."""
    booking = _for_change(session, reference)
    if booking.status != BOOKED:
        raise InvalidTransition("这个预约已经不能改时间了。")
    location_code = location_code or booking.location_code
    if (location_code, date, start_time) == (booking.location_code, booking.date,
                                             booking.start_time):
        return booking
    before = booking.snapshot()
    old_slot = booking.slot
    booking.slot = _take_seat(session, location_code, date, start_time, capacity)
    _release_seat(session, old_slot)
    _record(session, booking, actor, "rescheduled", before)
    return booking


def staff_reschedule(session: Session, reference: str, start: datetime, *, actor: str,
                     now: datetime | None = None) -> Booking:
    """Staff move a booking to another slot of the same place (the veteran rang): the place must
    still be in locations.yml, `start` a future slot of its hours on a bookable day (NotOffered
    with the calendar's words), and the seat is taken as `reschedule` does. Telling the veteran
    is the caller's (booking.notices)."""
    booking = get_by_reference(session, reference)
    if booking is None:
        raise NotFound()
    try:
        location = catalogue().location(booking.location_code)
    except KeyError:  # the place left locations.yml after the booking was made
        raise InvalidTransition("这个预约的地点已不再接受预约，不能改时间，请取消后重新预约。") from None
    try:
        check_slot(start, now or datetime.now(TZ), location.hours)
    except NotBookable as refusal:
        raise NotOffered(str(refusal)) from None
    start = start.astimezone(TZ)
    return reschedule(session, reference, date=start.date(), start_time=start.time(),
                      capacity=location.capacity_per_slot, actor=actor)


def set_status(session: Session, reference: str, status: str, *, actor: str,
               reason: str | None = None) -> Booking:
    """booked → arrived → done, or booked → no_show / cancelled; a cancel frees the seat."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    booking = _for_change(session, reference)
    if status not in TRANSITIONS.get(booking.status, ()):
        raise InvalidTransition(f"预约 {booking.reference} 现在是“{STATUS_LABELS[booking.status]}”，"
                                f"不能改为“{STATUS_LABELS[status]}”。")
    before = booking.snapshot()
    booking.status = status
    if status == CANCELLED:
        _release_seat(session, booking.slot)
    _record(session, booking, actor, "status", before, reason)
    return booking


def cancel(session: Session, reference: str, *, actor: str, reason: str | None = None) -> Booking:
    return set_status(session, reference, CANCELLED, actor=actor, reason=reason)


def list_bookings(session: Session, *, date: Date | None = None, date_from: Date | None = None,
                  date_to: Date | None = None, location_code: str | None = None,
                  service_code: str | None = None, statuses=None,
                  phone: str | None = None) -> list[Booking]:
    """Bookings matching every filter given (dates inclusive), by date, time and creation."""
    query = select(Booking).join(Booking.slot).options(contains_eager(Booking.slot))
    if date is not None:
        query = query.where(Slot.date == date)
    if date_from is not None:
        query = query.where(Slot.date >= date_from)
    if date_to is not None:
        query = query.where(Slot.date <= date_to)
    if location_code is not None:
        query = query.where(Slot.location_code == location_code)
    if service_code is not None:
        query = query.where(Booking.service_code == service_code)
    if statuses is not None:
        query = query.where(Booking.status.in_(statuses))
    if phone is not None:
        query = query.where(Booking.phone == phone)
    return list(session.execute(
        query.order_by(Slot.date, Slot.start_time, Booking.id)).scalars())


def seats_taken(session: Session, location_code: str, date: Date) -> dict[Time, int]:
    """Booked seats per start time at a location on a day (slots nobody booked are absent)."""
    rows = session.execute(select(Slot.start_time, Slot.booked).where(
        Slot.location_code == location_code, Slot.date == date))
    return {start: booked for start, booked in rows}


__all__ = [
    "ARRIVED", "BOOKED", "CANCELLED", "DONE", "NO_SHOW", "BookingError", "InvalidTransition",
    "NotFound", "NotOffered", "Refusal", "STATUS_LABELS", "SlotFull", "cancel", "catalogue",
    "create_booking", "find_by_phone", "get_by_reference", "list_bookings", "location_code",
    "reschedule", "seats_taken", "service_code", "set_status", "staff_reschedule",
]
