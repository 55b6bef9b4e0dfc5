"""How many password checks run at once, and how many may wait for one.

An argon2id check holds the hash's 64 MiB for a fraction of a second. With
nothing in the way, a flood of sign-ins would run one check per worker thread
(anyio has 40): gigabytes. Here at most RUNNING run at once and WAITING more
wait their turn; any beyond that are refused at once, before anything is
spent, and the sign-in page says to try again in RETRY_SECONDS. So memory
stays flat whatever the flood, and an attempt that is let in waits for at
most WAITING / RUNNING checks before its own.
"""

from __future__ import annotations

import anyio
import anyio.to_thread

from .passwords import dummy_hash, verify_password

RUNNING = 2
WAITING = 8
RETRY_SECONDS = 5


class VerifierBusy(Exception):
    """Every running and waiting place is taken: the password was not checked."""


class Verifier:
    def __init__(self, running: int = RUNNING, waiting: int = WAITING) -> None:
        if running <= 0 or waiting < 0:
            raise ValueError("a verifier needs at least one running place")
        self.running = running
        self.places = running + waiting
        self._taken = 0
        self._limiter: anyio.CapacityLimiter | None = None

    def start(self) -> None:
        """Called at the app's start: the limiter belongs to the event loop now
        running (tests run one app in several loops, one after the other)."""
        self._limiter = anyio.CapacityLimiter(self.running)
        self._taken = 0
        dummy_hash()

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Check a password as ``verify_password`` does, in a worker thread.

        Raises VerifierBusy, before waiting for anything, when all places are
        taken. The place is taken in the same step as the caller's code before
        the call, since nothing is awaited until it is.
        """
        if self._limiter is None:
            raise RuntimeError("the verifier has not been started")
        if self._taken >= self.places:
            raise VerifierBusy
        self._taken += 1
        try:
            # Cancelled (the browser went away), the check still runs to its
            # end in its thread and keeps its place until then: the bound holds.
            return await anyio.to_thread.run_sync(
                verify_password, password_hash, password, limiter=self._limiter
            )
        finally:
            self._taken -= 1

    @property
    def taken(self) -> int:
        """Places taken now, running or waiting."""
        return self._taken
