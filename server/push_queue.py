"""The durable push queue: notifications sent by whichever instance claims them.

A new request's notification is a row written in the request's transaction
(:mod:`server.storage.outbox`). This process's queue is woken as soon as its
own intake has committed one (the fast path), and sweeps every few seconds
for rows left by other instances, including one that died between its
acknowledgement and its push. Each claimed row is one device: sent to once
by :class:`server.push.PushSender`, deleted when delivered, gone, refused or
given up after :data:`ATTEMPTS` tries (logged with ids only), and otherwise
retried with exponential backoff, or after the push service's Retry-After.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .push import MAX_DELAY, TIMEOUT, Outcome, PushSender, Retry
from .storage import Database, StoredRequest, outbox

logger = logging.getLogger("haven.push")

ATTEMPTS = 4  # tries per device before a notification is given up
BASE_DELAY = 1.0  # seconds; doubled after each failed try
SWEEP_SECONDS = 2.0  # how often rows from other instances are looked for
# Twice what one POST may take (push.TIMEOUT): a lease outlives its send, and
# the push of an instance that died while sending waits no longer than this.
LEASE = dt.timedelta(seconds=2 * TIMEOUT)
BATCH = 100  # devices claimed at once


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)


class PushQueue:
    def __init__(
        self,
        db: Database,
        sender: PushSender,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
        base_delay: float = BASE_DELAY,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self.db = db
        self.sender = sender
        self.clock = clock
        self.base_delay = base_delay
        self.sweep_seconds = sweep_seconds
        # Waits until woken or ``seconds`` have passed; tests replace it.
        self.pause: Callable[[float], Awaitable[None]] = lambda seconds: _wait(self._woken, seconds)
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[int] = set()
        self._pending: set[asyncio.Task[Any]] = set()
        self.sent = 0  # delivered, for tests and measurements
        self.failed = 0  # refused or given up

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="haven-push-queue")

    async def stop(self) -> None:
        tasks = [task for task in (self._task, *self._pending) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        try:
            # Not sent yet: another instance (or the next start) need not wait for the lease.
            await outbox.release(self.db, sorted(self._in_flight))
        except Exception as error:
            logger.warning("could not release claimed pushes: %s", type(error).__name__)
        self._in_flight.clear()

    def wake(self) -> None:
        self._woken.set()

    async def request_arrived(self, stored: StoredRequest) -> None:
        """The intake hook: the request's notification is committed with it; send it now."""
        self.wake()

    def notify_soon(self, centre: str) -> None:
        """Queue a notification for ``centre`` on its own (a transfer, say)."""
        task = asyncio.create_task(self._enqueue(centre))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _enqueue(self, centre: str) -> None:
        try:
            await outbox.enqueue(self.db, centre, self.clock())
        except Exception as error:
            logger.error("could not queue a push for %s: %s", centre, type(error).__name__)
            return
        self.wake()

    async def _run(self) -> None:
        while True:
            self._woken.clear()
            try:
                due = await outbox.next_due(self.db)
                now = self.clock()
                if due is not None and due <= now:
                    await self.run_once()
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.error("the push queue failed: %s", type(error).__name__)
                due = None
            seconds = self.sweep_seconds
            if due is not None:
                seconds = min(max((due - self.clock()).total_seconds(), 0.0), seconds)
            await self.pause(seconds)

    async def run_once(self) -> int:
        """Claim what is due and send it; how many devices were tried."""
        claimed = await outbox.claim(self.db, self.clock(), LEASE, BATCH)
        self._in_flight.update(item.id for item in claimed)
        try:
            await self._settle(claimed)
        except asyncio.CancelledError:
            raise  # still in flight: stop() releases them
        except BaseException:
            self._in_flight.difference_update(item.id for item in claimed)
            raise
        self._in_flight.difference_update(item.id for item in claimed)
        return len(claimed)

    async def _settle(self, claimed: list[outbox.Claimed]) -> None:
        # Each row is forgotten as soon as its own POST has been answered, not
        # when the whole batch has: an instance killed in between sends again
        # (after the lease) only what was answered but not yet forgotten, a
        # window of one deletion's commit. Deletions that fall due together
        # share a transaction.
        finished: list[int] = []
        forgetting = asyncio.Lock()

        async def forget() -> None:
            async with forgetting:
                ids = finished[:]
                finished.clear()
                await outbox.done(self.db, ids)

        async def settle(item: outbox.Claimed) -> None:
            result = await self.sender.deliver(item.subscription, item.centre)
            if isinstance(result, Retry):
                if item.attempts < ATTEMPTS:
                    delay = result.after
                    if delay is None:
                        delay = min(self.base_delay * 2 ** (item.attempts - 1), MAX_DELAY)
                    at = self.clock() + dt.timedelta(seconds=delay)
                    await outbox.retry(self.db, item.id, at)
                    return
                logger.warning(
                    "push to subscription %d failed after %d attempts",
                    item.subscription.id,
                    ATTEMPTS,
                )
                self.failed += 1
            elif result is Outcome.SENT:
                self.sent += 1
            elif result is Outcome.REFUSED:
                self.failed += 1
            finished.append(item.id)
            await forget()

        await asyncio.gather(*(settle(item) for item in claimed))
