"""What a hostile sender tries at the two front doors, against a real server.

The no-JavaScript form must not be an oracle (sending someone's words again
tells nothing about them) nor merge two people; both doors follow one policy
for limits and storage failures; an envelope sealed to a key the server does
not hold is refused, never acknowledged and lost.
"""

from __future__ import annotations

import base64
import contextlib
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import LiveServer, sqlite_only, start_server, stop_server
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from helpers import stored_rows
from pg import holding

from server.crypto import seal
from server.i18n import translations

FORM = {
    "centre": "payoke",
    "channel": "call",
    "contact": "0470 12 34 56",
    "situation": "the very same words, written twice",
    "consent": "yes",
}
REFERENCE = re.compile(r"HV-[0-9A-Z]{4}-[0-9A-Z]{4}")


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def reference_in(response: httpx.Response) -> str:
    found = REFERENCE.search(response.text)
    assert found, response.text[-800:]
    return found.group(0)


def in_language(code: str, msgid: str) -> str:
    return translations(code).gettext(msgid)


@pytest.fixture
def server(tmp_path: Path, neutral_site: str, database_env: dict[str, str]) -> Iterator[LiveServer]:
    """A real server on each database."""
    live = start_server(
        tmp_path / "data",
        tmp_path / "server.log",
        neutral_site,
        env={"HAVEN_REQUEST_RATE": "3/3600", **database_env},
    )
    yield live
    stop_server(live)


def api_body(server: LiveServer, public_raw: bytes | None = None, lang: str = "en") -> dict:  # type: ignore[type-arg]
    if public_raw is None:
        public_raw = _b64(httpx.get(f"{server.url}/api/inbox-key").json()["raw"])
    envelope = seal(public_raw, b'{"v":1,"fields":{}}', "payoke", lang)
    return {"centre": "payoke", "lang": lang, "envelope": envelope}


