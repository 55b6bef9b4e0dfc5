"""The database: an async engine, its SQLite pragmas, and migrations at start.

The sign-in budgets' counters and the push queue's claims and deletions are
written in transactions that do not wait for the disk
(:meth:`Database.relaxed`): a power cut can lose the last of them, which
only loosens a limit for one window or sends a push a second time. What must
survive (a request, its count, its notification) commits with the group.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..security.files import tighten
from .writer import Writer

if TYPE_CHECKING:
    from ..settings import Settings

logger = logging.getLogger("haven.storage")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# How long a connection waits for another's write lock before giving up:
# SQLite's busy timeout, PostgreSQL's lock_timeout, so that a request held up
# by a lock fails alike on both ("unavailable, try again") instead of hanging.
BUSY_TIMEOUT_MS = 5000
# Whoever migrates holds this PostgreSQL advisory lock: instances started
# together on an empty database migrate it one after the other.
MIGRATION_LOCK = 0x6861_7665  # "have"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; synchronous=FULL makes every
    # commit reach the disk before it returns, so an acknowledgement is a promise.
    # secure_delete zeroes what is deleted (cells and freed pages) instead of
    # leaving it in the file for anyone who copies it; see retention.py.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_relaxed_pragmas(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    try:
        # In WAL mode, NORMAL commits without an fsync; the next FULL commit
        # (or checkpoint) carries these pages to the disk.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()
    # Transactions are begun below, not by the driver.
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Any) -> None:
    # A relaxed transaction may read, then write: it takes the write lock at
    # once (waiting up to busy_timeout), so its reads are never of a snapshot
    # another instance's write has made stale.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config() -> Config:
    config = Config()
    # Config values are interpolated: a '%' in the path must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Released at the transaction's end; a migration may wait longer than
        # a request would.
        connection.execute(text("SET LOCAL lock_timeout = 0"))
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def head_revision() -> str | None:
    """The newest migration revision: what a migrated database is at."""
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def known_revisions() -> frozenset[str]:
    """Every migration revision this version of Haven knows."""
    scripts = ScriptDirectory.from_config(_alembic_config())
    return frozenset(script.revision for script in scripts.walk_revisions())


def sqlite_file(url: str) -> Path | None:
    """The file an SQLite URL names; None for PostgreSQL or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


class Database:
    """One engine per process, and the single writer that commits in groups."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.drivername not in SUPPORTED_DRIVERS:
            raise ValueError(
                f"HAVEN_DATABASE_URL must start with one of {', '.join(SUPPORTED_DRIVERS)}"
            )
        self.url = url
        self.dialect = parsed.get_backend_name()
        self._engine: AsyncEngine | None = None
        self._relaxed_engine: AsyncEngine | None = None
        self._writer: Writer | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(str(settings.database_url))

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the database is not started")
        return self._engine

    @property
    def writer(self) -> Writer:
        if self._writer is None:
            raise RuntimeError("the database is not started")
        return self._writer

    def build_engine(self, *, relaxed: bool = False) -> AsyncEngine:
        if self.dialect == "postgresql":
            # A connection dropped by the server (a restart, a failover) is
            # noticed before use rather than failing a request.
            return create_async_engine(
                self.url,
                pool_pre_ping=True,
                connect_args={
                    "server_settings": {
                        "lock_timeout": str(BUSY_TIMEOUT_MS),
                        "application_name": "haven",
                        # Stored times are timestamptz: the session's zone
                        # changes nothing, but UTC keeps psql and logs plain.
                        "timezone": "UTC",
                    }
                },
            )
        engine = create_async_engine(self.url)
        pragmas = _sqlite_relaxed_pragmas if relaxed else _sqlite_pragmas
        event.listen(engine.sync_engine, "connect", pragmas)
        if relaxed:
            event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine

    @contextlib.asynccontextmanager
    async def relaxed(self) -> AsyncIterator[AsyncConnection]:
        """A transaction committed without waiting for the disk, begun with the write lock
        on SQLite (counters, the push queue's claims)."""
        engine = self._relaxed_engine
        if engine is None:
            raise RuntimeError("the database is not started")
        async with engine.begin() as connection:
            if self.dialect == "postgresql":
                await connection.execute(text("SET LOCAL synchronous_commit = off"))
            yield connection

    async def start(self) -> None:
        self._engine = self.build_engine()
        async with self._engine.begin() as connection:
            await connection.run_sync(_upgrade)
        self._tighten_files()
        # SQLite's pragmas are per connection: relaxed transactions get their own.
        self._relaxed_engine = (
            self.build_engine(relaxed=True) if self.dialect == "sqlite" else self._engine
        )
        self._writer = Writer(self._engine)
        self._writer.start()

    def _tighten_files(self) -> None:
        """An SQLite file (and its journal) made before umask 077: its user's alone."""
        database = sqlite_file(self.url)
        if database is None:
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            path = Path(f"{database}{suffix}")
            if path.exists():
                tighten(path)

    async def stop(self) -> None:
        if self._writer is not None:
            await self._writer.stop()
            self._writer = None
        if self._relaxed_engine is not None and self._relaxed_engine is not self._engine:
            await self._relaxed_engine.dispose()
        self._relaxed_engine = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
