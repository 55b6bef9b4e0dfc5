"""The server process itself under attack: floods of idle connections, and the
files an intruder on the same machine would read."""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, start_server, stop_server

from server.logs import RepeatFilter

OPEN_FILES = 128


def _few_open_files() -> None:
    # Soft and hard: the server cannot raise it, as on a tightly limited host.
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))


def _idle_connections(url: str, count: int) -> list[socket.socket]:
    port = int(url.rsplit(":", 1)[1])
    sockets = []
    for _ in range(count):
        connection = socket.socket()
        connection.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            connection.connect(("127.0.0.1", port))
        sockets.append(connection)
    return sockets


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_flood_of_idle_connections_neither_fills_the_log_nor_kills_the_server(
    tmp_path: Path, neutral_site: str
) -> None:
    server = start_server(
        tmp_path / "data", tmp_path / "server.log", neutral_site, preexec_fn=_few_open_files
    )
    try:
        # Far more connections than the process may open files: every accept fails.
        flood = _idle_connections(server.url, 2000)
        time.sleep(4)
        for connection in flood:
            connection.close()
        deadline = time.monotonic() + 40
        while True:
            try:
                if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not recover"
    finally:
        stop_server(server)
    log = server.log()
    # Once per kind and interval, however many thousand times it happened.
    assert log.count("socket.accept() out of system resource") == 1
    assert len(log.encode()) < 100_000, f"{len(log.encode())} bytes of log"


def test_connections_past_the_limit_are_answered_503(tmp_path: Path, neutral_site: str) -> None:
    server = start_server(
        tmp_path / "data", tmp_path / "server.log", neutral_site, env={"HAVEN_MAX_CONNECTIONS": "4"}
    )
    try:
        held = _idle_connections(server.url, 6)
        time.sleep(0.5)
        response = httpx.get(f"{server.url}/healthz")
        assert response.status_code == 503
        for connection in held:
            connection.close()
        time.sleep(0.5)
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        stop_server(server)


def test_the_data_directory_and_every_file_in_it_are_private(
    tmp_path: Path, neutral_site: str
) -> None:
    server = start_server(tmp_path / "data", tmp_path / "server.log", neutral_site)
    try:
        assert httpx.get(f"{server.url}/en/p/7").status_code == 200
        form = {"centre": "payoke", "channel": "self", "situation": "x", "consent": "yes"}
        assert httpx.post(f"{server.url}/en/p/7", data=form).status_code == 201
        data = tmp_path / "data"
        assert _mode(data) == 0o700
        files = [path for path in data.rglob("*") if path.is_file()]
        assert {path.name for path in files} >= {
            "haven.sqlite3",
            "haven.sqlite3-wal",
            "inbox-key.pem",
            "vapid-key.pem",
            "session-key",
            "limits-key",
        }
        assert {path.name: oct(_mode(path)) for path in files} == {
            path.name: oct(0o600) for path in files
        }
    finally:
        stop_server(server)


def test_an_older_open_data_directory_is_tightened(tmp_path: Path, neutral_site: str) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    server = start_server(data, tmp_path / "one.log", neutral_site)
    stop_server(server)
    database = data / "haven.sqlite3"
    os.chmod(data, 0o755)
    os.chmod(database, 0o644)
    server = start_server(data, tmp_path / "two.log", neutral_site)
    stop_server(server)
    assert _mode(data) == 0o700 and _mode(database) == 0o600


@pytest.mark.parametrize("key_file", ["inbox-key.pem", "vapid-key.pem", "session-key"])
def test_a_key_file_others_can_read_stops_the_start(tmp_path: Path, key_file: str) -> None:
    data = tmp_path / "data"
    env = {"HAVEN_DATA_DIR": str(data), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    made = subprocess.run(
        [sys.executable, "-m", "server", "keys"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    os.chmod(data / key_file, 0o644)
    started = subprocess.run(
        [sys.executable, "-m", "server", "serve", "--port", "0"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "can be read by other users" in started.stderr and key_file in started.stderr
    assert "Haven is running" not in started.stdout


def test_repeats_are_written_once_per_interval() -> None:
    now = [0.0]
    kept = RepeatFilter(60, clock=lambda: now[0])

    def record(message: str, level: int = logging.ERROR) -> logging.LogRecord:
        return logging.LogRecord("asyncio", level, __file__, 1, message, None, None)

    assert kept.filter(record("handle <TimerHandle when=12.5 0x7f01> failed"))
    # The same error with other numbers in it is the same kind.
    assert not any(
        kept.filter(record(f"handle <TimerHandle when={n} 0x7f{n}> failed")) for n in range(500)
    )
    assert kept.filter(record("another error"))
    assert all(kept.filter(record("GET /en/ 200", logging.INFO)) for _ in range(5))
    now[0] = 61.0
    again = record("handle <TimerHandle when=99 0x7f99> failed")
    assert kept.filter(again)
    assert "500 more like this were left out" in again.getMessage()
