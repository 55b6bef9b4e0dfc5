"""What advisors read and change: the inbox, a request's history, the audit log.

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
from .schema import advisors, audit_log, help_requests, push_subscriptions, request_events

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


@dataclass(frozen=True)
class AuditEntry:
    at: dt.datetime
    advisor_email: str | None
    action: str
    request_reference: str | None
    detail: str | None


@dataclass(frozen=True)
class Subscription:
    id: int
    advisor_id: int
    endpoint: str
    p256dh: str
    auth: str


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
    async with db.engine.begin() as connection:
        row = (
            await connection.execute(
                select(*_CASE_COLUMNS).where(
                    and_(scope.clause(), help_requests.c.reference == reference)
                )
            )
        ).first()
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


# --- the audit log -------------------------------------------------------------


async def audit(
    db: Database,
    *,
    now: dt.datetime,
    advisor_id: int | None,
    action: str,
    reference: str | None = None,
    detail: str | None = None,
) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(
            insert(audit_log).values(
                at=now,
                advisor_id=advisor_id,
                action=action,
                request_reference=reference,
                detail=detail,
            )
        )


async def read_audit(db: Database, *, limit: int = 100, offset: int = 0) -> list[AuditEntry]:
    query = (
        select(
            audit_log.c.at,
            advisors.c.email,
            audit_log.c.action,
            audit_log.c.request_reference,
            audit_log.c.detail,
        )
        .outerjoin(advisors, advisors.c.id == audit_log.c.advisor_id)
        .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    async with db.engine.connect() as connection:
        return [AuditEntry(*row) for row in await connection.execute(query)]


async def count_audit(db: Database) -> int:
    async with db.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(audit_log)) or 0)


# --- push subscriptions --------------------------------------------------------


# Each subscription is one POST per new request: a cap keeps one account from
# making a single request fan out to hundreds of them.
MAX_SUBSCRIPTIONS_PER_ADVISOR = 10
_NEWEST_FIRST = (push_subscriptions.c.created_at.desc(), push_subscriptions.c.id.desc())


async def save_subscription(
    db: Database, *, advisor_id: int, endpoint: str, p256dh: str, auth: str, now: dt.datetime
) -> None:
    """Keep a device's subscription; the same endpoint again replaces the old one.

    An advisor keeps at most :data:`MAX_SUBSCRIPTIONS_PER_ADVISOR`; a new one
    replaces the oldest.
    """
    async with db.engine.begin() as connection:
        # Holds two sign-ins of one advisor subscribing at once to the cap
        # (PostgreSQL; SQLite writes one transaction at a time anyway).
        await connection.execute(
            select(advisors.c.id).where(advisors.c.id == advisor_id).with_for_update()
        )
        await connection.execute(
            push_subscriptions.delete().where(push_subscriptions.c.endpoint == endpoint)
        )
        kept = (
            select(push_subscriptions.c.id)
            .where(push_subscriptions.c.advisor_id == advisor_id)
            .order_by(*_NEWEST_FIRST)
            .limit(MAX_SUBSCRIPTIONS_PER_ADVISOR - 1)
        )
        await connection.execute(
            push_subscriptions.delete().where(
                and_(
                    push_subscriptions.c.advisor_id == advisor_id,
                    push_subscriptions.c.id.not_in(kept.scalar_subquery()),
                )
            )
        )
        await connection.execute(
            insert(push_subscriptions).values(
                advisor_id=advisor_id, endpoint=endpoint, p256dh=p256dh, auth=auth, created_at=now
            )
        )


async def remove_subscription(db: Database, *, advisor_id: int, endpoint: str) -> bool:
    async with db.engine.begin() as connection:
        result = await connection.execute(
            push_subscriptions.delete().where(
                and_(
                    push_subscriptions.c.endpoint == endpoint,
                    push_subscriptions.c.advisor_id == advisor_id,
                )
            )
        )
    return bool(result.rowcount)


async def delete_subscription(db: Database, subscription_id: int) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(
            push_subscriptions.delete().where(push_subscriptions.c.id == subscription_id)
        )


async def subscriptions_for(db: Database, centre: str) -> list[Subscription]:
    """The devices to tell about something new for ``centre``.

    The centre's active advisors; for the "I don't know" queue, the
    coordinators, who route it. Each advisor's newest
    :data:`MAX_SUBSCRIPTIONS_PER_ADVISOR` only, also when more were stored
    before there was a cap.
    """
    who = advisors.c.coordinator.is_(True) if centre == "unknown" else advisors.c.centre == centre
    ranked = select(
        push_subscriptions.c.id,
        func.row_number()
        .over(partition_by=push_subscriptions.c.advisor_id, order_by=_NEWEST_FIRST)
        .label("rank"),
    ).subquery()
    query = (
        select(
            push_subscriptions.c.id,
            push_subscriptions.c.advisor_id,
            push_subscriptions.c.endpoint,
            push_subscriptions.c.p256dh,
            push_subscriptions.c.auth,
        )
        .join(advisors, advisors.c.id == push_subscriptions.c.advisor_id)
        .join(ranked, ranked.c.id == push_subscriptions.c.id)
        .where(
            and_(
                who,
                advisors.c.disabled_at.is_(None),
                ranked.c.rank <= MAX_SUBSCRIPTIONS_PER_ADVISOR,
            )
        )
        .order_by(push_subscriptions.c.id)
    )
    async with db.engine.connect() as connection:
        return [Subscription(*row) for row in await connection.execute(query)]


async def count_subscriptions(db: Database, advisor_id: int | None = None) -> int:
    query = select(func.count()).select_from(push_subscriptions)
    if advisor_id is not None:
        query = query.where(push_subscriptions.c.advisor_id == advisor_id)
    async with db.engine.connect() as connection:
        return int(await connection.scalar(query) or 0)
