"""WAL mode for the stores that still use sqlite3 directly (knowledge store, WeChat outbox)."""
from __future__ import annotations

import sqlite3
import time

WAL_SWITCH_TRIES = 100


def enable_wal(db: sqlite3.Connection, pause: float = 0.05) -> None:
    """Switch `db` to WAL. Two processes opening a brand-new file at once can both try the switch,
    which needs an exclusive lock, and SQLite then answers "database is locked" at once instead of
    waiting out the busy timeout; so retry for a few seconds. WAL persists in the file, so later
    opens find it set and pass on the first try."""
    for attempt in range(WAL_SWITCH_TRIES):
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == WAL_SWITCH_TRIES - 1:
                raise
            time.sleep(pause)
