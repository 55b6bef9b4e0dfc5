"""What the rest of Haven asks of the help request table."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from ..workdays import contact_by
from .database import Database
from .records import NewRequest, StoredRequest, find_by_hash, idempotency_hash
from .schema import help_requests


async def store_request(
    db: Database,
    *,
    idempotency_key: str,
    centre: str,
    language: str,
    envelope: bytes,
    envelope_version: int,
    received_at: dt.datetime,
) -> StoredRequest:
    """Store a sealed request once per idempotency key, durably, before returning.

    A replay returns the row of the first delivery, with ``created=False``.
    """
    new = NewRequest(
        idempotency_hash=idempotency_hash(idempotency_key),
        centre=centre,
        language=language,
        envelope=envelope,
        envelope_version=envelope_version,
        received_at=received_at,
        due_on=contact_by(received_at),
    )
    return await db.writer.submit(new)


async def find_request(db: Database, idempotency_key: str) -> StoredRequest | None:
    """The request stored under this key, if any (``created=False``)."""
    async with db.engine.connect() as connection:
        return await find_by_hash(connection, idempotency_hash(idempotency_key))


async def count_requests(db: Database) -> int:
    async with db.engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(help_requests))
    return int(count or 0)
