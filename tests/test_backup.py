"""Backups: a running server copied, restored and opened elsewhere; what is refused."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from advisors import (
    COORDINATOR,
    PAYOKE,
    LiveAdvisor,
    add_by_command,
    request_plaintext,
    send_sealed,
)
from click.testing import CliRunner
from conftest import ROOT, start_server, stop_server

from server.cli import main

KEY_FILES = ("inbox-key.pem", "session-key", "vapid-key.pem")


def haven(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A `haven` command run as an operator would, against ``data_dir``."""
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"HAVEN_DATA_DIR": str(data_dir), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        check=False,
        timeout=120,
    )


def references(database: Path) -> set[str]:
    with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as connection:
        found = {row[0] for row in connection.execute("SELECT reference FROM help_requests")}
    connection.close()
    return found


def test_a_backup_of_a_busy_server_restores_and_every_request_opens(
    tmp_path: Path, neutral_site: str
) -> None:
    source = tmp_path / "source"
    for email, centre, *extra in ((COORDINATOR, "pag-asa", "--coordinator"), (PAYOKE, "payoke")):
        assert add_by_command(source, email, centre, *extra).returncode == 0
    server = start_server(source, tmp_path / "source.log", neutral_site)
    contacts: dict[str, str] = {}
    lock = threading.Lock()

    def send(number: int, centre: str = "payoke") -> None:
        contact = f"call me on {number:04d}"
        plaintext = request_plaintext(centre, "en", contact=contact)
        reference = send_sealed(server.url, plaintext, centre=centre)
        with lock:
            contacts[reference] = contact

    stop = threading.Event()
    during: list[int] = []

    def keep_sending() -> None:
        number = 1000
        while not stop.is_set():
            send(number)
            during.append(number)
            number += 1

    try:
        for number, centre in enumerate(["payoke", "surya", "pag-asa", "payoke"]):
            send(number, centre)
        advisor = LiveAdvisor.sign_in(server.url, PAYOKE)
        first = next(iter(contacts))
        assert advisor.act(first, "contact", note="spoke on the phone").status_code == 303
        coordinator = LiveAdvisor.sign_in(server.url, COORDINATOR)
        acknowledged_before = set(contacts)
        sender = threading.Thread(target=keep_sending)
        sender.start()
        try:
            while len(during) < 3 and sender.is_alive():  # the backup starts while requests arrive
                stop.wait(0.05)
            backup = tmp_path / "backups" / "haven.sqlite3"
            backup.parent.mkdir()
            made = haven(source, "backup", str(backup))
            sent_during_backup = len(during)
            while len(during) < sent_during_backup + 3 and sender.is_alive():  # and after
                stop.wait(0.05)
        finally:
            stop.set()
            sender.join(timeout=30)
        assert made.returncode == 0, made.stderr
        assert len(during) >= sent_during_backup + 3, "the phones stopped sending"
        assert "The keys are not in it" in made.stdout
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
        assert not Path(f"{backup}-wal").exists()
        with sqlite3.connect(backup) as check:
            assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        check.close()
        saved = references(backup)
        assert acknowledged_before <= saved <= set(contacts)
        assert len(saved) < len(contacts)  # some arrived after the copy was taken
        # The database's key files are not in the backup: nothing opens without them.
        raw = backup.read_bytes()
        for name in KEY_FILES:
            assert (source / name).read_bytes().strip() not in raw
    finally:
        stop_server(server)

    # A new machine: the keys copied by the operator, the database restored.
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    for name in KEY_FILES:
        shutil.copy2(source / name, target / name)
    restored = haven(target, "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    assert f"restored {len(saved)} requests" in restored.stdout
    server = start_server(target, tmp_path / "target.log", neutral_site)
    try:
        # The session made before the backup still works: sessions came back too.
        resumed = httpx.get(
            f"{server.url}/advisor/api/requests/{first}", cookies=coordinator.client.cookies
        )
        assert resumed.status_code == 200
        assert resumed.json()["events"][0]["note"] == "spoke on the phone"
        reader = LiveAdvisor.sign_in(server.url, COORDINATOR)
        for reference in sorted(saved):
            answer = reader.client.get(f"/advisor/api/requests/{reference}")
            assert answer.status_code == 200, reference
            body = answer.json()
            assert body["readable"], reference
            assert body["fields"]["contact"] == contacts[reference]
        reader.close()
    finally:
        stop_server(server)
        advisor.close()
        coordinator.close()


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    def invoke(data_dir: Path, *args: str, **env: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, list(args), env={"HAVEN_DATA_DIR": str(data_dir), **env})

    return invoke


@pytest.fixture
def backup(tmp_path: Path, run) -> Path:  # type: ignore[no-untyped-def]
    """A backup of a fresh database."""
    assert run(tmp_path / "made", "purge").exit_code == 0  # makes and migrates the database
    path = tmp_path / "backup.sqlite3"
    result = run(tmp_path / "made", "backup", str(path))
    assert result.exit_code == 0, result.output
    return path


def test_a_backup_never_overwrites(tmp_path: Path, run, backup: Path) -> None:  # type: ignore[no-untyped-def]
    before = backup.read_bytes()
    again = run(tmp_path / "made", "backup", str(backup))
    assert again.exit_code == 1 and "exists already" in again.output
    assert backup.read_bytes() == before
    # Nor through a link planted where the backup is to go.
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "link.sqlite3").symlink_to(victim)
    linked = run(tmp_path / "made", "backup", str(tmp_path / "link.sqlite3"))
    assert linked.exit_code == 1 and victim.read_text() == "precious"
    assert not [path for path in tmp_path.iterdir() if path.name.endswith(".tmp")]


