"""Key fingerprints: which keys this database was made with, never the keys themselves.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_fingerprints",
        # inbox, session or vapid; several inbox keys after a rotation.
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("kid", sa.Text, nullable=False),
        # SHA-256 of a public key, or of a keyed digest of a secret one.
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_current", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("kind", "kid", name="pk_key_fingerprints"),
    )
    # One current key of each kind: two instances recording different keys in
    # a fresh database at once cannot both win.
    op.create_index(
        "uq_key_fingerprints_current",
        "key_fingerprints",
        ["kind"],
        unique=True,
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    )


def downgrade() -> None:
    op.drop_index("uq_key_fingerprints_current", table_name="key_fingerprints")
    op.drop_table("key_fingerprints")
