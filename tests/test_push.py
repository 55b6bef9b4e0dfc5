"""Web push to advisors, end to end against a fake push service on loopback."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from advisors import COORDINATOR, PAGASA, PAYOKE, SURYA, Desk, staffed_desk
from helpers import wait_for
from pushservice import FakePushService, Subscriber, b64encode, verify_vapid

from server.storage.subscriptions import count_subscriptions


@pytest.fixture
def push() -> Iterator[FakePushService]:
    with FakePushService() as service:
        yield service


@pytest.fixture
def desk(tmp_path: Path, push: FakePushService) -> Iterator[Desk]:
    """The advisors' desk, with the fake push service listed as an operator would."""
    yield from staffed_desk(tmp_path, env={"HAVEN_PUSH_SERVICES": push.origin})


@pytest.fixture
def quick(desk: Desk) -> list[float]:
    """Retries without the real waits: the queue's clock jumps over each pause it
    takes, and the pauses before a retry (to 0.1 s) are recorded."""
    waits: list[float] = []
    queue = desk.app.state.haven.push.queue
    shift = [dt.timedelta()]
    queue.clock = lambda: dt.datetime.now(dt.UTC) + shift[0]
    queue.sweep_seconds = 3600  # every pause here is for a retry
    woken = queue.pause

    async def jump(seconds: float) -> None:
        if seconds >= 3600:
            await woken(seconds)  # nothing due: wait for the next request
            return
        waits.append(round(seconds, 1))
        shift[0] += dt.timedelta(seconds=seconds)

    queue.pause = jump
    return waits


def subscribe(desk: Desk, push: FakePushService, who: str, name: str) -> None:
    response = desk.post_json(who, "/advisor/api/push-subscription", push.subscribe(name))
    assert response.status_code == 201, response.text


def test_a_new_request_reaches_the_centres_device_without_content(
    desk: Desk, push: FakePushService
) -> None:
    subscribe(desk, push, PAYOKE, "anna-phone")
    subscribe(desk, push, SURYA, "chloe-phone")
    desk.send("payoke", situation="PUSH-SECRET my boss took my passport", name="Mara")
    (message,) = push.wait_for(1)
    assert message.name == "anna-phone" and message.status == 201
    assert message.error is None
    # The VAPID JWT was checked against the server's own public key.
    assert message.vapid_claims is not None
    assert message.vapid_claims["sub"] == desk.app.state.haven.settings.push_subject
    key = desk.get(PAYOKE, "/advisor/api/push-key").json()["publicKey"]
    assert f"k={key}" in message.headers["authorization"]
    assert message.payload is not None
    assert json.loads(message.payload) == {"type": "inbox", "centre": "payoke"}
    for secret in (b"PUSH-SECRET", b"Mara", b"passport", b"0470"):
        assert secret not in message.payload
    assert message.ttl == 86400
    assert message.headers["urgency"] == "high"
    # One waiting message per centre, under a name the push service cannot read.
    topic = message.headers["topic"]
    assert topic == desk.app.state.haven.push.key.topic("payoke")
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", topic) and "payoke" not in topic.lower()
    time.sleep(0.2)
    assert len(push.received) == 1  # SÜRYA's device heard nothing


def test_the_unknown_queue_goes_to_coordinators(desk: Desk, push: FakePushService) -> None:
    subscribe(desk, push, COORDINATOR, "dora-laptop")
    subscribe(desk, push, PAGASA, "bram-phone")
    desk.send("unknown")
    (message,) = push.wait_for(1)
    assert message.name == "dora-laptop"
    assert message.payload is not None
    assert json.loads(message.payload)["centre"] == "unknown"


def test_a_transfer_tells_the_other_centre(desk: Desk, push: FakePushService) -> None:
    subscribe(desk, push, SURYA, "chloe-phone")
    reference = desk.send("payoke")
    time.sleep(0.1)
    assert push.received == []
    response = desk.post(
        PAYOKE, f"/advisor/requests/{reference}/transfer", {"to_centre": "surya", "note": "Liège"}
    )
    assert response.status_code == 303
    (message,) = push.wait_for(1)
    assert message.name == "chloe-phone" and message.payload is not None
    assert json.loads(message.payload) == {"type": "inbox", "centre": "surya"}


def test_410_deletes_the_subscription(desk: Desk, push: FakePushService) -> None:
    subscribe(desk, push, PAYOKE, "old-phone")
    subscribe(desk, push, PAYOKE, "new-phone")
    push.respond("old-phone", 410)
    desk.send("payoke")
    push.wait_for(2)
    db = desk.app.state.haven.db
    wait_for(lambda: desk.client.portal.call(count_subscriptions, db) == 1)  # type: ignore[union-attr]
    desk.send("payoke")
    messages = push.wait_for(3)
    assert messages[-1].name == "new-phone"
    time.sleep(0.2)
    assert len(push.received) == 3  # nothing more went to the gone subscription


def test_404_deletes_it_too(desk: Desk, push: FakePushService, quick: list[float]) -> None:
    subscribe(desk, push, PAYOKE, "phone")
    push.respond("phone", 404)
    desk.send("payoke")
    push.wait_for(1)
    db = desk.app.state.haven.db
    wait_for(lambda: desk.client.portal.call(count_subscriptions, db) == 0)  # type: ignore[union-attr]
    assert quick == []


