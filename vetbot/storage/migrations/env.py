"""Alembic environment: runs the migrations on the engine handed over by alembic_config()."""
from alembic import context

import vetbot.storage.migrations.env_models  # noqa: F401  (every domain's tables on Base)
from vetbot.storage.base import Base

# Any fixed number: the PostgreSQL advisory lock that lets one process migrate at a time.
MIGRATION_LOCK_ID = 7_250_001

with context.config.attributes["engine"].connect() as connection:
    # render_as_batch: SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    # transactional_ddl: Alembic assumes SQLite cannot roll DDL back and would then commit
    # statement by statement; it can (the driver's own transaction handling is off, see
    # engine.py), so the whole upgrade, version check included, is one transaction.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                      transactional_ddl=True)
    with context.begin_transaction():
        # Two processes starting together must not both apply the same migration. On SQLite the
        # transaction begins IMMEDIATE (see engine.py), which already serialises them.
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
        context.run_migrations()
