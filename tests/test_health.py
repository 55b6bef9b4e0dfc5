"""The health check: ok, restart after a key rotation, unavailable without a database; cached."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import pytest
from pg import Cluster

from server.health import EVERY, Health
from server.keys import check_keys, load_keys
from server.storage import Database
from server.storage.keys import Recorded, replace_current


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.asyncio
async def test_a_rotation_elsewhere_turns_the_answer_to_restart_once_the_cache_expires(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    held = load_keys(tmp_path / "keys")
    await check_keys(db, held)
    clock = Clock()
    health = Health(db, held, clock)
    assert (await health.status()).status == "ok"

    # Another machine rotates the session key: the database records a new one.
    rotated = Recorded("session", "AAAAAAAAAAA", "0" * 64, dt.datetime.now(dt.UTC), True)
    async with db.engine.begin() as connection:
        await replace_current(connection, rotated, keep_old=False)

    clock.now += EVERY / 2
    assert (await health.status()).status == "ok"  # the cached answer, no query
    clock.now += EVERY
    with caplog.at_level(logging.WARNING, logger="haven.health"):
        found = await health.status()
        clock.now += EVERY
        again = await health.status()
    assert (found.status, found.code) == ("restart", 503)
    assert again.status == "restart"
    warnings = [r.getMessage() for r in caplog.records if r.name == "haven.health"]
    assert len(warnings) == 1, warnings  # said once, not at every ask
    assert "restart this instance after a key rotation" in warnings[0]
    assert "the session key" in warnings[0]


@pytest.mark.asyncio
@pytest.mark.postgresql
async def test_a_database_that_refuses_connections_is_unavailable(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    held = load_keys(tmp_path / "keys")
    with pg_cluster.fresh_database() as url:
        db = Database(url)
        await db.start()
        try:
            await check_keys(db, held)
            health = Health(db, held, Clock())
            assert (await health.status()).status == "ok"
            name = pg_cluster.database_of(url)
            await asyncio.to_thread(
                pg_cluster.psql,
                f"ALTER DATABASE {name} ALLOW_CONNECTIONS false; "
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
            )
            await db.engine.dispose()  # no connection kept from before
            health = Health(db, held, Clock())
            found = await health.status()
            assert (found.status, found.code) == ("unavailable", 503)
            await asyncio.to_thread(
                pg_cluster.psql, f"ALTER DATABASE {name} ALLOW_CONNECTIONS true"
            )
        finally:
            await db.stop()
