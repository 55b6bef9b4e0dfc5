"""Advisor accounts and their server-side sessions.

The two share a module because they change together: a new password, a new
second factor or a disabled account ends the account's sessions in the same
transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from .database import Database
from .schema import advisor_sessions, advisors


class DuplicateEmail(ValueError):
    pass


@dataclass(frozen=True)
class Advisor:
    id: int
    email: str
    centre: str
    coordinator: bool
    password_hash: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    totp_secret: bytes | None = None  # encrypted; see server/advisor/totp.py
    totp_last_step: int | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class Session:
    id_hash: str
    advisor: Advisor
    created_at: dt.datetime
    last_seen_at: dt.datetime
    revoked_at: dt.datetime | None


_ADVISOR_COLUMNS = (
    advisors.c.id,
    advisors.c.email,
    advisors.c.centre,
    advisors.c.coordinator,
    advisors.c.password_hash,
    advisors.c.created_at,
    advisors.c.disabled_at,
    advisors.c.totp_secret,
    advisors.c.totp_last_step,
)


def _advisor(row: Sequence[Any]) -> Advisor:
    return Advisor(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        bool(row[3]),
        str(row[4]),
        row[5],
        row[6],
        row[7],
        None if row[8] is None else int(row[8]),
    )


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_advisor(
    db: Database,
    *,
    email: str,
    centre: str,
    coordinator: bool,
    password_hash: str,
    now: dt.datetime,
) -> Advisor:
    values = {
        "email": normalise_email(email),
        "centre": centre,
        "coordinator": coordinator,
        "password_hash": password_hash,
        "created_at": now,
    }
    try:
        async with db.engine.begin() as connection:
            row = (
                await connection.execute(
                    insert(advisors).values(values).returning(*_ADVISOR_COLUMNS)
                )
            ).one()
    except IntegrityError as error:
        raise DuplicateEmail(values["email"]) from error
    return _advisor(row)


async def find_advisor(db: Database, email: str) -> Advisor | None:
    async with db.engine.connect() as connection:
        row = (
            await connection.execute(
                select(*_ADVISOR_COLUMNS).where(advisors.c.email == normalise_email(email))
            )
        ).first()
    return None if row is None else _advisor(row)


async def list_advisors(db: Database) -> list[Advisor]:
    """Every account, by centre then e-mail address, in code point order.

    Sorted here, not by the database: PostgreSQL orders text by its locale's
    collation (which skips punctuation), SQLite by bytes; the list reads the
    same on both.
    """
    async with db.engine.connect() as connection:
        rows = await connection.execute(select(*_ADVISOR_COLUMNS))
        found = [_advisor(row) for row in rows]
    return sorted(found, key=lambda advisor: (advisor.centre, advisor.email))


async def set_password(db: Database, email: str, password_hash: str, now: dt.datetime) -> bool:
    """Replace the password and end every session of the account."""
    async with db.engine.begin() as connection:
        advisor_id = await connection.scalar(
            update(advisors)
            .where(advisors.c.email == normalise_email(email))
            .values(password_hash=password_hash)
            .returning(advisors.c.id)
        )
        if advisor_id is None:
            return False
        await _revoke_all(connection, int(advisor_id), now)
    return True


async def set_disabled(db: Database, email: str, disabled: bool, now: dt.datetime) -> bool:
    """Disable (ending every session) or enable an account; False if there is none."""
    async with db.engine.begin() as connection:
        advisor_id = await connection.scalar(
            update(advisors)
            .where(advisors.c.email == normalise_email(email))
            .values(disabled_at=now if disabled else None)
            .returning(advisors.c.id)
        )
        if advisor_id is None:
            return False
        if disabled:
            await _revoke_all(connection, int(advisor_id), now)
    return True


async def set_totp(db: Database, email: str, sealed_secret: bytes | None, now: dt.datetime) -> bool:
    """Set up (or, with None, remove) the second factor; the account's sessions end."""
    async with db.engine.begin() as connection:
        advisor_id = await connection.scalar(
            update(advisors)
            .where(advisors.c.email == normalise_email(email))
            .values(totp_secret=sealed_secret, totp_last_step=None)
            .returning(advisors.c.id)
        )
        if advisor_id is None:
            return False
        await _revoke_all(connection, int(advisor_id), now)
    return True


