"""The ``haven`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import re
import resource
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
import uvicorn
from starlette.types import ASGIApp

from . import __version__, logs
from .content import ContentError, content_ids
from .crypto import InboxKey, InboxKeyError
from .security.files import KeyFileError, private_directory, private_umask
from .settings import Settings

T = TypeVar("T")
ADVISOR_CENTRES = content_ids().centres
EMAIL = re.compile(r"[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}")


def _settings() -> Settings:
    try:
        return Settings.from_environ()
    except (ValueError, KeyError) as error:
        raise click.ClickException(f"configuration: {error}") from error


@click.group()
@click.version_option(__version__, prog_name="haven")
def main() -> None:
    """Haven: an offline-first help app."""
    # Before anything is written: the database and the keys are this user's alone.
    private_umask()


@main.command()
@click.option("-h", "--host", default=None, help="Address to listen on (default HAVEN_HOST).")
@click.option(
    "-p",
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port (default HAVEN_PORT); 0 picks a free one.",
)
def serve(host: str | None, port: int | None) -> None:
    """Run the server and print its address."""
    settings = _settings()
    host = host or settings.host
    port = settings.port if port is None else port
    logs.configure(settings.log_level)
    _raise_open_files_limit()
    from .app import create_app
    from .push import PushKeyError

    # Bound first, so that the app knows the address it serves (the sitemap's,
    # without HAVEN_BASE_URL), even when port 0 picks one.
    try:
        sock = listen(host, port)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from error
    bound_port = sock.getsockname()[1]
    settings = dataclasses.replace(settings, host=host, port=bound_port)
    with contextlib.ExitStack() as on_error:
        on_error.callback(sock.close)
        try:
            app = create_app(settings)
        except ContentError as error:
            raise click.ClickException(f"content: {error}") from error
        except (InboxKeyError, PushKeyError, KeyFileError) as error:
            raise click.ClickException(f"key: {error}") from error
        except ValueError as error:
            raise click.ClickException(f"configuration: {error}") from error
        except OSError as error:
            raise click.ClickException(f"data directory {settings.data_dir}: {error}") from error
        on_error.pop_all()

    shown_host = f"[{host}]" if sock.family == socket.AF_INET6 else host
    click.echo(f"Haven is running at http://{shown_host}:{bound_port}/", file=sys.stdout)
    sys.stdout.flush()

    config = uvicorn_config(app, settings)
    server = uvicorn.Server(config)
    asyncio.run(server.serve(sockets=[sock]))


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0 picks a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Naming IPPROTO_TCP lets asyncio turn Nagle's algorithm off on each
    # connection; without it every response written in two parts (headers,
    # then body) waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    return sock


def uvicorn_config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    """How uvicorn runs Haven (bench/throughput.py runs its bare app the same way)."""
    return uvicorn.Config(
        app,
        access_log=False,  # uvicorn's access log prints client addresses
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=list(settings.forwarded_allow_ips),
        server_header=False,
        date_header=False,
        # Past this many connections at once, new ones are answered 503 at once:
        # a flood of idle connections cannot exhaust the process's files.
        limit_concurrency=settings.max_connections,
    )


def _raise_open_files_limit() -> None:
    """Use all the open files the system allows: each connection holds one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))


# --- keys ------------------------------------------------------------------------


@main.command()
def keys() -> None:
    """Create the inbox, session and VAPID keys if missing; print the public ones."""
    from .advisor.sessions import load_or_create_key
    from .push import PushKeyError, VapidKey

    settings = _settings()
    try:
        private_directory(settings.data_dir)
        inbox = InboxKey.load_or_create(settings.data_dir)
        load_or_create_key(settings.data_dir)
        vapid = VapidKey.load_or_create(settings.data_dir)
    except (InboxKeyError, PushKeyError, KeyFileError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:
        raise click.ClickException(f"data directory {settings.data_dir}: {error}") from error
    click.echo(f"inbox key id: {inbox.kid}")
    click.echo(f"VAPID public key: {vapid.public_key}")


# --- advisor accounts ------------------------------------------------------------


def _with_database(work: Callable[..., Awaitable[T]]) -> T:
    """Run ``work(db)`` against the configured database, migrated first."""
    from .storage import Database

    settings = _settings()

    async def run() -> T:
        try:
            private_directory(settings.data_dir)
        except OSError as error:
            raise click.ClickException(f"data directory {settings.data_dir}: {error}") from error
        try:
            db = Database.from_settings(settings)
        except ValueError as error:
            raise click.ClickException(f"configuration: {error}") from error
        await db.start()
        try:
            return await work(db)
        finally:
            await db.stop()

    return asyncio.run(run())


def _read_password(from_stdin: bool, email: str) -> str:
    from .advisor.passwords import password_problem

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


@main.group()
def advisor() -> None:
    """Manage advisor accounts."""


@advisor.command("add")
@click.option("--centre", required=True, type=click.Choice(ADVISOR_CENTRES), help="The centre.")
@click.option("--email", required=True, help="The advisor's e-mail address (their login).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--coordinator", is_flag=True, help="May see every centre and route requests.")
def advisor_add(centre: str, email: str, password_stdin: bool, coordinator: bool) -> None:
    """Create an advisor account."""
    from .advisor.passwords import hash_password
    from .storage.advisors import DuplicateEmail, create_advisor

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

    _with_database(work)
    role = "coordinator" if coordinator else "advisor"
    click.echo(f"added {role} {email.lower()} of {centre}")


@advisor.command("list")
def advisor_list() -> None:
    """List the advisor accounts."""
    from .storage.advisors import list_advisors

    accounts = _with_database(list_advisors)
    if not accounts:
        click.echo("no advisors yet: add one with `haven advisor add`")
        return
    for account in accounts:
        role = "coordinator" if account.coordinator else "advisor"
        state = "disabled" if account.disabled_at else "active"
        click.echo(f"{account.email}\t{account.centre}\t{role}\t{state}")


def _set_disabled(email: str, disabled: bool) -> None:
    from .storage.advisors import set_disabled

    async def work(db: object) -> bool:
        return await set_disabled(db, email, disabled, _now())  # type: ignore[arg-type]

    if not _with_database(work):
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
    from .advisor.passwords import hash_password
    from .storage.advisors import set_password

    password = _read_password(password_stdin, email)

    async def work(db: object) -> bool:
        return await set_password(db, email, hash_password(password), _now())  # type: ignore[arg-type]

    if not _with_database(work):
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
    from .advisor.sessions import load_or_create_key
    from .advisor.totp import TotpBox, new_secret, provisioning_uri
    from .storage.advisors import normalise_email, set_totp

    settings = _settings()
    address = normalise_email(email)
    try:
        private_directory(settings.data_dir)
        box = TotpBox(load_or_create_key(settings.data_dir))
    except (OSError, ValueError) as error:
        raise click.ClickException(f"session key: {error}") from error
    secret = None if remove else new_secret()
    sealed = None if secret is None else box.seal(secret, address)

    async def work(db: object) -> bool:
        return await set_totp(db, address, sealed, _now())  # type: ignore[arg-type]

    if not _with_database(work):
        raise click.ClickException(f"there is no advisor with the e-mail {address}")
    if secret is None:
        click.echo(f"second factor removed for {address}; their sessions have ended")
        return
    click.echo(f"second factor set up for {address}; their sessions have ended")
    click.echo("Add this to their authenticator app (it is shown only now):")
    click.echo(provisioning_uri(secret, address))
    click.echo(f"secret: {secret}")
