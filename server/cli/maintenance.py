"""``haven purge``, ``haven backup`` and ``haven restore``: keeping the data as it should be.

What they print is counts, sizes and paths: never a request, a reference or
an e-mail address.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from ..security.files import private_directory
from ..storage import Database
from .common import settings as configured_settings
from .common import with_database

PG_DUMP = "pg_dump --format=custom --file=FILE DATABASE"
PG_RESTORE = "pg_restore --no-owner --dbname=DATABASE FILE"


@click.command()
@click.option("--dry-run", is_flag=True, help="Count what would go, and remove nothing.")
def purge(dry_run: bool) -> None:
    """Delete closed requests past the retention, old audit entries and dead sessions."""
    from ..daily_purge import policy
    from ..haven import utc_now
    from ..storage.retention import NotNow, Report
    from ..storage.retention import purge as run_purge

    kept = policy(configured_settings())

    async def work(db: Database) -> Report:
        return await run_purge(db, kept, utc_now(), dry_run=dry_run)

    try:
        report = with_database(work)
    except NotNow as error:
        raise click.ClickException(
            "another instance is purging right now; try again in a moment"
        ) from error
    except OperationalError as error:
        # SQLite: another process held the write lock past the busy timeout.
        raise click.ClickException(
            "the database stayed busy (another process is writing to it); nothing was "
            "removed: try again in a moment"
        ) from error
    verb = "would remove" if dry_run else "removed"
    for kind, count in report.counts.items():
        click.echo(f"{kind}: {count}")
    click.echo(f"{verb} {report.removed} in all" + (" (nothing was changed)" if dry_run else ""))


def _sqlite_file(what: str) -> Path:
    from ..storage.database import sqlite_file

    settings = configured_settings()
    database = sqlite_file(str(settings.database_url))
    if database is None:
        command = PG_DUMP if what == "backup" else PG_RESTORE
        raise click.ClickException(
            f"HAVEN_DATABASE_URL is PostgreSQL: use PostgreSQL's own tools for the {what}, "
            f"such as `{command}` (see docs/operations.md, Backups and restore)"
        )
    return database


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path) -> None:
    """Copy the database to FILE (a new file), consistently, even while Haven runs."""
    from ..storage.backup import BackupError, back_up

    database = _sqlite_file("backup")
    try:
        copied = back_up(database, file)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:
        raise click.ClickException(f"{file}: {error.strerror}") from error
    click.echo(
        f"backed up {copied.requests} requests to {copied.path} "
        f"({copied.size} bytes, revision {copied.revision}, mode 0600)"
    )
    click.echo("The keys are not in it: back up the key files separately (see the README).")


def _upgrade(path: Path) -> None:
    async def run() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await db.start()  # runs the migrations
        await db.stop()

    asyncio.run(run())


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore(file: Path) -> None:
    """Restore the backup FILE into a data directory that has no database yet."""
    from ..storage.backup import BackupError
    from ..storage.backup import restore as run_restore

    database = _sqlite_file("restore")
    try:
        private_directory(database.parent)
        copied = run_restore(file, database, _upgrade)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:
        raise click.ClickException(f"{database.parent}: {error.strerror}") from error
    click.echo(f"restored {copied.requests} requests to {copied.path} (revision {copied.revision})")
    click.echo(
        "Put the key files of the backed-up server in place before starting it: "
        "without its inbox key no request can be opened."
    )
