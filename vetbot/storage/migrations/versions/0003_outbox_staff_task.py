"""The WeChat outbox and last_seen move onto the shared storage; staff tasks (notices to phone
through for veterans who did not book on WeChat).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

from vetbot.storage.base import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("openid", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("template_data", sa.Text),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("parts_sent", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("lease_until", sa.Float),
        sa.Column("claim", sa.String(32)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("sent_via", sa.String(16)),
        sa.Column("last_error", sa.Text),
        sa.Column("dedupe_key", sa.String(128)),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "outbox_attempt",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("outbox_id", sa.Integer,
                  sa.ForeignKey("outbox.id", name="fk_outbox_attempt_outbox_id_outbox"),
                  nullable=False),
        sa.Column("attempted_at", sa.Float, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("errcode", sa.Integer),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_outbox_attempt_outbox_id", "outbox_attempt", ["outbox_id"])
    op.create_table(
        "wechat_last_seen",
        sa.Column("openid", sa.String(128), primary_key=True),
        sa.Column("seen_at", sa.Float, nullable=False),
    )
    op.create_table(
        "staff_task",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("booking_reference", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("dedupe_key", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("done_at", UTCDateTime),
        sa.Column("done_by", sa.String(128)),
        sa.UniqueConstraint("dedupe_key", name="uq_staff_task_dedupe_key"),
    )
    op.create_index("ix_staff_task_booking_reference", "staff_task", ["booking_reference"])


def downgrade() -> None:
    op.drop_table("staff_task")
    op.drop_table("wechat_last_seen")
    op.drop_table("outbox_attempt")
    op.drop_table("outbox")
