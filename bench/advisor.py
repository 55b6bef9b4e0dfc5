"""The advisors' side under load: dashboard render time and push latency.

(a) dashboard: 10,000 sealed requests in a fresh SQLite database (spread over
    20 weeks and four queues, a third contacted, a third closed), then each
    advisor view is requested 30 times in-process. Server time is read from
    the access log's own measurement (the time the app took, without the
    client); the budget is 100 ms for every view.
(b) push: a real server (`python -m server serve`) on loopback, one advisor
    device subscribed at a fake push service on loopback (tests/pushservice.py,
    which checks the VAPID signature and decrypts each message). Fifty
    requests are sent one after another; for each, the time from the phone
    receiving its acknowledgement to the push service receiving the message.

Loopback only.

    .venv/bin/python bench/advisor.py [--phase dashboard|push|both] [--requests 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import logging
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the fake push service

from sqlalchemy import update  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from server.advisor.passwords import hash_password  # noqa: E402
from server.app import create_app  # noqa: E402
from server.crypto import seal  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.storage import store_request  # noqa: E402
from server.storage.advisors import create_advisor  # noqa: E402
from server.storage.schema import help_requests  # noqa: E402
from server.validation import CENTRES  # noqa: E402

PASSWORD = "a long enough passphrase 42"
ORIGIN = "https://testserver"
BUDGET_MS = 100.0
RUNS = 30


class AccessTimes(logging.Handler):
    """Collects the server's own timing of each response from its access log."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = re.search(r" (\d+(?:\.\d+)?)ms$", record.getMessage())
        if match:
            self.times.append(float(match.group(1)))


def _fields(index: int) -> dict[str, str]:
    return {
        "centre": CENTRES[index % len(CENTRES)],
        "channel": random.choice(["call", "sms", "whatsapp", "email"]),
        "contact": "0470 12 34 56",
        "name": f"Person {index}",
        "situation": "I was promised a job and now I cannot leave. " * random.randint(1, 8),
    }


def fill(client: TestClient, app, count: int) -> None:  # type: ignore[no-untyped-def]
    db = app.state.haven.db
    public = app.state.haven.keys.inbox.public_raw
    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()

    async def store(index: int) -> None:
        fields = _fields(index)
        lang = random.choice(["en", "nl", "fr", "de"])
        document = {"v": 1, "lang": lang, "writtenAt": now.isoformat(), "fields": fields}
        envelope = seal(public, json.dumps(document).encode(), fields["centre"], lang)
        received = now - dt.timedelta(minutes=random.randint(0, 20 * 7 * 24 * 60))
        await store_request(
            db,
            idempotency_key=secrets.token_urlsafe(24),
            centre=fields["centre"],
            language=lang,
            envelope=json.dumps(envelope, separators=(",", ":")).encode(),
            envelope_version=1,
            received_at=received,
        )

    async def store_all() -> None:
        for start in range(0, count, 500):
            await asyncio.gather(*(store(i) for i in range(start, min(count, start + 500))))
        async with db.engine.begin() as connection:
            await connection.execute(
                update(help_requests)
                .where(help_requests.c.id % 3 == 1)
                .values(status="contacted", first_contact_at=help_requests.c.received_at)
            )
            await connection.execute(
                update(help_requests)
                .where(help_requests.c.id % 3 == 2)
                .values(
                    status="closed",
                    first_contact_at=help_requests.c.received_at,
                    closed_at=help_requests.c.received_at,
                    outcome="supported",
                )
            )
        for email, centre, coordinator in (
            ("anna@payoke.be", "payoke", False),
            ("dora@haven.be", "pag-asa", True),
        ):
            await create_advisor(
                db,
                email=email,
                centre=centre,
                coordinator=coordinator,
                password_hash=hash_password(PASSWORD),
                now=now,
            )

    client.portal.call(store_all)  # type: ignore[union-attr]
    print(f"stored {count} sealed requests in {time.perf_counter() - started:.1f} s")


