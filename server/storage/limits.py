"""Counters of the shared rate limits and sign-in budgets: one atomic statement each.

A counter is a fixed window that opens with its first counted event. Counting
is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING``: the row
is created, reopened when its window has passed, or incremented while under
the limit, and the statement returns nothing when the limit is reached.
PostgreSQL locks the row for the statement and SQLite has a single writer, so
however many instances count at once, no window ever goes past its limit.
Times are seconds since the epoch (every instance shares the wall clock).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from .schema import limit_counters

_c = limit_counters.c


async def count(
    connection: AsyncConnection, key_hash: str, limit: int, window: float, now: float
) -> float | None:
    """Count one event under ``key_hash``: None if allowed, else seconds to wait."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    expired = _c.expires_at <= now
    statement = (
        insert(limit_counters)
        .values(key_hash=key_hash, opened_at=now, expires_at=now + window, count=1)
        .on_conflict_do_update(
            index_elements=[_c.key_hash],
            set_={
                "count": case((expired, 1), else_=_c.count + 1),
                "opened_at": case((expired, now), else_=_c.opened_at),
                "expires_at": case((expired, now + window), else_=_c.expires_at),
            },
            where=or_(expired, _c.count < limit),
        )
        .returning(_c.count)
    )
    if (await connection.execute(statement)).first() is not None:
        return None
    return await wait(connection, key_hash, limit, now)


async def wait(connection: AsyncConnection, key_hash: str, limit: int, now: float) -> float | None:
    """Seconds until ``key_hash`` may count again, or None; counts nothing."""
    row = (
        await connection.execute(select(_c.expires_at, _c.count).where(_c.key_hash == key_hash))
    ).first()
    if row is None:
        return None
    expires_at, counted = row
    if expires_at <= now:
        return None
    return max(expires_at - now, 0.0) if counted >= limit else None


async def give_back(connection: AsyncConnection, key_hash: str, now: float) -> None:
    """One counted event less, in a window still open."""
    await connection.execute(
        update(limit_counters)
        .where(and_(_c.key_hash == key_hash, _c.count > 0, _c.expires_at > now))
        .values(count=_c.count - 1)
    )


async def forget(connection: AsyncConnection, key_hash: str) -> None:
    await connection.execute(delete(limit_counters).where(_c.key_hash == key_hash))


async def delete_if_expired(connection: AsyncConnection, key_hash: str, now: float) -> None:
    await connection.execute(
        delete(limit_counters).where(and_(_c.key_hash == key_hash, _c.expires_at <= now))
    )


async def purge_expired(connection: AsyncConnection, now: dt.datetime) -> int:
    """Delete every counter whose window has passed; how many were deleted.

    For the daily purge (in its own transaction, or the purge's).
    """
    result = await connection.execute(
        delete(limit_counters).where(_c.expires_at <= now.timestamp())
    )
    return int(result.rowcount or 0)
