"""Help requests: sealed envelopes with their routing fields.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "help_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("idempotency_hash", sa.Text, nullable=False),
        sa.Column("centre", sa.Text, nullable=False),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'new'")),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("envelope_version", sa.Integer, nullable=False),
        # The unique constraint, not a lookup, is what makes a replay harmless.
        sa.UniqueConstraint("idempotency_hash", name="uq_help_requests_idempotency_hash"),
        sa.UniqueConstraint("reference", name="uq_help_requests_reference"),
    )
    op.create_index("ix_help_requests_centre_due_on", "help_requests", ["centre", "due_on"])


def downgrade() -> None:
    op.drop_index("ix_help_requests_centre_due_on", table_name="help_requests")
    op.drop_table("help_requests")
