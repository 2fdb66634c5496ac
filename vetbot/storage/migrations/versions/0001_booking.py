"""Booking: slots with capacity, bookings, the append-only audit trail.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from vetbot.storage.base import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = "booking_event is append-only"


def upgrade() -> None:
    op.create_table(
        "slot",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("location_code", sa.String(32), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("start_time", sa.Time, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("booked", sa.Integer, nullable=False),
        sa.UniqueConstraint("location_code", "date", "start_time",
                            name="uq_slot_location_code_date_start_time"),
        sa.CheckConstraint("booked >= 0", name=op.f("ck_slot_booked_not_negative")),
    )
    op.create_table(
        "booking",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("service_code", sa.String(64), nullable=False),
        sa.Column("slot_id", sa.Integer, sa.ForeignKey("slot.id", name="fk_booking_slot_id_slot"),
                  nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("id_masked", sa.String(18), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("reference", name="uq_booking_reference"),
    )
    for column in ("service_code", "slot_id", "phone", "id_hash", "status"):
        op.create_index(f"ix_booking_{column}", "booking", [column])
    op.create_table(
        "booking_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("booking_id", sa.Integer,
                  sa.ForeignKey("booking.id", name="fk_booking_event_booking_id_booking"),
                  nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("before", sa.JSON),
        sa.Column("after", sa.JSON),
    )
    op.create_index("ix_booking_event_booking_id", "booking_event", ["booking_id"])

    # The audit trail is append-only in the database itself, not only by convention in the code.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE FUNCTION booking_event_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$ LANGUAGE plpgsql""")
        op.execute("""CREATE TRIGGER booking_event_append_only BEFORE UPDATE OR DELETE
            ON booking_event FOR EACH ROW EXECUTE FUNCTION booking_event_append_only()""")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER booking_event_no_{verb.lower()} BEFORE {verb}
                ON booking_event BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""")


def downgrade() -> None:
    op.drop_table("booking_event")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION booking_event_append_only()")
    op.drop_table("booking")
    op.drop_table("slot")
