"""Sign-in budgets: counted before the check, given back on success, kept on failure."""

from __future__ import annotations

import secrets

import pytest

from server.advisor.throttle import (
    LOGIN_ATTEMPTS_PER_ACCOUNT,
    LOGIN_ATTEMPTS_PER_CLIENT,
    Reservation,
    SignInBudgets,
)
from server.storage import Database

ACCOUNT, OTHER = "anna@payoke.be", "bram@pag-asa.be"
CLIENT = "192.0.2.1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def budgets_of(db: Database) -> SignInBudgets:
    return SignInBudgets(db, secrets.token_hex(32).encode(), clock=Clock())


async def _reserve(
    budgets: SignInBudgets, email: str = ACCOUNT, client: str = CLIENT
) -> Reservation:
    reservation = await budgets.reserve(email, client, None)
    assert isinstance(reservation, Reservation), reservation
    return reservation


@pytest.mark.asyncio
async def test_attempts_are_counted_before_any_answer(db: Database) -> None:
    budgets = budgets_of(db)
    # Reserved and not yet answered, as when a burst arrives at once.
    for _ in range(LOGIN_ATTEMPTS_PER_ACCOUNT[0]):
        await _reserve(budgets)
    wait = await budgets.reserve(ACCOUNT, "198.51.100.1", None)
    assert isinstance(wait, float) and 0 < wait <= LOGIN_ATTEMPTS_PER_ACCOUNT[1]
    # Another account is not held up by it.
    await _reserve(budgets, OTHER)


@pytest.mark.asyncio
async def test_a_success_clears_the_account_and_gives_its_place_back_to_the_client(
    db: Database,
) -> None:
    budgets = budgets_of(db)
    for _ in range(LOGIN_ATTEMPTS_PER_ACCOUNT[0] - 1):
        await _reserve(budgets)  # failures: kept
    await budgets.succeeded(await _reserve(budgets))
    # The account starts afresh ...
    for _ in range(LOGIN_ATTEMPTS_PER_ACCOUNT[0]):
        await _reserve(budgets)
    # ... but the client keeps its failures: 4 + 5 so far, and the success is not one.
    for number in range(LOGIN_ATTEMPTS_PER_CLIENT[0] - 9):
        await _reserve(budgets, f"guess{number}@payoke.be")
    assert isinstance(await budgets.reserve("one-more@payoke.be", CLIENT, None), float)


@pytest.mark.asyncio
async def test_many_successes_from_one_client_never_lock_it(db: Database) -> None:
    budgets = budgets_of(db)
    for number in range(3 * LOGIN_ATTEMPTS_PER_CLIENT[0]):
        await budgets.succeeded(await _reserve(budgets, f"advisor{number % 4}@payoke.be"))


@pytest.mark.asyncio
async def test_an_attempt_turned_away_unchecked_gives_every_place_back(db: Database) -> None:
    budgets = budgets_of(db)
    for _ in range(3 * LOGIN_ATTEMPTS_PER_ACCOUNT[0]):
        await budgets.not_checked(await _reserve(budgets))
    await _reserve(budgets)
