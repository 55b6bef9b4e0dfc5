"""Prerendered addresses answered before the router: the same bytes, sooner."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from advisors import make_settings
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message

from server.app import create_app
from server.exact import ExactPathsMiddleware

Answer = list[tuple[str, int | None, list[tuple[bytes, bytes]], bytes | None]]


async def _call(
    asgi: ASGIApp, app: Starlette, method: str, path: str, headers: list[tuple[bytes, bytes]]
) -> Answer:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "app": app,
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await asgi(scope, receive, send)
    return [(m["type"], m.get("status"), list(m.get("headers", ())), m.get("body")) for m in sent]


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> tuple[Starlette, ExactPathsMiddleware]:
    app = create_app(make_settings(tmp_path_factory.mktemp("exact")))
    stack: Any = app.build_middleware_stack()
    app.middleware_stack = stack
    exact = stack.app
    assert isinstance(exact, ExactPathsMiddleware)
    return app, exact


def test_every_prerendered_answer_is_what_the_router_sends(
    apps: tuple[Starlette, ExactPathsMiddleware],
) -> None:
    app, exact = apps
    paths = sorted(exact.answers)
    assert "/en/p/1" in paths and "/sw.js" in paths and "/api/inbox-key" in paths
    assert any(path.startswith("/static/") for path in paths)
    assert not any(path.startswith("/advisor") for path in paths)

    async def compare() -> None:
        for path in paths:
            for accept in (None, b"gzip, deflate, br", b"gzip;q=0", b"identity", b"*"):
                base = [] if accept is None else [(b"accept-encoding", accept)]
                first = await _call(app, app, "GET", path, base)
                etag = dict(first[0][2])[b"etag"]
                for method in ("GET", "HEAD"):
                    for extra in ([], [(b"if-none-match", etag)], [(b"if-none-match", b'"other"')]):
                        headers = base + extra
                        fast = await _call(app, app, method, path, headers)
                        routed = await _call(exact.app, app, method, path, headers)
                        assert fast == routed, (method, path, headers)

    asyncio.run(compare())


def test_other_methods_and_addresses_go_to_the_router(
    apps: tuple[Starlette, ExactPathsMiddleware],
) -> None:
    app, _exact = apps

    async def answers() -> tuple[Answer, Answer]:
        post = await _call(app, app, "POST", "/en/p/1", [])
        missing = await _call(app, app, "GET", "/en/p/999", [])
        return post, missing

    post, missing = asyncio.run(answers())
    allowed = {value for name, value in post[0][2] if name == b"allow"}
    # Starlette writes the methods from a set: their order varies.
    assert post[0][1] == 405 and {tuple(sorted(value.split(b", "))) for value in allowed} == {
        (b"GET", b"HEAD")
    }
    assert missing[0][1] == 404
    assert (b"x-frame-options", b"DENY") in missing[0][2]


def test_prerendered_answers_are_logged(
    apps: tuple[Starlette, ExactPathsMiddleware], caplog: pytest.LogCaptureFixture
) -> None:
    app, _exact = apps
    with caplog.at_level(logging.INFO, logger="haven.access"):
        asyncio.run(_call(app, app, "GET", "/en/p/1", []))
    assert any(r.getMessage().startswith("GET /en/p/1 200 ") for r in caplog.records)
