"""How the booking readers (booking/dialogue.py) do on what real veterans say: the dev and held-out
phrasing sets in tests/booking/phrasing_{dev,heldout}.yml (their header gives the format).

    .venv/bin/python bench/booking_phrasing.py

Every row goes through the reader of its step, on a fixed "now" (Wednesday 2026-12-02 10:00,
Asia/Shanghai) and a throwaway migrated SQLite database (read_start looks up free seats). Prints
accuracy per step and overall for both sets, then the failing DEV rows. Held-out failures are
never printed row by row, only counted per step, so nobody tunes the readers on them.

Only the readers are measured: the NLU's intents (a policy question, 算了, 转人工), which the Rasa
actions check before calling a reader, are not part of it."""
from __future__ import annotations

import os
import sys
import tempfile
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/ itself: `booking` is the package, not bench/booking.py

import yaml  # noqa: E402

from booking import dialogue  # noqa: E402
from booking.calendar import TZ  # noqa: E402
from vetbot.storage import get_engine, session_scope, upgrade_to_head  # noqa: E402

DEV = ROOT / "tests" / "booking" / "phrasing_dev.yml"
HELDOUT = ROOT / "tests" / "booking" / "phrasing_heldout.yml"
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=TZ)
STEPS = ("service", "location", "when", "name", "phone", "id", "confirm", "reference")
CONTEXT = {"service", "current", "location", "day", "half"}
CHANGED = {"booking_start": "time", "booking_location": "location", "booking_name": "name",
           "booking_phone": "phone", "booking_id": "id", "booking_service": "service"}


def load_rows(path: Path) -> list[dict]:
    rows = yaml.safe_load(path.read_text(encoding="utf-8"))
    for number, row in enumerate(rows, start=1):
        unknown = row.keys() - {"step", "said", "expect", "known_gap", "reason"} - CONTEXT
        if row.get("step") not in STEPS or not isinstance(row.get("said"), str) or unknown:
            raise ValueError(f"{path.name} row {number}: bad row {row}")
        if row.get("known_gap") and not row.get("reason"):
            raise ValueError(f"{path.name} row {number}: a known gap needs a reason")
    return rows


def heard(row: dict, session) -> str:
    """What the reader of the row's step yields, written as the sets write `expect`."""
    step, said = row["step"], row["said"]
    if step == "service":
        current = row.get("current")
        slots = (dialogue.read_service_variant(said, current) if current
                 else dialogue.read_service(said)).slots
        if slots.get("booking_service"):
            return slots["booking_service"]
        if slots.get("booking_choices"):
            return _choices(slots["booking_choices"])
        return "refuse"
    if step == "location":
        return dialogue.read_location_answer(said, row.get("service", "pingcan-xinban")).slots.get(
            "booking_location", "refuse")
    if step == "when":
        return _when(dialogue.read_start(said, row.get("location", "centre"), day=row.get("day"),
                                         half=row.get("half"), session=session, at=NOW))
    if step == "name":
        return dialogue.read_name(said).slots.get("booking_name", "refuse")
    if step == "phone":
        return dialogue.read_phone(said).slots.get("booking_phone", {}).get("masked", "refuse")
    if step == "id":
        return dialogue.read_id_number(said, at=NOW).slots.get("booking_id", {}).get("masked", "refuse")
    if step == "confirm":
        verdict, cleared = dialogue.read_confirm(said)
        return f"change:{CHANGED[cleared[0]]}" if verdict == "change" else verdict
    reference = dialogue.read_reference(said)
    if reference:
        return reference
    phone = dialogue.phone_in(said)
    return f"phone:{phone[:3]}****{phone[-4:]}" if phone else "refuse"


def _choices(ids: list[str]) -> str:
    """"choices:评残" when exactly the services of one group are offered, else their ids."""
    services = dialogue.catalogue().services
    for group in dict.fromkeys(s.group for s in services):
        if ids == [s.id for s in services if s.group == group]:
            return f"choices:{group}"
    return "choices:" + ",".join(ids)


def _when(step: dialogue.Step) -> str:
    slots = step.slots
    if slots.get("booking_start"):
        return datetime.fromisoformat(slots["booking_start"]).strftime("%Y-%m-%d %H:%M")
    if step.say:  # refused with the reason (past, rest day, closed, full …)
        return "refuse"
    return " ".join(v for v in (slots.get("booking_day"), slots.get("booking_half")) if v) or "refuse"


@dataclass(frozen=True)
class Result:
    row: dict
    got: str

    @property
    def ok(self) -> bool:
        return self.got == self.row["expect"]


def run(rows: list[dict], session) -> list[Result]:
    return [Result(row, heard(row, session)) for row in rows]


def tally(results: list[Result]) -> dict[str, tuple[int, int]]:
    """Per step and "overall": (rows right, rows)."""
    right, total = Counter(), Counter()
    for result in results:
        for key in (result.row["step"], "overall"):
            total[key] += 1
            right[key] += result.ok
    return {key: (right[key], total[key]) for key in (*STEPS, "overall") if total[key]}


@contextmanager
def throwaway_session():
    """A session on a fresh migrated SQLite database in a temp dir (no bookings in it)."""
    with tempfile.TemporaryDirectory() as data_dir:
        url = f"sqlite:///{Path(data_dir) / 'vetbot.sqlite3'}"
        upgrade_to_head(url)
        engine = get_engine(url)
        try:
            with session_scope(engine) as session:
                yield session
        finally:
            engine.dispose()


def _table(name: str, counts: dict[str, tuple[int, int]]) -> str:
    lines = [f"{name}:"]
    for key, (right, total) in counts.items():
        lines.append(f"  {key:<10} {right:>3}/{total:<3} {right / total:6.1%}")
    return "\n".join(lines)


def main() -> int:
    os.environ.setdefault("VETBOT_PII_KEY", "bench-phrasing")  # phones are sealed on the way
    with throwaway_session() as session:
        dev = run(load_rows(DEV), session)
        heldout = run(load_rows(HELDOUT), session)
    print(_table("dev", tally(dev)))
    print(_table("held-out (failures counted, never listed)", tally(heldout)))
    failing = [r for r in dev if not r.ok]
    print(f"\ndev rows failing: {len(failing)} ({sum(bool(r.row.get('known_gap')) for r in failing)} "
          "marked known_gap)")
    for r in failing:
        gap = f"  [known gap: {r.row['reason']}]" if r.row.get("known_gap") else ""
        print(f"  {r.row['step']:<9} {r.row['said']!r}: expected {r.row['expect']!r}, got {r.got!r}{gap}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
