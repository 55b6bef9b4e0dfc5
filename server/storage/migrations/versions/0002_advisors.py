"""Advisors, their sessions, casework on requests, the audit log, push subscriptions.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The centre a request was sealed for stays bound to its envelope (it is
    # in the associated data); `centre` is where it is routed now.
    op.add_column("help_requests", sa.Column("sealed_centre", sa.Text, nullable=True))
    op.execute("UPDATE help_requests SET sealed_centre = centre")
    op.add_column(
        "help_requests", sa.Column("first_contact_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "help_requests", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("help_requests", sa.Column("outcome", sa.Text, nullable=True))
    # The inbox: one centre, one status, in the order things are due.
    op.create_index(
        "ix_help_requests_centre_status_due",
        "help_requests",
        ["centre", "status", "due_on", "received_at"],
    )
    op.create_index("ix_help_requests_received_at", "help_requests", ["received_at"])
    # A coordinator's inbox spans the centres: the same orders without `centre`.
    op.create_index(
        "ix_help_requests_status_due", "help_requests", ["status", "due_on", "received_at"]
    )
    op.create_index("ix_help_requests_due", "help_requests", ["due_on", "received_at"])
    # Closed requests are listed latest first.
    op.create_index(
        "ix_help_requests_centre_status_closed", "help_requests", ["centre", "status", "closed_at"]
    )
    op.create_index("ix_help_requests_status_closed", "help_requests", ["status", "closed_at"])

    op.create_table(
        "advisors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("centre", sa.Text, nullable=False),
        sa.Column("coordinator", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("email", name="uq_advisors_email"),
    )
    op.create_table(
        "advisor_sessions",
        # SHA-256 of the session id: the database never holds a usable id.
        sa.Column("id_hash", sa.Text, primary_key=True),
        sa.Column(
            "advisor_id",
            sa.Integer,
            sa.ForeignKey("advisors.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_advisor_sessions_advisor_id", "advisor_sessions", ["advisor_id"])
    op.create_table(
        "request_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "request_id",
            sa.Integer,
            sa.ForeignKey("help_requests.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("advisor_id", sa.Integer, sa.ForeignKey("advisors.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("from_centre", sa.Text, nullable=True),
        sa.Column("to_centre", sa.Text, nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
        # The note, sealed to the inbox key like the request itself.
        sa.Column("note", sa.LargeBinary, nullable=True),
    )
    op.create_index("ix_request_events_request_id", "request_events", ["request_id", "at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("advisor_id", sa.Integer, sa.ForeignKey("advisors.id"), nullable=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("request_reference", sa.Text, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "advisor_id",
            sa.Integer,
            sa.ForeignKey("advisors.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("p256dh", sa.Text, nullable=False),
        sa.Column("auth", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("endpoint", name="uq_push_subscriptions_endpoint"),
    )
    op.create_index("ix_push_subscriptions_advisor_id", "push_subscriptions", ["advisor_id"])


def downgrade() -> None:
    op.drop_table("push_subscriptions")
    op.drop_table("audit_log")
    op.drop_table("request_events")
    op.drop_table("advisor_sessions")
    op.drop_table("advisors")
    for index in (
        "ix_help_requests_status_closed",
        "ix_help_requests_centre_status_closed",
        "ix_help_requests_due",
        "ix_help_requests_status_due",
        "ix_help_requests_received_at",
    ):
        op.drop_index(index, table_name="help_requests")
    op.drop_index("ix_help_requests_centre_status_due", table_name="help_requests")
    with op.batch_alter_table("help_requests") as batch:
        batch.drop_column("outcome")
        batch.drop_column("closed_at")
        batch.drop_column("first_contact_at")
        batch.drop_column("sealed_centre")
