"""What ``/healthz`` answers: whether this instance can serve, checked at most every few seconds.

A proxy or a monitor asks often; the database is asked at most once per
``EVERY`` seconds, however many ask at once. The answer says only ``ok``,
``restart`` (the keys directory's record in the database changed since this
instance read its keys: a rotation it has not been restarted after) or
``unavailable`` (the database does not answer); the log says which key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from .keys import HeldKeys, mismatches
from .storage import Database
from .storage.keys import recorded_keys

log = logging.getLogger("haven.health")

EVERY = 5.0  # seconds an answer is reused


@dataclass(frozen=True)
class Status:
    status: str  # "ok", "restart" or "unavailable"

    @property
    def code(self) -> int:
        return 200 if self.status == "ok" else 503


class Health:
    def __init__(
        self, db: Database, held: HeldKeys, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._db = db
        self._held = held
        self._clock = clock
        self._lock = asyncio.Lock()
        self._last: tuple[float, Status] | None = None
        self._said: tuple[str, ...] = ()

    async def status(self) -> Status:
        async with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last[0] < EVERY:
                return self._last[1]
            status = await self._check()
            self._last = (self._clock(), status)
            return status

    async def _check(self) -> Status:
        try:
            async with self._db.engine.connect() as connection:
                recorded = await recorded_keys(connection)
        except (SQLAlchemyError, OSError) as error:
            log.warning("health: the database does not answer (%s)", type(error).__name__)
            return Status("unavailable")
        problems = tuple(mismatches(recorded, self._held))
        if problems != self._said:  # said once each time it changes, not at every ask
            self._said = problems
            if problems:
                log.warning(
                    "health: restart this instance after a key rotation: %s", "; ".join(problems)
                )
        return Status("restart" if problems else "ok")
