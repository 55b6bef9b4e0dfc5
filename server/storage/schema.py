"""The tables, as SQLAlchemy Core objects for queries.

Migrations in ``migrations/versions`` create and change the real schema;
this module must describe the result of the newest one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Dialect,
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
    UniqueConstraint("idempotency_hash", name="uq_help_requests_idempotency_hash"),
    UniqueConstraint("reference", name="uq_help_requests_reference"),
    Index("ix_help_requests_centre_due_on", "centre", "due_on"),
)
