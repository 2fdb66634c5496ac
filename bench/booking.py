"""Booking benchmark: 20 veterans racing for 5 slots through the real service layer.

    .venv/bin/python bench/booking.py [--veterans 20] [--slots 5] [--capacity 2] [--rounds 3]
                                      [--database-url postgresql://...]

Every veteran asks for the same preferred slot (the middle one of 5 consecutive half-hour slots
at 乍浦, the next working day). When it is full they do what the dialogue does: read which slots
still have a seat (`seats_taken`) and book the nearest free one (earlier first on a tie), again
and again, until they have a seat or every slot is full (told 已约满). That whole confirm step is
timed per veteran: each `create_booking` call in its own transaction (`session_scope`), the
retries and the look-ups between them. Capacity defaults to the location's configured one (2),
so 5 slots hold 10 seats for 20 veterans.

Three runs per round, each on a fresh database (a SQLite file under a temp dir; PostgreSQL as
well, in a throwaway schema, of --database-url / $VETBOT_TEST_DATABASE_URL or else of a throwaway
local cluster (fsync off) when PostgreSQL's binaries are installed — see tests/booking/databases.py):
  - baseline: one veteran-thread makes the same 20 confirm steps one after the other;
  - threads: 20 threads, released together by a barrier;
  - processes: 20 spawned processes, released together by a barrier.
Every worker has its own engine (so all 20 are at the database at once, not queued in one
connection pool) and warms it up before the barrier with a booking it rolls back, so the figures
are of a running server, not of first imports and statement compilation. The order of the three
runs rotates from round to round, so a burst of other load does not always hit the same one.
Latencies are pooled over the rounds; throughput (bookings / wall time from the first veteran's
start to the last one's end; perf_counter is CLOCK_MONOTONIC, comparable across processes) is
given per round and as the median. The CPU time of each veteran's own thread during its step
(SQLite does its work in that thread; PostgreSQL's is in the server) tells working from waiting
for the write lock.

The exactly-k check, read back from the database after every run: each slot holds exactly its
capacity (the slot's counter and its booking rows), no other slot was created, total = seats,
nobody holds two bookings, and the workers' own reports agree (each booked veteran's slot as
stored, the rest told 已约满, no errors). Exit status 1 when any run fails it."""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, time as Time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/ itself: `booking` is the package, not this file

from sqlalchemy import func, select  # noqa: E402

from booking.calendar import TZ, bookable_days, day_slots  # noqa: E402
from booking.catalogue import load_catalogue  # noqa: E402
from booking.models import Booking, Slot  # noqa: E402
from booking.service import SlotFull, create_booking, seats_taken  # noqa: E402
from vetbot.storage import make_engine, session_scope  # noqa: E402

LOCATION = "zhapu"
SERVICE = "pingcan-xinban"
MODES = ("baseline", "threads", "processes")
JOIN_TIMEOUT_S = 120


@dataclass(frozen=True)
class Plan:
    url: str
    day: date
    times: tuple[Time, ...]
    preferred: int  # index into times
    capacity: int

    def nearest_free(self, taken: dict[Time, int]) -> Time | None:
        """The free slot nearest the preferred one, earlier first on a tie; None when all are full."""
        order = sorted(range(len(self.times)), key=lambda i: (abs(i - self.preferred), i))
        return next((self.times[i] for i in order if taken.get(self.times[i], 0) < self.capacity),
                    None)


@dataclass(frozen=True)
class Outcome:
    veteran: int
    slot: Time | None  # None: told 已约满
    attempts: int  # create_booking calls
    start: float
    end: float
    cpu: float  # CPU time of the veteran's own thread during the step


class _RolledBack(Exception):
    pass


def phone(n: int) -> str:
    return f"139{n:08d}"


def book(session, plan: Plan, n: int, start_time: Time) -> None:
    create_booking(session, service_code=SERVICE, location_code=LOCATION, date=plan.day,
                   start_time=start_time, name=f"老兵{n:02d}", phone=phone(n),
                   id_number=f"330482{n:011d}X", capacity=plan.capacity,
                   actor=f"veteran:bench:{n}", channel="bench")


def warm_up(engine, plan: Plan) -> None:
    """One booking rolled back: connection, mapper and statement caches ready, nothing written."""
    try:
        with session_scope(engine) as session:
            book(session, plan, 9999, plan.times[plan.preferred])
            raise _RolledBack
    except _RolledBack:
        pass


