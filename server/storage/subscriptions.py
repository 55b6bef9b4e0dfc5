"""Push subscriptions: the advisors' devices to tell when a request arrives."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from .database import Database
from .schema import advisors, push_subscriptions


@dataclass(frozen=True)
class Subscription:
    id: int
    advisor_id: int
    endpoint: str
    p256dh: str
    auth: str


# Each subscription is one POST per new request: a cap keeps one account from
# making a single request fan out to hundreds of them.
MAX_SUBSCRIPTIONS_PER_ADVISOR = 10
_NEWEST_FIRST = (push_subscriptions.c.created_at.desc(), push_subscriptions.c.id.desc())


async def save_subscription(
    db: Database, *, advisor_id: int, endpoint: str, p256dh: str, auth: str, now: dt.datetime
) -> None:
    """Keep a device's subscription; the same endpoint again replaces the old one.

    An advisor keeps at most :data:`MAX_SUBSCRIPTIONS_PER_ADVISOR`; a new one
    replaces the oldest.
    """
    async with db.engine.begin() as connection:
        # Holds two sign-ins of one advisor subscribing at once to the cap
        # (PostgreSQL; SQLite writes one transaction at a time anyway).
        await connection.execute(
            select(advisors.c.id).where(advisors.c.id == advisor_id).with_for_update()
        )
        await connection.execute(
            push_subscriptions.delete().where(push_subscriptions.c.endpoint == endpoint)
        )
        kept = (
            select(push_subscriptions.c.id)
            .where(push_subscriptions.c.advisor_id == advisor_id)
            .order_by(*_NEWEST_FIRST)
            .limit(MAX_SUBSCRIPTIONS_PER_ADVISOR - 1)
        )
        await connection.execute(
            push_subscriptions.delete().where(
                and_(
                    push_subscriptions.c.advisor_id == advisor_id,
                    push_subscriptions.c.id.not_in(kept.scalar_subquery()),
                )
            )
        )
        await connection.execute(
            insert(push_subscriptions).values(
                advisor_id=advisor_id, endpoint=endpoint, p256dh=p256dh, auth=auth, created_at=now
            )
        )


async def remove_subscription(db: Database, *, advisor_id: int, endpoint: str) -> bool:
    async with db.engine.begin() as connection:
        result = await connection.execute(
            push_subscriptions.delete().where(
                and_(
                    push_subscriptions.c.endpoint == endpoint,
                    push_subscriptions.c.advisor_id == advisor_id,
                )
            )
        )
    return bool(result.rowcount)


async def delete_subscription(db: Database, subscription_id: int) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(
            push_subscriptions.delete().where(push_subscriptions.c.id == subscription_id)
        )


async def subscriptions_for(db: Database, centre: str) -> list[Subscription]:
    """The devices to tell about something new for ``centre``.

    The centre's active advisors; for the "I don't know" queue, the
    coordinators, who route it. Each advisor's newest
    :data:`MAX_SUBSCRIPTIONS_PER_ADVISOR` only, also when more were stored
    before there was a cap.
    """
    who = advisors.c.coordinator.is_(True) if centre == "unknown" else advisors.c.centre == centre
    ranked = select(
        push_subscriptions.c.id,
        func.row_number()
        .over(partition_by=push_subscriptions.c.advisor_id, order_by=_NEWEST_FIRST)
        .label("rank"),
    ).subquery()
    query = (
        select(
            push_subscriptions.c.id,
            push_subscriptions.c.advisor_id,
            push_subscriptions.c.endpoint,
            push_subscriptions.c.p256dh,
            push_subscriptions.c.auth,
        )
        .join(advisors, advisors.c.id == push_subscriptions.c.advisor_id)
        .join(ranked, ranked.c.id == push_subscriptions.c.id)
        .where(
            and_(
                who,
                advisors.c.disabled_at.is_(None),
                ranked.c.rank <= MAX_SUBSCRIPTIONS_PER_ADVISOR,
            )
        )
        .order_by(push_subscriptions.c.id)
    )
    async with db.engine.connect() as connection:
        return [Subscription(*row) for row in await connection.execute(query)]


async def count_subscriptions(db: Database, advisor_id: int | None = None) -> int:
    query = select(func.count()).select_from(push_subscriptions)
    if advisor_id is not None:
        query = query.where(push_subscriptions.c.advisor_id == advisor_id)
    async with db.engine.connect() as connection:
        return int(await connection.scalar(query) or 0)


async def forget_all_subscriptions(connection: AsyncConnection) -> int:
    """In the caller's transaction (a new VAPID key): every subscription was made
    for the old key, and push services refuse it now."""
    result = await connection.execute(push_subscriptions.delete())
    return int(result.rowcount or 0)
