"""Reminders the day before a booking, through the channel the veteran booked on
(booking.notices: WeChat → outbox, anything else → a staff task to phone them).

The rule: a booking is reminded on the calendar day before its date (Asia/Shanghai), from 9:00 —
not at midnight; a Monday booking is reminded on Sunday. One reminder per booking and date
(dedupe key `reminder:<reference>:<date>`): running the job again, from two processes at once, or
after a restart adds nothing twice, and a booking moved to another day is reminded again.

Who runs it: the WeChat channel's outbox loop each round (so `make run` needs no cron), and
`vetbot bookings remind` for a cron job. A round that finds nothing new only reads."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy.engine import Engine

from booking.calendar import TZ
from booking.models import BOOKED
from booking.notices import REMINDER, reminder_text, send_notice
from booking.service import list_bookings
from vetbot.notify import queued_keys
from vetbot.storage import session_scope

REMIND_FROM = time(9, 0)  # local time of day from which the day-before reminders go out


def reminder_key(booking) -> str:
    return f"reminder:{booking.reference}:{booking.date.isoformat()}"


def queue_due_reminders(now: datetime, engine: Engine | None = None) -> int:
    """Queue the reminders due at `now` (aware) that are not queued yet; how many were queued."""
    local = now.astimezone(TZ)
    if local.time() < REMIND_FROM:
        return 0
    with session_scope(engine) as session:
        due = {reminder_key(b): b for b in list_bookings(
            session, date=local.date() + timedelta(days=1), statuses=(BOOKED,))}
        queued = queued_keys(session, list(due))
        return sum(send_notice(session, booking, REMINDER, reminder_text(booking), key)
                   for key, booking in due.items() if key not in queued)
