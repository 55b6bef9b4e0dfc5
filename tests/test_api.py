"""POST /api/requests, /api/inbox-key and /api/openapi.json, as docs/envelope.md says."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import make_settings
from helpers import dump_text, files_containing, raw_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.app import create_app
from server.crypto import EnvelopeError, seal
from server.i18n import LANGUAGES, translations
from server.storage import StoredRequest
from server.workdays import format_day


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Starlette:
    settings = make_settings(tmp_path_factory.mktemp("api"), HAVEN_REQUEST_RATE="100000/60")
    return create_app(settings)


@pytest.fixture(scope="module")
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client


# The tests of what is stored run on SQLite and on PostgreSQL; those of what
# is refused before anything is stored, on SQLite alone.
@pytest.fixture(scope="module")
def stored_app(
    tmp_path_factory: pytest.TempPathFactory, module_database_env: dict[str, str]
) -> Starlette:
    settings = make_settings(
        tmp_path_factory.mktemp("api"), HAVEN_REQUEST_RATE="100000/60", **module_database_env
    )
    return create_app(settings)


@pytest.fixture(scope="module")
def stored_client(stored_app: Starlette) -> Iterator[TestClient]:
    with TestClient(stored_app, base_url="http://127.0.0.1") as test_client:
        yield test_client


def database_url(app: Starlette) -> str:
    return str(app.state.haven.settings.database_url)


def new_key() -> str:
    return secrets.token_urlsafe(24)


def body_for(
    app: Starlette,
    plaintext: bytes = b'{"situation": "help"}',
    centre: str = "payoke",
    lang: str = "nl",
) -> dict[str, Any]:
    envelope = seal(app.state.haven.keys.inbox.public_raw, plaintext, centre, lang)
    return {"centre": centre, "lang": lang, "envelope": envelope}


def post(
    client: TestClient,
    body: object,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    sent: dict[str, str | bytes] = {"Content-Type": "application/json", **(headers or {})}
    if key is not None:
        sent["Idempotency-Key"] = key.encode("utf-8")  # bytes: a bad key may not be ASCII
    return client.post("/api/requests", content=json.dumps(body).encode(), headers=sent)


def in_language(code: str, msgid: str) -> str:
    return translations(code).gettext(msgid)


def count_rows(app: Starlette) -> int:
    ((count,),) = raw_rows(database_url(app), "select count(*) from help_requests")
    return int(count)


def test_first_delivery_then_replay(stored_app: Starlette, stored_client: TestClient) -> None:
    app, client = stored_app, stored_client
    before = count_rows(app)
    body, key = body_for(app), new_key()
    first = post(client, body, key)
    assert first.status_code == 201
    assert first.headers["cache-control"] == "no-store"
    answer = first.json()
    assert set(answer) == {"reference", "contact_by", "contact_by_text", "received_at"}
    assert answer["reference"].startswith("HV-")
    contact_by = dt.date.fromisoformat(answer["contact_by"])
    assert answer["contact_by_text"] == format_day(contact_by, LANGUAGES["nl"].babel)
    assert answer["received_at"].endswith("Z")

    again = post(client, body, key)
    assert again.status_code == 200
    assert again.content == first.content
    assert count_rows(app) == before + 1


def test_stored_envelope_is_what_was_sent(stored_app: Starlette, stored_client: TestClient) -> None:
    app, client = stored_app, stored_client
    body, key = body_for(app, b"stored as sent"), new_key()
    reference = post(client, body, key).json()["reference"]
    assert set(reference) <= set("HV-23456789ABCDEFGHJKMNPQRSTVWXYZ")  # safe to quote below
    ((envelope,),) = raw_rows(
        database_url(app), f"select envelope from help_requests where reference = '{reference}'"
    )
    assert json.loads(envelope) == body["envelope"]
    inbox_key = app.state.haven.keys.inbox
    assert inbox_key.open(json.loads(envelope), "payoke", "nl") == b"stored as sent"


def test_not_json_is_400_in_the_browser_language(client: TestClient) -> None:
    response = client.post(
        "/api/requests",
        content=b'{"centre": ',
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": new_key(),
            "Accept-Language": "fr-BE,fr;q=0.9",
        },
    )
    assert response.status_code == 400
    assert response.headers["cache-control"] == "no-store"
    answer = response.json()
    assert answer["error"] == "malformed_json"
    assert answer["message"] == in_language("fr", "The request could not be read as JSON.")
    assert answer["message"] != "The request could not be read as JSON."


@pytest.mark.parametrize("content", [b"\xff\xfe{", b"[" * 5000 + b"]" * 5000, b"NaN", b""])
def test_other_unreadable_bodies_are_400(client: TestClient, content: bytes) -> None:
    response = client.post(
        "/api/requests",
        content=content,
        headers={"Content-Type": "application/json", "Idempotency-Key": new_key()},
    )
    assert response.status_code in (400, 422)
    assert response.json()["error"] in ("malformed_json", "invalid")


def test_over_64_kb_is_413(app: Starlette, client: TestClient) -> None:
    body = {**body_for(app), "padding": "x" * (64 * 1024)}
    response = post(client, body, new_key(), headers={"Accept-Language": "de"})
    assert response.status_code == 413
    assert response.json() == {
        "error": "too_large",
        "message": in_language("de", "The request is too large."),
    }


def test_over_64_kb_without_a_length_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 1024

    response = client.post(
        "/api/requests",
        content=chunks(),
        headers={"Content-Type": "application/json", "Idempotency-Key": new_key()},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonx", ""]
)
def test_not_application_json_is_415(app: Starlette, client: TestClient, content_type: str) -> None:
    response = client.post(
        "/api/requests",
        content=json.dumps(body_for(app)).encode(),
        headers={
            "Content-Type": content_type,
            "Idempotency-Key": new_key(),
            "Accept-Language": "nl",
        },
    )
    assert response.status_code == 415
    answer = response.json()
    assert answer["error"] == "unsupported_media_type"
    assert answer["message"] == in_language("nl", "Please send the request as application/json.")


def test_json_with_a_charset_is_accepted(app: Starlette, client: TestClient) -> None:
    response = post(
        client,
        body_for(app),
        new_key(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


def fields(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] == "invalid"
    return {error["field"]: error["message"] for error in answer["errors"]}


@pytest.mark.parametrize(
    "key",
    [None, "", "short", "x" * 129, "has spaces in it 123", "ключ-ключ-ключ-ключ", "a+b/c=d" * 4],
)
def test_missing_or_bad_idempotency_key_is_422(
    app: Starlette, client: TestClient, key: str | None
) -> None:
    errors = fields(post(client, body_for(app), key))
    assert set(errors) == {"Idempotency-Key"}


def test_422_names_each_field_in_the_request_language(app: Starlette, client: TestClient) -> None:
    body = {
        "centre": "elsewhere",
        "lang": "nl",
        "envelope": {**body_for(app)["envelope"], "iv": "AAAA", "note": "x"},
    }
    response = post(client, body, new_key(), headers={"Accept-Language": "fr"})
    errors = fields(response)
    assert set(errors) == {"centre", "envelope.iv", "envelope.note"}
    # The body's language wins over the browser's.
    assert errors["centre"] == in_language("nl", "Please choose one of the options.")
    assert errors["centre"] == "Kies een van de mogelijkheden."
    assert errors["envelope.iv"] == in_language("nl", "This has the wrong length.")
    message = response.json()["message"]
    assert message == in_language("nl", "Some parts of the request are missing or not valid.")
    assert message != "Some parts of the request are missing or not valid."


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([], {"body"}),
        ({}, {"centre", "lang", "envelope"}),
        ({"centre": "surya", "lang": "xx", "envelope": {}}, {"lang", "envelope.v"}),
        ({"centre": "surya", "lang": "fr", "envelope": "sealed"}, {"envelope"}),
    ],
)
def test_wrong_shapes_are_422(client: TestClient, body: object, expected: set[str]) -> None:
    assert set(fields(post(client, body, new_key()))) == expected


def test_unknown_envelope_version_is_422(app: Starlette, client: TestClient) -> None:
    body = body_for(app)
    body["envelope"]["v"] = 2
    assert fields(post(client, body, new_key())) == {
        "envelope.v": in_language("nl", "This envelope version is not supported.")
    }


def test_routing_swapped_after_sealing_is_stored_but_cannot_be_opened(
    app: Starlette, client: TestClient
) -> None:
    # The server cannot open envelopes on arrival (it does not need to); the
    # AAD makes a swapped centre fail when an advisor opens it.
    body = body_for(app, centre="payoke")
    body["centre"] = "surya"
    assert post(client, body, new_key()).status_code == 201
    with pytest.raises(EnvelopeError):
        app.state.haven.keys.inbox.open(body["envelope"], "surya", "nl")


def test_nothing_written_is_on_disk_in_clear(
    stored_app: Starlette, stored_client: TestClient
) -> None:
    app, client = stored_app, stored_client
    marker = f"marker-{secrets.token_hex(8)}"
    key = new_key()
    plaintext = json.dumps({"situation": f"Please help. {marker}"}).encode()
    assert post(client, body_for(app, plaintext), key).status_code == 201
    data_dir: Path = app.state.haven.settings.data_dir
    if database_url(app).startswith("sqlite"):
        names = {path.name for path in data_dir.iterdir()}
        assert "haven.sqlite3-wal" in names  # the newest rows are in the WAL: scanned too
    assert files_containing(data_dir, marker.encode()) == []
    assert files_containing(data_dir, key.encode()) == []
    dump = dump_text(database_url(app))
    assert "help_requests" in dump
    assert marker not in dump and key not in dump


def test_bodies_are_never_logged(
    app: Starlette, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    marker = f"marker-{secrets.token_hex(8)}"
    body = body_for(app)
    body["envelope"]["note"] = marker
    with caplog.at_level(logging.DEBUG):
        post(client, body, new_key())
        post(client, {"centre": marker}, new_key())
    assert marker not in caplog.text


def test_inbox_key_document(app: Starlette, client: TestClient) -> None:
    response = client.get("/api/inbox-key")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == app.state.haven.keys.inbox.public_document()
    assert response.json()["kid"] == app.state.haven.keys.inbox.kid
    etag = response.headers["etag"]
    assert client.get("/api/inbox-key", headers={"If-None-Match": etag}).status_code == 304
    shared = dict(map(tuple, app.state.haven.files.precache["shared"]))
    assert shared["/api/inbox-key"] == app.state.haven.files.inbox_key.hash


def test_openapi_describes_the_api(client: TestClient) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    post_op = document["paths"]["/api/requests"]["post"]
    assert set(post_op["responses"]) >= {"200", "201", "400", "413", "415", "422", "429"}
    parameter = post_op["parameters"][0]
    if "$ref" in parameter:
        parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
    assert parameter["name"] == "Idempotency-Key" and parameter["in"] == "header"
    assert parameter["required"] is True
    assert "Retry-After" in post_op["responses"]["429"]["headers"]
    assert "/api/inbox-key" in document["paths"]
    schemas = document["components"]["schemas"]
    assert set(schemas["Envelope"]["required"]) == {"v", "kid", "epk", "iv", "ct"}


def test_rate_limit_then_recovery(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, HAVEN_REQUEST_RATE="2/0.5"))
    intake = app.state.haven.intake
    assert (intake.limiter.limit, intake.limiter.window_seconds) == (2, 0.5)
    # The same limit on a clock the test moves, so that a slow machine cannot
    # let the window pass before the third request.
    now = [0.0]
    intake.limiter.clock = lambda: now[0]
    with TestClient(app, base_url="http://127.0.0.1") as client:
        first = new_key()
        assert post(client, body_for(app), first).status_code == 201
        # Replays do not count ...
        for _ in range(5):
            assert post(client, body_for(app), first).status_code == 200
        assert post(client, body_for(app), new_key()).status_code == 201
        refused = post(client, body_for(app, lang="fr"), new_key())
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"] == "rate_limited"
        assert refused.json()["message"] == in_language(
            "fr", "Too many requests were sent from this connection. Please try again later."
        )
        # ... and are answered even while the client is limited.
        assert post(client, body_for(app), first).status_code == 200
        now[0] += 0.6
        assert post(client, body_for(app), new_key()).status_code == 201


def test_the_rate_limit_counts_an_ipv6_client_by_its_64(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, HAVEN_REQUEST_RATE="2/60"))

    def send_from(address: str) -> int:
        with TestClient(app, base_url="http://127.0.0.1", client=(address, 5555)) as client:
            return int(post(client, body_for(app), new_key()).status_code)

    # Three addresses of one /64 are one client: the third request is refused.
    assert send_from("2001:db8:7:1::1") == 201
    assert send_from("2001:db8:7:1::2") == 201
    assert send_from("2001:db8:7:1:ffff::3") == 429
    # Another /64 has a budget of its own.
    assert send_from("2001:db8:7:2::1") == 201


def test_a_new_request_is_announced_once_and_after_the_answer(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    app = create_app(make_settings(tmp_path, **database_env))
    heard: list[StoredRequest] = []

    async def on_new_request(stored: StoredRequest) -> None:
        heard.append(stored)
        raise RuntimeError("a broken hook must not break the acknowledgement")

    app.state.haven.intake.notify = on_new_request
    with TestClient(app, base_url="http://127.0.0.1") as client:
        key = new_key()
        first = post(client, body_for(app), key)
        assert first.status_code == 201
        assert post(client, body_for(app), key).status_code == 200
        deadline = time.monotonic() + 5
        while not heard and time.monotonic() < deadline:
            time.sleep(0.01)
    assert [stored.reference for stored in heard] == [first.json()["reference"]]
    assert heard[0].created


class FullDisk:
    """A database whose every write fails, as on a full disk."""

    @property
    def writer(self) -> object:
        raise OSError("disk full")


def test_storage_failure_is_503_and_retryable(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        app.state.haven.intake.db = FullDisk()
        response = post(client, body_for(app), new_key())
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert int(response.headers["retry-after"]) > 0


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
BODIES = JSON | st.fixed_dictionaries(
    {},
    optional={
        "centre": JSON | st.sampled_from(["pag-asa", "payoke", "surya", "unknown"]),
        "lang": JSON | st.sampled_from(["en", "nl", "fr", "de"]),
        "envelope": JSON | st.fixed_dictionaries({"v": JSON | st.just(1)}, optional={"ct": JSON}),
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=BODIES)
def test_any_json_gets_a_json_answer(client: TestClient, body: object) -> None:
    response = client.post(
        "/api/requests",
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": new_key()},
    )
    assert response.status_code in (400, 422)
    assert response.json()["error"] in ("malformed_json", "invalid")


def test_answers_are_not_held_back_by_delayed_acks(live_server) -> None:  # type: ignore[no-untyped-def]
    # Headers and body go out as two writes: with Nagle's algorithm on, the
    # second waited ~40 ms for the client's delayed ACK on every keep-alive request.
    with httpx.Client(base_url=live_server.url) as http:
        http.get("/healthz")
        timings = []
        for _ in range(9):
            started = time.perf_counter()
            assert http.get("/api/inbox-key").status_code == 200
            timings.append(time.perf_counter() - started)
    assert sorted(timings)[4] < 0.030


@pytest.mark.parametrize(("lang", "month"), [("zh-Hans", "月"), ("pt-BR", "de"), ("ar", "")])
def test_new_languages_are_accepted_and_answered_in_their_words(
    app: Starlette, client: TestClient, lang: str, month: str
) -> None:
    response = post(client, body_for(app, lang=lang), new_key())
    assert response.status_code == 201
    answer = response.json()
    contact_by = dt.date.fromisoformat(answer["contact_by"])
    assert answer["contact_by_text"] == format_day(contact_by, LANGUAGES[lang].babel)
    assert month in answer["contact_by_text"]
    assert str(contact_by.year) in answer["contact_by_text"]  # Western digits


def test_errors_come_in_the_accept_language_regional_variant(client: TestClient) -> None:
    response = client.post(
        "/api/requests",
        content=b"{",
        headers={"Content-Type": "application/json", "Accept-Language": "pt-PT,pt;q=0.9"},
    )
    assert response.status_code == 400
    assert response.json()["message"] == in_language(
        "pt-BR", "The request could not be read as JSON."
    )
