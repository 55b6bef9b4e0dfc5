"""The purge: what goes after the retention, what stays, one at a time, nothing left behind."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from advisors import make_settings
from click.testing import CliRunner
from conftest import ROOT, sqlite_only
from sqlalchemy import func, select

from server import daily_purge
from server.cli import main
from server.content import load_content
from server.daily_purge import DailyPurge, notice_out_of_date, policy
from server.i18n import LANGUAGES
from server.settings import DEFAULT_RETENTION_DAYS, Settings
from server.storage import Database, store_request
from server.storage.advisors import create_advisor, create_session, revoke_session
from server.storage.audit import audit
from server.storage.cases import Scope, record_event
from server.storage.retention import EVERY, LOCK_KEY, NotNow, Policy, purge
from server.storage.schema import advisor_sessions, audit_log, help_requests, request_events

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
POLICY = Policy(
    retention=90 * DAY,
    audit_retention=365 * DAY,
    session_idle=dt.timedelta(minutes=30),
    session_lifetime=dt.timedelta(hours=10),
)
EVERYWHERE = Scope(None)


async def _advisor(db: Database, email: str = "anna@payoke.be") -> int:
    advisor = await create_advisor(
        db, email=email, centre="payoke", coordinator=False, password_hash="x", now=NOW
    )
    return advisor.id


async def _request(db: Database, advisor_id: int, *, closed_at: dt.datetime | None) -> str:
    """A request received 200 days ago with a note; closed at ``closed_at`` (None: open)."""
    received = NOW - 200 * DAY
    stored = await store_request(
        db,
        idempotency_key=secrets.token_urlsafe(24),
        centre="payoke",
        language="en",
        envelope=secrets.token_bytes(600),
        envelope_version=1,
        received_at=received,
    )
    reference = stored.reference
    await record_event(
        db, EVERYWHERE, reference, advisor_id=advisor_id, kind="note", now=received,
        note=secrets.token_bytes(200),
    )  # fmt: skip
    await audit(db, now=received, advisor_id=advisor_id, action="view_request", reference=reference)
    if closed_at is not None:
        await record_event(
            db, EVERYWHERE, reference, advisor_id=advisor_id, kind="close", now=closed_at,
            outcome="supported",
        )  # fmt: skip
    return reference


async def _count(db: Database, table, where=None) -> int:  # type: ignore[no-untyped-def]
    query = select(func.count()).select_from(table)
    if where is not None:
        query = query.where(where)
    async with db.engine.connect() as connection:
        return int(await connection.scalar(query) or 0)


async def _references(db: Database) -> set[str]:
    async with db.engine.connect() as connection:
        return set((await connection.scalars(select(help_requests.c.reference))).all())


@pytest.mark.asyncio
async def test_closed_requests_go_after_the_retention_and_open_ones_stay(db: Database) -> None:
    advisor_id = await _advisor(db)
    expired = await _request(db, advisor_id, closed_at=NOW - 91 * DAY)
    recent = await _request(db, advisor_id, closed_at=NOW - 89 * DAY)
    still_open = await _request(db, advisor_id, closed_at=None)  # received 200 days ago

    report = await purge(db, POLICY, NOW)

    assert await _references(db) == {recent, still_open}
    assert report.counts["closed requests"] == 1
    # Its note and its close went with it; the others keep theirs.
    assert report.counts["events and notes of closed requests"] == 2
    assert await _count(db, request_events) == 3
    # The audit keeps who looked, and when, but no longer which request.
    async with db.engine.connect() as connection:
        named = set((await connection.scalars(select(audit_log.c.request_reference))).all())
    assert expired not in named and {recent, still_open} <= named
    assert report.counts["audit entries unlinked from closed requests"] == 1


@pytest.mark.asyncio
async def test_old_audit_entries_and_dead_sessions_go_and_the_purge_leaves_its_count(
    db: Database,
) -> None:
    advisor_id = await _advisor(db)
    for days in (366, 400):
        await audit(db, now=NOW - days * DAY, advisor_id=advisor_id, action="login")
    await audit(db, now=NOW - 364 * DAY, advisor_id=advisor_id, action="login")
    sessions = {
        "live": NOW - dt.timedelta(minutes=5),
        "idle": NOW - dt.timedelta(minutes=31),
        "revoked": NOW - dt.timedelta(minutes=1),
    }
    for name, moment in sessions.items():
        await create_session(db, id_hash=name, advisor_id=advisor_id, now=moment)
    await revoke_session(db, "revoked", NOW)

    report = await purge(db, POLICY, NOW)

    assert report.counts["audit entries"] == 2
    assert report.counts["advisor sessions"] == 2
    async with db.engine.connect() as connection:
        left = set((await connection.scalars(select(advisor_sessions.c.id_hash))).all())
        entries = (await connection.execute(select(audit_log).order_by(audit_log.c.at))).all()
    assert left == {"live"}
    # The one left from before, and the purge's own entry: counts, no reference, no one.
    assert [entry.action for entry in entries] == ["login", "purge"]
    trace = entries[-1]
    assert trace.advisor_id is None and trace.request_reference is None
    assert "audit entries: 2" in trace.detail and "advisor sessions: 2" in trace.detail


@pytest.mark.asyncio
async def test_a_dry_run_counts_the_same_rows_and_removes_nothing(db: Database) -> None:
    advisor_id = await _advisor(db)
    await _request(db, advisor_id, closed_at=NOW - 100 * DAY)
    await create_session(db, id_hash="old", advisor_id=advisor_id, now=NOW - DAY)
    before = (await _count(db, help_requests), await _count(db, audit_log))

    dry = await purge(db, POLICY, NOW, dry_run=True)

    assert (await _count(db, help_requests), await _count(db, audit_log)) == before
    assert await _count(db, advisor_sessions) == 1
    real = await purge(db, POLICY, NOW)
    assert dry.counts == real.counts and real.removed > 0
    assert await _count(db, help_requests) == 0


@pytest.mark.asyncio
async def test_the_daily_purge_runs_once_a_day_whoever_asks(db: Database) -> None:
    assert (await purge(db, POLICY, NOW, when_due=True)).removed == 0
    with pytest.raises(NotNow):
        await purge(db, POLICY, NOW + EVERY - dt.timedelta(minutes=1), when_due=True)
    await purge(db, POLICY, NOW + EVERY, when_due=True)
    # The command runs whenever it is asked to.
    await purge(db, POLICY, NOW + EVERY)


@pytest.mark.asyncio
async def test_two_processes_on_one_sqlite_file_purge_once(tmp_path: Path) -> None:
    """Two engines are two sets of connections, locked against each other by SQLite."""
    settings = make_settings(tmp_path)
    settings.data_dir.mkdir(parents=True)
    first, second = Database.from_settings(settings), Database.from_settings(settings)
    await first.start()
    await second.start()
    try:
        advisor_id = await _advisor(first)
        for _ in range(3):
            await _request(first, advisor_id, closed_at=NOW - 100 * DAY)

        async def attempt(db: Database) -> int | None:
            try:
                return (await purge(db, POLICY, NOW, when_due=True)).counts["closed requests"]
            except NotNow:
                return None

        results = await asyncio.gather(attempt(first), attempt(second), attempt(first))
        assert sorted(results, key=lambda value: value is None) == [3, None, None]
        assert await _count(first, audit_log, audit_log.c.action == "purge") == 1
    finally:
        await first.stop()
        await second.stop()


@pytest.mark.asyncio
async def test_the_daily_task_purges_by_itself_and_survives_a_failure(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    advisor_id = await _advisor(db)
    await _request(db, advisor_id, closed_at=NOW - 100 * DAY)
    real_purge = daily_purge.purge
    calls = 0

    async def failing_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("HV-SECRET-REF could not be deleted")
        return await real_purge(*args, **kwargs)

    monkeypatch.setattr(daily_purge, "purge", failing_once)
    clock = [NOW]
    task = DailyPurge(db, POLICY, lambda: clock[0], first_delay=0, check_every=0.01)
    task.start()
    try:
        for _ in range(1000):
            if task.runs:
                break
            await asyncio.sleep(0.01)
    finally:
        await task.stop()
    assert task.runs == 1 and calls >= 2
    assert await _count(db, help_requests) == 0
    failures = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert failures and "RuntimeError" in failures[0].getMessage()
    assert all("HV-SECRET" not in record.getMessage() for record in caplog.records)


def test_a_running_app_purges_by_itself(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from server.app import create_app
    from server.storage.schema import maintenance

    app = create_app(make_settings(tmp_path))
    running = app.state.haven
    running.purge.first_delay = 0
    running.purge.clock = lambda: NOW

    async def last_run() -> dt.datetime | None:
        async with running.db.engine.connect() as connection:
            return await connection.scalar(select(maintenance.c.last_run_at))

    with TestClient(app) as client:
        for _ in range(1000):
            if running.purge.runs:
                break
            client.portal.call(asyncio.sleep, 0.01)  # type: ignore[union-attr]
        assert running.purge.runs == 1
        assert client.portal.call(last_run) == NOW  # type: ignore[union-attr]


def test_the_policy_follows_the_settings(tmp_path: Path) -> None:
    kept = policy(
        make_settings(tmp_path, HAVEN_RETENTION_DAYS="30", HAVEN_AUDIT_RETENTION_DAYS="7")
    )
    assert (kept.retention, kept.audit_retention) == (30 * DAY, 7 * DAY)
    defaults = policy(make_settings(tmp_path))
    assert (defaults.retention, defaults.audit_retention) == (90 * DAY, 365 * DAY)


@pytest.mark.parametrize("name", ["HAVEN_RETENTION_DAYS", "HAVEN_AUDIT_RETENTION_DAYS"])
@pytest.mark.parametrize("value", ["0", "-5", "abc", "3651", "9_0", "+90", "٩٠", "1e3", ""])
def test_retention_settings_are_whole_days_in_range(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=rf"{name} must be a whole number of days from 1 to 3650"):
        Settings.from_environ({name: value})


def test_the_privacy_notice_gives_the_default_retention_in_every_language() -> None:
    content = load_content()
    assert notice_out_of_date(content, DEFAULT_RETENTION_DAYS) == []
    assert set(notice_out_of_date(content, 30)) == set(LANGUAGES)


def test_a_server_whose_retention_differs_from_the_notice_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from server.app import build

    with caplog.at_level(logging.WARNING, logger="haven.purge"):
        build(make_settings(tmp_path))
        assert not caplog.records
        build(make_settings(tmp_path, HAVEN_RETENTION_DAYS="30"))
    assert "HAVEN_RETENTION_DAYS is 30" in caplog.text and "privacy.md" in caplog.text


def test_the_postgresql_lock_key_fits_a_bigint() -> None:
    assert -(2**63) <= LOCK_KEY < 2**63


# --- nothing left in the file -----------------------------------------------------


def _file_bytes(database: Path) -> bytes:
    return b"".join(
        Path(f"{database}{suffix}").read_bytes()
        for suffix in ("", "-wal")
        if Path(f"{database}{suffix}").exists()
    )


@sqlite_only  # SQLite's file and WAL; docs/operations.md says what PostgreSQL keeps
@pytest.mark.asyncio
async def test_a_purged_request_leaves_no_bytes_in_the_database_or_its_wal(
    db: Database, tmp_path: Path
) -> None:
    advisor_id = await _advisor(db)
    reference = await _request(db, advisor_id, closed_at=NOW - 91 * DAY)
    kept = await _request(db, advisor_id, closed_at=None)
    async with db.engine.connect() as connection:
        envelope = await connection.scalar(
            select(help_requests.c.envelope).where(help_requests.c.reference == reference)
        )
        note = await connection.scalar(
            select(request_events.c.note).where(request_events.c.note.is_not(None)).limit(1)
        )
    database = tmp_path / "data" / "haven.sqlite3"
    before = _file_bytes(database)
    # The test can see them: before the purge they are there.
    assert envelope in before and note in before and reference.encode() in before

    await purge(db, POLICY, NOW)

    after = _file_bytes(database)
    assert not Path(f"{database}-wal").exists() or Path(f"{database}-wal").stat().st_size == 0
    for secret in (envelope, note):
        assert secret[:32] not in after and secret[-32:] not in after
    assert reference.encode() not in after
    assert kept.encode() in after


def test_without_secure_delete_the_bytes_would_stay(tmp_path: Path) -> None:
    """What the test above guards against: SQLite keeps deleted cells by default."""
    secret = os.urandom(600)
    path = tmp_path / "plain.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA secure_delete=OFF")
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)")
        connection.execute("INSERT INTO t (b) VALUES (?)", (secret,))
        connection.execute("INSERT INTO t (b) VALUES (?)", (os.urandom(600),))
        connection.commit()
        connection.execute("DELETE FROM t WHERE id = 1")
        connection.commit()
    connection.close()
    assert secret[:32] in path.read_bytes()


# --- the command --------------------------------------------------------------------


def test_haven_purge_waits_for_another_process_holding_the_database(tmp_path: Path) -> None:
    """While another process writes, the purge does not run beside it; it says so and stops."""
    settings = make_settings(tmp_path)
    env = {"HAVEN_DATA_DIR": str(settings.data_dir)}
    assert CliRunner().invoke(main, ["purge"], env=env).exit_code == 0
    other = sqlite3.connect(settings.data_dir / "haven.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # what a writing process holds
        busy = subprocess.run(
            [sys.executable, "-m", "server", "purge"],
            capture_output=True, text=True, cwd=ROOT, env={**os.environ, **env}, timeout=120,
        )  # fmt: skip
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert busy.returncode == 1, busy.stderr
    assert "the database stayed busy" in busy.stderr and "Traceback" not in busy.stderr
    again = CliRunner().invoke(main, ["purge"], env=env)
    assert again.exit_code == 0 and "removed 0 in all" in again.output


def test_haven_purge_prints_counts_only_and_dry_run_keeps_everything(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.data_dir.mkdir(parents=True)

    async def fill() -> str:
        db = Database.from_settings(settings)
        await db.start()
        try:
            advisor_id = await _advisor(db, "secret.person@payoke.be")
            # Closed long before the real clock's 90 days.
            return await _request(db, advisor_id, closed_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        finally:
            await db.stop()

    reference = asyncio.run(fill())
    env = {"HAVEN_DATA_DIR": str(settings.data_dir)}
    dry = CliRunner().invoke(main, ["purge", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "closed requests: 1" in dry.output and "would remove" in dry.output
    real = CliRunner().invoke(main, ["purge"], env=env)
    assert real.exit_code == 0, real.output
    assert "closed requests: 1" in real.output and "removed" in real.output
    again = CliRunner().invoke(main, ["purge"], env=env)
    assert "closed requests: 0" in again.output
    for output in (dry.output, real.output):
        assert reference not in output and "secret.person" not in output
