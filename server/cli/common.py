"""What the commands share: the settings, and a migrated database to work on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from ..security.files import private_directory
from ..settings import Settings

T = TypeVar("T")


def settings() -> Settings:
    """The settings from the environment, or the command fails saying what is wrong."""
    try:
        return Settings.from_environ()
    except (ValueError, KeyError) as error:
        raise click.ClickException(f"configuration: {error}") from error


def with_database(work: Callable[..., Awaitable[T]]) -> T:
    """Run ``work(db)`` against the configured database, migrated first."""
    from ..storage import Database

    configured = settings()

    async def run() -> T:
        try:
            private_directory(configured.data_dir)
        except OSError as error:
            raise click.ClickException(f"data directory {configured.data_dir}: {error}") from error
        try:
            db = Database.from_settings(configured)
        except ValueError as error:
            raise click.ClickException(f"configuration: {error}") from error
        await db.start()
        try:
            return await work(db)
        finally:
            await db.stop()

    return asyncio.run(run())
