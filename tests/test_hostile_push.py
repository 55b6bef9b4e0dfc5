"""An advisor account turned against the server through push subscriptions.

Each test performs an attack as someone holding an advisor's password would:
against a real server process, on loopback only, with listeners standing for
what lies inside the server's network. Nothing here contacts a real push
service or any address other than loopback.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from advisors import PASSWORD, add_by_command
from conftest import LiveServer, start_server, stop_server
from pushservice import FakePushService, Subscriber

from server.crypto import seal

SUBSCRIBE = "/advisor/api/push-subscription"
UNSUBSCRIBE = "/advisor/api/push-subscription/remove"


# --- what lies inside the server's network --------------------------------------


@pytest.fixture
def push() -> Iterator[FakePushService]:
    with FakePushService() as service:
        yield service


# --- a real server and an advisor signed in to it ---------------------------------


@pytest.fixture
def serve(tmp_path: Path, neutral_site: str) -> Iterator[Callable[..., LiveServer]]:
    """Start ``haven serve`` with these origins in HAVEN_PUSH_SERVICES."""
    started: list[LiveServer] = []

    def start(*listed: str) -> LiveServer:
        server = start_server(
            tmp_path / "data",
            tmp_path / "server.log",
            neutral_site,
            env={"HAVEN_PUSH_SERVICES": ",".join(listed), "HAVEN_REQUEST_RATE": "1000/60"},
        )
        started.append(server)
        return server

    yield start
    for server in started:
        stop_server(server)


@dataclass
class Advisor:
    server: LiveServer
    client: httpx.Client
    csrf: str

    def post(
        self, url: str, body: object, language: str = "en", content: bytes | None = None
    ) -> httpx.Response:
        headers = {
            "Origin": self.server.url,
            "X-CSRF-Token": self.csrf,
            "Content-Type": "application/json",
            "Accept-Language": language,
        }
        data = json.dumps(body).encode() if content is None else content
        return self.client.post(url, content=data, headers=headers)

    def subscribe(self, endpoint: str, language: str = "en") -> httpx.Response:
        return self.post(SUBSCRIBE, Subscriber().subscription(endpoint), language)


@pytest.fixture
def advisor() -> Iterator[Callable[..., Advisor]]:
    """An account made by the operator's command, signed in as its holder would."""
    clients: list[httpx.Client] = []

    def sign_in(server: LiveServer, email: str, centre: str = "payoke") -> Advisor:
        added = add_by_command(server.data_dir, email, centre)
        assert added.returncode == 0, added.stderr
        client = httpx.Client(base_url=server.url, timeout=10)
        clients.append(client)
        form = client.get("/advisor/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token, form.text
        response = client.post(
            "/advisor/login",
            data={"csrf": token.group(1), "email": email, "password": PASSWORD},
            headers={"Origin": server.url},
        )
        assert response.status_code == 303, response.text
        page = client.get("/advisor/")
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
        assert csrf, page.text
        return Advisor(server, client, csrf.group(1))

    yield sign_in
    for client in clients:
        client.close()


def send_help_request(server: LiveServer, centre: str = "payoke") -> None:
    """A sealed request as a phone sends it."""
    raw = httpx.get(f"{server.url}/api/inbox-key").json()["raw"]
    public = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    document = {
        "v": 1,
        "lang": "en",
        "writtenAt": "2026-11-30T08:00:00Z",
        "fields": {"centre": centre, "channel": "call", "contact": "0470 12 34 56"},
    }
    envelope = seal(public, json.dumps(document).encode(), centre, "en")
    response = httpx.post(
        f"{server.url}/api/requests",
        json={"centre": centre, "lang": "en", "envelope": envelope},
        headers={"Idempotency-Key": secrets.token_urlsafe(24)},
    )
    assert response.status_code == 201, response.text


def stored_endpoints(server: LiveServer) -> list[str]:
    with sqlite3.connect(server.data_dir / "haven.sqlite3") as db:
        return [row[0] for row in db.execute("select endpoint from push_subscriptions order by id")]


def in_advisor_language(code: str, msgid: str) -> str:
    from babel.messages.pofile import read_po

    with (Path(__file__).parent.parent / f"locales/{code}/LC_MESSAGES/advisor.po").open("rb") as f:
        message = read_po(f).get(msgid)
    assert message is not None and message.string
    return str(message.string)


# --- the attacks -----------------------------------------------------------------


def test_fifteen_subscriptions_leave_the_ten_newest_and_one_request_makes_ten_posts(
    serve: Callable[..., LiveServer], push: FakePushService, advisor: Callable[..., Advisor]
) -> None:
    server = serve(push.origin)
    anna = advisor(server, "anna@payoke.be")
    for number in range(15):
        response = anna.post(SUBSCRIBE, push.subscribe(f"device-{number:02}"))
        assert response.status_code == 201, response.text
    assert stored_endpoints(server) == [push.endpoint(f"device-{n:02}") for n in range(5, 15)]
    send_help_request(server)
    push.wait_for(10)
    time.sleep(0.5)
    assert sorted(message.name for message in push.received) == [
        f"device-{n:02}" for n in range(5, 15)
    ]


def test_deeply_nested_json_is_a_400_in_the_advisors_language(
    serve: Callable[..., LiveServer], advisor: Callable[..., Advisor]
) -> None:
    server = serve()
    anna = advisor(server, "anna@payoke.be")
    # Within the 4 KB these routes read: enough to exhaust the parser's recursion.
    bodies = [
        b'{"endpoint": ' + b"[" * 1900 + b"]" * 1900 + b"}",
        b"[" * 2000 + b"]" * 2000,
        b"[" * 4000,
    ]
    languages = {
        "en": "This is not valid JSON.",
        "fr": in_advisor_language("fr", "This is not valid JSON."),
        "nl": in_advisor_language("nl", "This is not valid JSON."),
    }
    for url in (SUBSCRIBE, UNSUBSCRIBE):
        for body in bodies:
            for code, message in languages.items():
                response = anna.post(url, None, language=code, content=body)
                assert response.status_code == 400, (url, body[:20], response.text)
                assert response.json() == {"error": "malformed_json", "message": message}
    assert "RecursionError" not in server.log()
    assert httpx.get(f"{server.url}/healthz").status_code == 200
