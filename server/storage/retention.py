"""The purge: what Haven deletes once it is kept no longer, as a list of steps.

A closed request is deleted, with its notes and events, once it has been
closed for longer than the retention; an open request is never deleted by
age. Audit entries older than the audit retention go, and advisor sessions
that can no longer be used (revoked, idle too long, or too old) go at once.
Audit entries that name a deleted request keep who did what and when, but
lose the reference: nothing in the database leads back to the request.

The whole purge is one transaction, and it leaves one audit entry with the
count of each kind (no reference, no content), so the trace that a purge
happened is written in the same commit as the deletions.

Exactly one purge runs at a time, whichever instance starts it. Its first
statement writes the ``maintenance`` row: on SQLite a write takes the
database's one write lock before anything is read (what ``BEGIN IMMEDIATE``
would do), so a second process waits for the first to commit, and then
finds that the purge is not due. In this process it runs through the single
writer, between two groups of inserts, so it never competes with the intake
for the lock. On PostgreSQL a transaction-level advisory lock is tried
first: an instance that does not get it leaves the purge to the one that
did. On SQLite the file is then checkpointed so that the WAL keeps no copy of
what was deleted (``secure_delete`` zeroes it in the database file).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .database import Database
from .schema import advisor_sessions, audit_log, help_requests, maintenance, request_events

logger = logging.getLogger("haven.storage")

TASK = "purge"
# How often the purge runs, counted from its last run by any instance.
EVERY = dt.timedelta(hours=24)
# The key of PostgreSQL's advisory lock: the same in every instance.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"haven purge").digest()[:8], "big", signed=True)


@dataclass(frozen=True)
class Policy:
    """How long things are kept."""

    retention: dt.timedelta  # closed requests, from their closing
    audit_retention: dt.timedelta
    session_idle: dt.timedelta  # a session unused this long is over
    session_lifetime: dt.timedelta  # and one this old, however used

    def cutoffs(self, now: dt.datetime) -> Cutoffs:
        return Cutoffs(
            now=now,
            closed_before=now - self.retention,
            audit_before=now - self.audit_retention,
            seen_before=now - self.session_idle,
            created_before=now - self.session_lifetime,
        )


@dataclass(frozen=True)
class Cutoffs:
    """The moments before which each kind of row is no longer kept."""

    now: dt.datetime
    closed_before: dt.datetime
    audit_before: dt.datetime
    seen_before: dt.datetime
    created_before: dt.datetime


Run = Callable[[AsyncConnection, Cutoffs], Awaitable[int]]


@dataclass(frozen=True)
class Step:
    """One kind of row the purge removes: its name as printed, and how (a count back)."""

    kind: str
    run: Run


def deleting(table: Table, where: Callable[[Cutoffs], ColumnElement[bool]]) -> Run:
    """A step's work that deletes the rows of ``table`` matching ``where``."""

    async def run(connection: AsyncConnection, cutoffs: Cutoffs) -> int:
        result = await connection.execute(delete(table).where(where(cutoffs)))
        return int(result.rowcount or 0)

    return run


def _expired_requests(cutoffs: Cutoffs) -> ColumnElement[bool]:
    # Only closed ones: an open request is kept until a centre closes it.
    return and_(
        help_requests.c.status == "closed",
        help_requests.c.closed_at.is_not(None),
        help_requests.c.closed_at < cutoffs.closed_before,
    )


def _of_expired_requests(cutoffs: Cutoffs) -> ColumnElement[bool]:
    return request_events.c.request_id.in_(
        select(help_requests.c.id).where(_expired_requests(cutoffs))
    )


def _naming_expired_requests(cutoffs: Cutoffs) -> ColumnElement[bool]:
    return audit_log.c.request_reference.in_(
        select(help_requests.c.reference).where(_expired_requests(cutoffs))
    )


async def _forget_references(connection: AsyncConnection, cutoffs: Cutoffs) -> int:
    result = await connection.execute(
        update(audit_log).where(_naming_expired_requests(cutoffs)).values(request_reference=None)
    )
    return int(result.rowcount or 0)


def _unusable_sessions(cutoffs: Cutoffs) -> ColumnElement[bool]:
    return or_(
        advisor_sessions.c.revoked_at.is_not(None),
        advisor_sessions.c.last_seen_at < cutoffs.seen_before,
        advisor_sessions.c.created_at < cutoffs.created_before,
    )


