"""Several `haven serve` processes on one database behave as one.

Real server processes on one SQLite data directory (WAL): the public rate
limit and the sign-in budgets are counted once for all of them, a session
made on one works on the other, each new request makes one push per device
whichever instance takes it, and a push survives the instance that
acknowledged the request being killed before it was delivered.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from advisors import LiveAdvisor, add_by_command, send_sealed, wrong_sign_in
from conftest import LiveServer, start_server, stop_server
from helpers import wait_for
from pushservice import FakePushService

from server.push_queue import SWEEP_SECONDS

SUBSCRIBE = "/advisor/api/push-subscription"


@pytest.fixture
def push() -> Iterator[FakePushService]:
    with FakePushService() as service:
        yield service


@pytest.fixture
def serve(
    tmp_path: Path, neutral_site: str, push: FakePushService
) -> Iterator[Callable[..., LiveServer]]:
    """Start another ``haven serve`` on the one data directory of this test."""
    started: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        server = start_server(
            tmp_path / "data",
            tmp_path / f"server-{len(started)}.log",
            neutral_site,
            env={"HAVEN_PUSH_SERVICES": push.origin, **env},
        )
        started.append(server)
        return server

    yield start
    for server in started:
        stop_server(server)  # a killed one too: its output pipe is closed


def outbox_rows(server: LiveServer) -> int:
    with sqlite3.connect(server.data_dir / "haven.sqlite3") as db:
        return int(db.execute("select count(*) from push_outbox").fetchone()[0])


def waiting_for_retry(server: LiveServer) -> bool:
    with sqlite3.connect(server.data_dir / "haven.sqlite3") as db:
        rows = db.execute("select subscription_id, claimed_until from push_outbox").fetchall()
    return len(rows) == 1 and rows[0][0] is not None and rows[0][1] is None


def signed_in(server: LiveServer, email: str, centre: str = "payoke") -> LiveAdvisor:
    added = add_by_command(server.data_dir, email, centre)
    assert added.returncode == 0, added.stderr
    return LiveAdvisor.sign_in(server.url, email)


def post_new(server: LiveServer) -> int:
    """A new request sent to ``server``: the status it answered."""
    try:
        send_sealed(server.url)
    except AssertionError as refused:
        assert "rate_limited" in str(refused), refused
        return 429
    return 201


def test_the_public_rate_limit_is_counted_once_for_every_instance(
    serve: Callable[..., LiveServer],
) -> None:
    first = serve(HAVEN_REQUEST_RATE="3/3600")
    second = serve(HAVEN_REQUEST_RATE="3/3600")
    assert [post_new(first), post_new(second), post_new(first)] == [201, 201, 201]
    # Three instances would have allowed nine: one limit holds across them.
    assert post_new(second) == 429
    assert post_new(first) == 429


def test_sign_in_budgets_and_sessions_are_shared(serve: Callable[..., LiveServer]) -> None:
    first = serve()
    second = serve()
    anna = signed_in(first, "anna@payoke.be")
    # The session made on the first instance is good on the second.
    listed = anna.client.get(f"{second.url}/advisor/api/requests")
    assert listed.status_code == 200, listed.text
    anna.close()
    add_by_command(first.data_dir, "bram@payoke.be", "payoke")
    statuses = [wrong_sign_in((first, second)[n % 2].url, "bram@payoke.be") for n in range(7)]
    # Five tries per account from unknown browsers, wherever they land.
    assert statuses == [400] * 5 + [429] * 2


def test_two_instances_make_one_push_per_device_per_request(
    serve: Callable[..., LiveServer], push: FakePushService
) -> None:
    first = serve()
    second = serve()
    anna = signed_in(first, "anna@payoke.be")
    bram = signed_in(second, "bram@payoke.be")
    assert anna.post_json(SUBSCRIBE, push.subscribe("anna-phone")).status_code == 201
    assert bram.post_json(SUBSCRIBE, push.subscribe("bram-laptop")).status_code == 201
    anna.close()
    bram.close()
    for number in range(6):
        send_sealed((first, second)[number % 2].url)
    push.wait_for(12, timeout=30)
    wait_for(lambda: outbox_rows(first) == 0, message="an empty push queue")
    # Both instances sweep every few seconds: let each look again.
    time.sleep(2 * SWEEP_SECONDS + 0.5)
    assert Counter(message.name for message in push.received) == {
        "anna-phone": 6,
        "bram-laptop": 6,
    }
    assert all(message.status == 201 for message in push.received)


def test_a_push_arrives_once_though_its_instance_died_before_sending_it(
    serve: Callable[..., LiveServer], push: FakePushService
) -> None:
    doomed = serve()
    anna = signed_in(doomed, "anna@payoke.be")
    assert anna.post_json(SUBSCRIBE, push.subscribe("anna-phone")).status_code == 201
    anna.close()
    # The push service is down for a moment: the instance holds the push for a retry.
    push.respond("anna-phone", 503, 503)
    send_sealed(doomed.url)  # acknowledged: 201
    (refused,) = push.wait_for(1)
    assert refused.status == 503
    # Killed once it has put the push back for a retry, a second from now (had it
    # died during the POST, the push would wait for its lease to run out instead).
    wait_for(lambda: waiting_for_retry(doomed), message="the retry written down")
    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait(timeout=10)
    assert outbox_rows(doomed) == 1  # still waiting in the database
    heir = serve()
    wait_for(lambda: any(m.status == 201 for m in push.received), message="the push delivered")
    wait_for(lambda: outbox_rows(heir) == 0, message="an empty push queue")
    time.sleep(SWEEP_SECONDS + 0.5)
    delivered = [message for message in push.received if message.status == 201]
    assert len(delivered) == 1
    assert delivered[0].payload == b'{"type":"inbox","centre":"payoke"}'
    assert "HV-" not in heir.log()  # no reference, let alone content
