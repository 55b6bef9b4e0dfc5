"""A hostile sender must not blind a centre: whatever an envelope holds, the
inbox, the request page and the JSON keep working, and the request can still
be transferred and closed."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from advisors import (
    COORDINATOR,
    PAYOKE,
    Desk,
    LiveAdvisor,
    add_by_command,
    make_desk,
    send_sealed,
)
from conftest import LiveServer, start_server, stop_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.crypto import seal

DEEP = 5000


def deeply_nested(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


def hostile_documents() -> list[bytes]:
    """Plaintexts a phone never sends, each valid enough to be sealed."""
    deep = deeply_nested()
    return [
        # A field value nested 5,000 arrays deep: json.loads recurses past its limit.
        ('{"v":1,"fields":{"centre":"payoke","situation":' + deep + "}}").encode(),
        deep.encode(),
        b'{"v":1,"fields":{"name":"\\ud800","\\udfff":"x"},"writtenAt":"\\ud800"}',
        b'{"v":1,"fields":{"channel":{"a":[1,2]}},"writtenAt":"9999-12-31T23:59:59+00:00"}',
        b'{"v":1,"fields":[1,2,3],"writtenAt":"0001-01-01T00:00:00+14:00"}',
        b'{"v":1,"fields":{"situation":NaN,"times":1e999}}',
        b"\xff\xfe not text at all",
        b"",
    ]


@pytest.fixture
def hostile_server(tmp_path: Path, neutral_site: str) -> Iterator[LiveServer]:
    data = tmp_path / "data"
    server = start_server(data, tmp_path / "server.log", neutral_site)
    try:
        for email, centre, *extra in (
            (PAYOKE, "payoke"),
            (COORDINATOR, "pag-asa", "--coordinator"),
        ):
            added = add_by_command(data, email, centre, *extra)
            assert added.returncode == 0, added.stderr
        yield server
    finally:
        stop_server(server)


def test_hostile_envelopes_do_not_blind_the_centre(hostile_server: LiveServer) -> None:
    references = [send_sealed(hostile_server.url, plaintext) for plaintext in hostile_documents()]
    advisor = LiveAdvisor.sign_in(hostile_server.url, PAYOKE)
    coordinator = LiveAdvisor.sign_in(hostile_server.url, COORDINATOR)
    try:
        inbox = advisor.client.get("/advisor/")
        assert inbox.status_code == 200, inbox.text
        for reference in references:
            # Listed with its reference, due date and status.
            assert re.search(rf'<tr[^>]*data-reference="{reference}"', inbox.text), reference
        listing = advisor.client.get("/advisor/api/requests")
        assert listing.status_code == 200, listing.text
        listed = {item["reference"]: item for item in listing.json()["requests"]}
        assert set(references) <= set(listed)
        all_view = coordinator.client.get("/advisor/?status=all")
        assert all_view.status_code == 200, all_view.text
        assert all(reference in all_view.text for reference in references)
        for reference in references:
            page = advisor.client.get(f"/advisor/requests/{reference}")
            assert page.status_code == 200, (reference, page.text[-500:])
            one = advisor.client.get(f"/advisor/api/requests/{reference}")
            assert one.status_code == 200, (reference, one.text[-500:])
            json.loads(one.content)  # whole, valid JSON
        # The first one really is unreadable, and says so.
        first = advisor.client.get(f"/advisor/api/requests/{references[0]}").json()
        assert first["readable"] is False and first["fields"] == {}
        page = advisor.client.get(f"/advisor/requests/{references[0]}")
        assert "could not be opened" in page.text
        row = re.search(rf'<tr[^>]*data-reference="{references[0]}".*?</tr>', inbox.text, re.S)
        assert row and "data-unreadable" in row.group(0)
        # It can still be handled: transferred by one, closed by the other.
        moved = advisor.act(references[0], "transfer", to_centre="surya", note="not ours")
        assert moved.status_code == 303, moved.text
        for reference in references[1:]:
            closed = advisor.act(reference, "close", outcome="no_answer")
            assert closed.status_code == 303, (reference, closed.text[-500:])
        closed = coordinator.act(references[0], "close", outcome="no_answer")
        assert closed.status_code == 303, closed.text
        final = coordinator.client.get("/advisor/api/requests?status=closed").json()
        assert {item["reference"] for item in final["requests"]} >= set(references)
    finally:
        advisor.close()
        coordinator.close()
    assert "Traceback" not in hostile_server.log()


# --- any content at all, in process --------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(exclude_categories=())),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(exclude_categories=())), children, max_size=4)
    ),
    max_leaves=20,
)
help_like = st.fixed_dictionaries(
    {"v": json_values, "fields": json_values | st.dictionaries(st.text(), json_values)},
    optional={"writtenAt": json_values | st.datetimes().map(lambda moment: moment.isoformat())},
)


def _dump(document: object) -> bytes:
    try:
        return json.dumps(document).encode()[:32000]
    except (ValueError, RecursionError):
        return b"{}"


@pytest.fixture
def hostile_desk(tmp_path: Path) -> Iterator[Desk]:
    for desk in make_desk(tmp_path):
        desk.add(PAYOKE, "payoke")
        desk.add(COORDINATOR, "pag-asa", coordinator=True)
        assert desk.sign_in(PAYOKE).status_code == 303
        assert desk.sign_in(COORDINATOR).status_code == 303
        desk.app.state.haven.intake.limiter.limit = 1_000_000
        yield desk


def _check_every_view(desk: Desk, plaintext: bytes) -> None:
    envelope = seal(desk.app.state.haven.keys.inbox.public_raw, plaintext, "payoke", "en")
    desk.use(None)
    sent = desk.client.post(
        "/api/requests",
        json={"centre": "payoke", "lang": "en", "envelope": envelope},
        headers={"Idempotency-Key": secrets.token_urlsafe(24)},
    )
    assert sent.status_code == 201, sent.text
    reference = sent.json()["reference"]
    for who, url in (
        (PAYOKE, "/advisor/"),
        (COORDINATOR, "/advisor/?status=all"),
        (PAYOKE, f"/advisor/requests/{reference}"),
        (PAYOKE, "/advisor/api/requests"),
        (PAYOKE, f"/advisor/api/requests/{reference}"),
    ):
        response = desk.get(who, url)
        assert response.status_code == 200, (url, response.text[-300:])
        if url == "/advisor/":
            assert reference in response.text
    # Closed, so that the open inbox holds only the next example's request.
    closed = desk.post(PAYOKE, f"/advisor/requests/{reference}/close", {"outcome": "no_answer"})
    assert closed.status_code == 303, closed.text[-300:]


def test_any_sealed_json_renders_everywhere(hostile_desk: Desk) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(document=help_like | json_values)
    def check(document: object) -> None:
        _check_every_view(hostile_desk, _dump(document))

    check()


def test_any_sealed_bytes_render_everywhere(hostile_desk: Desk) -> None:
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(plaintext=st.binary(max_size=2000))
    def check(plaintext: bytes) -> None:
        _check_every_view(hostile_desk, plaintext)

    check()
