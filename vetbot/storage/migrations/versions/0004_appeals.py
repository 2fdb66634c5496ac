"""Appeals (诉求) with their append-only event trail; staff tasks become shared by every domain
(booking_reference → reference, kept data; who should act: assignee).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

from vetbot.storage.base import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = "appeal_event is append-only"


def upgrade() -> None:
    op.drop_index("ix_staff_task_booking_reference", "staff_task")
    with op.batch_alter_table("staff_task") as batch:
        batch.alter_column("booking_reference", new_column_name="reference",
                           existing_type=sa.String(16), existing_nullable=False)
        batch.add_column(sa.Column("assignee", sa.String(64)))
    op.create_index("ix_staff_task_reference", "staff_task", ["reference"])

    op.create_table(
        "appeal",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("urgent", sa.Boolean, nullable=False),
        sa.Column("urgent_signals", sa.JSON, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("town", sa.String(64), nullable=False),
        sa.Column("station_code", sa.String(32)),
        sa.Column("visit_wanted", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(64)),
        sa.Column("deadline", sa.Date),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("channel", sa.String(32)),
        sa.Column("sender_id", sa.String(128)),
        sa.Column("dedupe_key", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("reference", name="uq_appeal_reference"),
        sa.UniqueConstraint("dedupe_key", name="uq_appeal_dedupe_key"),
    )
    for column in ("category", "phone", "status"):
        op.create_index(f"ix_appeal_{column}", "appeal", [column])
    op.create_table(
        "appeal_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("appeal_id", sa.Integer,
                  sa.ForeignKey("appeal.id", name="fk_appeal_event_appeal_id_appeal"), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16)),
        sa.Column("note", sa.Text),
        sa.Column("deadline", sa.Date),
        sa.Column("dedupe_key", sa.String(128)),
        sa.UniqueConstraint("dedupe_key", name="uq_appeal_event_dedupe_key"),
    )
    op.create_index("ix_appeal_event_appeal_id", "appeal_event", ["appeal_id"])

    # The trail is append-only in the database itself, as booking_event (0001).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE FUNCTION appeal_event_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$ LANGUAGE plpgsql""")
        op.execute("""CREATE TRIGGER appeal_event_append_only BEFORE UPDATE OR DELETE
            ON appeal_event FOR EACH ROW EXECUTE FUNCTION appeal_event_append_only()""")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER appeal_event_no_{verb.lower()} BEFORE {verb}
                ON appeal_event BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""")


def downgrade() -> None:
    op.drop_table("appeal_event")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION appeal_event_append_only()")
    op.drop_table("appeal")
    op.drop_index("ix_staff_task_reference", "staff_task")
    with op.batch_alter_table("staff_task") as batch:
        batch.drop_column("assignee")
        batch.alter_column("reference", new_column_name="booking_reference",
                           existing_type=sa.String(16), existing_nullable=False)
    op.create_index("ix_staff_task_booking_reference", "staff_task", ["booking_reference"])
