"""Advisor sign-in: cookies, session lifetime, fixation, logout, CSRF, throttling."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from advisors import (
    ORIGIN,
    PASSWORD,
    PAYOKE,
    Desk,
    add_by_command,
    login_error,
    make_desk,
)
from conftest import sqlite_only

# --- CSRF: every state change needs the session's token and this site's Origin ---

STATE_CHANGES = [
    ("form", "/advisor/requests/{ref}/contact", {"note": "called"}),
    ("form", "/advisor/requests/{ref}/transfer", {"to_centre": "surya", "note": "moved"}),
    ("form", "/advisor/requests/{ref}/close", {"outcome": "supported"}),
    ("form", "/advisor/requests/{ref}/note", {"note": "a note"}),
    ("form", "/advisor/logout", {}),
    ("json", "/advisor/api/push-subscription", {}),
    ("json", "/advisor/api/push-subscription/remove", {"endpoint": "https://push.example/1"}),
]


def _attempt(desk: Desk, kind: str, url: str, data: dict[str, str], **options: object) -> int:
    if kind == "json":
        return desk.post_json(PAYOKE, url, data, **options).status_code  # type: ignore[arg-type]
    return desk.post(PAYOKE, url, data, **options).status_code  # type: ignore[arg-type]


@sqlite_only
@pytest.mark.parametrize(("kind", "path", "data"), STATE_CHANGES)
def test_a_post_without_a_token_or_from_elsewhere_is_403(
    desk: Desk, kind: str, path: str, data: dict[str, str]
) -> None:
    ref = desk.send("payoke")
    url = path.format(ref=ref)
    assert _attempt(desk, kind, url, data, token=None) == 403
    assert _attempt(desk, kind, url, data, token="forged.token") == 403
    assert _attempt(desk, kind, url, data, origin="https://evil.example") == 403
    assert _attempt(desk, kind, url, data, origin=None) == 403
    # Another advisor's token is not this session's token.
    assert _attempt(desk, kind, url, data, token=desk.tokens["bram@pag-asa.be"]) == 403
    # Nothing happened: still signed in, the request untouched.
    state = desk.get(PAYOKE, f"/advisor/api/requests/{ref}")
    assert state.status_code == 200
    assert state.json()["status"] == "new" and state.json()["events"] == []


def test_the_login_form_itself_needs_its_token_and_origin(tmp_path: Path) -> None:
    for desk in make_desk(tmp_path):
        desk.add("eva@payoke.be", "payoke")
        token = desk.login_token()
        form = {"email": "eva@payoke.be", "password": PASSWORD}
        bad = [
            (form, {"Origin": ORIGIN}),  # no token
            ({**form, "csrf": token}, {"Origin": "https://evil.example"}),
            ({**form, "csrf": token}, {}),
            ({**form, "csrf": "x" + token}, {"Origin": ORIGIN}),
        ]
        for data, headers in bad:
            response = desk.client.post(
                "/advisor/login", data=data, headers=headers, follow_redirects=False
            )
            assert response.status_code == 403
        # A browser without the login cookie cannot use a token copied from elsewhere.
        desk.use(None)
        response = desk.client.post(
            "/advisor/login", data={**form, "csrf": token}, headers={"Origin": ORIGIN}
        )
        assert response.status_code == 403


# --- cookies ------------------------------------------------------------------------


def _set_cookie(response_headers: list[tuple[str, str]], name: str) -> str:
    for key, value in response_headers:
        if key.lower() == "set-cookie" and value.startswith(name + "="):
            return value
    raise AssertionError(f"no {name} cookie in {response_headers}")


@sqlite_only
def test_over_https_the_cookie_is_host_prefixed_secure_httponly_strict(desk: Desk) -> None:
    desk.use(None)
    response = desk.submit_login(PAYOKE)
    assert response.status_code == 303
    cookie = _set_cookie(response.headers.multi_items(), "__Host-haven-advisor")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= attributes
    assert not any(part.startswith("domain") for part in attributes)
    # The id is long and random: at least 128 bits before its signature.
    value = cookie.split(";")[0].split("=", 1)[1]
    assert len(value.split(".")[0]) >= 22


def test_plain_http_cookies_only_on_loopback(tmp_path: Path) -> None:
    for desk in make_desk(tmp_path / "a", "http://127.0.0.1:8000", client=("127.0.0.1", 5555)):
        desk.add("eva@payoke.be", "payoke")
        response = desk.submit_login("eva@payoke.be", origin="http://127.0.0.1:8000")
        assert response.status_code == 303
        cookie = _set_cookie(response.headers.multi_items(), "haven-advisor")
        assert "secure" not in cookie.lower()
        assert "httponly" in cookie.lower()
    for desk in make_desk(tmp_path / "b", "http://haven.example", client=("203.0.113.9", 5555)):
        desk.add("eva@payoke.be", "payoke")
        page = desk.client.get("/advisor/login")
        assert "https://" in page.text and 'name="password"' not in page.text
        response = desk.client.post(
            "/advisor/login",
            data={"email": "eva@payoke.be", "password": PASSWORD},
            headers={"Origin": "http://haven.example"},
        )
        assert response.status_code == 403
        assert "set-cookie" not in response.headers


# --- session lifetime ------------------------------------------------------------------


def _signed_in(desk: Desk, who: str = PAYOKE) -> bool:
    response = desk.get(who, "/advisor/")
    return response.status_code == 200


def test_every_login_gets_its_own_new_id(desk: Desk) -> None:
    name = "__Host-haven-advisor"
    first = desk.jars[PAYOKE].get(name)
    desk.jars["second"] = desk.jars.pop(PAYOKE)
    assert desk.sign_in(PAYOKE).status_code == 303  # in a fresh browser
    assert desk.jars[PAYOKE].get(name) != first
    # Both browsers are signed in, each with its own session.
    assert _signed_in(desk) and _signed_in(desk, "second")


def test_fixation_a_planted_id_is_never_adopted(desk: Desk) -> None:
    name = "__Host-haven-advisor"
    # An id planted before sign-in, signed with the real key, as the worst case.
    planted = desk.app.state.haven.desk.sessions._signer.sign("planted-session-id").decode()
    desk.use("victim")
    desk.client.cookies.set(name, planted, domain="testserver.local", path="/")
    desk.keep("victim")
    assert desk.client.get("/advisor/", follow_redirects=False).status_code == 303
    response = desk.submit_login(PAYOKE)
    assert response.status_code == 303
    assert desk.client.cookies.get(name) != planted
    assert desk.client.get("/advisor/", follow_redirects=False).status_code == 200
    # The attacker's copy of the planted id gives nothing.
    desk.use(None)
    desk.client.cookies.set(name, planted, domain="testserver.local", path="/")
    assert desk.client.get("/advisor/", follow_redirects=False).status_code == 303


def test_idle_timeout_30_minutes(desk: Desk) -> None:
    desk.clock.advance(minutes=29)
    assert _signed_in(desk)
    desk.clock.advance(minutes=29)  # 29 minutes after the last use: still fine
    assert _signed_in(desk)
    desk.clock.advance(minutes=30, seconds=1)
    assert not _signed_in(desk)
    assert desk.get(PAYOKE, "/advisor/").headers["location"].startswith("/advisor/login")


def test_absolute_timeout_10_hours_however_busy(desk: Desk) -> None:
    for _ in range(29):
        desk.clock.advance(minutes=20)
        assert _signed_in(desk)
    desk.clock.advance(minutes=20)  # 10 hours after signing in
    assert not _signed_in(desk)


def test_logout_revokes_the_session_on_the_server(desk: Desk) -> None:
    desk.use(PAYOKE)
    stolen = desk.client.cookies.get("__Host-haven-advisor")
    response = desk.post(PAYOKE, "/advisor/logout")
    assert response.status_code == 303 and response.headers["location"] == "/advisor/login?bye=1"
    # Even a copy of the cookie no longer works.
    desk.use(None)
    desk.client.cookies.set("__Host-haven-advisor", stolen, domain="testserver.local", path="/")
    assert desk.client.get("/advisor/", follow_redirects=False).status_code == 303
    assert desk.client.get("/advisor/api/requests").status_code == 401


def test_a_disabled_account_loses_its_session(desk: Desk) -> None:
    from server.storage.advisors import set_disabled

    async def disable() -> None:
        await set_disabled(desk.app.state.haven.db, PAYOKE, True, desk.clock())

    desk.client.portal.call(disable)  # type: ignore[union-attr]
    assert not _signed_in(desk)
    assert desk.sign_in(PAYOKE).status_code == 400


@sqlite_only
def test_next_only_leads_inside_the_dashboard(desk: Desk) -> None:
    for target, expected in (
        ("/advisor/stats", "/advisor/stats"),
        ("https://evil.example/", "/advisor/"),
        ("//evil.example/advisor/", "/advisor/"),
    ):
        desk.use(None)
        response = desk.submit_login(PAYOKE, next=target)
        assert response.headers["location"] == expected


# --- throttling --------------------------------------------------------------------------


def _try(desk: Desk, email: str, password: str) -> tuple[int, str, str | None]:
    desk.use(None)
    response = desk.submit_login(email, password)
    return response.status_code, login_error(response), response.headers.get("retry-after")


@sqlite_only
def test_unknown_email_and_wrong_password_read_the_same(desk: Desk) -> None:
    unknown = _try(desk, "nobody@nowhere.be", "whatever it is 123")
    wrong = _try(desk, PAYOKE, "not the password 123")
    assert unknown[0] == wrong[0] == 400
    assert unknown[1] == wrong[1] and unknown[1]


@sqlite_only
def test_repeated_failures_for_an_account_answer_429_until_retry_after(desk: Desk) -> None:
    for _ in range(5):
        assert _try(desk, PAYOKE, "not the password 123")[0] == 400
    status, message, retry_after = _try(desk, PAYOKE, PASSWORD)
    assert status == 429 and retry_after is not None
    assert "wait" in message
    assert 0 < int(retry_after) <= 900
    # Other accounts are not locked by it.
    assert desk.sign_in("bram@pag-asa.be").status_code == 303
    desk.ticker.value += int(retry_after) + 1
    assert desk.sign_in(PAYOKE).status_code == 303


@sqlite_only
def test_repeated_failures_from_one_client_answer_429(desk: Desk) -> None:
    for index in range(20):
        assert _try(desk, f"guess{index}@payoke.be", "not the password 123")[0] == 400
    status, _, retry_after = _try(desk, PAYOKE, PASSWORD)
    assert status == 429 and retry_after
    desk.ticker.value += int(retry_after) + 1
    assert desk.sign_in(PAYOKE).status_code == 303


@sqlite_only
def test_when_every_check_is_taken_sign_in_answers_503_and_keeps_the_budget(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.advisor.verifier import VerifierBusy

    def failures() -> int:
        query = "select count(*) from audit_log where action = 'login_failed'"
        return int(desk.rows(query)[0][0])

    before = failures()

    async def busy(password_hash: str | None, password: str) -> bool:
        raise VerifierBusy

    monkeypatch.setattr(desk.app.state.haven.desk.verifier, "verify", busy)
    for _ in range(8):  # more than the account's budget of 5
        desk.use(None)
        token = desk.login_token()
        response = desk.client.post(
            "/advisor/login",
            data={"csrf": token, "email": PAYOKE, "password": PASSWORD},
            headers={"Origin": ORIGIN, "Accept-Language": "fr"},
        )
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert login_error(response) == "Trop de connexions en même temps. " + (
            "Attendez quelques secondes et réessayez."
        )
    monkeypatch.undo()
    # No password was checked: no failure was counted, and none was audited.
    assert failures() == before
    assert _try(desk, PAYOKE, PASSWORD)[0] == 303


# --- device cookies ---------------------------------------------------------------


def _her_browser_signed_out(desk: Desk) -> None:
    """PAYOKE's browser, signed in once by the fixture, now signed out."""
    assert desk.post(PAYOKE, "/advisor/logout").status_code == 303
    desk.use(PAYOKE)


