"""An advisor account turned against the server through push subscriptions.

Each test performs an attack as someone holding an advisor's password would:
against a real server process, on loopback only, with listeners standing for
what lies inside the server's network. Nothing here contacts a real push
service or any address other than loopback.
"""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from advisors import PAYOKE, Desk, LiveAdvisor, add_by_command, send_sealed
from aiohttp.abc import AbstractResolver, ResolveResult
from conftest import LiveServer, start_server, stop_server
from helpers import wait_for
from pushservice import FakePushService, Subscriber

SUBSCRIBE = "/advisor/api/push-subscription"
UNSUBSCRIBE = "/advisor/api/push-subscription/remove"


# --- what lies inside the server's network --------------------------------------


class Listener:
    """A loopback HTTP server standing for something the server must never reach.

    It counts every connection, whatever is sent on it (a TLS greeting too),
    and answers requests with what ``answer`` gives for the path.
    """

    def __init__(
        self, answer: Callable[[str], tuple[int, dict[str, str]]] = lambda path: (201, {})
    ) -> None:
        self.connections = 0
        self.requests: list[tuple[str, str]] = []
        lock = threading.Lock()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with lock:
                    listener.connections += 1

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    listener.requests.append((self.command, self.path))
                status, headers = answer(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def listeners() -> Iterator[Callable[..., Listener]]:
    started: list[Listener] = []

    def make(answer: Callable[[str], tuple[int, dict[str, str]]] | None = None) -> Listener:
        listener = Listener(answer) if answer else Listener()
        started.append(listener)
        return listener

    yield make
    for listener in started:
        listener.stop()


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


def subscribe(advisor: LiveAdvisor, endpoint: str, language: str = "en") -> httpx.Response:
    return advisor.post_json(SUBSCRIBE, Subscriber().subscription(endpoint), language)


@pytest.fixture
def advisor() -> Iterator[Callable[..., LiveAdvisor]]:
    """An account made by the operator's command, signed in as its holder would."""
    advisors: list[LiveAdvisor] = []

    def sign_in(server: LiveServer, email: str, centre: str = "payoke") -> LiveAdvisor:
        added = add_by_command(server.data_dir, email, centre)
        assert added.returncode == 0, added.stderr
        signed_in = LiveAdvisor.sign_in(server.url, email)
        advisors.append(signed_in)
        return signed_in

    yield sign_in
    for signed_in in advisors:
        signed_in.close()


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


def test_subscriptions_aimed_inside_the_network_are_refused_and_never_contacted(
    serve: Callable[..., LiveServer],
    push: FakePushService,
    listeners: Callable[..., Listener],
    advisor: Callable[..., LiveAdvisor],
) -> None:
    inside = listeners()
    server = serve(push.origin)
    anna = advisor(server, "anna@payoke.be")
    port = inside.port
    hostile = [
        # Loopback first: if one were accepted, the test stops before any other
        # address is stored, so a failing run never reaches beyond loopback.
        f"http://127.0.0.1:{port}/push",  # the server listens on loopback itself
        f"https://127.0.0.1:{port}/push",
        f"http://localhost:{port}/push",
        f"https://localhost:{port}/push",
        f"https://[::1]:{port}/push",
        f"https://[::ffff:127.0.0.1]:{port}/push",  # IPv4-mapped IPv6
        f"https://[::ffff:7f00:1]:{port}/push",
        f"https://2130706433:{port}/push",  # 127.0.0.1 as one decimal number
        f"https://0x7f000001:{port}/push",
        f"https://127.1:{port}/push",
        f"http://127.0.0.1:{port}@fcm.googleapis.com/push",
        f"https://fcm.googleapis.com@127.0.0.1:{port}/push",
        f"{push.origin.replace('http:', 'https:')}/push/x",  # listed for http only
        f"http://127.0.0.1:{push._server.server_address[1] + 1}/push",
        "https://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        "https://10.0.0.1/push",
        "https://192.168.1.1/push",
        "https://[fe80::1]/push",
        "https://push.example.org/push",  # https, but no push service of a browser
    ]
    for endpoint in hostile:
        response = subscribe(anna, endpoint)
        assert response.status_code == 422, (endpoint, response.text)
        assert [error["field"] for error in response.json()["errors"]] == ["endpoint"], endpoint
    # In the advisor's language.
    response = subscribe(anna, hostile[0], language="nl")
    message = "Notifications can only go through the push service of a major browser, or one "
    message += "the operator has added."
    assert response.json()["errors"][0]["message"] == in_advisor_language("nl", message)
    assert stored_endpoints(server) == []

    # A subscription at the listed push service, to know when the pushes have gone.
    canary = anna.post_json(SUBSCRIBE, push.subscribe("anna-phone"))
    assert canary.status_code == 201, canary.text
    send_sealed(server.url)
    assert push.wait_for(1)[0].name == "anna-phone"
    time.sleep(0.5)
    assert inside.connections == 0


def test_a_subscription_stored_before_the_rules_is_never_contacted(
    serve: Callable[..., LiveServer],
    push: FakePushService,
    listeners: Callable[..., Listener],
    advisor: Callable[..., LiveAdvisor],
) -> None:
    inside = listeners()
    server = serve(push.origin)
    anna = advisor(server, "anna@payoke.be")
    assert anna.post_json(SUBSCRIBE, push.subscribe("anna-phone")).status_code == 201
    # What the old rules let in: plain http to loopback, where the server listens.
    old = f"http://127.0.0.1:{inside.port}/stored-before"
    with sqlite3.connect(server.data_dir / "haven.sqlite3") as db:
        db.execute(
            "insert into push_subscriptions (advisor_id, endpoint, p256dh, auth, created_at)"
            " select advisor_id, ?, p256dh, auth, created_at from push_subscriptions",
            (old,),
        )
        (old_id,) = db.execute(
            "select id from push_subscriptions where endpoint = ?", (old,)
        ).fetchone()
    send_sealed(server.url)
    push.wait_for(1)
    time.sleep(0.5)
    assert inside.connections == 0
    wait_for(lambda: f"push subscription {old_id} " in server.log(), message="the log line")
    assert "stored-before" not in server.log()  # the id is logged, never the endpoint


def test_a_listed_push_service_cannot_redirect_the_post_inside(
    serve: Callable[..., LiveServer],
    listeners: Callable[..., Listener],
    advisor: Callable[..., LiveAdvisor],
) -> None:
    inside = listeners()
    statuses = (301, 302, 303, 307, 308)

    def bounce(path: str) -> tuple[int, dict[str, str]]:
        return int(path.rsplit("/", 1)[1]), {"Location": f"{inside.origin}/push/x"}

    bouncer = listeners(bounce)
    server = serve(bouncer.origin)  # the operator trusts the bouncer, not where it points
    anna = advisor(server, "anna@payoke.be")
    for status in statuses:
        assert subscribe(anna, f"{bouncer.origin}/push/{status}").status_code == 201
    send_sealed(server.url)
    wait_for(lambda: len(bouncer.requests) >= len(statuses), message="the pushes")
    time.sleep(0.5)
    assert inside.connections == 0
    # A redirect is a refusal: not followed, and not retried either.
    assert sorted(bouncer.requests) == [("POST", f"/push/{status}") for status in statuses]


def only_the_ten_newest_are_told(server: LiveServer, push: FakePushService) -> None:
    """One new request: exactly one POST to each of device-05 to device-14."""
    send_sealed(server.url)
    push.wait_for(10)
    time.sleep(0.5)  # any extra POST would have arrived by now
    assert sorted(message.name for message in push.received) == [
        f"device-{n:02}" for n in range(5, 15)
    ]


def test_fifteen_subscriptions_leave_the_ten_newest_and_one_request_makes_ten_posts(
    serve: Callable[..., LiveServer], push: FakePushService, advisor: Callable[..., LiveAdvisor]
) -> None:
    server = serve(push.origin)
    anna = advisor(server, "anna@payoke.be")
    for number in range(15):
        response = anna.post_json(SUBSCRIBE, push.subscribe(f"device-{number:02}"))
        assert response.status_code == 201, response.text
    assert stored_endpoints(server) == [push.endpoint(f"device-{n:02}") for n in range(5, 15)]
    only_the_ten_newest_are_told(server, push)


def test_subscriptions_stored_before_the_cap_still_make_ten_posts_at_most(
    serve: Callable[..., LiveServer], push: FakePushService, advisor: Callable[..., LiveAdvisor]
) -> None:
    server = serve(push.origin)
    anna = advisor(server, "anna@payoke.be")
    assert anna.post_json(SUBSCRIBE, push.subscribe("device-00")).status_code == 201
    with sqlite3.connect(server.data_dir / "haven.sqlite3") as db:
        for number in range(1, 15):
            subscription = push.subscribe(f"device-{number:02}")
            db.execute(
                "insert into push_subscriptions (advisor_id, endpoint, p256dh, auth, created_at)"
                " select advisor_id, ?, ?, ?, created_at from push_subscriptions where id = 1",
                (
                    subscription["endpoint"],
                    subscription["keys"]["p256dh"],
                    subscription["keys"]["auth"],
                ),
            )
    only_the_ten_newest_are_told(server, push)


def test_the_topic_tells_the_push_service_nothing_about_the_centre(
    serve: Callable[..., LiveServer], push: FakePushService, advisor: Callable[..., LiveAdvisor]
) -> None:
    server = serve(push.origin)
    centres = {"payoke": "PAYOKE", "pag-asa": "PAG-ASA", "surya": "SÜRYA"}
    for centre in centres:
        someone = advisor(server, f"someone@{centre}.be", centre)
        assert someone.post_json(SUBSCRIBE, push.subscribe(centre)).status_code == 201
    for centre in [*centres, "payoke"]:
        send_sealed(server.url, centre=centre)
    messages = push.wait_for(4)
    topics = {message.name: message.headers["topic"] for message in messages}
    told = {*centres, *centres.values(), "pagasa", "surya"}
    for topic in topics.values():
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", topic), topic  # RFC 8030
        for word in told:
            assert word.casefold() not in topic.casefold(), (word, topic)
            encoded = base64.urlsafe_b64encode(word.encode()).rstrip(b"=").decode()
            assert encoded[:-1] not in topic, (word, topic)
    assert len(set(topics.values())) == 3  # one per centre
    payoke = [message.headers["topic"] for message in messages if message.name == "payoke"]
    assert len(payoke) == 2 and payoke[0] == payoke[1]  # a newer one still replaces it


def test_deeply_nested_json_is_a_400_in_the_advisors_language(
    serve: Callable[..., LiveServer], advisor: Callable[..., LiveAdvisor]
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
                response = anna.post_json(url, None, language=code, content=body)
                assert response.status_code == 400, (url, body[:20], response.text)
                assert response.json() == {"error": "malformed_json", "message": message}
    assert "RecursionError" not in server.log()
    assert httpx.get(f"{server.url}/healthz").status_code == 200


# --- DNS: a public push service's name that resolves inside ------------------------


class FakeDNS(AbstractResolver):
    """Stands for the system resolver: answers from a table, never from the network."""

    def __init__(self, answers: dict[str, list[str]], port: int | None = None) -> None:
        self.answers = answers
        self.port = port
        self.asked: list[tuple[str, int]] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append((host, port))
        return [
            {
                "hostname": host,
                "host": address,
                "port": self.port or port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
            for address in self.answers[host]
        ]

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["169.254.169.254"],
        ["10.0.0.1"],
        ["142.250.74.138", "192.168.1.1"],  # one bad answer among good ones is enough
        ["::1"],
        ["::ffff:127.0.0.1"],
        ["fd00::1"],
        ["224.0.0.1"],
        [],
    ],
)
def test_a_push_services_name_that_resolves_inside_is_refused(addresses: list[str]) -> None:
    from server.push import GuardedResolver, RefusedAddress
    from server.push_services import PushServices

    dns = FakeDNS({"fcm.googleapis.com": addresses})
    resolver = GuardedResolver(PushServices(), dns)
    with pytest.raises(RefusedAddress):
        asyncio.run(resolver.resolve("fcm.googleapis.com", 443))


def test_public_answers_and_listed_origins_pass_the_resolver() -> None:
    from server.push import GuardedResolver, RefusedAddress
    from server.push_services import PushServices

    dns = FakeDNS({"fcm.googleapis.com": ["142.250.74.138"], "push.internal.example": ["10.0.0.5"]})
    resolver = GuardedResolver(PushServices(["https://push.internal.example:8443"]), dns)
    assert asyncio.run(resolver.resolve("fcm.googleapis.com", 443))[0]["host"] == "142.250.74.138"
    # The operator listed this one, private address and all; at its own port only.
    assert asyncio.run(resolver.resolve("push.internal.example", 8443))[0]["host"] == "10.0.0.5"
    with pytest.raises(RefusedAddress):
        asyncio.run(resolver.resolve("push.internal.example", 443))


def test_the_sender_looks_names_up_through_the_guard(
    desk: Desk, listeners: Callable[..., Listener]
) -> None:
    """A public push service's name answered with loopback: the sender does not connect."""
    inside = listeners()
    sender = desk.app.state.haven.push.sender
    # Before anything is subscribed, so that no run ever asks real DNS.
    dns = FakeDNS({"fcm.googleapis.com": ["127.0.0.1"]}, port=inside.port)
    sender.resolver.inner = dns
    endpoint = "https://fcm.googleapis.com/fcm/send/hostile"
    subscribed = desk.post_json(PAYOKE, SUBSCRIBE, Subscriber().subscription(endpoint))
    assert subscribed.status_code == 201, subscribed.text
    desk.send("payoke")
    queue = desk.app.state.haven.push.queue
    wait_for(lambda: queue.failed == 1, message="the refused push")
    assert dns.asked == [("fcm.googleapis.com", 443)]  # asked once, not retried
    assert inside.connections == 0
