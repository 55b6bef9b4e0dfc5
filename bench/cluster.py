"""Instances on PostgreSQL behind nginx against one on SQLite: speed and exactly-once.

Starts a throwaway PostgreSQL cluster (tests/pg.py), ``--instances`` (3)
``haven serve`` processes on one database sharing one keys directory, a push
service stub (tests/pushservice.py) with one subscribed device per centre
(the coordinator's also hears of "I don't know"), and nginx in front with the
shipped deploy/nginx.conf rendered for loopback ports (tests/proxy.py), its
per-address limits raised so that they do not throttle the benchmark's single
address. Then, with bench/replay.py's phones, through nginx over HTTPS:

(a) steady: 50 phones replaying for ``--seconds`` (10): acknowledgements per
    second, p50/p99 latency;
(b) storm: 1,000 phones x 5 requests, each sent twice, one instance killed
    with SIGKILL halfway: exactly 5,000 new rows (counted in PostgreSQL),
    every acknowledged reference stored, one reference per request, and every
    device pushed to exactly once per new request for its centre.

Then the same for one instance on SQLite without nginx (``--skip-sqlite`` not
to), side by side, and the ratio of acknowledgements per second against the
targets (the cluster at least 1.5x; p99 under 100 ms), said honestly. Exits 1
when a row count or exactly-once fails, not for a missed speed target.
Loopback only; bounded in time. Not part of the test suite. Kept as one
module: a script read from top to bottom, its setup beside its checks.

    .venv/bin/python bench/cluster.py [--seconds 10] [--instances 3] [--skip-sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sqlite3
import ssl
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "tests", ROOT / "bench"):
    sys.path.insert(0, str(folder))

from advisors import LiveAdvisor, add_by_command  # noqa: E402
from pg import Cluster, query  # noqa: E402
from proxy import start_nginx  # noqa: E402
from pushservice import FakePushService  # noqa: E402
from replay import (  # noqa: E402
    PHONES,
    SEALED_POOL,
    STORM_EACH,
    STORM_PHONES,
    TIMEOUT,
    Server,
    Tally,
    percentile,
    plain_client,
    report_latency,
    sealed_bodies,
    start_server,
    steady,
    stop_server,
    storm,
)

from server.push_queue import LEASE, SWEEP_SECONDS  # noqa: E402
from server.validation import CENTRE_IDS, UNKNOWN_CENTRE  # noqa: E402

TARGET_RATIO = 1.5
TARGET_P99 = 0.100  # seconds
DRAIN_TIMEOUT = LEASE.total_seconds() + 90  # a dead instance's claims wait out their lease
# The shipped per-address limits, raised: every phone of the benchmark is 127.0.0.1.
RAISED_LIMITS = (
    (r"rate=2r/s;", "rate=1000000r/s;", 1),
    (r"burst=120 nodelay;", "burst=100000 nodelay;", 1),
    (r"limit_conn haven_per_client 128;", "limit_conn haven_per_client 60000;", 1),
)
SUBSCRIBE = "/advisor/api/push-subscription"


@dataclass
class Deployment:
    """Where the phones send, and how to look into what was stored and pushed."""

    name: str
    url: str
    instances: list[Server]
    push: FakePushService
    devices: dict[str, tuple[str, ...]]  # device -> the centres it is told about
    rows: Callable[[str], list[tuple[Any, ...]]]  # one SQL query's rows
    client: Callable[[], httpx.AsyncClient] = plain_client
    verify: ssl.SSLContext | bool = True
    access_log: Path | None = None  # nginx's

    def resent(self) -> int:
        """Help requests nginx sent on to another instance (upstream statuses "502, 201")."""
        if self.access_log is None or not self.access_log.exists():
            return 0
        lines = self.access_log.read_text().splitlines()
        return sum(1 for line in lines if " POST /api/requests " in line and ", " in line)


@dataclass
class Figures:
    steady: Tally
    storm: Tally
    steady_rows: int = 0
    storm_rows: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.steady.statuses[201] / self.steady.seconds if self.steady.seconds else 0.0


def errors(tally: Tally) -> int:
    return sum(count for status, count in tally.statuses.items() if status not in (200, 201))


def subscribe_devices(
    urls: list[str], push: FakePushService, add_env: dict[str, str], data_dir: Path
) -> dict[str, tuple[str, ...]]:
    """One advisor per centre, each with one device; the first is a coordinator."""
    devices = {}
    for number, centre in enumerate(CENTRE_IDS):
        email = f"{centre}@bench.example"
        extra = ("--coordinator",) if number == 0 else ()
        added = add_by_command(data_dir, email, centre, *extra, env=add_env)
        if added.returncode != 0:
            raise SystemExit(f"advisor add failed: {added.stderr}")
        advisor = LiveAdvisor.sign_in(urls[number % len(urls)], email)
        try:
            answer = advisor.post_json(SUBSCRIBE, push.subscribe(centre))
            if answer.status_code != 201:
                raise SystemExit(f"subscribing failed: {answer.status_code} {answer.text}")
        finally:
            advisor.close()
        devices[centre] = (centre, UNKNOWN_CENTRE) if number == 0 else (centre,)
    return devices


def cluster_deployment(
    stack: contextlib.ExitStack, folder: Path, instances: int, push: FakePushService
) -> Deployment:
    cluster = Cluster()
    stack.callback(cluster.stop)
    cluster.start()
    cluster.migrate_template()
    url = cluster.url(cluster.new_database())
    keys = folder / "keys"
    keys.mkdir(mode=0o700)
    shared = {"HAVEN_DATABASE_URL": url, "HAVEN_KEYS_DIR": str(keys)}
    settings = {
        **shared,
        "HAVEN_PUSH_SERVICES": push.origin,
        "HAVEN_FORWARDED_ALLOW_IPS": "127.0.0.1",
        "HAVEN_PUSH_SUBJECT": "mailto:operator@haven.example",
    }
    servers: list[Server] = []
    for number in range(instances):  # one after another: the first makes the keys
        server = start_server(folder / f"instance-{number}", settings)
        stack.callback(stop_server, server)
        servers.append(server)
    nginx = start_nginx(
        folder, [int(server.url.rsplit(":", 1)[1]) for server in servers], extra=RAISED_LIMITS
    )
    stack.callback(nginx.stop)
    trust = nginx.trust()
    devices = subscribe_devices([s.url for s in servers], push, shared, folder / "cli")
    return Deployment(
        f"{instances} x PostgreSQL + nginx",
        nginx.url,
        servers,
        push,
        devices,
        lambda sql: query(url, sql),
        lambda: httpx.AsyncClient(timeout=TIMEOUT, verify=trust),
        trust,
        folder / "haven-access.log",
    )


def sqlite_deployment(
    stack: contextlib.ExitStack, folder: Path, push: FakePushService
) -> Deployment:
    data = folder / "data"
    settings = {
        "HAVEN_PUSH_SERVICES": push.origin,
        "HAVEN_PUSH_SUBJECT": "mailto:operator@haven.example",
    }
    server = start_server(data, settings)
    stack.callback(stop_server, server)
    devices = subscribe_devices([server.url], push, {}, data)

    def rows(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{data / 'haven.sqlite3'}?mode=ro", uri=True) as db:
            return [tuple(row) for row in db.execute(sql).fetchall()]

    return Deployment("1 x SQLite", server.url, [server], push, devices, rows)


def stored(deployment: Deployment) -> set[str]:
    return {str(row[0]) for row in deployment.rows("select reference from help_requests")}


def check_acknowledged(deployment: Deployment, tally: Tally, phase: str, figures: Figures) -> None:
    """Every acknowledged request is stored, under the one reference all its answers gave."""
    references = stored(deployment)
    split = [key for key, given in tally.references.items() if len(given) != 1]
    missing = [ref for given in tally.references.values() for ref in given if ref not in references]
    if split:
        figures.failures.append(f"{phase}: {len(split)} requests answered with two references")
    if missing:
        figures.failures.append(f"{phase}: {len(missing)} acknowledged references not stored")


def drain(deployment: Deployment) -> float:
    """Wait for the push queue to empty, then for every instance to sweep again."""
    started = time.monotonic()
    while deployment.rows("select count(*) from push_outbox")[0][0] != 0:
        if time.monotonic() - started > DRAIN_TIMEOUT:
            break
        time.sleep(0.5)
    waited = time.monotonic() - started
    time.sleep(2 * SWEEP_SECONDS + 0.5)
    return waited


def check_pushes(deployment: Deployment, figures: Figures) -> None:
    per_centre = Counter(
        {str(c): int(n) for c, n in deployment.rows(
            "select centre, count(*) from help_requests group by centre"
        )}
    )  # fmt: skip
    received = Counter(m.name for m in deployment.push.received if m.status == 201)
    refused = sum(1 for m in deployment.push.received if m.status != 201)
    for device, centres in deployment.devices.items():
        expected = sum(per_centre[centre] for centre in centres)
        line = f"device {device} ({'+'.join(centres)}): {received[device]} pushes, {expected} new"
        figures.notes.append(line)
        if received[device] != expected:
            figures.failures.append(f"pushes not exactly once: {line}")
    if refused:
        figures.failures.append(f"{refused} pushes refused by the push service")


def measure(deployment: Deployment, seconds: float, kill: bool) -> Figures:
    bodies = sealed_bodies(deployment.url, SEALED_POOL, verify=deployment.verify)
    tally = asyncio.run(steady(deployment.url, bodies, seconds, deployment.client))
    figures = Figures(tally, Tally())
    figures.steady_rows = len(stored(deployment))
    if figures.steady_rows != tally.statuses[201]:
        figures.failures.append(
            f"steady: {figures.steady_rows} rows stored for {tally.statuses[201]} 201s"
        )
    check_acknowledged(deployment, tally, "steady", figures)
    waited = drain(deployment)
    figures.notes.append(f"steady's push queue empty {waited:.1f} s after the last send")

    victim = deployment.instances[-1]
    killed: list[float] = []

    def halfway() -> None:
        os.kill(victim.process.pid, signal.SIGKILL)
        killed.append(time.monotonic())

    storm_tally = asyncio.run(
        storm(deployment.url, bodies, deployment.client, halfway if kill else None)
    )
    figures.storm = storm_tally
    if killed:
        figures.notes.append(
            f"instance {len(deployment.instances)} killed (SIGKILL) halfway; nginx sent "
            f"{deployment.resent()} help requests on to another instance"
        )
    figures.storm_rows = len(stored(deployment)) - figures.steady_rows
    expected = STORM_PHONES * STORM_EACH
    if figures.storm_rows != expected:
        figures.failures.append(f"storm: {figures.storm_rows} new rows, not {expected}")
    check_acknowledged(deployment, storm_tally, "storm", figures)
    waited = drain(deployment)
    figures.notes.append(f"storm's push queue empty {waited:.1f} s after the last send")
    check_pushes(deployment, figures)
    return figures


def run(kind: str, seconds: float, instances: int) -> Figures:
    with (
        tempfile.TemporaryDirectory(prefix="haven-cluster-") as folder,
        contextlib.ExitStack() as stack,
    ):
        push = stack.enter_context(FakePushService())
        if kind == "cluster":
            deployment = cluster_deployment(stack, Path(folder), instances, push)
        else:
            deployment = sqlite_deployment(stack, Path(folder), push)
        print(f"{deployment.name}: {deployment.url}, devices {sorted(deployment.devices)}")
        return measure(deployment, seconds, kill=kind == "cluster" and instances > 1)


def describe(name: str, figures: Figures) -> None:
    steady_, storm_ = figures.steady, figures.storm
    print(f"== {name}")
    print(
        f"(a) steady, {PHONES} phones for {steady_.seconds:.1f} s: "
        f"{steady_.statuses[201]} acknowledged = {figures.rate:.0f}/s, "
        f"{report_latency(steady_)}, replays 200: {steady_.statuses[200]}, "
        f"errors: {errors(steady_)}"
    )
    print(
        f"(b) storm, {STORM_PHONES} x {STORM_EACH} twice in {storm_.seconds:.1f} s: "
        f"{figures.storm_rows} new rows, 201: {storm_.statuses[201]}, "
        f"200: {storm_.statuses[200]}, errors: {errors(storm_)} "
        f"({dict((s, n) for s, n in storm_.statuses.items() if s not in (200, 201))}), "
        f"{report_latency(storm_)}"
    )
    for note in figures.notes:
        print(f"    {note}")
    for failure in figures.failures:
        print(f"    FAILED: {failure}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="steady phase (at most 60)")
    parser.add_argument("--instances", type=int, default=3, help="instances behind nginx (1-8)")
    parser.add_argument("--skip-sqlite", action="store_true", help="no single SQLite run")
    args = parser.parse_args()
    if not 1 <= args.instances <= 8:
        parser.error("--instances must be between 1 and 8")
    seconds = min(max(args.seconds, 1.0), 60.0)
    print(f"load average at the start: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(
        "nginx: the shipped deploy/nginx.conf with loopback ports and paths, and its "
        "per-address limits raised for the benchmark (limit_req rate=2r/s burst=120 -> "
        "1000000r/s burst=100000; limit_conn 128 -> 60000): all phones here share 127.0.0.1"
    )
    results = {"cluster": run("cluster", seconds, args.instances)}
    if not args.skip_sqlite:
        results["sqlite"] = run("sqlite", seconds, 1)
    print()
    describe(f"{args.instances} instances on PostgreSQL behind nginx (HTTPS)", results["cluster"])
    if "sqlite" in results:
        describe("1 instance on SQLite, no nginx (plain HTTP)", results["sqlite"])
        cluster, single = results["cluster"], results["sqlite"]
        ratio = cluster.rate / single.rate if single.rate else float("inf")
        p99 = percentile(cluster.steady.latencies, 0.99)
        print()
        print(
            f"acknowledgements per second: {cluster.rate:.0f} against {single.rate:.0f} "
            f"= {ratio:.2f}x (target {TARGET_RATIO}x): "
            + ("met" if ratio >= TARGET_RATIO else "NOT met")
        )
        print(
            f"cluster p99 {p99 * 1000:.1f} ms (target under {TARGET_P99 * 1000:.0f} ms): "
            + ("met" if p99 < TARGET_P99 else "NOT met")
        )
    print(f"load average at the end: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    failed = any(figures.failures for figures in results.values())
    print("rows and exactly-once: " + ("FAILED" if failed else "all correct"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
