"""The push queue's rows: written with the request, leased, sent once per device."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert

from server.push import Outcome, Retry
from server.push_queue import ATTEMPTS, LEASE, PushQueue
from server.storage import Database, store_request
from server.storage.outbox import claim, count_outbox
from server.storage.schema import advisors, push_subscriptions
from server.storage.subscriptions import Subscription

NOW = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)


async def staffed(db: Database, devices: int) -> None:
    async with db.engine.begin() as connection:
        advisor = await connection.scalar(
            insert(advisors)
            .values(email="anna@payoke.be", centre="payoke", password_hash="x", created_at=NOW)
            .returning(advisors.c.id)
        )
        for number in range(devices):
            await connection.execute(
                insert(push_subscriptions).values(
                    advisor_id=advisor,
                    endpoint=f"https://push.example/{number}",
                    p256dh="k",
                    auth="a",
                    created_at=NOW,
                )
            )


async def new_request(db: Database, key: str = "key-1") -> None:
    await store_request(
        db,
        idempotency_key=key,
        centre="payoke",
        language="en",
        envelope=b"{}",
        envelope_version=1,
        received_at=NOW,
    )


@pytest.mark.asyncio
async def test_a_request_and_its_notification_are_stored_together_once(db: Database) -> None:
    await staffed(db, 2)
    await new_request(db)
    await new_request(db)  # a replay: no second notification
    assert await count_outbox(db) == 1
    claimed = await claim(db, NOW, LEASE, 100)
    assert sorted(item.subscription.endpoint for item in claimed) == [
        "https://push.example/0",
        "https://push.example/1",
    ]
    assert await count_outbox(db) == 2  # one row per device now


@pytest.mark.asyncio
async def test_a_lease_keeps_others_off_until_it_runs_out(db: Database) -> None:
    await staffed(db, 2)
    await new_request(db)
    first = await claim(db, NOW, LEASE, 100)
    assert len(first) == 2
    assert await claim(db, NOW + LEASE / 2, LEASE, 100) == []  # another instance
    # The first instance died while sending: after its lease, another takes over.
    taken = await claim(db, NOW + LEASE, LEASE, 100)
    assert {item.id for item in taken} == {item.id for item in first}
    assert {item.attempts for item in taken} == {2}


class Sender:
    """Delivers to device 0, and device 1's push service keeps failing."""

    def __init__(self) -> None:
        self.posts: list[str] = []

    async def deliver(self, subscription: Subscription, centre: str) -> Outcome | Retry:
        self.posts.append(subscription.endpoint)
        return Outcome.SENT if subscription.endpoint.endswith("/0") else Retry()


@pytest.mark.asyncio
async def test_a_device_reached_is_not_sent_to_again_when_another_fails(db: Database) -> None:
    await staffed(db, 2)
    await new_request(db)
    sender = Sender()
    clock = [NOW]
    queue = PushQueue(db, sender, clock=lambda: clock[0])  # type: ignore[arg-type]
    for _ in range(ATTEMPTS):
        assert await queue.run_once() >= 1
        clock[0] += dt.timedelta(minutes=5)  # past any backoff
    assert await queue.run_once() == 0
    assert sender.posts.count("https://push.example/0") == 1
    assert sender.posts.count("https://push.example/1") == ATTEMPTS
    assert (queue.sent, queue.failed) == (1, 1)  # then given up
    assert await count_outbox(db) == 0
