"""Fresh, migrated databases for the storage tests: SQLite in a temp dir always, and PostgreSQL in
a schema of its own wherever it is installed or $VETBOT_TEST_DATABASE_URL names a server (see
tests/support/postgres_server.py)."""
from __future__ import annotations

import secrets
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from tests.support import postgres_server
from vetbot.storage import get_engine, upgrade_to_head

BACKENDS = ["sqlite"] + (["postgresql"] if postgres_server.wanted() else [])


@contextmanager
def fresh_database(backend: str, data_dir: Path):
    """Yields the URL of an empty database migrated to head. PostgreSQL gets a throwaway schema
    (search_path in the URL), so a database the variable names is never wiped."""
    if backend == "sqlite":
        url = f"sqlite:///{data_dir / 'vetbot.sqlite3'}"
        upgrade_to_head(url)
        yield url
        return
    server = postgres_server.server_url()
    schema = f"test_{secrets.token_hex(4)}"
    admin = create_engine(server, future=True)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        url = str(make_url(server).update_query_dict({"options": f"-csearch_path={schema}"}))
        upgrade_to_head(url)
        yield url
        get_engine(url).dispose()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