def test_two_people_with_the_same_words_are_two_requests(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as first, httpx.Client(base_url=server.url) as second:
        mine = first.post("/en/p/7", data=FORM)
        theirs = second.post("/en/p/7", data=FORM)
        assert mine.status_code == 201 and theirs.status_code == 201, theirs.text[-500:]
        # The second sender learns nothing of the first: not its reference.
        assert reference_in(mine) != reference_in(theirs)
        assert reference_in(mine) not in theirs.text
        # The first person reloads, then goes Back and sends again: still one request.
        reload = first.post("/en/p/7", data=FORM)
        again = first.post("/en/p/7", data=FORM)
        assert reload.status_code == 200 and again.status_code == 200
        assert reference_in(reload) == reference_in(again) == reference_in(mine)
    assert stored_rows(server.data_dir, dict(server.env)) == 2


@sqlite_only
def test_the_form_cookie_says_nothing_and_goes_away(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        response = client.post("/en/p/7", data=FORM)
    cookie = response.headers["set-cookie"]
    name, _, rest = cookie.partition("=")
    value = rest.split(";")[0]
    assert name == "form" and re.fullmatch(r"[A-Za-z0-9_-]{22}", value)
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower() and "max-age=3600" in cookie.lower()
    # The prerendered page everyone gets sets no cookie and stays cacheable.
    page = httpx.get(f"{server.url}/en/p/7")
    assert "set-cookie" not in page.headers and "etag" in page.headers


def test_limits_are_one_policy_for_both_doors(server: LiveServer) -> None:
    """Three new requests an hour (HAVEN_REQUEST_RATE=3/3600) from one client,
    whichever door they come in by; replays never count and are always answered."""
    with httpx.Client(base_url=server.url) as client:
        sent = client.post("/fr/p/7", data=FORM)
        assert sent.status_code == 201
        for _ in range(3):  # reloads of the form are replays: not counted
            assert client.post("/fr/p/7", data=FORM).status_code == 200
        body = api_body(server)
        key = secrets.token_urlsafe(24)
        assert (
            client.post("/api/requests", json=body, headers={"Idempotency-Key": key}).status_code
            == 201
        )
        other = {**FORM, "situation": "something else"}
        assert client.post("/fr/p/7", data=other).status_code == 201
        # The fourth new one is refused at the form: the form comes back, whole.
        refused = client.post("/fr/p/7", data={**FORM, "situation": "a third text"})
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert "a third text" in refused.text
        assert (
            in_language(
                "fr",
                "Many messages came from this connection. Please try again later, "
                "or call a centre.",
            ).replace("'", "&#39;")
            in refused.text
        )
        # ... and at the API, with the same budget.
        api_refused = client.post(
            "/api/requests",
            json=api_body(server),
            headers={"Idempotency-Key": secrets.token_urlsafe(24)},
        )
        assert api_refused.status_code == 429 and api_refused.json()["error"] == "rate_limited"
        # Replays are still answered through both doors.
        assert client.post("/fr/p/7", data=FORM).status_code == 200
        assert (
            client.post("/api/requests", json=body, headers={"Idempotency-Key": key}).status_code
            == 200
        )
    assert stored_rows(server.data_dir, dict(server.env)) == 3


@contextlib.contextmanager
def held_for_writing(server: LiveServer) -> Iterator[None]:
    """SQLite's write lock, or PostgreSQL's lock on the table, held by another process."""
    url = server.env.get("HAVEN_DATABASE_URL")
    if url:
        with holding(url, "LOCK TABLE help_requests IN EXCLUSIVE MODE"):
            yield
        return
    database = sqlite3.connect(server.data_dir / "haven.sqlite3", isolation_level=None)
    database.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        database.execute("ROLLBACK")
        database.close()


def test_a_storage_failure_is_503_at_both_doors_and_loses_nothing(server: LiveServer) -> None:
    # Another process holds the table past the server's lock timeout.
    with held_for_writing(server), httpx.Client(base_url=server.url, timeout=30) as client:
        form = client.post("/de/p/7", data={**FORM, "situation": "keep every word of this"})
        api = client.post(
            "/api/requests",
            json=api_body(server, lang="de"),
            headers={"Idempotency-Key": secrets.token_urlsafe(24)},
        )
    assert form.status_code == 503, form.text[-500:]
    assert int(form.headers["retry-after"]) > 0
    assert "keep every word of this" in form.text  # nothing the person wrote is lost
    assert (
        in_language(
            "de",
            "Your message could not be sent just now. Nothing is lost: please press Send "
            "again in a few minutes, or call a centre.",
        )
        in form.text
    )
    assert api.status_code == 503 and api.json()["error"] == "unavailable"
    assert int(api.headers["retry-after"]) > 0
    # Failures did not count against the limit: three new requests still go through.
    time.sleep(0.1)
    with httpx.Client(base_url=server.url) as client:
        for index in range(3):
            assert (
                client.post("/de/p/7", data={**FORM, "situation": f"try {index}"}).status_code
                == 201
            )
    assert "Traceback" not in server.log()


def test_an_envelope_for_a_key_the_server_does_not_hold_is_refused(server: LiveServer) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
    raw = stranger.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    response = httpx.post(
        f"{server.url}/api/requests",
        json=api_body(server, raw, lang="nl"),
        headers={"Idempotency-Key": secrets.token_urlsafe(24)},
    )
    assert response.status_code == 422
    answer = response.json()
    assert answer["error"] == "unknown_key"
    assert [error["field"] for error in answer["errors"]] == ["envelope.kid"]
    assert answer["message"] == in_language(
        "nl",
        "This message was sealed for a key this server does not have, so it cannot be "
        "delivered. Please write it again, or call a centre.",
    )
    assert stored_rows(server.data_dir, dict(server.env)) == 0


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/api/requests", 405, "POST"),
        ("DELETE", "/api/inbox-key", 405, "GET, HEAD"),
        ("GET", "/api/nothing-here", 404, None),
        ("PUT", "/advisor/api/requests", 405, "GET, HEAD"),
    ],
)
def test_api_errors_are_json_and_keep_their_headers(
    live_server: LiveServer, method: str, path: str, status: int, allow: str | None
) -> None:
    response = httpx.request(method, f"{live_server.url}{path}", headers={"Accept-Language": "fr"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    allowed = response.headers.get("allow")
    assert (allowed and set(allowed.split(", "))) == (allow and set(allow.split(", ")))
    assert response.json()["error"] == ("not_found" if status == 404 else "method_not_allowed")
    assert response.json()["message"] == in_language(
        "fr",
        "This address does not exist in this app."
        if status == 404
        else "This page cannot be used in this way.",
    )
