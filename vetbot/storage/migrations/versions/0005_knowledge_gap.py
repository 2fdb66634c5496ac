"""Knowledge gaps: questions the policy Q&A refused or only answered with "您是想问…", one row per
question (ID numbers and phones masked) with how often it was asked, for the admins who fill the
corpus (knowledge/gaps.py).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

from vetbot.storage.base import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_gap",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("question_key", sa.String(64), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("passage_id", sa.String(255)),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.UniqueConstraint("question_key", name="uq_knowledge_gap_question_key"),
    )
    op.create_index("ix_knowledge_gap_last_seen", "knowledge_gap", ["last_seen"])


def downgrade() -> None:
    op.drop_table("knowledge_gap")
