"""The booking service against a real migrated database (SQLite; PostgreSQL when configured)."""
from __future__ import annotations

from datetime import date, time

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from booking import reference
from booking.models import Booking, BookingEvent, Slot
from booking.service import (
    InvalidTransition, NotFound, SlotFull, cancel, create_booking, find_by_phone,
    get_by_reference, list_bookings, reschedule, seats_taken, set_status,
)
from vetbot.storage import get_engine, session_scope, utcnow

DAY = date(2026, 12, 9)
NINE, HALF_NINE = time(9, 0), time(9, 30)
ID_NUMBER = "33048219650312123X"


@pytest.fixture
def engine(url):
    """The shared `url` fixture's fresh database (each backend), as an engine."""
    return get_engine(url)


def book(session, *, service="pingcan", location="zhapu", day=DAY, at=NINE, capacity=5,
         phone="13812345678", name="张建国", actor="veteran:rest:u1"):
    return create_booking(session, service_code=service, location_code=location, date=day,
                          start_time=at, name=name, phone=phone, id_number=ID_NUMBER,
                          capacity=capacity, actor=actor, channel="rest", sender_id="u1")


def slot_booked(session, location="zhapu", day=DAY, at=NINE) -> int:
    return session.execute(select(Slot.booked).where(
        Slot.location_code == location, Slot.date == day, Slot.start_time == at)).scalar_one()


def test_create_stores_masked_id_and_records_who_and_when(engine):
    before = utcnow()
    with session_scope(engine) as s:
        ref = book(s, phone="138 1234 5678").reference
    after = utcnow()
    with session_scope(engine) as s:
        b = get_by_reference(s, ref)
        assert reference.is_valid(ref)
        assert (b.service_code, b.location_code, b.date, b.start_time, b.status) == (
            "pingcan", "zhapu", DAY, NINE, "booked")
        assert (b.name, b.phone, b.id_masked) == ("张建国", "13812345678", "330482********123X")
        assert (b.channel, b.sender_id) == ("rest", "u1")
        [event] = b.events
        assert (event.actor, event.action, event.before) == ("veteran:rest:u1", "created", None)
        assert event.after == {"status": "booked", "service_code": "pingcan",
                               "location_code": "zhapu", "date": "2026-12-09",
                               "start_time": "09:00"}
        assert before <= event.at <= after
        assert slot_booked(s) == 1


def test_repr_masks_phone_and_id(engine):
    with session_scope(engine) as s:
        b = book(s)
        shown = repr(b) + repr(b.events[0]) + repr(b.slot)
    assert "13812345678" not in shown and "138****5678" in shown
    assert "330482********123X" in shown and "1965" not in shown


def test_full_slot_refuses_and_leaves_nothing_behind(engine):
    with session_scope(engine) as s:
        book(s, capacity=1)
    with pytest.raises(SlotFull), session_scope(engine) as s:
        book(s, capacity=1, phone="13900000000")
    with session_scope(engine) as s:
        assert [b.phone for b in list_bookings(s)] == ["13812345678"]
        assert slot_booked(s) == 1


def test_capacity_recorded_per_booking_so_a_raised_capacity_applies(engine):
    with session_scope(engine) as s:
        book(s, capacity=1)
    with session_scope(engine) as s:
        book(s, capacity=2, phone="13900000000")
        assert seats_taken(s, "zhapu", DAY) == {NINE: 2}


def test_get_by_reference_checks_phone_and_reference(engine):
    with session_scope(engine) as s:
        ref = book(s).reference
    with session_scope(engine) as s:
        assert get_by_reference(s, ref, phone="13812345678").reference == ref
        spaced = f" {ref[:3].lower()}-{ref[3:]} "
        assert get_by_reference(s, spaced, phone="138-1234-5678").reference == ref
        assert get_by_reference(s, ref, phone="13900000000") is None
        assert get_by_reference(s, ref, phone="not a phone") is None
        wrong_check = ref[:-1] + next(c for c in reference.ALPHABET if c != ref[-1])
        assert get_by_reference(s, wrong_check) is None


def test_find_by_phone_lists_active_bookings_earliest_first(engine):
    with session_scope(engine) as s:
        later = book(s, day=date(2026, 12, 10)).reference
        earlier = book(s, at=HALF_NINE).reference
        cancelled = book(s).reference
        book(s, phone="13900000000")
        cancel(s, cancelled, actor="veteran:rest:u1")
    with session_scope(engine) as s:
        assert [b.reference for b in find_by_phone(s, "13812345678")] == [earlier, later]
        everything = find_by_phone(s, "13812345678", statuses=("booked", "cancelled"))
        assert [b.reference for b in everything] == [cancelled, earlier, later]


