"""A second factor for advisors: a TOTP secret, encrypted, and the last step used.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("advisors", sa.Column("totp_secret", sa.LargeBinary, nullable=True))
    op.add_column("advisors", sa.Column("totp_last_step", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("advisors") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_secret")
