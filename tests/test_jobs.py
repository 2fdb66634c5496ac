"""vetbot.jobs: each timed job runs even when the other fails (it is tried again next round)."""
from __future__ import annotations

from datetime import datetime, timezone

import appeals.service
import booking.reminders
from vetbot.jobs import run_due_jobs


def test_a_failing_job_does_not_stop_the_other(monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(booking.reminders, "queue_due_reminders", broken)
    monkeypatch.setattr(appeals.service, "remind_overdue", lambda session, today: 3)
    monkeypatch.setattr("vetbot.storage.session_scope", _no_session)
    assert run_due_jobs(datetime(2026, 12, 9, 2, tzinfo=timezone.utc)) == {
        "booking_reminders": 0, "appeal_chases": 3}


class _no_session:
    def __init__(self, engine=None):
        pass

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
