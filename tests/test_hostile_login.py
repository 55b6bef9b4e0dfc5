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
import contextlib
import re
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from advisors import PASSWORD, add_by_command
from conftest import LiveServer, start_server, stop_server

from server.advisor.throttle import LOGIN_ATTEMPTS_PER_ACCOUNT
from server.advisor.verifier import RETRY_SECONDS, RUNNING

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


# --- a flood of sign-ins from many clients -----------------------------------------


def _memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (the peak) of a process, in kB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {
        name: int(value.split()[0])
        for name, value in re.findall(r"^(VmRSS|VmHWM):\s+(.+)$", status, re.M)
    }


def _reset_peak(pid: int) -> bool:
    """Start VmHWM afresh from the current RSS (Linux's clear_refs, value 5)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@pytest.mark.asyncio
async def test_a_flood_of_120_sign_ins_keeps_memory_flat_and_the_server_answering(
    server: LiveServer,
) -> None:
    pid = server.process.pid
    # A few checks first, so that what a single check allocates once is in the baseline.
    async with browser(server) as warm_up:
        for _ in range(2):
            assert (await warm_up.sign_in("warm-up@payoke.be", WRONG)).status_code == 400
    before = _memory_kb(pid)["VmRSS"]
    peak_reset = _reset_peak(pid)
    samples = [before]
    flooding = True

    async def watch() -> list[int]:
        """Sample the server's memory and ask /healthz while the flood lasts."""
        health = []
        async with browser(server) as bystander:
            while flooding:
                samples.append(_memory_kb(pid)["VmRSS"])
                health.append((await bystander.client.get("/healthz")).status_code)
                await asyncio.sleep(0.02)
        return health

    watcher = asyncio.create_task(watch())
    # 8 clients of 15 attempts each, every attempt for another account: no
    # budget stops them, only the bound on checks running and waiting.
    async with contextlib.AsyncExitStack() as stack:
        outsiders = [
            await stack.enter_async_context(browser(server, f"127.0.0.{10 + number}"))
            for number in range(8)
        ]
        tokens = [await outsider.form_token() for outsider in outsiders]
        answers = await asyncio.gather(
            *(
                outsider.sign_in(f"flood{index}.{number}@payoke.be", WRONG, token)
                for index, (outsider, token) in enumerate(zip(outsiders, tokens, strict=True))
                for number in range(15)
            )
        )
    flooding = False
    health = await watcher
    after = _memory_kb(pid)
    peak = max([*samples, after["VmHWM"]] if peak_reset else samples)

    figures = (
        f"server RSS before {before / 1024:.0f} MB, peak {peak / 1024:.0f} MB "
        f"(+{(peak - before) / 1024:.0f} MB), after {after['VmRSS'] / 1024:.0f} MB "
        f"(+{(after['VmRSS'] - before) / 1024:.0f} MB); "
        f"answers {sorted(Counter(answer.status_code for answer in answers).items())}"
    )
    # Two checks of 64 MiB at a time, and some room for 120 requests in flight.
    bound_kb = RUNNING * 64 * 1024 + 32 * 1024
    assert peak - before < bound_kb, figures
    assert after["VmRSS"] - before < 64 * 1024, figures
    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) <= {400, 503} and statuses[503] > 0, figures
    for answer in answers:
        if answer.status_code == 503:
            assert _retry_after(answer) == RETRY_SECONDS
            assert "Please wait a few seconds" in answer.text
    # Every check that ran left one row; the refused ones none.
    assert audit_counts(server).get("login_failed", 0) == 2 + statuses[400], figures
    # The server kept answering all along, and still does.
    assert health and set(health) == {200}, figures
    async with browser(server) as bystander:
        assert (await bystander.client.get("/healthz")).status_code == 200
        assert (await bystander.sign_in(ANNA, PASSWORD)).status_code == 303
    print(figures)


# --- device cookies: an outsider's failures do not lock her out of her browser ----