def sign_in(client: TestClient, email: str) -> None:
    client.cookies.clear()
    page = client.get("/advisor/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    response = client.post(
        "/advisor/login",
        data={"csrf": token.group(1), "email": email, "password": PASSWORD},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def dashboard(count: int) -> bool:
    access = AccessTimes()
    logger = logging.getLogger("haven.access")
    logger.addHandler(access)
    logger.setLevel(logging.INFO)
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings.from_environ({"HAVEN_DATA_DIR": folder}))
        with TestClient(app, base_url=ORIGIN) as client:
            fill(client, app, count)
            sign_in(client, "anna@payoke.be")
            inbox = client.get("/advisor/?status=all").text
            reference = re.findall(r'data-reference="(HV-[^"]+)"', inbox)[0]
            views = [
                ("anna@payoke.be", "inbox, open requests", "/advisor/"),
                ("anna@payoke.be", "inbox, all, page 40", "/advisor/?status=all&page=40"),
                ("anna@payoke.be", "one request", f"/advisor/requests/{reference}"),
                ("anna@payoke.be", "JSON list", "/advisor/api/requests"),
                ("dora@haven.be", "coordinator inbox", "/advisor/"),
                ("dora@haven.be", "coordinator, all, page 150", "/advisor/?status=all&page=150"),
                ("dora@haven.be", "statistics (12 weeks)", "/advisor/stats"),
                ("dora@haven.be", "audit log", "/advisor/audit"),
            ]
            signed_in = ""
            print(
                f"\n{'view':32} {'server p50':>11} {'p95':>8} {'max':>8}"
                f"   (ms; budget {BUDGET_MS:.0f})"
            )
            for who, name, url in views:
                if who != signed_in:
                    sign_in(client, who)
                    signed_in = who
                access.times.clear()
                for _ in range(RUNS):
                    response = client.get(url)
                    assert response.status_code == 200, (url, response.status_code)
                times = sorted(access.times[-RUNS:])
                p50 = statistics.median(times)
                p95 = times[int(len(times) * 0.95) - 1]
                flag = "" if p95 < BUDGET_MS else "  OVER BUDGET"
                ok = ok and p95 < BUDGET_MS
                print(f"{name:32} {p50:11.1f} {p95:8.1f} {times[-1]:8.1f}{flag}")
    logger.removeHandler(access)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phase", choices=["dashboard", "push", "both"], default="both")
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args()
    random.seed(7)
    ok = True
    if args.phase in ("dashboard", "both"):
        ok = dashboard(args.requests) and ok
    if args.phase in ("push", "both"):
        ok = push_latency() and ok
    return 0 if ok else 1


def push_latency(count: int = 50) -> bool:
    import os
    import subprocess

    import httpx
    from advisors import add_by_command
    from pushservice import FakePushService

    with tempfile.TemporaryDirectory() as folder, FakePushService() as push:
        env = {
            **os.environ,
            "HAVEN_DATA_DIR": folder,
            "HAVEN_REQUEST_RATE": "100000/60",
            "HAVEN_PUSH_SERVICES": push.origin,  # loopback is reached only when listed
        }
        added = add_by_command(Path(folder), "anna@payoke.be", "payoke")
        assert added.returncode == 0, added.stderr
        server = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=ROOT,
        )
        try:
            assert server.stdout is not None
            url = server.stdout.readline().split()[-1].rstrip("/")
            with httpx.Client(base_url=url, timeout=30) as client:
                for _ in range(100):
                    try:
                        client.get("/healthz")
                        break
                    except httpx.TransportError:
                        time.sleep(0.05)
                form = client.get("/advisor/login")
                token = re.search(r'name="csrf" value="([^"]+)"', form.text)
                assert token
                client.post(
                    "/advisor/login",
                    data={"csrf": token.group(1), "email": "anna@payoke.be", "password": PASSWORD},
                    headers={"Origin": url},
                )
                page = client.get("/advisor/")
                csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
                assert csrf
                subscribed = client.post(
                    "/advisor/api/push-subscription",
                    json=push.subscribe("anna-phone"),
                    headers={"Origin": url, "X-CSRF-Token": csrf.group(1)},
                )
                assert subscribed.status_code == 201, subscribed.text
                inbox = client.get("/api/inbox-key").json()
                public = base64.urlsafe_b64decode(inbox["raw"] + "==")
                latencies = []
                for index in range(count):
                    document = {"v": 1, "lang": "en", "fields": _fields(index * 4 + 1)}
                    envelope = seal(public, json.dumps(document).encode(), "payoke", "en")
                    response = client.post(
                        "/api/requests",
                        json={"centre": "payoke", "lang": "en", "envelope": envelope},
                        headers={"Idempotency-Key": secrets.token_urlsafe(24)},
                    )
                    acknowledged = time.monotonic()
                    assert response.status_code == 201, response.text
                    message = push.wait_for(index + 1)[index]
                    assert message.payload is not None and message.error is None
                    latencies.append((message.at - acknowledged) * 1000)
        finally:
            server.terminate()
            server.wait(timeout=10)
            if server.stdout:
                server.stdout.close()
    latencies.sort()
    median, p90 = statistics.median(latencies), latencies[int(count * 0.9) - 1]
    print(
        f"\npush, acknowledgement to arrival at the push service over {count} requests:"
        f" median {median:.1f} ms, p90 {p90:.1f} ms, max {latencies[-1]:.1f} ms"
    )
    print("  (below zero: the push arrived before the phone had finished reading its answer)")
    return True


if __name__ == "__main__":
    sys.exit(main())
