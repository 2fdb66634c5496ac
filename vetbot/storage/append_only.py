"""Make an audit table append-only in the database itself (for migrations): UPDATE and DELETE are
refused by a trigger on PostgreSQL and on SQLite, not only by convention in the code."""
from __future__ import annotations

from alembic import op


def make_append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{table} is append-only'; END $$ LANGUAGE plpgsql""")
        op.execute(f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE
            ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_append_only()""")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb}
                ON {table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END""")


def drop_append_only(table: str) -> None:
    """Call after dropping the table (its triggers go with it; PostgreSQL's function does not)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION {table}_append_only()")
