"""Cases as advisors read and change them: the inbox, one request, its events.

Every query that touches a request takes a :class:`Scope` and filters by it in
SQL. An advisor's scope is their centre; a coordinator's is every centre. A
request outside the scope is simply not found, on every path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, select, true, update

from .database import Database
from .schema import advisors, help_requests, request_events

STATUSES = ("new", "contacted", "closed")
OPEN_STATUSES = ("new", "contacted")
OUTCOMES = ("supported", "referred", "not_trafficking", "no_answer")


@dataclass(frozen=True)
class Scope:
    """Which requests a viewer may see: one centre, or all when ``centre`` is None."""

    centre: str | None

    def clause(self) -> ColumnElement[bool]:
        if self.centre is None:
            return true()
        return help_requests.c.centre == self.centre


@dataclass(frozen=True)
class CaseRow:
    id: int
    reference: str
    centre: str
    sealed_centre: str
    language: str
    received_at: dt.datetime
    due_on: dt.date
    status: str
    envelope: bytes
    first_contact_at: dt.datetime | None
    closed_at: dt.datetime | None
    outcome: str | None


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    advisor_email: str
    kind: str
    from_centre: str | None
    to_centre: str | None
    outcome: str | None
    note: bytes | None


class CaseClosed(Exception):
    """The request is closed; nothing more can be recorded on it."""


_CASE_COLUMNS = (
    help_requests.c.id,
    help_requests.c.reference,
    help_requests.c.centre,
    func.coalesce(help_requests.c.sealed_centre, help_requests.c.centre),
    help_requests.c.language,
    help_requests.c.received_at,
    help_requests.c.due_on,
    help_requests.c.status,
    help_requests.c.envelope,
    help_requests.c.first_contact_at,
    help_requests.c.closed_at,
    help_requests.c.outcome,
)


def _case(row: Sequence[Any]) -> CaseRow:
    return CaseRow(*row)


def _filters(scope: Scope, status: str | None, centre: str | None) -> ColumnElement[bool]:
    clauses = [scope.clause()]
    if status == "open":
        clauses.append(help_requests.c.status.in_(OPEN_STATUSES))
    elif status is not None:
        clauses.append(help_requests.c.status == status)
    if centre is not None:
        clauses.append(help_requests.c.centre == centre)
    return and_(*clauses)


async def list_cases(
    db: Database,
    scope: Scope,
    *,
    status: str | None = "open",
    centre: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[CaseRow]:
    """A page of the inbox: what is due first comes first (closed: latest first)."""
    order = (
        (help_requests.c.closed_at.desc(), help_requests.c.id.desc())
        if status == "closed"
        else (help_requests.c.due_on, help_requests.c.received_at, help_requests.c.id)
    )
    query = (
        select(*_CASE_COLUMNS)
        .where(_filters(scope, status, centre))
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    )
    async with db.engine.connect() as connection:
        return [_case(row) for row in await connection.execute(query)]


async def count_cases(db: Database, scope: Scope, *, centre: str | None = None) -> dict[str, int]:
    """How many requests the scope holds, by status."""
    query = (
        select(help_requests.c.status, func.count())
        .where(_filters(scope, None, centre))
        .group_by(help_requests.c.status)
    )
    async with db.engine.connect() as connection:
        counts = {str(status): int(count) for status, count in await connection.execute(query)}
    return {status: counts.get(status, 0) for status in STATUSES}


async def get_case(db: Database, scope: Scope, reference: str) -> CaseRow | None:
    query = select(*_CASE_COLUMNS).where(
        and_(scope.clause(), help_requests.c.reference == reference)
    )
    async with db.engine.connect() as connection:
        row = (await connection.execute(query)).first()
    return None if row is None else _case(row)


async def events_of(db: Database, request_id: int) -> list[Event]:
    query = (
        select(
            request_events.c.at,
            advisors.c.email,
            request_events.c.kind,
            request_events.c.from_centre,
            request_events.c.to_centre,
            request_events.c.outcome,
            request_events.c.note,
        )
        .join(advisors, advisors.c.id == request_events.c.advisor_id)
        .where(request_events.c.request_id == request_id)
        .order_by(request_events.c.at, request_events.c.id)
    )
    async with db.engine.connect() as connection:
        return [Event(*row) for row in await connection.execute(query)]


async def record_event(
    db: Database,
    scope: Scope,
    reference: str,
    *,
    advisor_id: int,
    kind: str,
    now: dt.datetime,
    note: bytes | None = None,
    to_centre: str | None = None,
    outcome: str | None = None,
) -> CaseRow | None:
    """Record an action on a request in the scope; None if it is not in the scope.

    ``kind`` is ``contact`` (status to contacted, first contact time kept),
    ``transfer`` (to ``to_centre``), ``close`` (with ``outcome``) or ``note``.
    The change and its event are one transaction. Raises CaseClosed for a
    closed request.
    """
    in_scope = and_(scope.clause(), help_requests.c.reference == reference)
    async with db.engine.begin() as connection:
        # A write that changes nothing, to hold the row (SQLite: the database)
        # before it is read: two actions at once are then taken one after the
        # other, and a request closed meanwhile is seen closed. A plain read
        # first would let a contact written after a close reopen the request.
        await connection.execute(
            update(help_requests).where(in_scope).values(status=help_requests.c.status)
        )
        row = (await connection.execute(select(*_CASE_COLUMNS).where(in_scope))).first()
        if row is None:
            return None
        case = _case(row)
        if case.status == "closed":
            raise CaseClosed(reference)
        changes: dict[str, object] = {}
        from_centre = None
        if kind == "contact":
            changes["status"] = "contacted"
            if case.first_contact_at is None:
                changes["first_contact_at"] = now
        elif kind == "transfer":
            from_centre = case.centre
            changes["centre"] = to_centre
        elif kind == "close":
            changes.update(status="closed", closed_at=now, outcome=outcome)
        elif kind != "note":
            raise ValueError(f"unknown action {kind!r}")
        if changes:
            await connection.execute(
                update(help_requests).where(help_requests.c.id == case.id).values(changes)
            )
        await connection.execute(
            insert(request_events).values(
                request_id=case.id,
                advisor_id=advisor_id,
                at=now,
                kind=kind,
                from_centre=from_centre,
                to_centre=to_centre,
                outcome=outcome,
                note=note,
            )
        )
        updated = (
            await connection.execute(select(*_CASE_COLUMNS).where(help_requests.c.id == case.id))
        ).one()
    return _case(updated)


async def timings_since(
    db: Database, scope: Scope, since: dt.datetime
) -> list[tuple[str, dt.datetime, dt.date, dt.datetime | None]]:
    """(centre, received_at, due_on, first_contact_at) of each request since ``since``."""
    query = select(
        help_requests.c.centre,
        help_requests.c.received_at,
        help_requests.c.due_on,
        help_requests.c.first_contact_at,
    ).where(and_(scope.clause(), help_requests.c.received_at >= since))
    async with db.engine.connect() as connection:
        return [tuple(row) for row in await connection.execute(query)]
