"""Group commit: one writer task commits queued inserts together.

With ``synchronous=FULL`` every commit waits for the disk. Fifty phones each
committing alone would queue behind SQLite's single write lock, one flush
each; instead, whatever arrived while the last commit was flushing goes into
the next transaction, and every caller hears back only after that commit.
Nothing waits on purpose: a lone request is committed at once.

Other writes that must not race the inserts for SQLite's one write lock (the
purge) are handed to the same writer with :meth:`Writer.run`: each runs in a
transaction of its own, between two groups.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .requests import NewRequest, StoredRequest, insert_all

logger = logging.getLogger("haven.storage")

# Bounds one transaction's size (and so its latency) when a storm arrives.
MAX_BATCH = 256

T = TypeVar("T")


@dataclass
class _Job:
    new: NewRequest
    done: asyncio.Future[StoredRequest]


@dataclass
class _Work:
    work: Callable[[AsyncConnection], Awaitable[Any]]
    done: asyncio.Future[Any]


class Writer:
    def __init__(self, engine: AsyncEngine, max_batch: int = MAX_BATCH) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Job | _Work | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.commits = 0  # transactions committed, for tests and measurements

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="haven-storage-writer")

    async def stop(self) -> None:
        """Commit everything queued so far, then end."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None

    async def submit(self, new: NewRequest) -> StoredRequest:
        """Store ``new`` (or find it stored); returns only once it is committed."""
        if self._task is None or self._task.done():
            raise RuntimeError("the storage writer is not running")
        done: asyncio.Future[StoredRequest] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(new, done))
        # A caller that goes away does not cancel the write: a replay finds it.
        return await done

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` in a transaction of its own, in turn with the inserts.

        Its result, or its exception (the transaction then rolled back).
        """
        if self._task is None or self._task.done():
            raise RuntimeError("the storage writer is not running")
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Work(work, done))
        return await done

    async def _run(self) -> None:
        while True:
            job = await self._queue.get()
            while isinstance(job, _Work):
                await self._work(job)
                job = await self._queue.get()
            if job is None:
                return
            batch = [job]
            after: _Work | None = None
            stopping = False
            while len(batch) < self._max_batch and not self._queue.empty():
                queued = self._queue.get_nowait()
                if queued is None:
                    stopping = True
                    break
                if isinstance(queued, _Work):
                    after = queued  # the group so far first, then this
                    break
                batch.append(queued)
            await self._commit(batch)
            if after is not None:
                await self._work(after)
            if stopping:
                return

    async def _work(self, job: _Work) -> None:
        try:
            async with self._engine.begin() as connection:
                result = await job.work(connection)
        except Exception as error:
            if not job.done.done():
                job.done.set_exception(error)
            return
        if not job.done.done():
            job.done.set_result(result)

    async def _commit(self, batch: list[_Job]) -> None:
        try:
            async with self._engine.begin() as connection:
                results = await insert_all(connection, [job.new for job in batch])
        except Exception as error:
            if len(batch) > 1:
                # One bad insert must not fail its neighbours: each on its own.
                logger.warning("a group of %d inserts failed; retrying each alone", len(batch))
                for job in batch:
                    await self._commit([job])
                return
            # The error's text can quote the row: log its kind only.
            logger.error("storing a request failed: %s", type(error).__name__)
            if not batch[0].done.done():
                batch[0].done.set_exception(error)
            return
        self.commits += 1
        for job, result in zip(batch, results, strict=True):
            if not job.done.done():
                job.done.set_result(result)