def test_429_and_5xx_are_retried_with_backoff(
    desk: Desk, push: FakePushService, quick: list[float]
) -> None:
    subscribe(desk, push, PAYOKE, "phone")
    push.respond("phone", 429, 503, retry_after=7)
    desk.send("payoke")
    messages = push.wait_for(3)
    assert [message.status for message in messages] == [429, 503, 201]
    assert messages[-1].payload is not None
    assert quick == [7.0, 2.0]  # Retry-After for the 429; then the doubled delay


def test_a_push_service_that_keeps_failing_is_given_up(
    desk: Desk, push: FakePushService, quick: list[float]
) -> None:
    subscribe(desk, push, PAYOKE, "phone")
    push.respond("phone", 500, 500, 500, 500)
    desk.send("payoke")
    push.wait_for(4)
    queue = desk.app.state.haven.push.queue
    wait_for(lambda: queue.failed == 1)
    assert quick == [1.0, 2.0, 4.0]
    time.sleep(0.2)
    assert len(push.received) == 4
    db = desk.app.state.haven.db
    assert desk.client.portal.call(count_subscriptions, db) == 1  # type: ignore[union-attr]


def test_a_hanging_push_service_never_delays_the_acknowledgement(
    desk: Desk, push: FakePushService
) -> None:
    subscribe(desk, push, PAYOKE, "phone")
    push.hang("phone")
    started = time.monotonic()
    for _ in range(3):
        desk.send("payoke")
    assert time.monotonic() - started < 2  # the push would wait 10 s for an answer


def test_subscriptions_are_checked(desk: Desk, push: FakePushService) -> None:
    url = "/advisor/api/push-subscription"
    good = push.subscribe("phone")
    cases = [
        {**good, "endpoint": "http://push.example/x"},  # plain HTTP off loopback
        {**good, "endpoint": "ftp://push.example/x"},
        {**good, "endpoint": "https://" + "a" * 3000},
        {**good, "keys": {"p256dh": "AAAA", "auth": good["keys"]["auth"]}},
        {**good, "keys": {"p256dh": good["keys"]["p256dh"], "auth": "c2hvcnQ"}},
        {"endpoint": good["endpoint"]},
        ["not", "an", "object"],
    ]
    for body in cases:
        response = desk.post_json(PAYOKE, url, body)
        assert response.status_code == 422, body
        assert response.json()["errors"]
    desk.use(PAYOKE)
    response = desk.client.post(
        url,
        content=b"endpoint=x",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "https://testserver",
            "X-CSRF-Token": desk.tokens[PAYOKE],
        },
    )
    assert response.status_code == 415
    db = desk.app.state.haven.db
    assert desk.client.portal.call(count_subscriptions, db) == 0  # type: ignore[union-attr]


def test_unsubscribe_stops_the_messages(desk: Desk, push: FakePushService) -> None:
    subscribe(desk, push, PAYOKE, "phone")
    endpoint = push.endpoint("phone")
    # Another advisor cannot remove it.
    other = desk.post_json(SURYA, "/advisor/api/push-subscription/remove", {"endpoint": endpoint})
    assert other.json()["removed"] is False
    response = desk.post_json(
        PAYOKE, "/advisor/api/push-subscription/remove", {"endpoint": endpoint}
    )
    assert response.status_code == 200 and response.json()["removed"] is True
    desk.send("payoke")
    time.sleep(0.3)
    assert push.received == []


def test_the_fake_service_refuses_a_forged_vapid_key(push: FakePushService) -> None:
    """The check the tests rely on is a real one."""
    from py_vapid import Vapid02

    signer = Vapid02()
    signer.generate_keys()
    claims = {"sub": "mailto:a@b.be", "aud": push.origin, "exp": int(time.time()) + 600}
    header = signer.sign(dict(claims))["Authorization"]
    assert verify_vapid(header, push.origin)["sub"] == "mailto:a@b.be"
    forged = header.split(",k=")[0] + ",k=" + b64encode(Subscriber().public_raw)
    with pytest.raises(ValueError, match="signature"):
        verify_vapid(forged, push.origin)
    with pytest.raises(ValueError, match="aud"):
        verify_vapid(
            signer.sign({**claims, "aud": "https://elsewhere"})["Authorization"], push.origin
        )


def test_the_push_subject_never_names_a_port(tmp_path: Path) -> None:
    """A base address with a port made every push fail: VAPID refuses such a subject."""
    from conftest import make_settings
    from py_vapid import Vapid02

    settings = make_settings(tmp_path, HAVEN_BASE_URL="https://haven.example:8443/app")
    assert settings.push_subject == "https://haven.example"
    signer = Vapid02()
    signer.generate_keys()
    claims = {"sub": settings.push_subject, "aud": "https://push.example"}
    assert "Authorization" in signer.sign(claims)
    with pytest.raises(ValueError, match="must not name a port"):
        make_settings(tmp_path, HAVEN_PUSH_SUBJECT="https://haven.example:8443")
