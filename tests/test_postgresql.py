"""PostgreSQL behaves as the embedded SQLite does: the schema, errors, times and order.

The tests shared with SQLite (storage, cases, API, advisors) run on both
through the ``backend`` parameter; these are about the two databases side by
side, or about what only PostgreSQL can get wrong.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pg import Cluster, query
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import StatementError

from server.storage import Database, store_request
from server.storage.advisors import DuplicateEmail, create_advisor, list_advisors
from server.storage.cases import Scope, list_cases

pytestmark = pytest.mark.postgresql

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def blank(pg_cluster: Cluster) -> Iterator[str]:
    """An empty PostgreSQL database, owned by Haven's role, never migrated."""
    name = pg_cluster.unique_name("blank")
    pg_cluster.psql(f"CREATE DATABASE {name} TEMPLATE template0 OWNER haven")
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


def describe(connection: Connection) -> dict[str, Any]:
    """Every table as the database itself reports it, in terms both share."""
    inspector = inspect(connection)
    tables: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        tables[table] = {
            "columns": {
                column["name"]: (column["type"].python_type, column["nullable"])
                for column in inspector.get_columns(table)
            },
            "primary key": tuple(inspector.get_pk_constraint(table)["constrained_columns"]),
            "unique": {
                (unique["name"], tuple(unique["column_names"]))
                for unique in inspector.get_unique_constraints(table)
            },
            "indexes": {
                (index["name"], tuple(index["column_names"]), bool(index["unique"]))
                for index in inspector.get_indexes(table)
                # PostgreSQL also lists the index behind each unique constraint.
                if "duplicates_constraint" not in index
            },
            "foreign keys": {
                (
                    tuple(key["constrained_columns"]),
                    key["referred_table"],
                    tuple(key["referred_columns"]),
                    (key.get("options") or {}).get("ondelete"),
                )
                for key in inspector.get_foreign_keys(table)
            },
        }
    return tables


async def _migrated_description(url: str) -> tuple[dict[str, Any], str]:
    database = Database(url)
    await database.start()
    try:
        async with database.engine.connect() as connection:
            described = await connection.run_sync(describe)
            version = str(
                (
                    await connection.exec_driver_sql("select version_num from alembic_version")
                ).scalar_one()
            )
    finally:
        await database.stop()
    return described, version


@pytest.mark.asyncio
async def test_migrations_make_the_same_schema_on_both(blank: str, tmp_path: Path) -> None:
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'haven.sqlite3'}"
    on_sqlite, sqlite_version = await _migrated_description(sqlite_url)
    on_postgresql, postgresql_version = await _migrated_description(blank)
    assert postgresql_version == sqlite_version
    assert "help_requests" in on_postgresql and "alembic_version" in on_postgresql
    assert set(on_postgresql) == set(on_sqlite)
    for table, shape in on_sqlite.items():
        assert on_postgresql[table] == shape, table
    requests = on_postgresql["help_requests"]
    assert ("uq_help_requests_idempotency_hash", ("idempotency_hash",)) in requests["unique"]
    assert requests["columns"]["envelope"] == (bytes, False)
    assert requests["columns"]["received_at"] == (dt.datetime, False)


@pytest.mark.asyncio
async def test_instances_started_together_migrate_an_empty_database_once(blank: str) -> None:
    instances = [Database(blank) for _ in range(3)]
    try:
        # Without the migration lock they wait on each other's tables: bounded here.
        await asyncio.wait_for(
            asyncio.gather(*(instance.start() for instance in instances)), timeout=60
        )
    finally:
        await asyncio.gather(*(instance.stop() for instance in instances))
    assert query(blank, "select count(*) from alembic_version") == [(1,)]
    tables = {name for (name,) in query(blank, "select tablename from pg_tables")}
    assert {"help_requests", "advisors", "audit_log"} <= tables


@pytest.mark.asyncio
async def test_a_taken_address_is_refused_alike(db: Database) -> None:
    """asyncpg's UniqueViolationError arrives as SQLAlchemy's IntegrityError, as
    SQLite's does: the same DuplicateEmail, and the database goes on working."""

    async def add(email: str) -> None:
        await create_advisor(
            db, email=email, centre="payoke", coordinator=False, password_hash="x", now=NOW
        )

    await add("anna@payoke.be")
    with pytest.raises(DuplicateEmail):
        await add(" Anna@Payoke.be ")
    await add("bram@payoke.be")
    assert [advisor.email for advisor in await list_advisors(db)] == [
        "anna@payoke.be",
        "bram@payoke.be",
    ]


@pytest.mark.asyncio
async def test_times_come_back_as_the_same_instants_in_utc(db: Database) -> None:
    brussels = dt.datetime(2026, 11, 27, 23, 30, tzinfo=ZoneInfo("Europe/Brussels"))
    stored = await store_request(
        db,
        idempotency_key="time-key-0123456789",
        centre="payoke",
        language="nl",
        envelope=b"sealed",
        envelope_version=1,
        received_at=brussels,
    )
    assert stored.received_at == brussels and stored.received_at.utcoffset() == dt.timedelta(0)
    assert stored.due_on == dt.date(2026, 11, 30)  # 23:30 on a Friday: due on Monday
    (case,) = await list_cases(db, Scope("payoke"))
    assert case.received_at == brussels and case.received_at.tzinfo == dt.UTC
    with pytest.raises(StatementError, match="must carry its time zone"):
        await create_advisor(
            db,
            email="naive@payoke.be",
            centre="payoke",
            coordinator=False,
            password_hash="x",
            now=dt.datetime(2026, 11, 30, 9, 0),  # naive: refused
        )


# Byte order, ICU's (punctuation, then symbols, then digits, then letters)
# and glibc's (punctuation ignored) all differ on these.
ADDRESSES = ["a_b@surya.be", "a0b@surya.be", "a+b@surya.be", "a-b@surya.be", "ab@surya.be"]


@pytest.mark.asyncio
async def test_advisors_are_listed_in_one_order_whatever_the_collation(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    name = pg_cluster.unique_name("collated")
    pg_cluster.psql(
        f"CREATE DATABASE {name} TEMPLATE template0 OWNER haven"
        " LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
    )
    orders = []
    try:
        for url in (pg_cluster.url(name), f"sqlite+aiosqlite:///{tmp_path / 'haven.sqlite3'}"):
            database = Database(url)
            await database.start()
            try:
                for email in reversed(ADDRESSES):
                    await create_advisor(
                        database,
                        email=email,
                        centre="surya",
                        coordinator=False,
                        password_hash="x",
                        now=NOW,
                    )
                orders.append([advisor.email for advisor in await list_advisors(database)])
            finally:
                await database.stop()
        collated = query(
            pg_cluster.url(name), "select email from advisors order by email"
        )  # what an ORDER BY would have given
    finally:
        pg_cluster.drop_database(name)
    assert [email for (email,) in collated] != sorted(ADDRESSES)  # the trap is real
    assert orders == [sorted(ADDRESSES), sorted(ADDRESSES)]
