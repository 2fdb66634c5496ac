"""Console: staff accounts, sessions, login attempts, the append-only staff audit log, the
conversation list fed by Rasa's event broker, and the canned replies (console/models.py).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

from vetbot.storage.append_only import drop_append_only, make_append_only
from vetbot.storage.base import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("password_changed_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("username", name="uq_staff_user_username"),
    )
    op.create_table(
        "staff_session",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("staff_user.id", name="fk_staff_session_user_id_staff_user"),
                  nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_staff_session_user_id", "staff_session", ["user_id"])
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
    )
    for column in ("username", "ip", "at"):
        op.create_index(f"ix_login_attempt_{column}", "login_attempt", [column])
    op.create_table(
        "staff_audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target_type", sa.String(32)),
        sa.Column("target_id", sa.String(128)),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_staff_audit_at", "staff_audit", ["at"])
    op.create_index("ix_staff_audit_username", "staff_audit", ["username"])
    make_append_only("staff_audit")

    op.create_table(
        "conversation",
        sa.Column("sender_id", sa.String(255), primary_key=True),
        sa.Column("channel", sa.String(32)),
        sa.Column("identity_masked", sa.String(64)),
        sa.Column("last_message", sa.Text),
        sa.Column("last_at", UTCDateTime),
        sa.Column("last_user_at", UTCDateTime),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("holder", sa.String(64)),
        sa.Column("waiting_since", UTCDateTime),
        sa.Column("misses", sa.Integer, nullable=False),
    )
    for column in ("channel", "last_at", "state"):
        op.create_index(f"ix_conversation_{column}", "conversation", [column])
    op.create_table(
        "conversation_message",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(255),
                  sa.ForeignKey("conversation.sender_id", name="fk_conversation_message_sender_id_conversation"),
                  nullable=False),
        sa.Column("broker_event_id", sa.Integer),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("intent", sa.String(64)),
        sa.Column("confidence", sa.Float),
        sa.Column("sources", sa.JSON),
        sa.Column("staff_name", sa.String(64)),
        sa.UniqueConstraint("broker_event_id", name="uq_conversation_message_broker_event_id"),
    )
    op.create_index("ix_conversation_message_sender_id", "conversation_message", ["sender_id"])
    op.create_table(
        "conversation_key",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(255),
                  sa.ForeignKey("conversation.sender_id", name="fk_conversation_key_sender_id_conversation"),
                  nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_conversation_key_sender_id", "conversation_key", ["sender_id"])
    op.create_index("ix_conversation_key_key_hash", "conversation_key", ["key_hash"])
    op.create_table(
        "feed_cursor",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("last_id", sa.Integer, nullable=False),
    )
    op.create_table(
        "canned_reply",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_table(
        "veteran",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64)),
        sa.Column("notes", sa.Text),
        sa.Column("merged_into", sa.Integer, sa.ForeignKey("veteran.id", name="fk_veteran_merged_into_veteran")),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "veteran_identity",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("veteran_id", sa.Integer,
                  sa.ForeignKey("veteran.id", name="fk_veteran_identity_veteran_id_veteran"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("shown", sa.String(64)),
        sa.UniqueConstraint("kind", "value", name="uq_veteran_identity_kind_value"),
    )
    op.create_index("ix_veteran_identity_veteran_id", "veteran_identity", ["veteran_id"])
    op.create_table(
        "staff_visit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("veteran_id", sa.Integer,
                  sa.ForeignKey("veteran.id", name="fk_staff_visit_veteran_id_veteran"), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("staff", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_staff_visit_veteran_id", "staff_visit", ["veteran_id"])


def downgrade() -> None:
    for table in ("staff_visit", "veteran_identity", "veteran", "canned_reply", "feed_cursor", "conversation_key", "conversation_message", "conversation",
                  "staff_audit", "login_attempt", "staff_session", "staff_user"):
        op.drop_table(table)
    drop_append_only("staff_audit")
