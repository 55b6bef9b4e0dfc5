"""The tables, as SQLAlchemy Core objects for queries.

Migrations in ``migrations/versions`` create and change the real schema;
this module must describe the result of the newest one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)

metadata = MetaData()


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in Python, whatever the database keeps.

    SQLite has no time zones and hands back naive values; PostgreSQL's
    ``timestamptz`` hands back aware ones. Both come out as aware UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a stored time must carry its time zone")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# Everything a person wrote is inside `envelope`, sealed; the other columns
# are what routing and the advisors' queue need, and nothing else.
help_requests = Table(
    "help_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reference", Text, nullable=False),
    Column("idempotency_hash", Text, nullable=False),
    Column("centre", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'new'")),
    Column("envelope", LargeBinary, nullable=False),
    Column("envelope_version", Integer, nullable=False),
    # The centre in the envelope's associated data; `centre` changes on transfer.
    Column("sealed_centre", Text),
    Column("first_contact_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("outcome", Text),
    UniqueConstraint("idempotency_hash", name="uq_help_requests_idempotency_hash"),
    UniqueConstraint("reference", name="uq_help_requests_reference"),
    Index("ix_help_requests_centre_due_on", "centre", "due_on"),
    Index("ix_help_requests_centre_status_due", "centre", "status", "due_on", "received_at"),
    Index("ix_help_requests_received_at", "received_at"),
    Index("ix_help_requests_status_due", "status", "due_on", "received_at"),
    Index("ix_help_requests_due", "due_on", "received_at"),
    Index("ix_help_requests_centre_status_closed", "centre", "status", "closed_at"),
    Index("ix_help_requests_status_closed", "status", "closed_at"),
)

advisors = Table(
    "advisors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", Text, nullable=False),
    Column("centre", Text, nullable=False),
    Column("coordinator", Boolean, nullable=False, server_default=text("0")),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime),
    # The second factor, if set up: the TOTP secret encrypted, and the last
    # time step a code was accepted for (a code is never accepted twice).
    Column("totp_secret", LargeBinary),
    Column("totp_last_step", Integer),
    UniqueConstraint("email", name="uq_advisors_email"),
)

# A session row is keyed by the SHA-256 of its id: a copy of the database
# gives no id that a cookie could carry.
advisor_sessions = Table(
    "advisor_sessions",
    metadata,
    Column("id_hash", Text, primary_key=True),
    Column("advisor_id", Integer, ForeignKey("advisors.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Index("ix_advisor_sessions_advisor_id", "advisor_id"),
)

# What advisors did on a request. A note is sealed like the request itself.
request_events = Table(
    "request_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "request_id", Integer, ForeignKey("help_requests.id", ondelete="CASCADE"), nullable=False
    ),
    Column("advisor_id", Integer, ForeignKey("advisors.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", Text, nullable=False),
    Column("from_centre", Text),
    Column("to_centre", Text),
    Column("outcome", Text),
    Column("note", LargeBinary),
    Index("ix_request_events_request_id", "request_id", "at"),
)

# Who did what, when, to which request: never what the request says.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("advisor_id", Integer, ForeignKey("advisors.id")),
    Column("action", Text, nullable=False),
    Column("request_reference", Text),
    Column("detail", Text),
    Index("ix_audit_log_at", "at"),
)

push_subscriptions = Table(
    "push_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("advisor_id", Integer, ForeignKey("advisors.id", ondelete="CASCADE"), nullable=False),
    Column("endpoint", Text, nullable=False),
    Column("p256dh", Text, nullable=False),
    Column("auth", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("endpoint", name="uq_push_subscriptions_endpoint"),
    Index("ix_push_subscriptions_advisor_id", "advisor_id"),
)

# The keys this database was made with, by fingerprint (server/keys.py): an
# instance holding other keys refuses to start.
key_fingerprints = Table(
    "key_fingerprints",
    metadata,
    Column("kind", Text, primary_key=True),
    Column("kid", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("is_current", Boolean, nullable=False),
    Index(
        "uq_key_fingerprints_current",
        "kind",
        unique=True,
        sqlite_where=text("is_current"),
        postgresql_where=text("is_current"),
    ),
)


# Work done for the whole deployment, not per instance: when each task last ran.
# The purge's row is also what its transaction writes first, which takes
# SQLite's write lock before anything is read (see retention.py).
maintenance = Table(
    "maintenance",
    metadata,
    Column("task", Text, primary_key=True),
    Column("last_run_at", UTCDateTime),
)
