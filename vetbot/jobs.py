"""The timed jobs: tomorrow's booking reminders and the 催办 of overdue appeals. `make run` runs
them every minute in their own process (`vetbot jobs`, Procfile), whatever channels are
configured; each job is idempotent (dedupe keys), so a second copy or a cron run adds nothing."""
from __future__ import annotations

import argparse
import logging
import time
from datetime import datetime, timezone

from sqlalchemy.engine import Engine

from booking.calendar import TZ

logger = logging.getLogger(__name__)


def run_due_jobs(now: datetime, engine: Engine | None = None) -> dict[str, int]:
    """Each job once, at `now` (aware); how many notices or tasks each queued. One job failing
    does not stop the other."""
    from appeals.service import remind_overdue
    from booking.reminders import queue_due_reminders
    from vetbot.storage import session_scope

    def chase_overdue_appeals() -> int:
        with session_scope(engine) as session:
            return remind_overdue(session, now.astimezone(TZ).date())

    done = {}
    for name, job in (("booking_reminders", lambda: queue_due_reminders(now, engine)),
                      ("appeal_chases", chase_overdue_appeals)):
        try:
            done[name] = job()
        except Exception:
            logger.exception("timed job %s failed; it runs again next round", name)
            done[name] = 0
    return done


def register(groups) -> None:
    jobs = groups.add_parser("jobs", help="定时任务：明天预约的提醒、超期诉求的催办")
    jobs.add_argument("--every", type=float, metavar="SECONDS",
                      help="每隔多少秒做一次（不写就只做一次，供 cron 用）")
    jobs.set_defaults(handler=cmd_jobs)


def cmd_jobs(args: argparse.Namespace) -> int:
    while True:
        done = run_due_jobs(datetime.now(timezone.utc))
        print(f"提醒 {done['booking_reminders']} 条，催办 {done['appeal_chases']} 条", flush=True)
        if not args.every:
            return 0
        time.sleep(args.every)