def test_cancel_frees_the_seat_and_is_audited(engine):
    with session_scope(engine) as s:
        ref = book(s, capacity=1).reference
    with session_scope(engine) as s:
        cancel(s, ref, actor="staff:wang")
    with session_scope(engine) as s:
        assert slot_booked(s) == 0
        book(s, capacity=1, phone="13900000000")  # the freed seat can be taken again
        b = get_by_reference(s, ref)
        assert b.status == "cancelled"
        created, cancelled = b.events
        assert (created.action, created.actor, created.before) == ("created", "veteran:rest:u1", None)
        assert (cancelled.action, cancelled.actor) == ("status", "staff:wang")
        assert (cancelled.before["status"], cancelled.after["status"]) == ("booked", "cancelled")


def test_status_path_and_refused_transitions(engine):
    with session_scope(engine) as s:
        ref = book(s).reference
        set_status(s, ref, "arrived", actor="staff:li")
        set_status(s, ref, "done", actor="staff:li")
        with pytest.raises(InvalidTransition):
            cancel(s, ref, actor="staff:li")
        assert slot_booked(s) == 1  # a finished booking keeps its seat
        with pytest.raises(ValueError):
            set_status(s, ref, "lost", actor="staff:li")
        assert [e.after["status"] for e in get_by_reference(s, ref).events] == [
            "booked", "arrived", "done"]
        no_show = book(s, phone="13900000000").reference
        set_status(s, no_show, "no_show", actor="staff:li")
        with pytest.raises(InvalidTransition):
            set_status(s, no_show, "arrived", actor="staff:li")
        with pytest.raises(NotFound):
            cancel(s, "ABCDEFG", actor="staff:li")


def test_reschedule_moves_the_seat(engine):
    with session_scope(engine) as s:
        ref = book(s).reference
    with session_scope(engine) as s:
        reschedule(s, ref, date=DAY, start_time=HALF_NINE, capacity=5, actor="veteran:rest:u1")
    with session_scope(engine) as s:
        b = get_by_reference(s, ref)
        assert (b.date, b.start_time, b.status) == (DAY, HALF_NINE, "booked")
        assert seats_taken(s, "zhapu", DAY) == {NINE: 0, HALF_NINE: 1}
        event = b.events[-1]
        assert (event.action, event.before["start_time"], event.after["start_time"]) == (
            "rescheduled", "09:00", "09:30")
        # to the slot it already has: nothing changes, nothing is recorded
        reschedule(s, ref, date=DAY, start_time=HALF_NINE, capacity=5, actor="veteran:rest:u1")
        assert len(b.events) == 2 and seats_taken(s, "zhapu", DAY) == {NINE: 0, HALF_NINE: 1}


def test_reschedule_to_a_full_slot_keeps_the_old_one(engine):
    with session_scope(engine) as s:
        ref = book(s).reference
        book(s, at=HALF_NINE, capacity=1, phone="13900000000")
    with pytest.raises(SlotFull), session_scope(engine) as s:
        reschedule(s, ref, date=DAY, start_time=HALF_NINE, capacity=1, actor="veteran:rest:u1")
    with session_scope(engine) as s:
        b = get_by_reference(s, ref)
        assert (b.start_time, len(b.events)) == (NINE, 1)
        assert seats_taken(s, "zhapu", DAY) == {NINE: 1, HALF_NINE: 1}


def test_list_filters(engine):
    with session_scope(engine) as s:
        a = book(s).reference
        b = book(s, location="dangHu").reference
        c = book(s, service="youdaizheng", day=date(2026, 12, 10)).reference
        d = book(s, day=date(2026, 12, 11)).reference
        set_status(s, d, "cancelled", actor="staff:li")

        def refs(**filters):
            return [x.reference for x in list_bookings(s, **filters)]

        assert refs() == [a, b, c, d]
        assert refs(date=DAY) == [a, b]
        assert refs(date_from=date(2026, 12, 10)) == [c, d]
        assert refs(date_to=date(2026, 12, 10)) == [a, b, c]
        assert refs(location_code="dangHu") == [b]
        assert refs(service_code="youdaizheng") == [c]
        assert refs(statuses=["cancelled"]) == [d]
        assert refs(location_code="zhapu", statuses=["booked"]) == [a, c]


def test_audit_trail_is_append_only_in_the_database(engine):
    with session_scope(engine) as s:
        book(s)
    for statement in ("UPDATE booking_event SET actor = 'someone else'", "DELETE FROM booking_event"):
        with pytest.raises(DBAPIError, match="append-only"), session_scope(engine) as s:
            s.execute(text(statement))
    with session_scope(engine) as s:
        assert s.execute(select(BookingEvent.actor)).scalars().all() == ["veteran:rest:u1"]


def test_malformed_personal_data_is_refused(engine):
    with session_scope(engine) as s:
        with pytest.raises(ValueError, match="手机号"):
            book(s, phone="1381234567")
        with pytest.raises(ValueError):
            book(s, name="  ")
        assert s.execute(select(Booking)).first() is None
