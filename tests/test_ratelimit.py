"""The per-client rate limit: counts in the database, under a daily keyed hash."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
from pathlib import Path

import pytest
from helpers import dump_text
from sqlalchemy import select
from sqlalchemy.engine import make_url

from server.security.clients import client_key
from server.security.ratelimit import ROTATE_SECONDS, RateLimiter
from server.settings import Settings, parse_rate
from server.storage import Database
from server.storage.limits import purge_expired
from server.storage.schema import limit_counters

SECRET = secrets.token_hex(32).encode()
# Noon of some day: windows of a minute do not cross midnight.
NOON = 20_000 * ROTATE_SECONDS + ROTATE_SECONDS / 2


class Clock:
    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(db: Database, limit: int, window: float, clock: Clock, scope: str = "t") -> RateLimiter:
    return RateLimiter(db, SECRET, scope, limit, window, clock=clock)


async def rows(db: Database) -> list[tuple[str, float, float, int]]:
    async with db.engine.connect() as connection:
        result = await connection.execute(select(limit_counters))
        return [tuple(row) for row in result]  # type: ignore[misc]


@pytest.mark.asyncio
async def test_allows_the_limit_then_says_how_long_to_wait(db: Database) -> None:
    clock = Clock()
    limit = limiter(db, 3, 60, clock)
    assert [await limit.hit("192.0.2.1") for _ in range(3)] == [None, None, None]
    clock.now += 20
    assert await limit.hit("192.0.2.1") == pytest.approx(40)
    assert await limit.blocked("192.0.2.1") == pytest.approx(40)
    # Another client is counted on its own.
    assert await limit.hit("192.0.2.2") is None


@pytest.mark.asyncio
async def test_recovers_after_the_window(db: Database) -> None:
    clock = Clock()
    limit = limiter(db, 1, 60, clock)
    assert await limit.hit("192.0.2.1") is None
    assert await limit.hit("192.0.2.1") is not None
    clock.now += 60
    assert await limit.blocked("192.0.2.1") is None
    assert await limit.hit("192.0.2.1") is None


@pytest.mark.asyncio
async def test_a_refund_gives_one_back(db: Database) -> None:
    limit = limiter(db, 1, 60, Clock())
    assert await limit.hit("192.0.2.1") is None
    await limit.refund("192.0.2.1")
    assert await limit.hit("192.0.2.1") is None
    assert await limit.hit("192.0.2.1") is not None
    await limit.refund("198.51.100.9")  # never seen: nothing happens
    assert await limit.blocked("198.51.100.9") is None


@pytest.mark.asyncio
async def test_clear_forgets_the_window(db: Database) -> None:
    limit = limiter(db, 1, 60, Clock())
    await limit.hit("192.0.2.1")
    await limit.clear("192.0.2.1")
    assert await limit.hit("192.0.2.1") is None


@pytest.mark.asyncio
async def test_no_address_is_kept(db: Database) -> None:
    limit = limiter(db, 5, 60, Clock())
    address = "203.0.113.77"
    await limit.hit(address)
    ((key_hash, *_),) = await rows(db)
    assert re.fullmatch(r"[0-9a-f]{64}", key_hash)
    await db.stop()  # everything on the disk, in the file or its journal
    if db.dialect == "postgresql":
        written = dump_text(db.url).encode()  # what a copy of the database holds
    else:
        database = make_url(db.url).database
        assert database
        written = b"".join(
            path.read_bytes()
            for suffix in ("", "-wal")
            if (path := Path(database + suffix)).exists()
        )
    assert key_hash.encode() in written
    assert address.encode() not in written and b"203.0.113" not in written
    assert address.encode() not in repr(vars(limit)).encode()


@pytest.mark.asyncio
async def test_the_key_changes_daily_but_a_window_open_at_midnight_holds(db: Database) -> None:
    clock = Clock(20_001 * ROTATE_SECONDS - 30)  # 30 s before midnight
    limit = limiter(db, 2, 60, clock)
    assert await limit.hit("192.0.2.1") is None
    assert await limit.hit("192.0.2.1") is None
    ((before, *_),) = await rows(db)
    clock.now += 40  # the next day: a new key
    (today,) = limit.digests("192.0.2.1", clock.now + 60)
    assert today != before
    # Yesterday's window is still open: no fresh start at midnight.
    assert await limit.hit("192.0.2.1") == pytest.approx(20)
    clock.now += 20
    assert await limit.hit("192.0.2.1") is None
    assert {row[0] for row in await rows(db)} == {today}  # yesterday's row deleted when read


def test_a_window_longer_than_a_day_is_refused() -> None:
    with pytest.raises(ValueError, match="a day"):
        RateLimiter(None, SECRET, "t", 1, 2 * ROTATE_SECONDS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a day"):
        parse_rate("10/90000")


@pytest.mark.asyncio
async def test_expired_rows_are_purged_in_bulk(db: Database) -> None:
    clock = Clock()
    limit = limiter(db, 1, 60, clock)
    for number in range(50):
        await limit.hit(f"10.0.0.{number}")
    longer = limiter(db, 1, 600, clock, scope="longer")
    await longer.hit("10.0.0.1")
    moment = dt.datetime.fromtimestamp(clock.now + 61, dt.UTC)
    async with db.engine.begin() as connection:
        assert await purge_expired(connection, moment) == 50
    assert len(await rows(db)) == 1  # the open window is kept


@pytest.mark.asyncio
async def test_counting_is_atomic_under_concurrency(db: Database) -> None:
    # Two limiters over one database stand for two instances.
    clock = Clock()
    first, second = limiter(db, 10, 60, clock), limiter(db, 10, 60, clock)
    other = Database(db.url)
    await other.start()
    try:
        second.db = other
        results = await asyncio.gather(
            *(limit.hit("192.0.2.1") for _ in range(30) for limit in (first, second))
        )
    finally:
        await other.stop()
    assert sum(result is None for result in results) == 10
    assert (await rows(db))[0][3] == 10


@pytest.mark.asyncio
async def test_clients_without_an_address_share_one_bucket(db: Database) -> None:
    limit = limiter(db, 1, 60, Clock())
    assert await limit.hit(None) is None
    assert await limit.hit(None) is not None


@pytest.mark.asyncio
async def test_ipv6_clients_are_grouped_by_their_64(db: Database) -> None:
    limit = limiter(db, 2, 60, Clock())
    # A phone or a household has a whole /64: changing address within it is no new client.
    assert await limit.hit(client_key("2001:db8:1:2::1")) is None
    assert await limit.hit(client_key("2001:DB8:1:2:ffff:ffff:ffff:ffff")) is None
    assert await limit.hit(client_key("2001:db8:1:2:abcd::9")) is not None
    # The neighbouring /64 is another client.
    assert await limit.hit(client_key("2001:db8:1:3::1")) is None


def test_client_key_keeps_ipv4_per_address_and_maps_ipv4_in_ipv6() -> None:
    assert client_key("192.0.2.1") == "192.0.2.1"
    assert client_key("192.0.2.2") != client_key("192.0.2.1")
    # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d: the same client.
    assert client_key("::ffff:192.0.2.1") == client_key("192.0.2.1")
    assert client_key("2001:db8:1:2:3:4:5:6") == client_key("2001:db8:1:2::") == "2001:db8:1:2::/64"
    assert client_key("fe80::1%eth0") == client_key("fe80::2")
    # Not an address: passed through, so it still has a bucket of its own.
    assert client_key("testclient") == "testclient"
    assert client_key(None) is None


@pytest.mark.asyncio
async def test_an_ipv4_mapped_client_shares_the_ipv4_budget(db: Database) -> None:
    limit = limiter(db, 1, 60, Clock())
    assert await limit.hit(client_key("198.51.100.4")) is None
    assert await limit.hit(client_key("::ffff:198.51.100.4")) is not None


def test_rate_setting() -> None:
    assert Settings.from_environ({}).request_rate == (60, 3600.0)
    assert Settings.from_environ({"HAVEN_REQUEST_RATE": "5/0.5"}).request_rate == (5, 0.5)
    assert parse_rate(" 10/60 ") == (10, 60.0)


@pytest.mark.parametrize("value", ["60", "sixty/3600", "0/60", "5/0", "-1/60", "5/-1", "5/nan", ""])
def test_bad_rate_setting_is_a_clear_error(value: str) -> None:
    with pytest.raises(ValueError, match="HAVEN_REQUEST_RATE must be COUNT/SECONDS"):
        Settings.from_environ({"HAVEN_REQUEST_RATE": value})
