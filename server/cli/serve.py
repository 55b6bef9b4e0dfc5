"""``haven serve``: running the server."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import resource
import socket
import sys

import click
import uvicorn
from starlette.types import ASGIApp

from .. import logs
from ..content import ContentError
from ..crypto import InboxKeyError
from ..keys import KeysError
from ..security.files import KeyFileError
from ..settings import Settings
from .common import settings as configured_settings


@click.command()
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
    settings = configured_settings()
    host = host or settings.host
    port = settings.port if port is None else port
    logs.configure(settings.log_level)
    _raise_open_files_limit()
    from ..app import create_app
    from ..push import PushKeyError

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
        except (InboxKeyError, PushKeyError, KeyFileError, KeysError) as error:
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
    # A start the lifespan refuses (keys that are not the database's, say) is
    # logged with its reason, and uvicorn exits with status 3.
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
