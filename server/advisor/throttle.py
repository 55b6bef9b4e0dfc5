"""Sign-in budgets: how many passwords may be tried, for an account and from where.

An attempt is counted *before* its password is checked (a reservation), in one
database transaction over every budget it is charged to: each counter only
moves while under its limit (:mod:`server.storage.limits`), and when one
budget refuses, the transaction is rolled back and no budget is charged. So
however many attempts arrive at once, at however many instances, no more than
a budget allows are ever checked. A failure keeps its place in the budget; a
success gives back what it took. The budgets live in the database under
keyed hashes (:mod:`server.security.ratelimit`): no e-mail, address or device
id is stored.

A browser that has signed in to an account before carries a device token for
it (OWASP, "Slow down online guessing attacks with device cookies"). Its
attempts for that account are counted against that device's own budget only:
an outsider who exhausts the account's budget for unknown browsers cannot lock
the advisor out of her usual browser, and a device that keeps failing locks out
only itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..security.ratelimit import RateLimiter
from ..storage import Database

# Attempts allowed before a pause: (count, per seconds).
LOGIN_ATTEMPTS_PER_ACCOUNT = (5, 15 * 60)  # from browsers without a device token for it
LOGIN_ATTEMPTS_PER_CLIENT = (20, 15 * 60)  # from one address (an IPv6 /64), for any account
LOGIN_ATTEMPTS_PER_DEVICE = (10, 15 * 60)  # from one known browser, for its account


# One budget: a limiter and the key an attempt is counted under in it.
Budget = tuple[RateLimiter, str | None]


@dataclass(frozen=True)
class Reservation:
    """The budgets one attempt was counted against."""

    charged: tuple[Budget, ...]
    # A success forgets these windows altogether ...
    cleared: tuple[Budget, ...]
    # ... and gives back its own place in these, keeping the failures before it.
    refunded: tuple[Budget, ...]


class _Refused(Exception):
    """One budget refused: roll back what the others were charged."""


class SignInBudgets:
    def __init__(
        self, db: Database, secret: bytes, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.clock = clock
        self.accounts = RateLimiter(db, secret, "sign-in account", *LOGIN_ATTEMPTS_PER_ACCOUNT)
        self.clients = RateLimiter(db, secret, "sign-in client", *LOGIN_ATTEMPTS_PER_CLIENT)
        self.devices = RateLimiter(db, secret, "sign-in device", *LOGIN_ATTEMPTS_PER_DEVICE)

    async def reserve(
        self, email: str, client: str | None, device: str | None
    ) -> Reservation | float:
        """Count one attempt for the account ``email`` (normalised), or say how
        many seconds to wait. ``device`` is the id of a valid device token for
        this account, if the browser brought one; ``client`` comes from
        ``client_of``.
        """
        if device is not None:
            by_device: Budget = (self.devices, "device:" + device)
            reservation = Reservation((by_device,), cleared=(by_device,), refunded=())
        else:
            by_account: Budget = (self.accounts, "account:" + email)
            by_client: Budget = (self.clients, client)
            # The client's budget also caps guessing across many accounts: whoever
            # can sign in to one account must not reset it by doing so.
            reservation = Reservation(
                (by_account, by_client), cleared=(by_account,), refunded=(by_client,)
            )
        now = self.clock()
        try:
            async with self.db.relaxed() as connection:
                for limiter, key in reservation.charged:
                    if await limiter.hit_in(connection, key, now) is not None:
                        raise _Refused
        except _Refused:
            async with self.db.relaxed() as connection:
                waits = [
                    wait
                    for limiter, key in reservation.charged
                    if (wait := await limiter.blocked_in(connection, key, now)) is not None
                ]
            # A window that closed meanwhile: a second's wait, then a fresh one.
            return max(waits, default=1.0)
        return reservation

    async def succeeded(self, reservation: Reservation) -> None:
        now = self.clock()
        async with self.db.relaxed() as connection:
            for limiter, key in reservation.cleared:
                await limiter.clear_in(connection, key, now)
            for limiter, key in reservation.refunded:
                await limiter.refund_in(connection, key, now)

    async def not_checked(self, reservation: Reservation) -> None:
        """Give the places back: the attempt was turned away before any password was checked."""
        now = self.clock()
        async with self.db.relaxed() as connection:
            for limiter, key in reservation.charged:
                await limiter.refund_in(connection, key, now)
