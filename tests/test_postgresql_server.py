"""A real ``haven serve`` on each database: the storm of replays, and PostgreSQL's backups.

Exactly once holds on PostgreSQL as on SQLite: phones sending every request
several times, side by side, with the server killed halfway, leave one row
per request, and every acknowledged request is there after the restart
with the reference it was given. A ``pg_dump`` restored with
``pg_restore`` (or ``psql``) into an empty database opens every request.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import secrets
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from advisors import PASSWORD, LiveAdvisor, add_arguments, request_plaintext, send_sealed
from conftest import ROOT, LiveServer, start_server, stop_server
from helpers import raw_rows
from pg import Cluster, dump

from server.crypto import seal

REQUESTS = 120  # distinct requests, each with its own idempotency key
SENDS = 3  # each sent this many times, the copies shuffled among the others
CONCURRENCY = 30


def _inbox_key(url: str) -> bytes:
    raw = httpx.get(f"{url}/api/inbox-key").json()["raw"]
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


async def _send_all(
    url: str, bodies: dict[str, bytes], order: list[str], kill_after: int | None, server: LiveServer
) -> list[tuple[str, int, str]]:
    """Send ``order`` (keys, repeated) ``CONCURRENCY`` at a time; the answers heard.

    With ``kill_after``, the server is killed (SIGKILL) once that many were answered.
    """
    answers: list[tuple[str, int, str]] = []
    queue = list(reversed(order))
    killed = False

    async def phone(client: httpx.AsyncClient) -> None:
        nonlocal killed
        while queue and not killed:
            key = queue.pop()
            try:
                response = await client.post(
                    "/api/requests",
                    content=bodies[key],
                    headers={"Idempotency-Key": key, "Content-Type": "application/json"},
                )
            except httpx.HTTPError:
                continue  # the server is gone: the phone keeps it and tries later
            assert response.status_code in (200, 201), response.text
            answers.append((key, response.status_code, response.json()["reference"]))
            if kill_after is not None and len(answers) >= kill_after and not killed:
                killed = True
                server.process.kill()

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        await asyncio.gather(*(phone(client) for _ in range(CONCURRENCY)))
    return answers


def test_a_storm_of_replays_stores_each_request_once_across_a_kill(
    tmp_path: Path, neutral_site: str, database_env: dict[str, str]
) -> None:
    env = {"HAVEN_REQUEST_RATE": "100000/60", **database_env}
    data = tmp_path / "data"
    server = start_server(data, tmp_path / "server.log", neutral_site, env=env)
    try:
        public = _inbox_key(server.url)
        keys = [f"storm-{index:04d}-{secrets.token_urlsafe(12)}" for index in range(REQUESTS)]
        bodies = {}
        for index, key in enumerate(keys):
            centre = ("payoke", "pag-asa", "surya")[index % 3]
            envelope = seal(public, request_plaintext(centre, "nl"), centre, "nl")
            bodies[key] = json.dumps(
                {"centre": centre, "lang": "nl", "envelope": envelope}
            ).encode()
        order = keys * SENDS
        random.Random(14).shuffle(order)
        before = asyncio.run(_send_all(server.url, bodies, order, len(order) // 2, server))
    finally:
        stop_server(server)
    assert len(before) >= len(order) // 2

    # Back up again: every phone sends everything once more.
    server = start_server(data, tmp_path / "server.log", neutral_site, env=env)
    try:
        after = asyncio.run(_send_all(server.url, bodies, list(keys), None, server))
    finally:
        stop_server(server)
    assert len(after) == REQUESTS

    heard: dict[str, set[str]] = defaultdict(set)
    created: dict[str, int] = defaultdict(int)
    for key, status, reference in before + after:
        heard[key].add(reference)
        created[key] += status == 201
    # One reference per request, whatever copy and whichever side of the kill.
    assert all(len(references) == 1 for references in heard.values())
    assert max(created.values()) == 1  # never two creations of one request
    # Every request sent after the restart was already stored or stored then;
    # all acknowledged before the kill were committed before their answers.
    acknowledged = {key for key, _, _ in before}
    assert all(status == 200 for key, status, _ in after if key in acknowledged)
    url = env.get("HAVEN_DATABASE_URL", f"sqlite+aiosqlite:///{data / 'haven.sqlite3'}")
    stored = {reference for (reference,) in raw_rows(url, "select reference from help_requests")}
    assert len(stored) == REQUESTS
    assert stored == {next(iter(references)) for references in heard.values()}
    assert "Traceback" not in (tmp_path / "server.log").read_text()


# --- backups with pg_dump --------------------------------------------------------------


def _haven(env: dict[str, str], *arguments: str, stdin: str = "") -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _empty_database(cluster: Cluster) -> str:
    name = cluster.unique_name("restored")
    cluster.psql(f"CREATE DATABASE {name} TEMPLATE template0 OWNER haven")
    return name


@pytest.mark.postgresql
def test_a_pg_dump_restored_into_an_empty_database_opens_every_request(
    tmp_path: Path, neutral_site: str, pg_cluster: Cluster
) -> None:
    coordinator = "dora@haven.be"
    with pg_cluster.fresh_database() as url:
        env = {"HAVEN_DATA_DIR": str(tmp_path / "data"), "HAVEN_DATABASE_URL": url}
        server = start_server(tmp_path / "data", tmp_path / "server.log", neutral_site, env=env)
        try:
            sent = {
                send_sealed(server.url, centre=centre)
                for centre in ("payoke", "pag-asa", "surya", "unknown", "payoke")
            }
        finally:
            stop_server(server)
        _haven(env, *add_arguments(coordinator, "pag-asa", "--coordinator"), stdin=PASSWORD)
        archive = tmp_path / "haven.dump"
        dump(url, "--format=custom", f"--file={archive}")
        plain = dump(url)
    assert archive.stat().st_size > 0 and "CREATE TABLE public.help_requests" in plain

    # The custom archive with pg_restore, the plain one with psql, as the operator's guide says.
    from_archive = _empty_database(pg_cluster)
    from_plain = _empty_database(pg_cluster)
    try:
        pg_cluster.client(
            "pg_restore", "-U", "haven", "--no-owner", "--exit-on-error", "-d", from_archive,
            str(archive),
        )  # fmt: skip
        pg_cluster.client(
            "psql", "-U", "haven", "-d", from_plain, "-X", "-q", "-v", "ON_ERROR_STOP=1",
            input=plain,
        )  # fmt: skip
        restored = {
            reference
            for (reference,) in raw_rows(
                pg_cluster.url(from_plain), "select reference from help_requests"
            )
        }
        assert restored == sent

        # The same keys directory, the restored database: every request opens.
        env = {"HAVEN_DATABASE_URL": pg_cluster.url(from_archive)}
        server = start_server(tmp_path / "data", tmp_path / "server.log", neutral_site, env=env)
        try:
            advisor = LiveAdvisor.sign_in(server.url, coordinator)
            listed = advisor.client.get("/advisor/api/requests").json()["requests"]
            advisor.close()
        finally:
            stop_server(server)
    finally:
        pg_cluster.drop_database(from_archive)
        pg_cluster.drop_database(from_plain)
    assert {case["reference"] for case in listed} == sent
    assert all(case["readable"] and case["fields"]["channel"] == "call" for case in listed)
