"""Storage: migrations at start, durable SQLite, and exactly one row per key.

Every test that takes ``db`` runs on SQLite and on PostgreSQL (tests/pg.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from conftest import make_settings, sqlite_only
from helpers import raw_rows
from sqlalchemy import inspect, text

from server.storage import Database, count_requests, find_request, requests, store_request
from server.storage.database import head_revision
from server.storage.requests import REFERENCE_ALPHABET

RECEIVED = dt.datetime(2026, 11, 27, 22, 30, tzinfo=dt.UTC)  # 23:30 on a Friday in Brussels


async def store(db: Database, key: str, centre: str = "payoke", envelope: bytes = b"{}"):  # type: ignore[no-untyped-def]
    return await store_request(
        db,
        idempotency_key=key,
        centre=centre,
        language="nl",
        envelope=envelope,
        envelope_version=1,
        received_at=RECEIVED,
    )


@pytest.mark.asyncio
async def test_migrations_create_the_table(db: Database) -> None:
    def describe(connection):  # type: ignore[no-untyped-def]
        inspector = inspect(connection)
        return (
            {column["name"] for column in inspector.get_columns("help_requests")},
            {
                tuple(unique["column_names"])
                for unique in inspector.get_unique_constraints("help_requests")
            },
            {tuple(index["column_names"]) for index in inspector.get_indexes("help_requests")},
        )

    async with db.engine.connect() as connection:
        columns, uniques, indexes = await connection.run_sync(describe)
        version = (
            await connection.execute(text("select version_num from alembic_version"))
        ).scalar()
    assert columns == {
        "id",
        "reference",
        "idempotency_hash",
        "centre",
        "language",
        "received_at",
        "due_on",
        "status",
        "envelope",
        "envelope_version",
        "sealed_centre",
        "first_contact_at",
        "closed_at",
        "outcome",
    }
    assert uniques == {("reference",), ("idempotency_hash",)}
    assert ("centre", "due_on") in indexes
    assert ("centre", "status", "due_on", "received_at") in indexes
    assert version == head_revision()


@pytest.mark.asyncio
async def test_migrations_run_again_without_harm(db: Database) -> None:
    await store(db, "k" * 16)
    await db.stop()
    await db.start()
    assert await count_requests(db) == 1


@sqlite_only
@pytest.mark.asyncio
async def test_sqlite_is_durable_on_every_connection(db: Database) -> None:
    for _ in range(3):  # several pooled connections, each set up alike
        async with db.engine.connect() as connection:
            pragmas = {
                name: (await connection.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
        assert pragmas["journal_mode"] == "wal"
        assert pragmas["synchronous"] == 2  # FULL
        assert pragmas["foreign_keys"] == 1
        assert pragmas["busy_timeout"] > 0


@pytest.mark.asyncio
async def test_a_stored_request(db: Database) -> None:
    stored = await store(db, "first-key-0123456789", envelope=b'{"v":1}')
    assert stored.created
    assert stored.centre == "payoke" and stored.language == "nl"
    assert stored.received_at == RECEIVED and stored.received_at.tzinfo is not None
    assert stored.due_on == dt.date(2026, 11, 30)  # Monday
    prefix, first, second = stored.reference.split("-")
    assert prefix == "HV" and len(first) == len(second) == 4
    assert set(first + second) <= set(REFERENCE_ALPHABET)
    again = await find_request(db, "first-key-0123456789")
    assert again is not None and again.reference == stored.reference and not again.created
    assert await find_request(db, "another-key-0123456") is None


@pytest.mark.asyncio
async def test_only_routing_fields_are_in_clear(db: Database) -> None:
    await store(db, "clear-key-0123456789", envelope=b"sealed bytes")
    (row,) = raw_rows(
        db.url,
        "select centre, language, status, envelope, envelope_version, idempotency_hash"
        " from help_requests",
    )
    assert row[:3] == ("payoke", "nl", "new")
    assert row[3] == b"sealed bytes" and row[4] == 1
    assert len(row[5]) == 64 and "clear-key" not in row[5]  # a hash, not the key


@pytest.mark.asyncio
async def test_concurrent_replays_make_one_row(db: Database) -> None:
    results = await asyncio.gather(*(store(db, "same-key-0123456789") for _ in range(50)))
    assert await count_requests(db) == 1
    assert len({stored.reference for stored in results}) == 1
    assert sum(stored.created for stored in results) == 1
    assert len({(stored.received_at, stored.due_on) for stored in results}) == 1


@pytest.mark.asyncio
async def test_concurrent_requests_are_committed_in_groups(db: Database) -> None:
    keys = [f"group-key-{number:06d}" for number in range(200)]
    results = await asyncio.gather(*(store(db, key) for key in keys + keys))
    assert await count_requests(db) == 200
    assert sum(stored.created for stored in results) == 200
    assert len({stored.reference for stored in results}) == 200
    # Fewer transactions than requests: that is the point of the writer.
    assert db.writer.commits < 100


@pytest.mark.asyncio
async def test_a_taken_reference_is_drawn_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws = iter(["HV-AAAA-AAAA", "HV-AAAA-AAAA", "HV-BBBB-BBBB"])
    monkeypatch.setattr(requests, "new_reference", lambda: next(draws))
    first = await store(db, "collide-key-000001")
    second = await store(db, "collide-key-000002")
    assert (first.reference, second.reference) == ("HV-AAAA-AAAA", "HV-BBBB-BBBB")
    assert first.created and second.created


@pytest.mark.asyncio
async def test_stop_commits_what_was_queued(db: Database) -> None:
    pending = [asyncio.ensure_future(store(db, f"late-key-{n:08d}")) for n in range(20)]
    await asyncio.sleep(0)
    await db.stop()
    assert all([(await task).created for task in pending])
    assert raw_rows(db.url, "select count(*) from help_requests") == [(20,)]
    await db.start()  # for the fixture's stop


def test_unknown_database_urls_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="HAVEN_DATABASE_URL"):
        Database.from_settings(make_settings(tmp_path, HAVEN_DATABASE_URL="mysql://x/y"))


@pytest.mark.asyncio
async def test_postgresql_builds_an_engine(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://haven:secret@db.invalid/haven"
    settings = make_settings(tmp_path, HAVEN_DATABASE_URL=url)
    assert "secret" not in repr(settings)
    database = Database.from_settings(settings)
    engine = database.build_engine()  # no connection is made until one is asked for
    try:
        assert engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg"
    finally:
        await engine.dispose()


@pytest.mark.asyncio
async def test_other_writes_take_their_turn_with_the_inserts(db: Database) -> None:
    """Writer.run: between groups of inserts, one transaction each; a failure is its own."""

    async def count(connection) -> int:  # type: ignore[no-untyped-def]
        return int(await connection.scalar(text("select count(*) from help_requests")))

    async def fail(connection) -> None:  # type: ignore[no-untyped-def]
        await connection.execute(text("delete from help_requests"))
        raise RuntimeError("rolled back")

    stores = [store(db, f"turn-{index:012d}") for index in range(20)]
    results = await asyncio.gather(
        *stores[:10], db.writer.run(count), db.writer.run(fail), *stores[10:],
        return_exceptions=True,
    )  # fmt: skip
    counted, failed = results[10], results[11]
    # Queued after ten inserts: it ran after their group's commit, before the rest.
    assert counted == 10
    assert isinstance(failed, RuntimeError)
    # The failed work's delete was rolled back, and the writer went on.
    assert await count_requests(db) == 20
    assert await db.writer.run(count) == 20


@pytest.mark.asyncio
async def test_a_group_charges_its_senders_in_one_order(db: Database) -> None:
    """Counters are locked in the order of their rows, whatever the order of arrival,
    so that two instances charging the same senders cannot deadlock on PostgreSQL."""
    charged: list[str] = []

    def charge_for(order: str):  # type: ignore[no-untyped-def]
        async def charge(connection: object) -> None:
            charged.append(order)

        return charge

    received = dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)
    batch = [
        requests.NewRequest(
            idempotency_hash=requests.idempotency_hash(f"order-{order}"),
            centre="payoke",
            language="en",
            envelope=b"{}",
            envelope_version=1,
            received_at=received,
            due_on=received.date(),
            charge=charge_for(order),
            charge_order=order,
        )
        for order in ("c", "a", "d", "b")
    ]
    async with db.engine.begin() as connection:
        stored = await requests.insert_all(connection, batch)
    assert charged == ["a", "b", "c", "d"]
    # Every one stored, each with a reference of its own.
    assert all(isinstance(answer, requests.StoredRequest) and answer.created for answer in stored)
    assert len({answer.reference for answer in stored}) == 4  # type: ignore[union-attr]
