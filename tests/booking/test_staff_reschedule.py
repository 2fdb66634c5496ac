"""booking.service.staff_reschedule, which `vetbot bookings move` and the console's reschedule both
call: the calendar's check of the new time, the place's capacity, and nothing changed on a refusal.
Against a real migrated database (SQLite; PostgreSQL when configured) and the shipped catalogue."""
from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from booking.calendar import TZ
from booking.models import Slot
from booking.service import (
    InvalidTransition, NotFound, NotOffered, SlotFull, catalogue, create_booking, get_by_reference,
    staff_reschedule,
)
from vetbot.storage import get_engine, session_scope

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=TZ)  # a Monday morning
WED, THU, SAT = date(2026, 12, 9), date(2026, 12, 10), date(2026, 12, 12)


@pytest.fixture
def engine(url):
    """The shared `url` fixture's fresh database (each backend), as an engine."""
    return get_engine(url)


def book(engine, *, location="zhapu", day=WED, at=time(9), phone="13812345678") -> str:
    with session_scope(engine) as s:
        return create_booking(s, service_code="pingcan-xinban", location_code=location, date=day,
                              start_time=at, name="张建国", phone=phone, id_number="33048219650312123X",
                              capacity=2, actor="veteran:rest:u1", channel="rest").reference


def move(engine, reference: str, day: date, at: time):
    with session_scope(engine) as s:
        booking = staff_reschedule(s, reference, datetime.combine(day, at, TZ), actor="staff:王五", now=NOW)
        return booking.date, booking.start_time, booking.events[-1].actor, booking.events[-1].action


def slot_of(engine, reference: str) -> tuple:
    with session_scope(engine) as s:
        booking = get_by_reference(s, reference)
        return booking.date, booking.start_time


def test_moves_to_a_free_slot_with_the_places_capacity(engine):
    a = book(engine)
    assert move(engine, a, THU, time(14)) == (THU, time(14), "staff:王五", "rescheduled")
    with session_scope(engine) as s:
        capacity = s.execute(select(Slot.capacity).where(Slot.date == THU, Slot.start_time == time(14))).scalar_one()
    assert capacity == catalogue().location("zhapu").capacity_per_slot


@pytest.mark.parametrize("day, at, words", [
    (THU, time(12), "办理时间"),  # the lunch break
    (THU, time(9, 15), "办理时间"),  # not on the half hour
    (SAT, time(9), "休息日"),  # a rest day
    (date(2026, 12, 7), time(9), "已经过了"),  # earlier today
])
def test_a_time_the_calendar_refuses_changes_nothing(engine, day, at, words):
    a = book(engine)
    with pytest.raises(NotOffered) as refused:
        move(engine, a, day, at)
    assert words in str(refused.value)
    assert slot_of(engine, a) == (WED, time(9))


def test_a_full_slot_keeps_the_old_one(engine):
    a = book(engine)
    assert catalogue().location("zhapu").capacity_per_slot == 2  # locations.yml: two seats a slot
    for phone in ("13812345671", "13812345672"):
        book(engine, day=THU, at=time(14), phone=phone)
    with pytest.raises(SlotFull):
        move(engine, a, THU, time(14))
    assert slot_of(engine, a) == (WED, time(9))


def test_unknown_reference_and_a_place_no_longer_listed(engine):
    with pytest.raises(NotFound):
        move(engine, "ABCDEF", THU, time(14))
    gone = book(engine, location="closed-station")
    with pytest.raises(InvalidTransition) as refused:
        move(engine, gone, THU, time(14))
    assert str(refused.value) == "这个预约的地点已不再接受预约，不能改时间，请取消后重新预约。"
    assert slot_of(engine, gone) == (WED, time(9))
