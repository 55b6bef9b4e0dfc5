"""The audit log: what was done, when, by which advisor, on which request.

Entries are only ever added; coordinators read them newest first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, insert, select

from .database import Database
from .schema import advisors, audit_log


@dataclass(frozen=True)
class AuditEntry:
    at: dt.datetime
    advisor_email: str | None
    action: str
    request_reference: str | None
    detail: str | None


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
