"""Fresh, migrated databases for the booking storage tests: SQLite in a temp dir always,
PostgreSQL in a schema of its own when $VETBOT_TEST_DATABASE_URL is set."""
from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from vetbot.storage import get_engine, upgrade_to_head

POSTGRES_URL = os.environ.get("VETBOT_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@contextmanager
def fresh_database(backend: str, data_dir: Path):
    """Yields the URL of an empty database migrated to head. PostgreSQL gets a throwaway schema
    (search_path in the URL), so the database the variable names is never wiped."""
    if backend == "sqlite":
        url = f"sqlite:///{data_dir / 'vetbot.sqlite3'}"
        upgrade_to_head(url)
        yield url
        return
    schema = f"test_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_URL, future=True)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        url = str(make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"}))
        upgrade_to_head(url)
        yield url
        get_engine(url).dispose()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
