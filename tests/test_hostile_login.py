"""Attacks on the advisors' sign-in, performed against a real server process.

Each test starts ``haven serve`` on loopback and attacks it as an outsider
would, over HTTP with many connections at once. The outsiders come from
addresses of their own (127.0.0.2 and up: all of 127/8 is loopback on Linux),
so the per-client budget of one does not hide the defence under test.

What the server's SQLite file shows: every password that was checked and
failed writes one ``login_failed`` audit row; an attempt turned away by a
budget or by a full queue writes nothing, so a flood cannot grow the log.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from advisors import PASSWORD, add_by_command
from conftest import LiveServer, start_server, stop_server

from server.advisor.throttle import LOGIN_ATTEMPTS_PER_ACCOUNT

ANNA = "anna@payoke.be"
BRAM = "bram@pag-asa.be"
WRONG = "not her password at all 1"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture
def server(tmp_path: Path, neutral_site: str) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "data", tmp_path / "server.log", neutral_site)
    try:
        for email, centre in ((ANNA, "payoke"), (BRAM, "pag-asa")):
            added = add_by_command(live.data_dir, email, centre)
            assert added.returncode == 0, added.stderr
        yield live
    finally:
        stop_server(live)


def audit_counts(server: LiveServer) -> dict[str, int]:
    """How many audit rows of each action the server wrote, read from its file."""
    path = server.data_dir / "haven.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("select action, count(*) from audit_log group by action").fetchall()
    return {action: int(count) for action, count in rows}


@dataclass
class Browser:
    """One browser: its own cookies, from a loopback address of its own."""

    client: httpx.AsyncClient
    origin: str

    async def form_token(self) -> str:
        """Open the sign-in form: its nonce cookie lands in the jar, its token is returned."""
        form = await self.client.get("/advisor/login")
        match = _CSRF.search(form.text)
        assert match, form.text
        return match.group(1)

    async def sign_in(self, email: str, password: str, token: str | None = None) -> httpx.Response:
        """Send the sign-in form; an attacker reuses one form's token for a whole burst."""
        return await self.client.post(
            "/advisor/login",
            data={"csrf": token or await self.form_token(), "email": email, "password": password},
            headers={"Origin": self.origin},
        )

    async def sign_out(self) -> None:
        page = await self.client.get("/advisor/")
        match = _META_CSRF.search(page.text)
        assert match, page.text
        response = await self.client.post(
            "/advisor/logout", data={"csrf": match.group(1)}, headers={"Origin": self.origin}
        )
        assert response.status_code == 303
        assert (await self.client.get("/advisor/")).status_code == 303  # signed out


@asynccontextmanager
async def browser(server: LiveServer, address: str = "127.0.0.1") -> AsyncIterator[Browser]:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(
        base_url=server.url,
        transport=transport,
        timeout=120,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=200),
    ) as client:
        yield Browser(client, server.url)


def _retry_after(response: httpx.Response) -> int:
    value = response.headers.get("retry-after")
    assert value is not None and value.isdigit(), (response.status_code, response.headers)
    return int(value)


# --- a burst of guesses for one account ------------------------------------------


@pytest.mark.asyncio
async def test_a_burst_of_40_guesses_gets_no_more_checks_than_the_budget(
    server: LiveServer,
) -> None:
    budget = LOGIN_ATTEMPTS_PER_ACCOUNT[0]
    async with browser(server, "127.0.0.2") as outsider:
        token = await outsider.form_token()
        burst = [
            asyncio.create_task(outsider.sign_in(ANNA, f"{WRONG} {number}", token))
            for number in range(40)
        ]
        # The right password goes in while the burst is still being answered,
        # as soon as the server has said "too many" to one of its guesses.
        pending = set(burst)
        while pending and not any(
            task.done() and task.result().status_code == 429 for task in burst
        ):
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        right = await outsider.sign_in(ANNA, PASSWORD, token)
        answers = await asyncio.gather(*burst)
        later = await outsider.sign_in(ANNA, PASSWORD, token)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [400] * budget + [429] * (40 - budget), statuses
    for answer in answers:
        if answer.status_code == 429:
            assert 1 <= _retry_after(answer) <= 900
    # The right password, during the burst and after it: refused, not checked.
    assert right.status_code == 429 and later.status_code == 429, (right.text, later.text)
    assert 1 <= _retry_after(right) <= 900
    # Only the budget's worth of passwords was ever checked.
    assert audit_counts(server) == {"login_failed": budget}, server.log()[-4000:]