async def use_totp_step(db: Database, advisor_id: int, step: int) -> bool:
    """Record a code's time step; False if it (or a later one) was used already."""
    async with db.engine.begin() as connection:
        result = await connection.execute(
            update(advisors)
            .where(
                and_(
                    advisors.c.id == advisor_id,
                    or_(advisors.c.totp_last_step.is_(None), advisors.c.totp_last_step < step),
                )
            )
            .values(totp_last_step=step)
        )
    return bool(result.rowcount)


async def _revoke_all(connection: Any, advisor_id: int, now: dt.datetime) -> None:
    await connection.execute(
        update(advisor_sessions)
        .where(
            and_(
                advisor_sessions.c.advisor_id == advisor_id, advisor_sessions.c.revoked_at.is_(None)
            )
        )
        .values(revoked_at=now)
    )


async def create_session(db: Database, *, id_hash: str, advisor_id: int, now: dt.datetime) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(
            insert(advisor_sessions).values(
                id_hash=id_hash, advisor_id=advisor_id, created_at=now, last_seen_at=now
            )
        )


async def load_session(db: Database, id_hash: str) -> Session | None:
    query = (
        select(
            advisor_sessions.c.id_hash,
            advisor_sessions.c.created_at,
            advisor_sessions.c.last_seen_at,
            advisor_sessions.c.revoked_at,
            *_ADVISOR_COLUMNS,
        )
        .join(advisors, advisors.c.id == advisor_sessions.c.advisor_id)
        .where(advisor_sessions.c.id_hash == id_hash)
    )
    async with db.engine.connect() as connection:
        row = (await connection.execute(query)).first()
    if row is None:
        return None
    return Session(str(row[0]), _advisor(row[4:]), row[1], row[2], row[3])


async def touch_session(db: Database, id_hash: str, now: dt.datetime) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(
            update(advisor_sessions)
            .where(advisor_sessions.c.id_hash == id_hash)
            .values(last_seen_at=now)
        )


async def revoke_session(db: Database, id_hash: str, now: dt.datetime) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(
            update(advisor_sessions)
            .where(
                and_(advisor_sessions.c.id_hash == id_hash, advisor_sessions.c.revoked_at.is_(None))
            )
            .values(revoked_at=now)
        )


async def purge_sessions(db: Database, created_before: dt.datetime) -> int:
    """Delete sessions too old to be valid anyway (past the absolute limit)."""
    async with db.engine.begin() as connection:
        result = await connection.execute(
            advisor_sessions.delete().where(advisor_sessions.c.created_at < created_before)
        )
    return int(result.rowcount or 0)


async def rekey_advisors(
    connection: Any, reseal: Callable[[bytes, str], bytes | None], now: dt.datetime
) -> tuple[int, int, int]:
    """For a new session key, in the caller's transaction: every TOTP secret
    resealed (``reseal(sealed, email)``, None if it does not open) and every
    session ended. Returns (resealed, not opened, sessions ended)."""
    resealed = failed = 0
    rows = await connection.execute(
        select(advisors.c.id, advisors.c.email, advisors.c.totp_secret).where(
            advisors.c.totp_secret.is_not(None)
        )
    )
    for advisor_id, email, sealed in rows.all():
        new = reseal(sealed, email)
        if new is None:
            failed += 1
            continue
        await connection.execute(
            update(advisors).where(advisors.c.id == advisor_id).values(totp_secret=new)
        )
        resealed += 1
    ended = await connection.execute(
        update(advisor_sessions)
        .where(advisor_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return resealed, failed, int(ended.rowcount or 0)
