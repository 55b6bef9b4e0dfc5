"""Help requests as the intake stores them: the rows, the one insert, the look-ups.

A replay is recognised by the database, not by a lookup first: the insert
does nothing when the idempotency hash is already there (a unique
constraint), and only then is the stored row read back, inside the same
transaction. Each new request's notification is queued in that transaction
too (:mod:`server.storage.outbox`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ..workdays import contact_by
from .outbox import enqueue_in
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
class Refused:
    """Not stored: its sender is over the limit for ``wait`` more seconds."""

    wait: float


# Counts a new request against its sender's limit, in the storing transaction:
# None if allowed, else the seconds to wait (security/ratelimit.py).
Charge = Callable[[AsyncConnection], Awaitable[float | None]]
GiveBack = Callable[[AsyncConnection], Awaitable[None]]


@dataclass(frozen=True)
class NewRequest:
    idempotency_hash: str
    centre: str
    language: str
    envelope: bytes
    envelope_version: int
    received_at: dt.datetime
    due_on: dt.date
    charge: Charge | None = field(default=None, compare=False)
    give_back: GiveBack | None = field(default=None, compare=False)
    # Where the charge counts (the limiter's row for its sender): a group is
    # charged in this order, so that two instances charging overlapping
    # senders on PostgreSQL lock their counters in one order and never deadlock.
    charge_order: str = field(default="", compare=False)


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
) -> list[StoredRequest | Refused]:
    """Insert each request whose idempotency hash is not stored; the stored row of each.

    A replay is answered from the stored row and never counted; a new request
    is first counted against its sender's limit (``charge``), in this same
    transaction, so the count and the row commit together or not at all. One
    multi-row statement inserts the whole batch: on SQLite every statement is
    a hop to the driver's thread, and a statement per row would make a large
    batch slow. A key twice in one batch is stored for its first request.
    """
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    first: dict[str, int] = {}
    for index, new in enumerate(batch):
        first.setdefault(new.idempotency_hash, index)
    existing = await _find_all(connection, set(first))
    refused: dict[str, Refused] = {}
    pending = []
    for key_hash, index in sorted(first.items(), key=lambda item: batch[item[1]].charge_order):
        charge = batch[index].charge
        if key_hash in existing:
            continue
        wait = None if charge is None else await charge(connection)
        if wait is None:
            pending.append(index)
        else:
            refused[key_hash] = Refused(wait)
    created: dict[str, StoredRequest] = {}
    for _attempt in range(REFERENCE_ATTEMPTS):
        if not pending:
            break
        # In the order of the unique key: two instances inserting overlapping
        # batches on PostgreSQL then wait on each other's rows in one order
        # and never deadlock.
        ordered = sorted(pending, key=lambda index: batch[index].idempotency_hash)
        statement = (
            insert(help_requests)
            .values([_values(batch[index]) for index in ordered])
            # No conflict target: a clash on the reference is caught here too.
            .on_conflict_do_nothing()
            .returning(help_requests.c.idempotency_hash, *_RETURNED)
        )
        for row in await connection.execute(statement):
            created[row[0]] = _stored(row[1:], created=True)
        left = [index for index in pending if batch[index].idempotency_hash not in created]
        # Stored meanwhile by another instance: a replay after all, not counted.
        others = await _find_all(connection, {batch[index].idempotency_hash for index in left})
        for index in left:
            give_back = batch[index].give_back
            if batch[index].idempotency_hash in others and give_back is not None:
                await give_back(connection)
        existing.update(others)
        # The others' reference was taken meanwhile: draw again.
        pending = [index for index in left if batch[index].idempotency_hash not in others]
    if pending:
        raise RuntimeError("no free reference after several draws")
    results: list[StoredRequest | Refused] = []
    for index, new in enumerate(batch):
        key_hash = new.idempotency_hash
        if key_hash in existing:
            results.append(existing[key_hash])
        elif key_hash in refused:
            results.append(refused[key_hash])
        else:
            stored = created[key_hash]
            results.append(stored if index == first[key_hash] else replace(stored, created=False))
    # The notification is written with the request: acknowledged means waiting.
    await enqueue_in(
        connection,
        [(stored.centre, stored.received_at) for stored in created.values()],
    )
    return results


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
    charge: Charge | None = None,
    give_back: GiveBack | None = None,
    charge_order: str = "",
) -> StoredRequest | Refused:
    """Store a sealed request once per idempotency key, durably, before returning.

    A replay returns the row of the first delivery, with ``created=False``; a
    new request that ``charge`` refuses is not stored (:class:`Refused`).
    """
    new = NewRequest(
        idempotency_hash=idempotency_hash(idempotency_key),
        centre=centre,
        language=language,
        envelope=envelope,
        envelope_version=envelope_version,
        received_at=received_at,
        due_on=contact_by(received_at),
        charge=charge,
        give_back=give_back,
        charge_order=charge_order,
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