def confirm(engine, plan: Plan, n: int) -> Outcome:
    """One veteran's confirm step: the preferred slot, then the nearest free one until booked or
    every slot is full."""
    start, cpu = time.perf_counter(), time.thread_time()
    choice, attempts, booked = plan.times[plan.preferred], 0, None
    while choice is not None and booked is None:
        attempts += 1
        try:
            with session_scope(engine) as session:
                book(session, plan, n, choice)
            booked = choice
        except SlotFull:
            with session_scope(engine) as session:
                choice = plan.nearest_free(seats_taken(session, LOCATION, plan.day))
    return Outcome(n, booked, attempts, start, time.perf_counter(), time.thread_time() - cpu)


def veteran(plan: Plan, numbers: range, barrier) -> list[Outcome]:
    """A worker with its own engine: warm up, wait for the others, then the confirm steps."""
    engine = make_engine(plan.url)
    try:
        warm_up(engine, plan)
        barrier.wait(timeout=60)
        return [confirm(engine, plan, n) for n in numbers]
    finally:
        engine.dispose()


def process_main(plan: Plan, n: int, barrier, results) -> None:
    results.put(veteran(plan, range(n, n + 1), barrier))


def run_baseline(plan: Plan, veterans: int) -> list[Outcome]:
    return veteran(plan, range(veterans), threading.Barrier(1))


def run_threads(plan: Plan, veterans: int) -> list[Outcome]:
    barrier = threading.Barrier(veterans)
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            outcomes.extend(veteran(plan, range(n, n + 1), barrier))
        except BaseException as exc:  # a thread's exception would otherwise vanish
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(veterans)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=JOIN_TIMEOUT_S)
    if errors:
        raise RuntimeError(f"{len(errors)} veteran threads failed, the first: {errors[0]!r}")
    return outcomes


def run_processes(plan: Plan, veterans: int) -> list[Outcome]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(veterans), ctx.Queue()
    procs = [ctx.Process(target=process_main, args=(plan, n, barrier, results))
             for n in range(veterans)]
    for p in procs:
        p.start()
    outcomes = []
    try:
        for _ in procs:  # drain before join: a child cannot exit while its result is unread
            outcomes += results.get(timeout=JOIN_TIMEOUT_S)
    finally:
        for p in procs:
            p.join(timeout=JOIN_TIMEOUT_S)
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} veteran processes failed (exit codes {failed})")
    return outcomes


RUNNERS = {"baseline": run_baseline, "threads": run_threads, "processes": run_processes}


def exactly_k(plan: Plan, veterans: int, outcomes: list[Outcome]) -> list[str]:
    """What is wrong with the run, read back from the database; empty when the check passes."""
    seats = plan.capacity * len(plan.times)
    problems = []
    engine = make_engine(plan.url)
    try:
        with session_scope(engine) as session:
            counters = dict(session.execute(select(Slot.start_time, Slot.booked)).all())
            stored = dict(session.execute(
                select(Booking.phone, Slot.start_time).join(Booking.slot)).all())
            rows = session.execute(select(func.count(Booking.id), func.count(
                Booking.id_hash.distinct()))).one()
    finally:
        engine.dispose()
    if set(counters) != set(plan.times):
        problems.append(f"slots in the database {sorted(map(str, counters))}, "
                        f"expected {[str(t) for t in plan.times]}")
    for t in plan.times:
        in_rows = sum(1 for s in stored.values() if s == t)
        if counters.get(t) != plan.capacity or in_rows != plan.capacity:
            problems.append(f"{t:%H:%M}: counter {counters.get(t)}, {in_rows} bookings, "
                            f"capacity {plan.capacity}")
    if rows != (seats, seats):
        problems.append(f"{rows[0]} bookings by {rows[1]} distinct ID numbers, expected {seats}")
    if sorted(o.veteran for o in outcomes) != list(range(veterans)):
        problems.append(f"{len(outcomes)} outcomes reported for {veterans} veterans")
    reported = {phone(o.veteran): o.slot for o in outcomes if o.slot is not None}
    if reported != stored:
        problems.append("the veterans' reported bookings differ from the stored ones")
    refused = sum(o.slot is None for o in outcomes)
    if refused != veterans - seats:
        problems.append(f"{refused} told 已约满, expected {veterans - seats}")
    return problems


