"""The bound on password checks: so many running, so many waiting, the rest refused."""

from __future__ import annotations

import asyncio

import pytest

from server.advisor.passwords import hash_password
from server.advisor.verifier import Verifier, VerifierBusy

PASSWORD = "a long enough passphrase 42"


@pytest.mark.asyncio
async def test_beyond_the_running_and_waiting_places_a_check_is_refused_at_once() -> None:
    password_hash = hash_password(PASSWORD)
    verifier = Verifier(running=1, waiting=1)
    verifier.start()
    running = asyncio.create_task(verifier.verify(password_hash, PASSWORD))
    waiting = asyncio.create_task(verifier.verify(password_hash, "not the password 1"))
    await asyncio.sleep(0)  # both have taken their places
    assert verifier.taken == 2
    with pytest.raises(VerifierBusy):
        await verifier.verify(password_hash, PASSWORD)
    assert await running is True and await waiting is False
    # The places are free again.
    assert verifier.taken == 0
    assert await verifier.verify(None, PASSWORD) is False  # an unknown account


@pytest.mark.asyncio
async def test_a_cancelled_check_gives_its_place_back() -> None:
    verifier = Verifier(running=1, waiting=0)
    verifier.start()
    task = asyncio.create_task(verifier.verify(hash_password(PASSWORD), PASSWORD))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert verifier.taken == 0


def test_a_verifier_needs_a_running_place() -> None:
    with pytest.raises(ValueError, match="running place"):
        Verifier(running=0)
