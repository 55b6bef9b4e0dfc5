"""``haven keys``: making the keys, listing them, rotating them, retiring old inbox keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from ..crypto import InboxKeyError
from ..keys import KeysError, load_keys
from ..push import PushKeyError
from ..security.files import KeyFileError
from ..storage import Database
from .common import settings as configured_settings
from .common import with_database

T = TypeVar("T")
RESTART = "Restart every instance now: each reads its keys when it starts."


def _keys_dir() -> Path:
    return configured_settings().keys_dir


def _run(work: Callable[[Database, Path], Awaitable[T]]) -> T:
    """``work(db, keys_dir)``; any key problem becomes a clear error."""
    keys_dir = _keys_dir()

    async def run(db: Database) -> T:
        return await work(db, keys_dir)

    try:
        return with_database(run)
    except (KeysError, InboxKeyError, PushKeyError, KeyFileError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:
        raise click.ClickException(f"keys directory {keys_dir}: {error}") from error


@click.group(invoke_without_command=True)
@click.pass_context
def keys(context: click.Context) -> None:
    """Create the inbox, session and VAPID keys if missing; print the public ones.

    The keys live in HAVEN_KEYS_DIR (default: the data directory); every
    instance of a deployment must read the same ones.
    """
    if context.invoked_subcommand is not None:
        return
    keys_dir = _keys_dir()
    try:
        held = load_keys(keys_dir)
    except (KeysError, InboxKeyError, PushKeyError, KeyFileError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:
        raise click.ClickException(f"keys directory {keys_dir}: {error}") from error
    click.echo(f"inbox key id: {held.inbox.kid}")
    click.echo(f"VAPID public key: {held.vapid.public_key}")


@keys.command("list")
def list_command() -> None:
    """Each key: its id, whether it is current, when it was recorded, what uses it."""
    from ..rotation import list_keys

    listed, usage = _run(list_keys)
    click.echo(f"{'kind':<8} {'id':<12} {'current':<8} {'recorded (UTC)':<17} envelopes")
    for item in listed:
        key = item.key
        uses = "" if item.envelopes is None else str(item.envelopes)
        if key.kind == "inbox" and item.envelopes is not None:
            uses = f"{usage.requests[key.kid]} requests, {usage.notes[key.kid]} notes"
        if not item.held:
            uses += " (file missing)"
        click.echo(
            f"{key.kind:<8} {key.kid:<12} {'yes' if key.current else '':<8} "
            f"{key.created_at:%Y-%m-%d %H:%M} {uses}".rstrip()
        )
    unreadable = usage.requests[""] + usage.notes[""]
    if unreadable:
        click.echo(f"{unreadable} stored envelopes name no inbox key (they cannot be opened)")


@keys.command("rotate")
@click.option("--inbox", is_flag=True, help="A new inbox key for new requests; old ones kept.")
@click.option("--session", is_flag=True, help="A new session key: every advisor signs in again.")
@click.option("--vapid", is_flag=True, help="A new VAPID key: dashboards subscribe again.")
def rotate(inbox: bool, session: bool, vapid: bool) -> None:
    """Make a new key; the database's record follows. Restart every instance after."""
    from ..rotation import rotate_inbox, rotate_session, rotate_vapid

    chosen = [
        work
        for flag, work in ((inbox, rotate_inbox), (session, rotate_session), (vapid, rotate_vapid))
        if flag
    ]
    if not chosen:
        raise click.UsageError("say which key: --inbox, --session or --vapid")
    for work in chosen:
        rotated = _run(work)
        click.echo(f"{rotated.kind} key {rotated.old} -> {rotated.new}: {rotated.detail}")
    click.echo(RESTART)


@keys.command("retire")
@click.argument("kid")
def retire(kid: str) -> None:
    """Remove the older inbox key KID, if no stored request or note needs it.

    Stop every instance first: one still running accepts envelopes sealed to
    KID until it is restarted.
    """
    from ..rotation import retire_inbox_key

    async def work(db: Database, keys_dir: Path) -> None:
        await retire_inbox_key(db, keys_dir, kid)

    _run(work)
    click.echo(f"inbox key {kid} retired: its file is deleted")