# In this order: what belongs to a request goes before the request itself.
# Another kind of row to purge is one more line here.
STEPS: tuple[Step, ...] = (
    Step("events and notes of closed requests", deleting(request_events, _of_expired_requests)),
    Step("audit entries unlinked from closed requests", _forget_references),
    Step("closed requests", deleting(help_requests, _expired_requests)),
    Step("audit entries", deleting(audit_log, lambda c: audit_log.c.at < c.audit_before)),
    Step("advisor sessions", deleting(advisor_sessions, _unusable_sessions)),
)


@dataclass(frozen=True)
class Report:
    """What one purge removed (or, for a dry run, would remove), by kind."""

    counts: dict[str, int]
    dry_run: bool

    @property
    def removed(self) -> int:
        return sum(self.counts.values())

    def detail(self) -> str:
        """The audit entry's text: counts only."""
        return "; ".join(f"{kind}: {count}" for kind, count in self.counts.items())


class NotNow(Exception):
    """The purge did not run: not due yet, or another instance is running it."""


class _DryRun(Exception):
    """Raised inside the transaction to roll everything back, carrying the counts."""

    def __init__(self, report: Report) -> None:
        super().__init__("dry run")
        self.report = report


async def _claim(connection: AsyncConnection, now: dt.datetime, *, when_due: bool) -> bool:
    """Mark the purge as run now; False if it is not due (``when_due``) or runs elsewhere."""
    if connection.dialect.name == "postgresql":
        locked = await connection.scalar(select(func.pg_try_advisory_xact_lock(LOCK_KEY)))
        if not locked:
            return False
    row = maintenance.c.task == TASK
    if when_due:
        row = and_(
            row, or_(maintenance.c.last_run_at.is_(None), maintenance.c.last_run_at <= now - EVERY)
        )
    claimed = await connection.execute(update(maintenance).where(row).values(last_run_at=now))
    if claimed.rowcount:
        return True
    present = await connection.scalar(
        select(func.count()).select_from(maintenance).where(maintenance.c.task == TASK)
    )
    if present:
        return False
    # The row was deleted by hand: this purge puts it back.
    await connection.execute(insert(maintenance).values(task=TASK, last_run_at=now))
    return True


async def _purge_in(
    connection: AsyncConnection,
    cutoffs: Cutoffs,
    steps: tuple[Step, ...],
    *,
    dry_run: bool,
    when_due: bool,
) -> Report:
    if not dry_run and not await _claim(connection, cutoffs.now, when_due=when_due):
        raise NotNow(TASK)
    counts = {step.kind: await step.run(connection, cutoffs) for step in steps}
    report = Report(counts, dry_run)
    if dry_run:
        raise _DryRun(report)
    if report.removed:
        await connection.execute(
            insert(audit_log).values(at=cutoffs.now, action=TASK, detail=report.detail())
        )
    return report


async def purge(
    db: Database,
    policy: Policy,
    now: dt.datetime,
    *,
    dry_run: bool = False,
    when_due: bool = False,
    steps: tuple[Step, ...] = STEPS,
) -> Report:
    """Delete what is kept no longer; raises NotNow if it did not run.

    ``when_due``: only if no instance purged in the last 24 hours (the daily
    run); otherwise now (the command). A dry run counts the same rows in a
    transaction that is then rolled back, and leaves no trace.
    """
    cutoffs = policy.cutoffs(now)

    async def work(connection: AsyncConnection) -> Report:
        return await _purge_in(connection, cutoffs, steps, dry_run=dry_run, when_due=when_due)

    try:
        if db.dialect == "sqlite":
            report = await db.writer.run(work)
        else:
            async with db.engine.begin() as connection:
                report = await work(connection)
    except _DryRun as rolled_back:
        return rolled_back.report
    if db.dialect == "sqlite":
        await checkpoint(db)
    return report


async def checkpoint(db: Database) -> bool:
    """Copy the WAL into the database file and empty it; False if readers held it back.

    Until then the WAL still holds the pages as they were before the purge,
    and a truncated WAL keeps no stale frame either.
    """
    async with db.engine.connect() as connection:
        row = (await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
    busy = bool(row[0])
    if busy:
        logger.warning("the WAL could not be emptied after the purge; the next purge will")
    return not busy
