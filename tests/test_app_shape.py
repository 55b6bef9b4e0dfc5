"""The app's shape: one typed application object, and the API and advisors' side as mounts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import make_settings
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from server.app import create_app
from server.crypto import seal
from server.haven import Haven


def test_the_app_keeps_one_typed_object_and_nothing_else(app_session) -> None:  # type: ignore[no-untyped-def]
    assert set(app_session.state._state) == {"haven"}
    assert isinstance(app_session.state.haven, Haven)


def test_api_and_advisor_routes_live_only_under_their_mounts(app_session) -> None:  # type: ignore[no-untyped-def]
    mounts = {route.path: route for route in app_session.routes if isinstance(route, Mount)}
    assert set(mounts) == {"/api", "/advisor"}
    for route in app_session.routes:
        if isinstance(route, Route):
            assert not route.path.startswith(("/api/", "/advisor/")), route.path
    inner = {route.path for route in mounts["/api"].routes}
    assert inner == {"/requests", "/inbox-key", "/openapi.json"}
    advisor_api = [r for r in mounts["/advisor"].routes if isinstance(r, Mount)]
    assert [mount.path for mount in advisor_api] == ["/api"]


def test_an_unknown_advisor_address_is_a_page_with_the_advisors_headers(client: TestClient) -> None:
    response = client.get("/advisor/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "same-origin"


def test_an_unknown_advisor_api_address_is_json_with_the_advisors_headers(
    client: TestClient,
) -> None:
    response = client.get("/advisor/api/nothing-here", headers={"Accept-Language": "nl"})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "same-origin"


def test_the_advisor_root_redirects_and_is_never_stored(client: TestClient) -> None:
    response = client.get("/advisor", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "/advisor/"
    assert response.headers["cache-control"] == "no-store"


def test_an_unexpected_failure_in_the_api_is_json_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(make_settings(tmp_path))
    haven = app.state.haven

    async def broken(**_: object) -> object:
        raise RuntimeError("the disk caught fire")

    haven.intake.submit = broken
    envelope = seal(haven.keys.inbox.public_raw, b'{"situation": "help"}', "payoke", "nl")
    with (
        TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client,
        caplog.at_level(logging.ERROR, logger="haven.errors"),
    ):
        response = client.post(
            "/api/requests",
            json={"centre": "payoke", "lang": "nl", "envelope": envelope},
            headers={"Idempotency-Key": "k" * 32, "Accept-Language": "nl"},
        )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == "error"
    assert "the disk caught fire" not in response.text
    assert any(record.exc_info for record in caplog.records), "the failure was not logged"


def test_an_unexpected_failure_on_a_page_is_a_page(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))

    def broken(*_: object, **__: object) -> str:
        raise RuntimeError("the template caught fire")

    app.state.haven.site.render_check = broken
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        response = client.post("/nl/q", content=b"", headers={"Content-Type": "text/plain"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "the template caught fire" not in response.text
