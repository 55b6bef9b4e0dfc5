"""Help requests as the intake stores them: the rows, the one insert, the look-ups.

A replay is recognised by the database, not by a lookup first: the insert
does nothing when the idempotency hash is already there (a unique
constraint), and only then is the stored row read back, inside the same
transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ..workdays import contact_by
from .schema import help_requests

if TYPE_CHECKING:
    # The database's writer calls insert_all: importing it here would be a cycle.
    from .database import Database

# No 0/O, 1/I/L or U: a reference is read out over the phone and typed in again.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
# Two draws colliding among 30**8 references is rare; five in a row is a bug.
REFERENCE_ATTEMPTS = 5


def new_reference() -> str:
    """A reference like HV-7K3P-Q9XD: 8 random characters, about 39 bits."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"HV-{chars[:4]}-{chars[4:]}"


def idempotency_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredRequest:
    reference: str
    centre: str
    language: str
    received_at: dt.datetime
    due_on: dt.date
    created: bool  # True for the first delivery, False for a replay


@dataclass(frozen=True)
class NewRequest:
    idempotency_hash: str
    centre: str
    language: str
    envelope: bytes
    envelope_version: int
    received_at: dt.datetime
    due_on: dt.date


_RETURNED = (
    help_requests.c.reference,
    help_requests.c.centre,
    help_requests.c.language,
    help_requests.c.received_at,
    help_requests.c.due_on,
)


def _stored(row: Sequence[Any], created: bool) -> StoredRequest:
    reference, centre, language, received_at, due_on = row
    return StoredRequest(reference, centre, language, received_at, due_on, created)


def _values(new: NewRequest) -> dict[str, object]:
    return {
        "reference": new_reference(),
        "idempotency_hash": new.idempotency_hash,
        "centre": new.centre,
        "sealed_centre": new.centre,
        "language": new.language,
        "received_at": new.received_at,
        "due_on": new.due_on,
        "envelope": new.envelope,
        "envelope_version": new.envelope_version,
    }


async def insert_all(
    connection: AsyncConnection, batch: Sequence[NewRequest]
) -> list[StoredRequest]:
    """Insert each request whose idempotency hash is not stored; the stored row of each.

    One multi-row statement for the whole batch: on SQLite every statement is a
    hop to the driver's thread, and a statement per row would make a large
    batch slow. A key twice in one batch is stored for its first request.
    """
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    results: list[StoredRequest | None] = [None] * len(batch)
    pending = list(range(len(batch)))
    for _attempt in range(REFERENCE_ATTEMPTS):
        first: dict[str, int] = {}
        for index in pending:
            first.setdefault(batch[index].idempotency_hash, index)
        # In the order of the unique key: two instances inserting overlapping
        # batches on PostgreSQL then wait on each other's rows in one order
        # and never deadlock.
        statement = (
            insert(help_requests)
            .values([_values(batch[first[key_hash]]) for key_hash in sorted(first)])
            # No conflict target: a clash on the reference is caught here too.
            .on_conflict_do_nothing()
            .returning(help_requests.c.idempotency_hash, *_RETURNED)
        )
        created = {
            row[0]: _stored(row[1:], created=True) for row in await connection.execute(statement)
        }
        existing = await _find_all(connection, set(first) - set(created))
        retry = []
        for index in pending:
            key_hash = batch[index].idempotency_hash
            if key_hash in created:
                stored = created[key_hash]
                results[index] = (
                    stored if index == first[key_hash] else replace(stored, created=False)
                )
            elif key_hash in existing:
                results[index] = existing[key_hash]
            else:
                retry.append(index)  # its reference was taken meanwhile: draw again
        if not retry:
            return [stored for stored in results if stored is not None]
        pending = retry
    raise RuntimeError("no free reference after several draws")


async def _find_all(connection: AsyncConnection, hashes: set[str]) -> dict[str, StoredRequest]:
    if not hashes:
        return {}
    query = select(help_requests.c.idempotency_hash, *_RETURNED).where(
        help_requests.c.idempotency_hash.in_(hashes)
    )
    return {row[0]: _stored(row[1:], created=False) for row in await connection.execute(query)}


async def find_by_hash(connection: AsyncConnection, key_hash: str) -> StoredRequest | None:
    query = select(*_RETURNED).where(help_requests.c.idempotency_hash == key_hash)
    row = (await connection.execute(query)).first()
    return None if row is None else _stored(row, created=False)


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
