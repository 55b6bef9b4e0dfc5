"""Phones delivering sealed help requests: throughput, latency and exactly-once.

Starts `python -m server serve` on a loopback port in a temporary data
directory (with a rate limit high enough not to interfere), reads the inbox
key from /api/inbox-key, seals requests with server.crypto.seal, then:

(a) steady: 50 phones, each sending new requests one after another for about
    10 s; every fifth is sent a second time, as when an acknowledgement is
    lost. Prints durable acknowledgements (201) per second, p50/p99 latency,
    and the replays answered 200 (duplicates) - none may be stored twice.
(b) storm: 1,000 phones each holding 5 requests, every request sent twice,
    all 10,000 sends shuffled, at most 100 at a time. After the server has
    stopped, the rows are counted straight from the SQLite file: exactly
    5,000, or the script exits 1.

Loopback only; bounded in count and time. Kept as one module: bench/cluster.py
imports its phones, tally and server start rather than having copies.

    .venv/bin/python bench/replay.py [--phase steady|storm|both] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import secrets
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.crypto import seal  # noqa: E402
from server.validation import CENTRES  # noqa: E402

LANGS = ("en", "nl", "fr", "de")
SEALED_POOL = 400  # distinct envelopes; keys are always fresh
PHONES = 50
STORM_PHONES = 1000
STORM_EACH = 5
STORM_CONCURRENCY = 100
STORM_TIMEOUT = 300.0
TIMEOUT = httpx.Timeout(30.0)


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    data_dir: Path
    log: Path


def start_server(data_dir: Path, settings: Mapping[str, str] | None = None) -> Server:
    """``haven serve`` on a free loopback port; ``settings`` adds ``HAVEN_*`` ones."""
    log = data_dir.parent / f"{data_dir.name}.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HAVEN_DATA_DIR": str(data_dir),
        "HAVEN_REQUEST_RATE": "1000000000/60",
        "PYTHONUNBUFFERED": "1",
        **(settings or {}),
    }
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=handle,
            text=True,
            env=env,
        )
    assert process.stdout is not None
    match = re.search(r"(http://127\.0\.0\.1:\d+)", process.stdout.readline())
    if not match:
        process.kill()
        raise SystemExit(f"the server did not start:\n{log.read_text()}")
    url = match[1]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Server(process, url, data_dir, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server did not answer:\n{log.read_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    if server.process.stdout:
        server.process.stdout.close()


def rows(data_dir: Path) -> int:
    with sqlite3.connect(f"file:{data_dir / 'haven.sqlite3'}?mode=ro", uri=True) as db:
        (count,) = db.execute("select count(*) from help_requests").fetchone()
    return int(count)


def sealed_bodies(url: str, count: int, verify: ssl.SSLContext | bool = True) -> list[bytes]:
    document = httpx.get(f"{url}/api/inbox-key", timeout=5, verify=verify).json()
    raw = base64.urlsafe_b64decode(document["raw"] + "=" * (-len(document["raw"]) % 4))
    bodies = []
    for index in range(count):
        centre, lang = CENTRES[index % len(CENTRES)], LANGS[index % 4]
        plaintext = json.dumps(
            {"v": 1, "lang": lang, "fields": {"centre": centre, "situation": "x" * (index % 700)}}
        ).encode()
        envelope = seal(raw, plaintext, centre, lang)
        bodies.append(json.dumps({"centre": centre, "lang": lang, "envelope": envelope}).encode())
    return bodies


def new_key() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    # Idempotency key -> the references its acknowledgements (201, 200) gave.
    references: dict[str, set[str]] = field(default_factory=dict)

    def count(self, key: str, status: int, elapsed: float, reference: str | None) -> None:
        self.statuses[status] += 1
        self.latencies.append(elapsed)
        if reference is not None:
            self.references.setdefault(key, set()).add(reference)


async def post(
    client: httpx.AsyncClient, url: str, body: bytes, key: str
) -> tuple[int, float, str | None]:
    """One send: its status, how long it took, and the reference it was acknowledged with."""
    started = time.perf_counter()
    reference = None
    try:
        response = await client.post(
            f"{url}/api/requests",
            content=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": key},
        )
        status = response.status_code
        if status in (200, 201):
            reference = str(response.json()["reference"])
    except (httpx.HTTPError, ValueError, KeyError):
        status = 0
    return status, time.perf_counter() - started, reference


def plain_client() -> httpx.AsyncClient:
    """A phone's connection: one client each, as the benchmark's phones have."""
    return httpx.AsyncClient(timeout=TIMEOUT)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def steady(
    url: str,
    bodies: list[bytes],
    seconds: float,
    client: Callable[[], httpx.AsyncClient] = plain_client,
) -> Tally:
    tally = Tally()
    stop_at = time.monotonic() + seconds

    async def phone(number: int) -> None:
        async with client() as connection:
            sent = 0
            while time.monotonic() < stop_at:
                body, key = bodies[(number * 7919 + sent) % len(bodies)], new_key()
                for _attempt in range(2 if sent % 5 == 4 else 1):
                    tally.count(key, *await post(connection, url, body, key))
                sent += 1

    started = time.monotonic()
    await asyncio.gather(*(phone(number) for number in range(PHONES)))
    tally.seconds = time.monotonic() - started
    return tally


async def storm(
    url: str,
    bodies: list[bytes],
    client: Callable[[], httpx.AsyncClient] = plain_client,
    halfway: Callable[[], object] | None = None,
) -> Tally:
    """The storm; ``halfway`` is called once, when half the sends have been answered."""
    tally = Tally()
    sends = [
        (bodies[(phone * STORM_EACH + item) % len(bodies)], f"storm-{phone:04d}-{item}-{suffix}")
        for phone in range(STORM_PHONES)
        for item in range(STORM_EACH)
        for suffix in [secrets.token_hex(8)]
    ]
    sends = sends + sends  # each request twice ...
    random.shuffle(sends)  # ... in any order
    queue = iter(sends)

    # A fixed set of senders, each with its own connection like a phone: not
    # 10,000 waiting tasks, nor one shared pool that slows the client down.
    async def sender() -> None:
        nonlocal halfway
        async with client() as connection:
            for body, key in queue:
                tally.count(key, *await post(connection, url, body, key))
                if halfway is not None and len(tally.latencies) >= len(sends) // 2:
                    called, halfway = halfway, None
                    called()

    started = time.monotonic()
    await asyncio.wait_for(
        asyncio.gather(*(sender() for _ in range(STORM_CONCURRENCY))), STORM_TIMEOUT
    )
    tally.seconds = time.monotonic() - started
    return tally


def report_latency(tally: Tally) -> str:
    p50 = percentile(tally.latencies, 0.50) * 1000
    p99 = percentile(tally.latencies, 0.99) * 1000
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"


def run_steady(seconds: float) -> int:
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as folder:
        server = start_server(Path(folder) / "data")
        try:
            bodies = sealed_bodies(server.url, SEALED_POOL)
            tally = asyncio.run(steady(server.url, bodies, seconds))
        finally:
            stop_server(server)
        stored = rows(server.data_dir)
    elapsed = tally.seconds
    created, replayed = tally.statuses[201], tally.statuses[200]
    errors = sum(count for status, count in tally.statuses.items() if status not in (200, 201))
    print(f"(a) steady: {PHONES} phones for {elapsed:.1f} s")
    print(f"    accepted (durable 201): {created} = {created / elapsed:.0f}/s")
    print(f"    latency of all {len(tally.latencies)} sends: {report_latency(tally)}")
    print(f"    duplicates (replays answered 200): {replayed}; errors: {errors}")
    print(f"    rows stored: {stored} (201s: {created})")
    return 0 if stored == created and errors == 0 else 1


def run_storm() -> int:
    expected = STORM_PHONES * STORM_EACH
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as folder:
        server = start_server(Path(folder) / "data")
        try:
            bodies = sealed_bodies(server.url, SEALED_POOL)
            tally = asyncio.run(storm(server.url, bodies))
        finally:
            stop_server(server)
        stored = rows(server.data_dir)
    errors = sum(count for status, count in tally.statuses.items() if status not in (200, 201))
    print(
        f"(b) storm: {STORM_PHONES} phones x {STORM_EACH} requests, each sent twice, "
        f"{STORM_CONCURRENCY} at a time, in {tally.seconds:.1f} s"
    )
    print(f"    rows stored: {stored} (expected {expected})")
    print(f"    201: {tally.statuses[201]}, 200: {tally.statuses[200]}, errors: {errors}")
    print(f"    latency: {report_latency(tally)}")
    return 0 if stored == expected else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=("steady", "storm", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    status = 0
    if args.phase in ("steady", "both"):
        status |= run_steady(min(args.seconds, 60.0))
    if args.phase in ("storm", "both"):
        status |= run_storm()
    return status


if __name__ == "__main__":
    sys.exit(main())