def _device_cookie(response: httpx.Response) -> tuple[str, set[str]]:
    """The device cookie a sign-in set: its value and its attributes."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == "haven-device":
            value, *attributes = rest.split(";")
            return value, {attribute.strip().lower() for attribute in attributes}
    raise AssertionError(f"no device cookie in {response.headers.get_list('set-cookie')}")


async def _lock_out(outsider: Browser, email: str) -> None:
    """Guess until the server refuses to check more passwords for ``email``."""
    token = await outsider.form_token()
    budget = LOGIN_ATTEMPTS_PER_ACCOUNT[0]
    answers = [await outsider.sign_in(email, f"{WRONG} {n}", token) for n in range(budget + 1)]
    assert [answer.status_code for answer in answers] == [400] * budget + [429]
    assert (await outsider.sign_in(email, PASSWORD, token)).status_code == 429


@pytest.mark.asyncio
async def test_an_outsider_locking_her_account_does_not_lock_her_own_browser(
    server: LiveServer,
) -> None:
    async with browser(server) as hers, browser(server, "127.0.0.2") as outsider:
        first = await hers.sign_in(ANNA, PASSWORD)
        assert first.status_code == 303
        value, attributes = _device_cookie(first)
        assert {"httponly", "samesite=strict", "path=/", "max-age=15552000"} <= attributes
        assert "anna" not in value and "payoke" not in value  # whose it is stays unsaid
        await hers.sign_out()

        await _lock_out(outsider, ANNA)
        # Her browser still has a budget of its own: a typo is checked, not refused ...
        assert (await hers.sign_in(ANNA, "a typo in her passphrase 42")).status_code == 400
        # ... and the right password signs her in, while the outsider stays locked out.
        assert (await hers.sign_in(ANNA, PASSWORD)).status_code == 303
        assert (await hers.client.get("/advisor/")).status_code == 200
        assert (await outsider.sign_in(ANNA, PASSWORD)).status_code == 429
    audited = audit_counts(server)
    assert (audited["login"], audited["login_failed"]) == (2, LOGIN_ATTEMPTS_PER_ACCOUNT[0] + 1)


@pytest.mark.asyncio
async def test_a_device_token_for_another_account_or_forged_counts_as_none(
    server: LiveServer,
) -> None:
    async with (
        browser(server) as hers,
        browser(server, "127.0.0.2") as outsider,
        browser(server, "127.0.0.3") as insider,
    ):
        assert (await hers.sign_in(ANNA, PASSWORD)).status_code == 303
        await hers.sign_out()
        # Someone with an account of their own gets a genuine token for it.
        own = await insider.sign_in(BRAM, PASSWORD)
        assert own.status_code == 303
        foreign, _ = _device_cookie(own)
        payload, _, signature = foreign.rpartition(".")
        tag, _, device = payload.partition(".")
        await _lock_out(outsider, ANNA)

        forgeries = {
            "another account's token": foreign,
            "a changed signature": f"{payload}.{signature[::-1]}",
            "another device id under the same signature": f"{tag}.x{device[1:]}.{signature}",
            "no signature": payload,
            "made up": "bWFkZSB1cA.AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAA",
        }
        for what, token in forgeries.items():
            outsider.client.cookies.set("haven-device", token, domain="127.0.0.1", path="/")
            refused = await outsider.sign_in(ANNA, PASSWORD)
            assert refused.status_code == 429, what
            assert _retry_after(refused) > 0
        # The outsider's cookies do reach the server: a copy of her real token
        # (which the outsider was not given) would have its password checked.
        genuine = hers.client.cookies.get("haven-device")
        assert genuine
        outsider.client.cookies.set("haven-device", genuine, domain="127.0.0.1", path="/")
        assert (await outsider.sign_in(ANNA, WRONG)).status_code == 400
        # Her own browser's token still works.
        assert (await hers.sign_in(ANNA, PASSWORD)).status_code == 303
    # The forged tokens got no password checked.
    assert audit_counts(server)["login_failed"] == LOGIN_ATTEMPTS_PER_ACCOUNT[0] + 1
