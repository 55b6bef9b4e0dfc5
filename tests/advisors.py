"""Helpers for the advisor tests: accounts, signed-in clients, a clock, sent requests."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
from helpers import dump_text, raw_rows
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.advisor.passwords import hash_password
from server.advisor.throttle import SignInBudgets
from server.app import create_app
from server.crypto import seal
from server.settings import Settings
from server.storage.advisors import create_advisor

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a long enough passphrase 42"
ORIGIN = "https://testserver"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
# Hashing costs ~50 ms; every account in these tests shares one hash.
_HASH = hash_password(PASSWORD)


class FakeClock:
    """The app's wall clock, moved by hand."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)  # a Monday

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class Ticker:
    """A clock for the sign-in budgets (seconds), moved by hand."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def request_plaintext(centre: str, lang: str, **fields: str) -> bytes:
    """What a phone seals for a plain request to ``centre``."""
    document = {
        "v": 1,
        "lang": lang,
        "writtenAt": "2026-11-30T08:00:00Z",
        "fields": {"centre": centre, "channel": "call", "contact": "0470 12 34 56", **fields},
    }
    return json.dumps(document).encode()


@dataclass
class Desk:
    """One app under test with its client, clock and the helpers to drive it."""

    app: Starlette
    client: TestClient
    clock: FakeClock
    ticker: Ticker
    data_dir: Path
    jars: dict[str, httpx2.Cookies] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of the app's database as another process reads them."""
        return raw_rows(str(self.app.state.haven.settings.database_url), sql)

    def dump(self) -> str:
        """The app's whole database as text (SQLite's dump or pg_dump's)."""
        return dump_text(str(self.app.state.haven.settings.database_url))

    # --- accounts and sessions -------------------------------------------------

    def add(self, email: str, centre: str, coordinator: bool = False) -> None:
        async def work() -> None:
            await create_advisor(
                self.app.state.haven.db,
                email=email,
                centre=centre,
                coordinator=coordinator,
                password_hash=_HASH,
                now=self.clock(),
            )

        self.client.portal.call(work)  # type: ignore[union-attr]

    def use(self, who: str | None) -> None:
        """Switch the client to someone's cookies (None: a fresh, signed-out browser)."""
        self.client.cookies = (
            self.jars.setdefault(who or "", httpx2.Cookies()) if who else httpx2.Cookies()
        )

    def keep(self, who: str) -> None:
        self.jars[who] = httpx2.Cookies(self.client.cookies)

    def login_token(self) -> str:
        response = self.client.get("/advisor/login")
        match = _CSRF.search(response.text)
        assert match, response.text
        return match.group(1)

    def submit_login(
        self, email: str, password: str = PASSWORD, *, origin: str = ORIGIN, **fields: str
    ) -> httpx2.Response:
        """Fill in and send the sign-in form in the browser the client stands for now."""
        token = self.login_token()
        return self.client.post(
            "/advisor/login",
            data={"csrf": token, "email": email, "password": password, **fields},
            headers={"Origin": origin},
            follow_redirects=False,
        )

    def sign_in(self, email: str, password: str = PASSWORD) -> httpx2.Response:
        """Sign in from a fresh browser, which then stands for ``email``."""
        self.jars.pop(email, None)
        self.use(email)
        response = self.submit_login(email, password, next="/advisor/")
        self.keep(email)
        if response.status_code == 303:
            page = self.client.get("/advisor/")
            match = _META_CSRF.search(page.text)
            assert match, page.text
            self.tokens[email] = match.group(1)
            self.keep(email)
        return response

    def as_(self, who: str) -> Desk:
        self.use(who)
        return self

    def get(self, who: str | None, url: str, **kwargs: Any) -> httpx2.Response:
        self.use(who)
        response = self.client.get(url, follow_redirects=False, **kwargs)
        if who:
            self.keep(who)
        return response

    def post(
        self,
        who: str | None,
        url: str,
        data: dict[str, str] | None = None,
        *,
        token: str | None = "auto",
        origin: str | None = ORIGIN,
    ) -> httpx2.Response:
        """A form post as the dashboard sends it; token=None leaves the token out."""
        self.use(who)
        form = dict(data or {})
        if token == "auto":
            token = self.tokens.get(who or "")
        if token is not None:
            form["csrf"] = token
        headers = {"Origin": origin} if origin else {}
        response = self.client.post(url, data=form, headers=headers, follow_redirects=False)
        if who:
            self.keep(who)
        return response

    def post_json(
        self,
        who: str | None,
        url: str,
        body: object,
        *,
        token: str | None = "auto",
        origin: str | None = ORIGIN,
    ) -> httpx2.Response:
        self.use(who)
        headers = {"Origin": origin} if origin else {}
        if token == "auto":
            token = self.tokens.get(who or "")
        if token is not None:
            headers["X-CSRF-Token"] = token
        response = self.client.post(url, json=body, headers=headers, follow_redirects=False)
        if who:
            self.keep(who)
        return response

    # --- what phones send --------------------------------------------------------

    def send(
        self,
        centre: str = "payoke",
        lang: str = "en",
        *,
        received_at: dt.datetime | None = None,
        **fields: str,
    ) -> str:
        """A sealed request as a phone sends it; returns its reference."""
        envelope = seal(
            self.app.state.haven.keys.inbox.public_raw,
            request_plaintext(centre, lang, **fields),
            centre,
            lang,
        )
        if received_at is not None:
            saved = self.clock.now
            self.clock.now = received_at
        self.use(None)
        response = self.client.post(
            "/api/requests",
            json={"centre": centre, "lang": lang, "envelope": envelope},
            headers={"Idempotency-Key": secrets.token_urlsafe(24)},
        )
        if received_at is not None:
            self.clock.now = saved
        assert response.status_code == 201, response.text
        reference: str = response.json()["reference"]
        return reference


