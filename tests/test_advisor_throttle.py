"""Sign-in budgets: counted before the check, given back on success, kept on failure."""

from __future__ import annotations

from server.advisor.throttle import (
    LOGIN_ATTEMPTS_PER_ACCOUNT,
    LOGIN_ATTEMPTS_PER_CLIENT,
    Reservation,
    SignInBudgets,
)

ACCOUNT, OTHER = "anna@payoke.be", "bram@pag-asa.be"
CLIENT = "192.0.2.1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _reserve(budgets: SignInBudgets, email: str = ACCOUNT, client: str = CLIENT) -> Reservation:
    reservation = budgets.reserve(email, client, None)
    assert isinstance(reservation, Reservation), reservation
    return reservation


def test_attempts_are_counted_before_any_answer() -> None:
    budgets = SignInBudgets(clock=Clock())
    # Reserved and not yet answered, as when a burst arrives at once.
    for _ in range(LOGIN_ATTEMPTS_PER_ACCOUNT[0]):
        _reserve(budgets)
    wait = budgets.reserve(ACCOUNT, "198.51.100.1", None)
    assert isinstance(wait, float) and 0 < wait <= LOGIN_ATTEMPTS_PER_ACCOUNT[1]
    # Another account is not held up by it.
    _reserve(budgets, OTHER)


def test_a_success_clears_the_account_and_gives_its_place_back_to_the_client() -> None:
    budgets = SignInBudgets(clock=Clock())
    for _ in range(LOGIN_ATTEMPTS_PER_ACCOUNT[0] - 1):
        _reserve(budgets)  # failures: kept
    budgets.succeeded(_reserve(budgets))
    # The account starts afresh ...
    for _ in range(LOGIN_ATTEMPTS_PER_ACCOUNT[0]):
        _reserve(budgets)
    # ... but the client keeps its failures: 4 + 5 so far, and the success is not one.
    for number in range(LOGIN_ATTEMPTS_PER_CLIENT[0] - 9):
        _reserve(budgets, f"guess{number}@payoke.be")
    assert isinstance(budgets.reserve("one-more@payoke.be", CLIENT, None), float)


def test_many_successes_from_one_client_never_lock_it() -> None:
    budgets = SignInBudgets(clock=Clock())
    for number in range(3 * LOGIN_ATTEMPTS_PER_CLIENT[0]):
        budgets.succeeded(_reserve(budgets, f"advisor{number % 4}@payoke.be"))


def test_an_attempt_turned_away_unchecked_gives_every_place_back() -> None:
    budgets = SignInBudgets(clock=Clock())
    for _ in range(3 * LOGIN_ATTEMPTS_PER_ACCOUNT[0]):
        budgets.not_checked(_reserve(budgets))
    _reserve(budgets)
