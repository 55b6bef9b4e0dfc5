"""Sign-in budgets: how many passwords may be tried, for an account and from where.

An attempt is counted *before* its password is checked (a reservation), in one
step of the event loop: no other attempt can run between the check and the
count, so however many arrive at once, no more than a budget allows are ever
checked. A failure keeps its place in the budget; a success gives back what it
took.

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


class SignInBudgets:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.accounts = RateLimiter(*LOGIN_ATTEMPTS_PER_ACCOUNT, clock=clock)
        self.clients = RateLimiter(*LOGIN_ATTEMPTS_PER_CLIENT, clock=clock)
        self.devices = RateLimiter(*LOGIN_ATTEMPTS_PER_DEVICE, clock=clock)

    def reserve(self, email: str, client: str | None, device: str | None) -> Reservation | float:
        """Count one attempt for the account ``email`` (normalised), or say how
        many seconds to wait. ``device`` is the id of a valid device token for
        this account, if the browser brought one; ``client`` comes from
        ``client_of``. Synchronous on purpose: it must never be split by an
        ``await``.
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
        charged = reservation.charged
        waits = [wait for limiter, key in charged if (wait := limiter.blocked(key)) is not None]
        if waits:
            return max(waits)
        for limiter, key in charged:
            limiter.hit(key)
        return reservation

    @staticmethod
    def succeeded(reservation: Reservation) -> None:
        for limiter, key in reservation.cleared:
            limiter.clear(key)
        for limiter, key in reservation.refunded:
            limiter.refund(key)

    @staticmethod
    def not_checked(reservation: Reservation) -> None:
        """Give the places back: the attempt was turned away before any password was checked."""
        for limiter, key in reservation.charged:
            limiter.refund(key)
