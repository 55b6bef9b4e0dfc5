"""Limits shared by every instance, and the durable push queue.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "limit_counters",
        sa.Column("key_hash", sa.Text, primary_key=True),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index("ix_limit_counters_expires_at", "limit_counters", ["expires_at"])
    op.create_table(
        "push_outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("centre", sa.Text, nullable=False),
        sa.Column(
            "subscription_id",
            sa.Integer,
            sa.ForeignKey("push_subscriptions.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_push_outbox_next_attempt_at", "push_outbox", ["next_attempt_at"])
    op.create_index("ix_push_outbox_subscription_id", "push_outbox", ["subscription_id"])


def downgrade() -> None:
    op.drop_index("ix_push_outbox_subscription_id", "push_outbox")
    op.drop_index("ix_push_outbox_next_attempt_at", "push_outbox")
    op.drop_table("push_outbox")
    op.drop_index("ix_limit_counters_expires_at", "limit_counters")
    op.drop_table("limit_counters")
