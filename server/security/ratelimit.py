"""A per-client rate limit that never keeps a client's address.

Counters are keyed by HMAC-SHA256 of the address under a random key that
lives only in memory and is replaced every day; the counters go with it. So
the server holds no address, and yesterday's hashes cannot be linked to
today's. Each client gets a fixed window that opens with its first counted
request; expired windows are pruned as new ones open, and the number of
clients tracked at once is capped, so memory stays bounded under a flood.

A client is what :func:`server.security.clients.client_key` makes of an
address: an IPv4 address, or an IPv6 /64.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

ROTATE_SECONDS = 24 * 60 * 60
# About 100 bytes each: a flood from 100,000 addresses costs ~10 MB at most.
MAX_CLIENTS = 100_000
# Requests without a known address (a Unix socket, a test) share one bucket.
UNKNOWN_CLIENT = "unknown"


@dataclass
class _Window:
    opened: float
    count: int


class RateLimiter:
    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        if limit <= 0 or window_seconds <= 0:
            raise ValueError("a rate limit needs a positive count and window")
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._max_clients = max_clients
        # Insertion order is the order windows opened: the oldest are first.
        # OrderedDict, since a plain dict slows down when popped from the front.
        self._windows: OrderedDict[bytes, _Window] = OrderedDict()
        self._rotate(clock())

    def _rotate(self, now: float) -> None:
        self._key = secrets.token_bytes(32)
        self._rotates_at = now + ROTATE_SECONDS
        self._windows.clear()

    def _digest(self, client: str | None) -> bytes:
        address = (client or UNKNOWN_CLIENT).encode("utf-8", "surrogatepass")
        return hmac.new(self._key, address, hashlib.sha256).digest()

    def _prune(self, now: float) -> None:
        while self._windows:
            oldest = next(iter(self._windows.values()))
            if now - oldest.opened < self.window_seconds:
                return
            self._windows.popitem(last=False)

    def hit(self, client: str | None) -> float | None:
        """Count one request: None if allowed, else the seconds until it would be."""
        now = self._clock()
        if now >= self._rotates_at:
            self._rotate(now)
        self._prune(now)
        digest = self._digest(client)
        window = self._windows.get(digest)
        if window is None:
            while len(self._windows) >= self._max_clients:
                # Full of live windows: forget the oldest rather than grow.
                self._windows.popitem(last=False)
            self._windows[digest] = _Window(opened=now, count=1)
            return None
        if window.count >= self.limit:
            return max(window.opened + self.window_seconds - now, 0.0)
        window.count += 1
        return None

    def blocked(self, client: str | None) -> float | None:
        """Seconds until this client may try again, or None; counts nothing."""
        now = self._clock()
        if now >= self._rotates_at:
            self._rotate(now)
        self._prune(now)
        window = self._windows.get(self._digest(client))
        if window is None or window.count < self.limit:
            return None
        return max(window.opened + self.window_seconds - now, 0.0)

    def clear(self, client: str | None) -> None:
        """Forget this client's count, e.g. after a successful sign-in."""
        self._windows.pop(self._digest(client), None)

    def refund(self, client: str | None) -> None:
        """Give back one counted request, e.g. one that turned out to be a replay."""
        window = self._windows.get(self._digest(client))
        if window is not None and window.count > 0:
            window.count -= 1

    def __len__(self) -> int:
        return len(self._windows)
