"""The per-client rate limit: counts in memory, under a rotating keyed hash."""

from __future__ import annotations

import pytest

from server.security.clients import client_key
from server.security.ratelimit import ROTATE_SECONDS, RateLimiter
from server.settings import Settings, parse_rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_allows_the_limit_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60, clock=clock)
    assert [limiter.hit("192.0.2.1") for _ in range(3)] == [None, None, None]
    clock.now += 20
    assert limiter.hit("192.0.2.1") == pytest.approx(40)
    # Another client is counted on its own.
    assert limiter.hit("192.0.2.2") is None


def test_recovers_after_the_window() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 60, clock=clock)
    assert limiter.hit("192.0.2.1") is None
    assert limiter.hit("192.0.2.1") is not None
    clock.now += 60
    assert limiter.hit("192.0.2.1") is None


def test_a_refund_gives_one_back() -> None:
    limiter = RateLimiter(1, 60, clock=Clock())
    assert limiter.hit("192.0.2.1") is None
    limiter.refund("192.0.2.1")
    assert limiter.hit("192.0.2.1") is None
    assert limiter.hit("192.0.2.1") is not None
    limiter.refund("198.51.100.9")  # never seen: nothing happens


def test_no_address_is_kept() -> None:
    limiter = RateLimiter(5, 60, clock=Clock())
    address = "203.0.113.77"
    limiter.hit(address)
    kept = repr(vars(limiter)).encode() + b"".join(limiter._windows)
    assert address.encode() not in kept
    assert b"203.0.113" not in kept


def test_the_key_rotates_daily_and_drops_the_counters() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 7 * ROTATE_SECONDS, clock=clock)
    limiter.hit("192.0.2.1")
    before = set(limiter._windows)
    assert limiter.hit("192.0.2.1") is not None
    clock.now += ROTATE_SECONDS
    assert limiter.hit("192.0.2.1") is None  # a new day, a new key, fresh counters
    assert set(limiter._windows).isdisjoint(before)
    assert len(limiter) == 1


def test_memory_stays_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 60, clock=clock, max_clients=100)
    for number in range(1000):
        limiter.hit(f"10.0.{number // 256}.{number % 256}")
    assert len(limiter) == 100
    # Expired windows are pruned as time goes on.
    clock.now += 61
    limiter.hit("192.0.2.1")
    assert len(limiter) == 1


def test_clients_without_an_address_share_one_bucket() -> None:
    limiter = RateLimiter(1, 60, clock=Clock())
    assert limiter.hit(None) is None
    assert limiter.hit(None) is not None


def test_ipv6_clients_are_grouped_by_their_64() -> None:
    limiter = RateLimiter(2, 60, clock=Clock())
    # A phone or a household has a whole /64: changing address within it is no new client.
    assert limiter.hit(client_key("2001:db8:1:2::1")) is None
    assert limiter.hit(client_key("2001:DB8:1:2:ffff:ffff:ffff:ffff")) is None
    assert limiter.hit(client_key("2001:db8:1:2:abcd::9")) is not None
    # The neighbouring /64 is another client.
    assert limiter.hit(client_key("2001:db8:1:3::1")) is None


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


def test_an_ipv4_mapped_client_shares_the_ipv4_budget() -> None:
    limiter = RateLimiter(1, 60, clock=Clock())
    assert limiter.hit(client_key("198.51.100.4")) is None
    assert limiter.hit(client_key("::ffff:198.51.100.4")) is not None


def test_rate_setting() -> None:
    assert Settings.from_environ({}).request_rate == (60, 3600.0)
    assert Settings.from_environ({"HAVEN_REQUEST_RATE": "5/0.5"}).request_rate == (5, 0.5)
    assert parse_rate(" 10/60 ") == (10, 60.0)


@pytest.mark.parametrize("value", ["60", "sixty/3600", "0/60", "5/0", "-1/60", "5/-1", "5/nan", ""])
def test_bad_rate_setting_is_a_clear_error(value: str) -> None:
    with pytest.raises(ValueError, match="HAVEN_REQUEST_RATE must be COUNT/SECONDS"):
        Settings.from_environ({"HAVEN_REQUEST_RATE": value})