def add_arguments(email: str, centre: str, *extra: str) -> list[str]:
    """The arguments of `haven advisor add` with the password on standard input."""
    return ["advisor", "add", "--centre", centre, "--email", email, "--password-stdin", *extra]


def add_by_command(
    data_dir: Path, email: str, centre: str, *extra: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`haven advisor add` run as an operator would, against ``data_dir`` (and the
    database ``env``'s ``HAVEN_DATABASE_URL`` names, if any)."""
    return subprocess.run(
        [sys.executable, "-m", "server", *add_arguments(email, centre, *extra)],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            "HAVEN_DATA_DIR": str(data_dir),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **(env or {}),
        },
        check=False,
    )


def login_error(response: httpx2.Response) -> str:
    """The error the sign-in form shows, or "" if none."""
    match = re.search(r'<p class="error" role="alert"[^>]*>(.*?)</p>', response.text)
    return match.group(1) if match else ""


def make_settings(tmp_path: Path, **overrides: str) -> Settings:
    return Settings.from_environ({"HAVEN_DATA_DIR": str(tmp_path / "data"), **overrides})


def make_desk(
    tmp_path: Path,
    base_url: str = ORIGIN,
    env: Mapping[str, str] | None = None,
    **client_options: Any,
) -> Iterator[Desk]:
    """``env`` adds or overrides settings."""
    app = create_app(make_settings(tmp_path, **(env or {})))
    clock = FakeClock()
    ticker = Ticker()
    app.state.haven.clock = clock
    app.state.haven.intake.clock = clock
    running = app.state.haven
    running.purge.clock = clock
    # The tests purge when they mean to, not a minute after start.
    running.purge.first_delay = 24 * 60 * 60
    running.desk.budgets = SignInBudgets(running.db, running.keys.limits, clock=ticker)
    with TestClient(app, base_url=base_url, **client_options) as client:
        yield Desk(app, client, clock, ticker, tmp_path / "data")


PAYOKE = "anna@payoke.be"
PAGASA = "bram@pag-asa.be"
SURYA = "chloe@surya.be"
COORDINATOR = "dora@haven.be"


def staffed_desk(tmp_path: Path, env: Mapping[str, str] | None = None) -> Iterator[Desk]:
    """An app over HTTPS with an advisor of each centre and a coordinator, signed in."""
    for value in make_desk(tmp_path, env=env):
        value.add(PAYOKE, "payoke")
        value.add(PAGASA, "pag-asa")
        value.add(SURYA, "surya")
        value.add(COORDINATOR, "pag-asa", coordinator=True)
        for email in (PAYOKE, PAGASA, SURYA, COORDINATOR):
            assert value.sign_in(email).status_code == 303
        yield value


# --- against a real server process -----------------------------------------------


def sealed_request(
    url: str, plaintext: bytes | None = None, centre: str = "payoke", lang: str = "en"
) -> dict[str, str]:
    """The JSON body of a help request: ``plaintext`` (a plain request by default)
    sealed to the inbox key the server at ``url`` publishes."""
    raw = httpx.get(f"{url}/api/inbox-key").json()["raw"]
    public = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    if plaintext is None:
        plaintext = request_plaintext(centre, lang)
    return {"centre": centre, "lang": lang, "envelope": seal(public, plaintext, centre, lang)}


def send_sealed(
    url: str,
    plaintext: bytes | None = None,
    centre: str = "payoke",
    lang: str = "en",
    headers: Mapping[str, str] | None = None,
) -> str:
    """Seal a request (:func:`sealed_request`) and send it as any phone, or anyone,
    can, with ``headers`` besides its key; its reference."""
    response = httpx.post(
        f"{url}/api/requests",
        json=sealed_request(url, plaintext, centre, lang),
        headers={"Idempotency-Key": secrets.token_urlsafe(24), **(headers or {})},
    )
    assert response.status_code == 201, response.text
    reference: str = response.json()["reference"]
    return reference


def wrong_sign_in(url: str, email: str) -> int:
    """A try to sign in as ``email`` with a wrong password, from a new browser
    talking to the server at ``url``: the status it was answered."""
    with httpx.Client(base_url=url, timeout=10) as browser:
        form = browser.get("/advisor/login")
        token = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        answer = browser.post(
            "/advisor/login",
            data={"csrf": token, "email": email, "password": "wrong password 1"},
            headers={"Origin": url},
        )
        return answer.status_code


@dataclass
class LiveAdvisor:
    """An advisor's browser, signed in to a real server over plain HTTP on loopback."""

    url: str
    client: httpx.Client
    csrf: str

    @classmethod
    def sign_in(cls, url: str, email: str, password: str = PASSWORD) -> LiveAdvisor:
        client = httpx.Client(base_url=url, timeout=10)
        form = client.get("/advisor/login")
        token = _CSRF.search(form.text)
        assert token, form.text
        response = client.post(
            "/advisor/login",
            data={"csrf": token.group(1), "email": email, "password": password},
            headers={"Origin": url},
        )
        assert response.status_code == 303, response.text
        page = client.get("/advisor/")
        csrf = _META_CSRF.search(page.text)
        assert csrf, page.text
        return cls(url, client, csrf.group(1))

    def act(self, reference: str, action: str, **fields: str) -> httpx.Response:
        """An action on a request, as its form posts it."""
        return self.client.post(
            f"/advisor/requests/{reference}/{action}",
            data={"csrf": self.csrf, **fields},
            headers={"Origin": self.url},
        )

    def post_json(
        self, url: str, body: object, language: str = "en", content: bytes | None = None
    ) -> httpx.Response:
        """JSON as the dashboard's script posts it (``content``: raw bytes instead)."""
        headers = {
            "Origin": self.url,
            "X-CSRF-Token": self.csrf,
            "Content-Type": "application/json",
            "Accept-Language": language,
        }
        data = json.dumps(body).encode() if content is None else content
        return self.client.post(url, content=data, headers=headers)

    def close(self) -> None:
        self.client.close()
