"""The push queue's rows: written with the request, claimed by one instance, then deleted.

A new request adds one row naming its centre, in the request's own
transaction, so a request that is acknowledged always has its notification
waiting. The instance that claims that row first turns it, in the same
transaction, into one row per subscribed device: each device is then sent to,
retried and deleted on its own, so a device that was reached is never sent to
again because another one failed. A claim is a lease (``claimed_until``): an
instance that dies holding it gives it up when the lease runs out. On
PostgreSQL the claim skips rows another instance is claiming (``FOR UPDATE
SKIP LOCKED``); on SQLite the claiming ``UPDATE`` runs under the single write
lock. Claims and deletions do not wait for the disk: after a power cut the
worst is a push sent twice. Nothing of a request's content is ever in this
table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .schema import UTCDateTime, push_outbox, push_subscriptions
from .subscriptions import Subscription, subscriptions_in

if TYPE_CHECKING:
    from .database import Database

_o = push_outbox.c
# Rows per statement: well within SQLite's limit on bound parameters.
CHUNK = 500


@dataclass(frozen=True)
class Claimed:
    """One device to tell that something is new for ``centre``; this is try ``attempts``."""

    id: int
    centre: str
    attempts: int
    subscription: Subscription


async def enqueue_in(connection: AsyncConnection, news: Sequence[tuple[str, dt.datetime]]) -> None:
    """One waiting notification per (centre, time) of a new request, in the caller's
    transaction."""
    if news:
        await connection.execute(
            insert(push_outbox).values(
                [{"centre": centre, "created_at": at, "next_attempt_at": at} for centre, at in news]
            )
        )


async def enqueue(db: Database, centre: str, now: dt.datetime) -> None:
    """A notification for ``centre`` on its own (a transfer, say)."""
    async with db.engine.begin() as connection:
        await enqueue_in(connection, [(centre, now)])


def _due(now: dt.datetime) -> ColumnElement[bool]:
    return and_(_o.next_attempt_at <= now, or_(_o.claimed_until.is_(None), _o.claimed_until <= now))


async def claim(db: Database, now: dt.datetime, lease: dt.timedelta, limit: int) -> list[Claimed]:
    """Claim up to ``limit`` due notifications for ``lease``; the devices to send them to."""
    until = now + lease
    async with db.relaxed() as connection:
        # The first statement writes: on SQLite it takes the write lock at once.
        due = (
            select(_o.id)
            .where(_due(now))
            .order_by(_o.next_attempt_at, _o.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (
            await connection.execute(
                update(push_outbox)
                .where(_o.id.in_(due.scalar_subquery()))
                .values(claimed_until=until, attempts=_o.attempts + 1)
                .returning(_o.id, _o.centre, _o.subscription_id, _o.created_at)
            )
        ).all()
        device_ids = [row.id for row in rows if row.subscription_id is not None]
        news = [row for row in rows if row.subscription_id is None]
        # A few statements per claim, however many rows: the write lock is shared.
        devices = {
            centre: await subscriptions_in(connection, centre)
            for centre in sorted({row.centre for row in news})
        }
        fanned = [
            {
                "centre": row.centre,
                "subscription_id": device.id,
                "created_at": row.created_at,
                "attempts": 1,
                "next_attempt_at": now,
                "claimed_until": until,
            }
            for row in news
            for device in devices[row.centre]
        ]
        if fanned:
            created = await connection.execute(insert(push_outbox).values(fanned).returning(_o.id))
            device_ids.extend(created.scalars())
        if news:
            await connection.execute(delete(push_outbox).where(_o.id.in_([row.id for row in news])))
        claimed: list[Claimed] = []
        for start in range(0, len(device_ids), CHUNK):
            query = (
                select(
                    _o.id,
                    _o.centre,
                    _o.attempts,
                    push_subscriptions.c.id,
                    push_subscriptions.c.advisor_id,
                    push_subscriptions.c.endpoint,
                    push_subscriptions.c.p256dh,
                    push_subscriptions.c.auth,
                )
                .join(push_subscriptions, push_subscriptions.c.id == _o.subscription_id)
                .where(_o.id.in_(device_ids[start : start + CHUNK]))
                .order_by(_o.id)
            )
            claimed.extend(
                Claimed(row[0], row[1], row[2], Subscription(*row[3:]))
                for row in await connection.execute(query)
            )
        return claimed


async def done(db: Database, ids: Sequence[int]) -> None:
    """Delivered, gone or given up: forget these."""
    if ids:
        async with db.relaxed() as connection:
            await connection.execute(delete(push_outbox).where(_o.id.in_(ids)))


async def retry(db: Database, outbox_id: int, at: dt.datetime) -> None:
    """Try this one again at ``at``, by whichever instance claims it then."""
    async with db.relaxed() as connection:
        await connection.execute(
            update(push_outbox)
            .where(_o.id == outbox_id)
            .values(next_attempt_at=at, claimed_until=None)
        )


async def release(db: Database, ids: Sequence[int]) -> None:
    """Give up the lease on these at once (a clean stop): another instance may take them."""
    if ids:
        async with db.relaxed() as connection:
            await connection.execute(
                update(push_outbox).where(_o.id.in_(ids)).values(claimed_until=None)
            )


async def next_due(db: Database) -> dt.datetime | None:
    """When the next notification becomes due (a claimed one: when its lease ends)."""
    # A claimed row was due when claimed: its lease ends after its next attempt.
    moment = func.coalesce(_o.claimed_until, _o.next_attempt_at)
    async with db.engine.connect() as connection:
        value: dt.datetime | None = await connection.scalar(
            select(type_coerce(func.min(moment), UTCDateTime))
        )
    return value


async def count_outbox(db: Database) -> int:
    async with db.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(push_outbox)) or 0)