def test_restore_only_into_a_data_directory_without_a_database(
    tmp_path: Path,
    run,  # type: ignore[no-untyped-def]
    backup: Path,
) -> None:
    result = run(tmp_path / "made", "restore", str(backup))
    assert result.exit_code == 1 and "a database exists already" in result.output
    fresh = run(tmp_path / "fresh", "restore", str(backup))
    assert fresh.exit_code == 0, fresh.output
    assert stat.S_IMODE((tmp_path / "fresh" / "haven.sqlite3").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda path: path.write_text("not a database"), "is not an SQLite database"),
        (
            lambda path: (
                sqlite3.connect(path).execute("CREATE TABLE notes (text)").connection.commit()
            ),
            "not Haven's",
        ),
    ],
)
def test_restore_refuses_what_is_not_a_haven_database(
    tmp_path: Path,
    run,  # type: ignore[no-untyped-def]
    make,  # type: ignore[no-untyped-def]
    message: str,
) -> None:
    path = tmp_path / "suspect.sqlite3"
    make(path)
    result = run(tmp_path / "fresh", "restore", str(path))
    assert result.exit_code == 1 and message in result.output
    assert not (tmp_path / "fresh" / "haven.sqlite3").exists()


def test_restore_refuses_a_backup_with_triggers_or_views(
    tmp_path: Path,
    run,  # type: ignore[no-untyped-def]
    backup: Path,
) -> None:
    """A planted trigger would copy every new envelope somewhere, inside the server."""
    planted = tmp_path / "planted.sqlite3"
    shutil.copy(backup, planted)
    with sqlite3.connect(planted) as connection:
        connection.execute("CREATE TABLE loot (envelope BLOB)")
        connection.execute(
            "CREATE TRIGGER copy AFTER INSERT ON help_requests "
            "BEGIN INSERT INTO loot VALUES (new.envelope); END"
        )
    connection.close()
    result = run(tmp_path / "fresh", "restore", str(planted))
    assert result.exit_code == 1 and "trigger copy" in result.output
    assert not (tmp_path / "fresh" / "haven.sqlite3").exists()


def test_restore_refuses_a_damaged_backup(tmp_path: Path, run, backup: Path) -> None:  # type: ignore[no-untyped-def]
    data = bytearray(backup.read_bytes())
    page = 4096
    data[page * 2 : page * 2 + 200] = os.urandom(200)  # a page in the middle, scrambled
    backup.write_bytes(bytes(data))
    result = run(tmp_path / "fresh", "restore", str(backup))
    assert result.exit_code == 1
    assert "damaged" in result.output or "not a Haven database" in result.output
    assert not (tmp_path / "fresh" / "haven.sqlite3").exists()


def test_restore_refuses_an_unknown_revision_and_upgrades_an_older_one(
    tmp_path: Path,
    run,  # type: ignore[no-untyped-def]
    backup: Path,
) -> None:
    newer = tmp_path / "newer.sqlite3"
    shutil.copy(backup, newer)
    with sqlite3.connect(newer) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.close()
    refused = run(tmp_path / "fresh", "restore", str(newer))
    assert refused.exit_code == 1 and "revision 9999" in refused.output
    assert not (tmp_path / "fresh" / "haven.sqlite3").exists()

    older = tmp_path / "older.sqlite3"
    shutil.copy(backup, older)
    with sqlite3.connect(older) as connection:
        connection.execute("DROP TABLE maintenance")
        connection.execute("UPDATE alembic_version SET version_num = '0004'")
    connection.close()
    upgraded = run(tmp_path / "old", "restore", str(older))
    assert upgraded.exit_code == 0, upgraded.output
    database = tmp_path / "old" / "haven.sqlite3"
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT task FROM maintenance").fetchall() == [("purge",)]
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    connection.close()
    assert revision != [("0003",)]
    assert not Path(f"{database}-wal").exists()


def test_postgresql_is_backed_up_with_its_own_tools(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    url = "postgresql+asyncpg://haven:secret@127.0.0.1:1/haven"
    result = run(tmp_path, "backup", str(tmp_path / "x"), HAVEN_DATABASE_URL=url)
    assert result.exit_code == 1 and "pg_dump" in result.output and "secret" not in result.output
    restored = run(tmp_path, "restore", __file__, HAVEN_DATABASE_URL=url)
    assert restored.exit_code == 1 and "pg_restore" in restored.output


def test_nothing_to_back_up_is_a_clear_error(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    result = run(tmp_path / "empty", "backup", str(tmp_path / "x.sqlite3"))
    assert result.exit_code == 1 and "there is no database" in result.output
