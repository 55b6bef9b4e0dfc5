"""Key fingerprints: the record of which keys the database was made with.

Rows hold a key's kind, its short id and a fingerprint (see ``server/keys.py``),
never a key. The stored envelopes are counted here by the inbox key they are
sealed to, since retiring a key needs that count.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from .database import Database
from .schema import help_requests, key_fingerprints, request_events


@dataclass(frozen=True)
class Recorded:
    kind: str  # "inbox", "session" or "vapid"
    kid: str
    fingerprint: str
    created_at: dt.datetime
    current: bool


async def recorded_keys(connection: AsyncConnection) -> list[Recorded]:
    query = select(
        key_fingerprints.c.kind,
        key_fingerprints.c.kid,
        key_fingerprints.c.fingerprint,
        key_fingerprints.c.created_at,
        key_fingerprints.c.is_current,
    ).order_by(key_fingerprints.c.kind, key_fingerprints.c.created_at, key_fingerprints.c.kid)
    return [
        Recorded(str(kind), str(kid), str(fingerprint), created_at, bool(current))
        for kind, kid, fingerprint, created_at, current in await connection.execute(query)
    ]


async def record_keys(connection: AsyncConnection, keys: Iterable[Recorded]) -> None:
    """Record keys not recorded yet; a second current key of a kind is left out.

    The unique index on the current key of each kind decides between two
    instances recording at once: the loser's row is not written.
    """
    rows = [
        {
            "kind": key.kind,
            "kid": key.kid,
            "fingerprint": key.fingerprint,
            "created_at": key.created_at,
            "is_current": key.current,
        }
        for key in keys
    ]
    if not rows:
        return
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    for row in rows:
        await connection.execute(insert(key_fingerprints).values(row).on_conflict_do_nothing())


async def replace_current(connection: AsyncConnection, new: Recorded, *, keep_old: bool) -> None:
    """``new`` becomes the current key of its kind; the old one is kept (an inbox
    key that still opens old envelopes) or forgotten."""
    old = key_fingerprints.c.kind == new.kind
    if keep_old:
        await connection.execute(
            update(key_fingerprints)
            .where(and_(old, key_fingerprints.c.is_current.is_(True)))
            .values(is_current=False)
        )
    else:
        await connection.execute(delete(key_fingerprints).where(old))
    await record_keys(connection, [new])


async def forget_key(connection: AsyncConnection, kind: str, kid: str) -> bool:
    result = await connection.execute(
        delete(key_fingerprints).where(
            and_(key_fingerprints.c.kind == kind, key_fingerprints.c.kid == kid)
        )
    )
    return bool(result.rowcount)


async def is_recorded_inbox_key(db: Database, kid: str) -> bool:
    query = select(key_fingerprints.c.kid).where(
        and_(key_fingerprints.c.kind == "inbox", key_fingerprints.c.kid == kid)
    )
    async with db.engine.connect() as connection:
        return (await connection.execute(query)).first() is not None


def _kid_of(envelope: bytes) -> str:
    try:
        kid = json.loads(envelope).get("kid")
    except (ValueError, AttributeError):
        return ""
    return kid if isinstance(kid, str) else ""


@dataclass(frozen=True)
class Usage:
    """Stored envelopes by the inbox key they are sealed to ("" for unreadable ones)."""

    requests: Counter[str]
    notes: Counter[str]

    def of(self, kid: str) -> int:
        return self.requests[kid] + self.notes[kid]


async def envelope_usage(connection: AsyncConnection) -> Usage:
    """Counts every stored request and sealed note by its envelope's ``kid``.

    Reads each envelope once, in batches: the kid is inside the sealed JSON,
    not in a column of its own, so nothing on the intake's path changes.
    """
    requests: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    for column, counter in ((help_requests.c.envelope, requests), (request_events.c.note, notes)):
        result = await connection.stream(
            select(column).where(column.is_not(None)).execution_options(yield_per=500)
        )
        async for (envelope,) in result:
            counter[_kid_of(envelope)] += 1
    return Usage(requests, notes)