@sqlite_only
def test_a_sign_in_leaves_a_host_prefixed_device_cookie_that_outlives_sign_out(
    desk: Desk,
) -> None:
    response = desk.sign_in(PAYOKE)
    assert response.status_code == 303
    cookie = _set_cookie(response.headers.multi_items(), "__Host-haven-device")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "path=/", "max-age=15552000"} <= attributes
    assert not any(part.startswith("domain") for part in attributes)
    assert "payoke" not in cookie.split(";")[0]
    bye = desk.post(PAYOKE, "/advisor/logout")
    assert bye.status_code == 303
    assert not any("haven-device" in value for value in bye.headers.get_list("set-cookie"))
    assert desk.jars[PAYOKE].get("__Host-haven-device")


def _try_in(desk: Desk, who: str, password: str) -> tuple[int, str, str | None]:
    """A sign-in attempt from someone's own browser, with the cookies it kept."""
    desk.use(who)
    response = desk.submit_login(PAYOKE, password)
    desk.keep(who)
    return response.status_code, login_error(response), response.headers.get("retry-after")


@sqlite_only
def test_a_device_that_keeps_failing_locks_out_only_itself(desk: Desk) -> None:
    from server.advisor.throttle import LOGIN_ATTEMPTS_PER_DEVICE

    _her_browser_signed_out(desk)
    for _ in range(LOGIN_ATTEMPTS_PER_DEVICE[0]):
        assert _try_in(desk, PAYOKE, "not the password 123")[0] == 400
    status, _, retry_after = _try_in(desk, PAYOKE, PASSWORD)
    assert status == 429 and retry_after
    # The account's budget for other browsers was not touched by it.
    assert _try(desk, PAYOKE, PASSWORD)[0] == 303
    desk.ticker.value += int(retry_after) + 1
    assert _try_in(desk, PAYOKE, PASSWORD)[0] == 303


