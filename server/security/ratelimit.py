"""A per-client rate limit shared by every instance, that never keeps a client's address.

Counters live in the database (``limit_counters``, counted atomically by
:mod:`server.storage.limits`), so every ``haven serve`` sharing it sees the
same counts. A counter is keyed by HMAC-SHA256 of what it counts (a client,
an account, a device) under a key of the day, itself HMAC-SHA256 of the
secret in the keys directory (``limits-key``) and the day's number: the
database holds no address and no e-mail, and without that secret a row
cannot be tied to anyone.

The key changes at midnight (UTC), and a window must not end with it: a
window may last a day at most, and during the first ``window`` seconds of a
day the row of yesterday's key is looked up first and, while it is open,
counted in. So a client gets no fresh window at midnight. Each client gets
a fixed window that opens with its first counted request; an expired row is
deleted when it is next read and by :func:`server.storage.limits.purge_expired`.
The old in-memory cap on clients tracked is gone with the memory: a flood of
addresses costs rows that expire with their window.

A client is what :func:`server.security.clients.client_key` makes of an
address: an IPv4 address, or an IPv6 /64.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from ..storage import Database
from ..storage import limits as counters

ROTATE_SECONDS = 24 * 60 * 60
KEY_FILE = "limits-key"
# Requests without a known address (a Unix socket, a test) share one bucket.
UNKNOWN_CLIENT = "unknown"


def day_key(secret: bytes, day: int) -> bytes:
    """The hash key of one day (days counted from the epoch, UTC)."""
    return hmac.new(secret, b"haven limits\x00" + str(day).encode(), hashlib.sha256).digest()


class RateLimiter:
    """``limit`` counted events per ``window_seconds``, per client, for one ``scope``."""

    def __init__(
        self,
        db: Database,
        secret: bytes,
        scope: str,
        limit: int,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit <= 0 or window_seconds <= 0:
            raise ValueError("a rate limit needs a positive count and window")
        if window_seconds > ROTATE_SECONDS:
            raise ValueError("a rate limit's window may last a day at most")
        self.db = db
        self.scope = scope
        self.limit = limit
        self.window_seconds = window_seconds
        self.clock = clock
        self._secret = secret
        self._keys: dict[int, bytes] = {}

    def _key(self, day: int) -> bytes:
        key = self._keys.get(day)
        if key is None:
            self._keys = {d: k for d, k in self._keys.items() if d >= day - 1}
            key = self._keys[day] = day_key(self._secret, day)
        return key

    def _digest(self, client: str | None, day: int) -> str:
        name = f"{self.scope}\x00{client or UNKNOWN_CLIENT}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key(day), name, hashlib.sha256).hexdigest()

    def digests(self, client: str | None, now: float) -> list[str]:
        """The rows this client may be counted in at ``now``: yesterday's first, if open."""
        day = int(now // ROTATE_SECONDS)
        today = self._digest(client, day)
        if now - day * ROTATE_SECONDS < self.window_seconds:
            return [self._digest(client, day - 1), today]
        return [today]

    async def _live(self, connection: AsyncConnection, client: str | None, now: float) -> str:
        """The row to count in: yesterday's while its window is open, else today's."""
        *earlier, today = self.digests(client, now)
        for digest in earlier:
            if await counters.wait(connection, digest, 1, now) is not None:
                return digest  # one count or more, window open
            await counters.delete_if_expired(connection, digest, now)
        return today

    async def hit_in(
        self, connection: AsyncConnection, client: str | None, now: float
    ) -> float | None:
        """Count one request in ``connection``'s transaction: None, or seconds to wait."""
        digest = await self._live(connection, client, now)
        return await counters.count(connection, digest, self.limit, self.window_seconds, now)

    async def blocked_in(
        self, connection: AsyncConnection, client: str | None, now: float
    ) -> float | None:
        waits = [
            wait
            for digest in self.digests(client, now)
            if (wait := await counters.wait(connection, digest, self.limit, now)) is not None
        ]
        return max(waits) if waits else None

    async def refund_in(self, connection: AsyncConnection, client: str | None, now: float) -> None:
        await counters.give_back(connection, await self._live(connection, client, now), now)

    async def clear_in(self, connection: AsyncConnection, client: str | None, now: float) -> None:
        for digest in self.digests(client, now):
            await counters.forget(connection, digest)

    async def hit(self, client: str | None) -> float | None:
        """Count one request: None if allowed, else the seconds until it would be."""
        async with self.db.relaxed() as connection:
            return await self.hit_in(connection, client, self.clock())

    async def blocked(self, client: str | None) -> float | None:
        """Seconds until this client may try again, or None; counts nothing."""
        now = self.clock()
        async with self.db.relaxed() as connection:
            wait = await self.blocked_in(connection, client, now)
            if wait is None:
                for digest in self.digests(client, now):
                    await counters.delete_if_expired(connection, digest, now)
        return wait

    async def clear(self, client: str | None) -> None:
        """Forget this client's count, e.g. after a successful sign-in."""
        async with self.db.relaxed() as connection:
            await self.clear_in(connection, client, self.clock())

    async def refund(self, client: str | None) -> None:
        """Give back one counted request, e.g. one that turned out to be a replay."""
        async with self.db.relaxed() as connection:
            await self.refund_in(connection, client, self.clock())
