"""The storage layer: one URL, SQLite settings, migrations that are idempotent, reach existing
databases, match the models, and survive several processes starting at once."""
from __future__ import annotations

import multiprocessing
import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect

import booking.models  # noqa: F401  (the tables on Base.metadata)
from booking.reference import check_character
from booking.service import get_by_reference
from tests.booking.databases import BACKENDS, fresh_database
from vetbot.storage import Base, database_url, get_engine, session_scope, upgrade_to_head
from vetbot.storage.migrations import alembic_config

UPGRADERS = 4


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def version(path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def test_url_from_environment_with_sqlite_default(tmp_path, monkeypatch):
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VETBOT_DATABASE_URL", raising=False)
    assert database_url() == f"sqlite:///{tmp_path / 'vetbot.sqlite3'}"
    monkeypatch.setenv("VETBOT_DATABASE_URL", "postgresql://vetbot@db/vetbot")
    assert database_url() == "postgresql://vetbot@db/vetbot"


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with engine.connect() as conn:
        pragma = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                  for name in ("journal_mode", "busy_timeout", "foreign_keys")}
    assert pragma == {"journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1}


def test_migrations_apply_to_an_empty_database_and_again_change_nothing(tmp_path):
    path = tmp_path / "db.sqlite3"
    url = f"sqlite:///{path}"
    upgrade_to_head(url)
    tables = set(inspect(get_engine(url)).get_table_names())
    assert tables == {"alembic_version", "slot", "booking", "booking_event", "outbox", "outbox_attempt",
                      "wechat_last_seen", "staff_task", "appeal", "appeal_event", "knowledge_gap",
                      "staff_user", "staff_session", "login_attempt", "staff_audit", "conversation",
                      "conversation_message", "conversation_key", "feed_cursor", "canned_reply", "veteran",
                      "veteran_identity", "staff_visit"}
    assert version(path) == head_revision()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO slot (location_code, date, start_time, capacity, booked) "
                   "VALUES ('zhapu', '2026-12-09', '09:00:00.000000', 5, 0)")
    upgrade_to_head(url)
    assert version(path) == head_revision()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT location_code FROM slot").fetchall() == [("zhapu",)]


def test_a_column_added_later_reaches_an_existing_database(tmp_path, monkeypatch):
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    path = tmp_path / "db.sqlite3"
    url = f"sqlite:///{path}"
    upgrade_to_head(url, revision="0001")  # a database as the first release left it
    reference = "ABCDEF" + check_character("ABCDEF")
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO slot VALUES (1, 'zhapu', '2026-12-09', '09:00:00.000000', 5, 1)")
        db.execute("INSERT INTO booking VALUES (1, ?, 'pingcan', 1, '张建国', '13812345678', 'h', "
                   "'330482********1234', 'booked', '2026-12-02 01:00:00.000000', "
                   "'2026-12-02 01:00:00.000000')", (reference,))
    assert "channel" not in {c["name"] for c in inspect(get_engine(url)).get_columns("booking")}

    upgrade_to_head(url)

    assert version(path) == head_revision()
    columns = {c["name"] for c in inspect(get_engine(url)).get_columns("booking")}
    assert {"channel", "sender_id"} <= columns
    with session_scope(get_engine(url)) as session:  # the old row, readable through the model
        old = get_by_reference(session, reference)
        assert (old.name, old.phone, old.channel, old.slot.booked) == (
            "张建国", "13812345678", None, 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_models_and_migrations_agree(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        with get_engine(url).connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_a_failed_upgrade_leaves_the_database_as_it_was(tmp_path):
    """The whole upgrade is one transaction, so a process that stops half way (or a second
    process racing it) never sees, nor leaves, a half-migrated database."""
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    engine = get_engine(url)

    def fail_in_the_last_migration(conn, cursor, statement, *args):
        if "ADD COLUMN sender_id" in statement:
            raise RuntimeError("stopped half way")

    event.listen(engine, "before_cursor_execute", fail_in_the_last_migration)
    try:
        with pytest.raises(RuntimeError, match="half way"):
            upgrade_to_head(url)
    finally:
        event.remove(engine, "before_cursor_execute", fail_in_the_last_migration)
    assert inspect(engine).get_table_names() == []
    upgrade_to_head(url)
    assert version(tmp_path / "db.sqlite3") == head_revision()


def upgrade_when_released(url: str, barrier) -> None:
    barrier.wait(timeout=60)
    upgrade_to_head(url)


def test_processes_starting_together_migrate_once(tmp_path):
    path = tmp_path / "db.sqlite3"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(UPGRADERS)
    procs = [ctx.Process(target=upgrade_when_released, args=(f"sqlite:///{path}", barrier))
             for _ in range(UPGRADERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * UPGRADERS
    assert version(path) == head_revision()


def test_db_upgrade_command_migrates_the_data_dir_database_and_names_a_bad_url(tmp_path, monkeypatch, capsys):
    from vetbot.cli import main

    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VETBOT_DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    assert version(tmp_path / "vetbot.sqlite3") == head_revision()
    assert capsys.readouterr().out == f"数据库已是最新结构：sqlite:///{tmp_path / 'vetbot.sqlite3'}\n"

    assert main(["db", "upgrade", "--url", "postgresql://vetbot:s3cret@127.0.0.1:9/vetbot"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("无法连接数据库 postgresql://vetbot:***@127.0.0.1:9/vetbot：") and "s3cret" not in error


def test_the_migrations_build_the_tables_the_models_declare(tmp_path):
    """A hand-written migration that forgets a column or an index of its model fails here."""
    import vetbot.storage.migrations.env_models  # noqa: F401  (every domain's tables on Base)
    from alembic.migration import MigrationContext
    from alembic.autogenerate import compare_metadata

    from vetbot.storage.base import Base

    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    upgrade_to_head(url)
    with get_engine(url).connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