@sqlite_only
def test_a_device_token_past_180_days_counts_as_none(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from itsdangerous import TimestampSigner

    name = "__Host-haven-device"
    long_ago = int(time.time()) - 181 * 24 * 60 * 60
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: long_ago)
    desk.use(None)
    assert desk.submit_login(PAYOKE).status_code == 303
    old = desk.client.cookies.get(name)
    assert old
    monkeypatch.undo()
    _her_browser_signed_out(desk)
    for _ in range(5):
        assert _try(desk, PAYOKE, "not the password 123")[0] == 400
    desk.use(None)
    desk.client.cookies.set(name, old, domain="testserver.local", path="/")
    assert desk.submit_login(PAYOKE).status_code == 429
    # A token of this year still has its own budget.
    assert _try_in(desk, PAYOKE, PASSWORD)[0] == 303


@sqlite_only
def test_throttling_keeps_no_address_or_email_in_clear(desk: Desk) -> None:
    for _ in range(3):
        _try(desk, PAYOKE, "not the password 123")
    # The budgets are rows every instance shares, keyed by a hash of the day.
    with sqlite3.connect(desk.data_dir / "haven.sqlite3") as connection:
        rows = connection.execute("SELECT key_hash, count FROM limit_counters").fetchall()
    assert len(rows) == 2 and {count for _, count in rows} == {3}  # the account, the client
    for key_hash, _ in rows:
        assert re.fullmatch(r"[0-9a-f]{64}", key_hash)
        assert "payoke" not in key_hash and "testclient" not in key_hash


