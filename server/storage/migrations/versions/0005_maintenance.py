"""When each deployment-wide task (the daily purge) last ran.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    maintenance = op.create_table(
        "maintenance",
        sa.Column("task", sa.Text, primary_key=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.bulk_insert(maintenance, [{"task": "purge", "last_run_at": None}])


def downgrade() -> None:
    op.drop_table("maintenance")
