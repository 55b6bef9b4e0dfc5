"""Cases: an action on a request is decided on the request as it is when the action is stored."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from server.storage import Database, store_request
from server.storage.advisors import create_advisor
from server.storage.cases import CaseClosed, Scope, events_of, get_case, record_event

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
EVERYWHERE = Scope(None)


async def _request(db: Database) -> tuple[str, int]:
    stored = await store_request(
        db,
        idempotency_key="case-key-00000001",
        centre="payoke",
        language="en",
        envelope=b"sealed",
        envelope_version=1,
        received_at=NOW,
    )
    advisor = await create_advisor(
        db, email="a@example.org", centre="payoke", coordinator=False, password_hash="x", now=NOW
    )
    return stored.reference, advisor.id


@pytest.mark.asyncio
async def test_nothing_is_recorded_on_a_request_closed_meanwhile(db: Database) -> None:
    reference, advisor_id = await _request(db)

    async def act(kind: str) -> str:
        try:
            await record_event(
                db,
                EVERYWHERE,
                reference,
                advisor_id=advisor_id,
                kind=kind,
                now=NOW,
                outcome="supported" if kind == "close" else None,
            )
        except CaseClosed:
            return "refused"
        return "recorded"

    answers = await asyncio.gather(*(act(kind) for kind in ["close", *["contact"] * 10, "close"]))
    case = await get_case(db, EVERYWHERE, reference)
    assert case is not None
    events = [event.kind for event in await events_of(db, case.id)]
    # Whichever close was taken first, nothing was recorded after it.
    assert (case.status, case.outcome) == ("closed", "supported")
    assert case.closed_at is not None
    assert events.count("close") == 1 and events[-1] == "close"
    assert answers.count("recorded") == len(events)
