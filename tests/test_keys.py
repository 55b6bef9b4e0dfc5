"""The keys directory: fingerprints checked at start; the inbox key rotated and retired."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
from advisors import PAYOKE, LiveAdvisor, add_by_command, request_plaintext
from conftest import ROOT, start_server, stop_server
from cryptography.hazmat.primitives.asymmetric import ec

from server.crypto import InboxKey, seal
from server.health import EVERY
from server.keys import FILES

KEY_FILES = tuple(FILES.values())  # every key file of a keys directory


def haven(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A ``haven`` command run as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def post(url: str, public_raw: bytes, key: str, centre: str = "payoke") -> httpx.Response:
    envelope = seal(public_raw, request_plaintext(centre, "en"), centre, "en")
    return httpx.post(
        f"{url}/api/requests",
        json={"centre": centre, "lang": "en", "envelope": envelope},
        headers={"Idempotency-Key": f"test-{key}-0123456789"},
        timeout=10,
    )


def published_key(url: str) -> tuple[str, bytes]:
    document = httpx.get(f"{url}/api/inbox-key").json()
    raw = document["raw"]
    return document["kid"], base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


def test_keys_live_in_their_own_directory_private_to_haven(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    env = {"HAVEN_DATA_DIR": str(tmp_path / "data"), "HAVEN_KEYS_DIR": str(keys_dir)}
    made = haven(env, "keys")
    assert made.returncode == 0, made.stderr
    for name in KEY_FILES:
        assert stat.S_IMODE((keys_dir / name).stat().st_mode) == 0o600
        assert not (tmp_path / "data" / name).exists()
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700


def test_an_instance_with_other_keys_refuses_to_start(tmp_path: Path, neutral_site: str) -> None:
    first = tmp_path / "first"
    stop_server(start_server(first, tmp_path / "first.log", neutral_site))
    database = f"sqlite+aiosqlite:///{first / 'haven.sqlite3'}"
    second = {
        "HAVEN_DATA_DIR": str(tmp_path / "second"),
        "HAVEN_KEYS_DIR": str(tmp_path / "other-keys"),
        "HAVEN_DATABASE_URL": database,
        "HAVEN_EXIT_URL": neutral_site,
    }
    refused = haven(second, "serve", "--port", "0")
    assert refused.returncode == 3  # uvicorn's "startup failed"
    log = refused.stderr
    assert "not the ones this database was made with" in log
    for kind in ("inbox", "session", "vapid"):
        assert f"the {kind} key in {tmp_path / 'other-keys'}" in log
    assert "Copy the keys directory of the other instances" in log
    assert "Application startup failed" in log

    # A copy of the first instance's keys directory is what a second instance needs.
    shared = tmp_path / "shared-keys"
    shared.mkdir(mode=0o700)
    for name in KEY_FILES:
        shutil.copy2(first / name, shared / name)
    server = start_server(
        tmp_path / "second",
        tmp_path / "second.log",
        neutral_site,
        env={"HAVEN_KEYS_DIR": str(shared), "HAVEN_DATABASE_URL": database},
    )
    try:
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        stop_server(server)


def _delete_requests_sealed_to(database: Path, kid: str) -> int:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT id, envelope FROM help_requests").fetchall()
        doomed = [(row_id,) for row_id, envelope in rows if json.loads(envelope)["kid"] == kid]
        connection.executemany("DELETE FROM request_events WHERE request_id = ?", doomed)
        connection.executemany("DELETE FROM help_requests WHERE id = ?", doomed)
    return len(doomed)


def test_inbox_key_rotation_end_to_end(tmp_path: Path, neutral_site: str) -> None:
    data = tmp_path / "data"
    env = {"HAVEN_DATA_DIR": str(data)}
    log = tmp_path / "server.log"
    server = start_server(data, log, neutral_site)
    try:
        old_kid, old_raw = published_key(server.url)
        worker_before = httpx.get(f"{server.url}/sw.js").text
        assert post(server.url, old_raw, "before-rotation").status_code == 201

        rotated = haven(env, "keys", "rotate", "--inbox")
        assert rotated.returncode == 0, rotated.stderr
        assert f"inbox key {old_kid} -> " in rotated.stdout
        assert "Restart every instance" in rotated.stdout
        new = InboxKey.load(data / "inbox-key.pem")
        assert new.kid != old_kid
        assert (data / f"inbox-key.{old_kid}.pem").exists()

        # An instance not restarted yet cannot take the new key: the phone is
        # told to try again later (503), not that its request is lost.
        stale = post(server.url, new.public_raw, "sealed-to-the-new-key")
        assert stale.status_code == 503, stale.text
        assert "restart it after a key rotation" in server.log()
        # And its health check says so, for the proxy and the monitoring.
        # Within the 5 s its last answer (the start's "ok") is kept for.
        deadline = time.monotonic() + EVERY + 5
        while (health := httpx.get(f"{server.url}/healthz")).status_code == 200:
            assert time.monotonic() < deadline, "/healthz never said restart"
            time.sleep(0.2)
        assert (health.status_code, health.json()) == (503, {"status": "restart"})
        assert "restart this instance after a key rotation" in server.log()
    finally:
        stop_server(server)

    server = start_server(data, log, neutral_site)
    try:
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
        kid, raw = published_key(server.url)
        assert (kid, raw) == (new.kid, new.public_raw)
        # The worker's precache changes with the key: phones get it on the update.
        assert httpx.get(f"{server.url}/sw.js").text != worker_before
        # A phone that sealed with the old key before it updated still gets through.
        assert post(server.url, old_raw, "after-rotation-old-key").status_code == 201
        assert post(server.url, new.public_raw, "sealed-to-the-new-key").status_code == 201
        stranger = InboxKey(ec.generate_private_key(ec.SECP256R1())).public_raw
        assert post(server.url, stranger, "a-key-never-held").status_code == 422

        assert add_by_command(data, PAYOKE, "payoke").returncode == 0
        advisor = LiveAdvisor.sign_in(server.url, PAYOKE)
        try:
            listed = advisor.client.get("/advisor/api/requests").json()["requests"]
            assert len(listed) == 3
            assert all(item["readable"] for item in listed), listed
            reference = listed[0]["reference"]
            assert advisor.act(reference, "note", note="called back").status_code in (200, 303)
            opened = advisor.client.get(f"/advisor/api/requests/{reference}").json()
            assert [event["note"] for event in opened["events"]] == ["called back"]
        finally:
            advisor.close()

        listing = haven(env, "keys", "list")
        assert listing.returncode == 0, listing.stderr
        rows = {line.split()[1]: line for line in listing.stdout.splitlines()[1:]}
        assert "2 requests, 0 notes" in rows[old_kid]
        assert "yes" in rows[new.kid] and "1 requests, 1 notes" in rows[new.kid]

        refused = haven(env, "keys", "retire", old_kid)
        assert refused.returncode == 1
        assert f"inbox key {old_kid} still opens 2 stored requests and 0 notes" in refused.stderr
        assert (data / f"inbox-key.{old_kid}.pem").exists()
        current = haven(env, "keys", "retire", new.kid)
        assert current.returncode == 1 and "is the current inbox key" in current.stderr
        unknown = haven(env, "keys", "retire", "AAAAAAAAAAA")
        assert unknown.returncode == 1
        assert "there is no inbox key AAAAAAAAAAA" in unknown.stderr
        assert old_kid in unknown.stderr and new.kid in unknown.stderr
        traversal = haven(env, "keys", "retire", "../session-key")
        assert traversal.returncode == 1 and "there is no inbox key" in traversal.stderr
        assert (data / "session-key").exists()
    finally:
        stop_server(server)

    # Retired while the instances are stopped, once nothing needs the key.
    assert _delete_requests_sealed_to(data / "haven.sqlite3", old_kid) == 2
    retired = haven(env, "keys", "retire", old_kid)
    assert retired.returncode == 0, retired.stderr
    assert not (data / f"inbox-key.{old_kid}.pem").exists()
    assert old_kid not in haven(env, "keys", "list").stdout
    server = start_server(data, log, neutral_site)
    try:
        assert post(server.url, old_raw, "old-key-after-retiring").status_code == 422
        assert post(server.url, new.public_raw, "new-key-after-retiring").status_code == 201
    finally:
        stop_server(server)


def test_key_commands_without_keys_say_so(tmp_path: Path) -> None:
    env = {"HAVEN_DATA_DIR": str(tmp_path / "data"), "HAVEN_KEYS_DIR": str(tmp_path / "none")}
    for args in (("list",), ("rotate", "--inbox"), ("retire", "AAAAAAAAAAA")):
        result = haven(env, "keys", *args)
        assert result.returncode == 1, result
        assert f"there are no keys in {tmp_path / 'none'}" in result.stderr
    assert not (tmp_path / "none").exists()
    nothing = haven(env, "keys", "rotate")
    assert nothing.returncode == 2 and "--inbox, --session or --vapid" in nothing.stderr
