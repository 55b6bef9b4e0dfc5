"""``haven advisor ...``: advisor accounts, their passwords and second factors."""

from __future__ import annotations

import datetime as dt
import re
import sys

import click

from ..content import content_ids
from ..security.files import private_directory
from .common import settings as configured_settings
from .common import with_database

ADVISOR_CENTRES = content_ids().centres
EMAIL = re.compile(r"[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}")


def _read_password(from_stdin: bool, email: str) -> str:
    from ..advisor.passwords import password_problem

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password, email)
    if problem is not None:
        raise click.ClickException(f"weak password: {problem}")
    return password


def _check_email(email: str) -> str:
    email = email.strip()
    if not EMAIL.fullmatch(email) or len(email) > 254:
        raise click.ClickException(f"{email!r} is not an e-mail address")
    return email


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@click.group()
def advisor() -> None:
    """Manage advisor accounts."""


@advisor.command("add")
@click.option("--centre", required=True, type=click.Choice(ADVISOR_CENTRES), help="The centre.")
@click.option("--email", required=True, help="The advisor's e-mail address (their login).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--coordinator", is_flag=True, help="May see every centre and route requests.")
def advisor_add(centre: str, email: str, password_stdin: bool, coordinator: bool) -> None:
    """Create an advisor account."""
    from ..advisor.passwords import hash_password
    from ..storage.advisors import DuplicateEmail, create_advisor

    email = _check_email(email)
    password = _read_password(password_stdin, email)

    async def work(db: object) -> None:
        try:
            await create_advisor(
                db,  # type: ignore[arg-type]
                email=email,
                centre=centre,
                coordinator=coordinator,
                password_hash=hash_password(password),
                now=_now(),
            )
        except DuplicateEmail as error:
            raise click.ClickException(
                f"an advisor with the e-mail {error} exists already"
            ) from error

    with_database(work)
    role = "coordinator" if coordinator else "advisor"
    click.echo(f"added {role} {email.lower()} of {centre}")


@advisor.command("list")
def advisor_list() -> None:
    """List the advisor accounts."""
    from ..storage.advisors import list_advisors

    accounts = with_database(list_advisors)
    if not accounts:
        click.echo("no advisors yet: add one with `haven advisor add`")
        return
    for account in accounts:
        role = "coordinator" if account.coordinator else "advisor"
        state = "disabled" if account.disabled_at else "active"
        click.echo(f"{account.email}\t{account.centre}\t{role}\t{state}")


def _set_disabled(email: str, disabled: bool) -> None:
    from ..storage.advisors import set_disabled

    async def work(db: object) -> bool:
        return await set_disabled(db, email, disabled, _now())  # type: ignore[arg-type]

    if not with_database(work):
        raise click.ClickException(f"there is no advisor with the e-mail {email.strip().lower()}")


@advisor.command("disable")
@click.option("--email", required=True)
def advisor_disable(email: str) -> None:
    """Disable an account and end its sessions at once."""
    _set_disabled(email, True)
    click.echo(f"disabled {email.strip().lower()}; their sessions have ended")


@advisor.command("enable")
@click.option("--email", required=True)
def advisor_enable(email: str) -> None:
    """Enable a disabled account again."""
    _set_disabled(email, False)
    click.echo(f"enabled {email.strip().lower()}")


@advisor.command("set-password")
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def advisor_set_password(email: str, password_stdin: bool) -> None:
    """Set a new password; the account's sessions end."""
    from ..advisor.passwords import hash_password
    from ..storage.advisors import set_password

    password = _read_password(password_stdin, email)

    async def work(db: object) -> bool:
        return await set_password(db, email, hash_password(password), _now())  # type: ignore[arg-type]

    if not with_database(work):
        raise click.ClickException(f"there is no advisor with the e-mail {email.strip().lower()}")
    click.echo(f"password changed for {email.strip().lower()}; their sessions have ended")


@advisor.command("totp")
@click.option("--email", required=True)
@click.option("--remove", is_flag=True, help="Remove the second factor instead.")
def advisor_totp(email: str, remove: bool) -> None:
    """Set up a second factor (an authenticator app's code) for an account.

    Prints the otpauth:// address to give the authenticator app (as a QR code
    or typed in). Setting it up again replaces the old one; either way the
    account's sessions end.
    """
    from ..advisor.sessions import load_or_create_key
    from ..advisor.totp import TotpBox, new_secret, provisioning_uri
    from ..storage.advisors import normalise_email, set_totp

    settings = configured_settings()
    address = normalise_email(email)
    try:
        private_directory(settings.keys_dir)
        box = TotpBox(load_or_create_key(settings.keys_dir))
    except (OSError, ValueError) as error:
        raise click.ClickException(f"session key: {error}") from error
    secret = None if remove else new_secret()
    sealed = None if secret is None else box.seal(secret, address)

    async def work(db: object) -> bool:
        return await set_totp(db, address, sealed, _now())  # type: ignore[arg-type]

    if not with_database(work):
        raise click.ClickException(f"there is no advisor with the e-mail {address}")
    if secret is None:
        click.echo(f"second factor removed for {address}; their sessions have ended")
        return
    click.echo(f"second factor set up for {address}; their sessions have ended")
    click.echo("Add this to their authenticator app (it is shown only now):")
    click.echo(provisioning_uri(secret, address))
    click.echo(f"secret: {secret}")
