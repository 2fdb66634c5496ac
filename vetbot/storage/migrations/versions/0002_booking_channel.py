"""Booking: the channel and sender id the veteran booked through, where reminders go.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("booking") as batch:
        batch.add_column(sa.Column("channel", sa.String(32)))
        batch.add_column(sa.Column("sender_id", sa.String(128)))


def downgrade() -> None:
    with op.batch_alter_table("booking") as batch:
        batch.drop_column("sender_id")
        batch.drop_column("channel")
