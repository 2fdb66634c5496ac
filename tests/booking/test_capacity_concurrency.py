"""N requests racing for one slot of capacity k give exactly k bookings: real threads and real
processes against the real database file (and PostgreSQL, see tests/booking/databases.py)."""
from __future__ import annotations

import multiprocessing
import threading
from datetime import date, time

from sqlalchemy import func, select

from booking.models import Booking, Slot
from booking.service import InvalidTransition, SlotFull, cancel, create_booking
from vetbot.storage import get_engine, session_scope

CAPACITY = 3
THREADS = 12
PROCESSES = 6


def book(session, n: int):
    return create_booking(session, service_code="pingcan", location_code="zhapu",
                          date=date(2026, 12, 9), start_time=time(9, 0), name=f"老兵{n}",
                          phone=f"138{n:08d}", id_number=f"{n:017d}X", capacity=CAPACITY,
                          actor=f"veteran:test:{n}")


def try_to_book(url: str, n: int, barrier) -> bool:
    """Wait until every competitor is ready, then ask for a seat; True if one was given."""
    barrier.wait(timeout=60)
    try:
        with session_scope(get_engine(url)) as session:
            book(session, n)
        return True
    except SlotFull:
        return False


def process_main(url: str, n: int, barrier, results) -> None:
    results.put((n, try_to_book(url, n, barrier)))


def assert_exactly_capacity(url: str, granted: list[bool]) -> None:
    assert granted.count(True) == CAPACITY
    with session_scope(get_engine(url)) as session:
        assert session.execute(select(func.count()).select_from(Booking)).scalar_one() == CAPACITY
        assert session.execute(select(Slot.booked)).scalars().all() == [CAPACITY]


def race_threads(attempt) -> list[bool]:
    """THREADS threads released together, each calling attempt(n, barrier); their results."""
    barrier = threading.Barrier(THREADS)
    results: list[bool] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            results.append(attempt(n, barrier))
        except BaseException as exc:  # a thread's exception would otherwise vanish
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(results) == THREADS
    return results


def test_threads_race_for_one_slot(url):
    assert_exactly_capacity(url, race_threads(lambda n, barrier: try_to_book(url, n, barrier)))


def test_concurrent_cancels_of_one_booking_free_one_seat(url):
    with session_scope(get_engine(url)) as session:
        reference = book(session, 100).reference
        book(session, 101)

    def try_to_cancel(n: int, barrier) -> bool:
        barrier.wait(timeout=60)
        try:
            with session_scope(get_engine(url)) as session:
                cancel(session, reference, actor=f"staff:{n}")
            return True
        except InvalidTransition:
            return False

    assert race_threads(try_to_cancel).count(True) == 1
    with session_scope(get_engine(url)) as session:
        assert session.execute(select(Slot.booked)).scalars().all() == [1]


def test_processes_race_for_one_slot(url):
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=process_main, args=(url, n, barrier, results))
             for n in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    outcomes = dict(results.get(timeout=5) for _ in range(PROCESSES))
    assert sorted(outcomes) == list(range(PROCESSES))
    assert_exactly_capacity(url, list(outcomes.values()))
