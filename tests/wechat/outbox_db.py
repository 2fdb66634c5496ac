"""Migrated databases for the outbox tests: SQLite always — a copy of one file migrated once per
session, since an Alembic run per test would take most of the time — and PostgreSQL in a schema
of its own whenever PostgreSQL is available (see tests/booking/databases.py)."""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

from tests.booking.databases import BACKENDS, fresh_database
from sqlalchemy import select

from vetbot.storage import get_engine, session_scope, upgrade_to_head
from wechat_adapter.models import OutboxMessage

__all__ = ["BACKENDS", "migrated_sqlite", "outbox_database", "outbox_rows"]


def migrated_sqlite(directory: Path) -> Path:
    """A SQLite file in `directory` migrated to head, closed (nothing left in its WAL)."""
    path = directory / "template.sqlite3"
    url = f"sqlite:///{path}"
    upgrade_to_head(url)
    get_engine(url).dispose()
    return path


@contextmanager
def outbox_database(backend: str, directory: Path, template: Path):
    """The URL of an empty, migrated database for one test."""
    if backend == "sqlite":
        path = directory / "vetbot.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    with fresh_database(backend, directory) as url:
        yield url


def outbox_rows(url: str) -> list[tuple]:
    """(openid, kind, dedupe_key, text) of every queued message, in order."""
    with session_scope(get_engine(url)) as s:
        return [tuple(r) for r in s.execute(select(
            OutboxMessage.openid, OutboxMessage.kind, OutboxMessage.dedupe_key, OutboxMessage.text
        ).order_by(OutboxMessage.id))]
