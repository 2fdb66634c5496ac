"""One engine per process, from one URL: $VETBOT_DATABASE_URL, default SQLite under the data dir."""
from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from vetbot.config import data_dir
from vetbot.settings import settings

SQLITE_BUSY_TIMEOUT_S = 30


def database_url() -> str:
    data_dir()  # created if missing, for the default SQLite file
    return settings().database_url


def make_engine(url: str) -> Engine:
    """A new engine for `url`. SQLite gets WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE:
    every transaction takes the write lock when it starts, so two writers queue (busy timeout)
    instead of one failing with 'database is locked' when it upgrades a read to a write."""
    if not url.startswith("sqlite"):
        return create_engine(url, future=True, pool_pre_ping=True)
    engine = create_engine(url, future=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a power cut loses at most the last commit
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@lru_cache(maxsize=None)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: database_url())."""
    return _engine_for(url or database_url())


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session in one transaction: committed when the block ends, rolled back if it raises."""
    session = sessionmaker(bind=engine or get_engine(), future=True, expire_on_commit=False)()
    try:
        with session.begin():
            yield session
    finally:
        session.close()