def the_plan(url: str, slots: int, capacity: int | None) -> Plan:
    location = load_catalogue().location(LOCATION)
    day = bookable_days(datetime.now(TZ).date())[1]
    times = tuple(s.time() for s in day_slots(day, location.hours)[:slots])
    return Plan(url, day, times, len(times) // 2, capacity or location.capacity_per_slot)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def latency_line(outcomes: list[Outcome]) -> str:
    took = [o.end - o.start for o in outcomes]
    p95 = statistics.quantiles(took, n=20, method="inclusive")[-1]
    cpu = statistics.median(o.cpu for o in outcomes)
    return (f"p50 / p95 / max {ms(statistics.median(took))} / {ms(p95)} / {ms(max(took))} ms "
            f"(CPU p50 {ms(cpu)} ms)")


def bench_backend(backend: str, fresh_database, args) -> bool:
    print(f"\n== {backend}")
    runs = {mode: [] for mode in MODES}  # mode -> [(outcomes, wall s)]
    ok = True
    for round_no in range(args.rounds):
        shift = round_no % len(MODES)
        for mode in MODES[shift:] + MODES[:shift]:
            with tempfile.TemporaryDirectory(prefix="bench-booking-") as tmp, \
                    fresh_database(backend, Path(tmp)) as url:
                plan = the_plan(url, args.slots, args.capacity)
                outcomes = RUNNERS[mode](plan, args.veterans)
                problems = exactly_k(plan, args.veterans, outcomes)
            wall = max(o.end for o in outcomes) - min(o.start for o in outcomes)
            runs[mode].append((outcomes, wall))
            booked = [o.slot for o in outcomes if o.slot is not None]
            per_slot = " ".join(f"{t:%H:%M} {booked.count(t)}" for t in plan.times)
            verdict = "exactly-k OK" if not problems else "exactly-k FAILED: " + "; ".join(problems)
            print(f"round {round_no + 1} {mode:9}  {per_slot}  booked {len(booked)}/"
                  f"{args.veterans}, told 已约满 {args.veterans - len(booked)}  "
                  f"{len(booked) / wall:6.1f} bookings/s  {verdict}")
            ok = ok and not problems
    print(f"\n{args.veterans} veterans, {args.slots} slots x capacity {plan.capacity} = "
          f"{args.slots * plan.capacity} seats, preferred {plan.times[plan.preferred]:%H:%M}, "
          f"{args.rounds} rounds; confirm step per veteran (pooled over the rounds):")
    for mode in MODES:
        outcomes = [o for run_outcomes, _ in runs[mode] for o in run_outcomes]
        rates = [sum(o.slot is not None for o in run_outcomes) / wall
                 for run_outcomes, wall in runs[mode]]
        attempts = statistics.mean(o.attempts for o in outcomes)
        print(f"  {mode:9}  {latency_line(outcomes)}  create_booking calls per veteran "
              f"{attempts:.2f}  throughput median {statistics.median(rates):.1f} bookings/s "
              f"(rounds {', '.join(f'{r:.1f}' for r in rates)})")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--veterans", type=int, default=20)
    parser.add_argument("--slots", type=int, default=5)
    parser.add_argument("--capacity", type=int, help="seats per slot (default: the location's)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="PostgreSQL as well (default "
                        "$VETBOT_TEST_DATABASE_URL); runs in a throwaway schema")
    args = parser.parse_args()
    if args.database_url:
        os.environ["VETBOT_TEST_DATABASE_URL"] = args.database_url
    from tests.booking.databases import BACKENDS, fresh_database  # reads the variable at import

    with tempfile.TemporaryDirectory(prefix="bench-booking-data-") as data:
        # Nothing touches var/; spawned veterans inherit both.
        os.environ.update(VETBOT_DATA_DIR=data, VETBOT_PII_KEY="bench-key")
        seats = args.slots * (args.capacity or load_catalogue().location(LOCATION)
                              .capacity_per_slot)
        if args.veterans <= seats:
            parser.error(f"{args.veterans} veterans for {seats} seats: nobody would be refused")
        print(f"load average at start: {os.getloadavg()[0]:.2f}")
        ok = all([bench_backend(backend, fresh_database, args) for backend in BACKENDS])
        print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    print("exactly-k: every run OK" if ok else "exactly-k: FAILED (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