@sqlite_only
def test_bad_login_input_gets_a_clear_error(desk: Desk) -> None:
    desk.use(None)
    token = desk.login_token()
    response = desk.client.post(
        "/advisor/login",
        data={"csrf": token, "email": "", "password": ""},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 400
    assert "Please enter your e-mail address and your password." in response.text
    response = desk.client.post(
        "/advisor/login",
        content=b"\xff\xfe" * 10,
        headers={"Origin": ORIGIN, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400


def test_behind_a_trusted_https_proxy_the_cookie_is_secure(
    tmp_path: Path, neutral_site: str
) -> None:
    import httpx
    from conftest import start_server, stop_server

    server = start_server(tmp_path / "data", tmp_path / "server.log", neutral_site)
    try:
        added = add_by_command(tmp_path / "data", "chloe@surya.be", "surya")
        assert added.returncode == 0, added.stderr
        public = server.url.replace("http://", "https://")
        proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
        with httpx.Client(base_url=server.url, headers=proxied) as client:
            form = client.get("/advisor/login")
            assert form.headers["set-cookie"].startswith("__Host-haven-login=")
            assert "secure" in form.headers["set-cookie"].lower()
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token
            # The client speaks plain HTTP to the "proxy", so it would not send a
            # Secure cookie back by itself; the browser behind a real proxy would.
            login_cookie = form.headers["set-cookie"].split(";")[0]
            client.cookies.clear()
            response = client.post(
                "/advisor/login",
                data={"csrf": token.group(1), "email": "chloe@surya.be", "password": PASSWORD},
                headers={"Origin": public, "Cookie": login_cookie},
            )
            assert response.status_code == 303
            cookie = response.headers.get_list("set-cookie")
            session = next(value for value in cookie if value.startswith("__Host-haven-advisor="))
            assert "secure" in session.lower() and "samesite=strict" in session.lower()
        # The same server over plain HTTP on loopback: a plain cookie, for development.
        with httpx.Client(base_url=server.url) as client:
            form = client.get("/advisor/login")
            assert form.headers["set-cookie"].startswith("haven-login=")
            assert "secure" not in form.headers["set-cookie"].lower()
        # No address reached the log.
        assert "198.51.100.7" not in server.log()
    finally:
        stop_server(server)


def test_sessions_past_the_absolute_limit_are_purged(desk: Desk) -> None:
    def rows() -> int:
        return int(desk.rows("select count(*) from advisor_sessions")[0][0])

    before = rows()
    assert before >= 4
    desk.clock.advance(hours=10, seconds=1)
    assert desk.sign_in(PAYOKE).status_code == 303
    assert rows() == 1  # only the new one is left
