"""Copies of an SQLite database: a consistent backup while it runs, and its restore.

A backup is made with SQLite's online backup API in one step, which reads
one snapshot of the database while the server keeps writing (WAL readers
do not stop the writer), into a private temporary file that is checked and
then linked under its name: nothing is ever overwritten, and no half-made
backup is left under the name asked for. The copy is a single file
(``journal_mode=DELETE``), mode 0600.

Neither holds a key: requests and notes stay sealed to the inbox key, which
is backed up separately.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .database import known_revisions

# What every Haven database holds, whatever its revision.
REQUIRED_TABLES = frozenset({"alembic_version", "help_requests"})
_MAGIC = b"SQLite format 3\x00"


class BackupError(Exception):
    """A backup or a restore that cannot be done; the message says why."""


@dataclass(frozen=True)
class Copied:
    path: Path
    requests: int
    revision: str
    size: int


def _temporary(next_to: Path) -> Path:
    """A new empty file beside ``next_to``, this user's alone."""
    path = next_to.with_name(f".{next_to.name}.{secrets.token_hex(8)}.tmp")
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


@contextlib.contextmanager
def _connected(path: Path, *, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    uri = f"{path.resolve().as_uri()}?mode={'ro' if read_only else 'rw'}"
    connection = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        connection.execute("PRAGMA busy_timeout=5000")
        # Reading a file from elsewhere: its schema may not call functions with side effects.
        connection.execute("PRAGMA trusted_schema=OFF")
        yield connection
    finally:
        connection.close()


def _check(connection: sqlite3.Connection, what: str) -> tuple[str, int]:
    """The revision and request count of a whole, known Haven database, or BackupError."""
    try:
        result = connection.execute("PRAGMA integrity_check").fetchall()
        if result != [("ok",)]:
            raise BackupError(f"{what} is damaged (SQLite's integrity check failed)")
        schema = connection.execute("SELECT type, name FROM sqlite_master").fetchall()
        tables = {name for kind, name in schema if kind == "table"}
        if not tables >= REQUIRED_TABLES:
            raise BackupError(f"{what} is an SQLite database, but not Haven's")
        # Haven makes neither; one in a file handed over would run inside the server.
        foreign = sorted(f"{kind} {name}" for kind, name in schema if kind in ("trigger", "view"))
        if foreign:
            raise BackupError(f"{what} holds what Haven never makes: {', '.join(foreign)}")
        found = connection.execute("SELECT version_num FROM alembic_version")
        revisions = [row[0] for row in found]
        requests = int(connection.execute("SELECT count(*) FROM help_requests").fetchone()[0])
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{what} is not a Haven database ({error})") from error
    if len(revisions) != 1 or revisions[0] not in known_revisions():
        raise BackupError(
            f"{what} is at migration revision {', '.join(map(str, revisions)) or 'none'}, "
            "which this version of Haven does not know: restore it with the version that "
            "made it, or a newer one"
        )
    return str(revisions[0]), requests


def _link(temporary: Path, target: Path) -> None:
    """Give the finished file its name, unless something already has it."""
    try:
        os.link(temporary, target)
    except FileExistsError as error:
        raise BackupError(f"{target} exists already; Haven does not overwrite it") from error
    finally:
        temporary.unlink(missing_ok=True)


def _single_file(path: Path) -> None:
    """Fold any WAL into the file and leave it one file (no WAL beside it to lose)."""
    with _connected(path) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _copy(
    source: sqlite3.Connection,
    target: Path,
    what: str,
    prepare: Callable[[Path], None] | None = None,
) -> Copied:
    if os.path.lexists(target):
        raise BackupError(f"{target} exists already; Haven does not overwrite it")
    temporary = _temporary(target)
    try:
        with _connected(temporary) as copy:
            try:
                source.backup(copy)  # every page in one step: one snapshot
            except sqlite3.DatabaseError as error:
                raise BackupError(f"{what} could not be copied ({error})") from error
        if prepare is not None:
            prepare(temporary)
        _single_file(temporary)
        with _connected(temporary) as copy:
            revision, requests = _check(copy, what)
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        size = temporary.stat().st_size
        _link(temporary, target)
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{temporary}{suffix}").unlink(missing_ok=True)
    return Copied(target, requests, revision, size)


def back_up(database: Path, target: Path) -> Copied:
    """Copy the live database at ``database`` to ``target``, a new file."""
    if not database.is_file():
        raise BackupError(f"there is no database at {database} to back up")
    with _connected(database) as source:
        return _copy(source, target, "the copy")


def existing_database(database: Path) -> Path | None:
    """The database file, or a journal of one, already at ``database``."""
    for suffix in ("", "-wal", "-journal"):
        path = Path(f"{database}{suffix}")
        if os.path.lexists(path):
            return path
    return None


def restore(backup: Path, database: Path, upgrade: Callable[[Path], None]) -> Copied:
    """Copy the backup at ``backup`` to ``database``, where there must be none yet.

    The backup is checked first (SQLite, whole, Haven's, at a revision this
    version knows); ``upgrade`` migrates the copy to the newest revision
    before it takes the database's name.
    """
    found = existing_database(database)
    if found is not None:
        raise BackupError(
            f"a database exists already at {found}; restore only into a data directory "
            "without one (move it away first if it is really to be replaced)"
        )
    try:
        with backup.open("rb") as handle:
            magic = handle.read(len(_MAGIC))
    except OSError as error:
        raise BackupError(f"cannot read {backup}: {error.strerror}") from error
    if magic != _MAGIC:
        raise BackupError(f"{backup} is not an SQLite database")
    with _connected(backup, read_only=True) as source:
        _check(source, str(backup))
        return _copy(source, database, str(backup), upgrade)
