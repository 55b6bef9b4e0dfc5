"""The ``haven`` command line."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys

import click
import uvicorn

from . import __version__
from .content import ContentError
from .crypto import InboxKeyError
from .settings import Settings


def _settings() -> Settings:
    try:
        return Settings.from_environ()
    except (ValueError, KeyError) as error:
        raise click.ClickException(f"configuration: {error}") from error


@click.group()
@click.version_option(__version__, prog_name="haven")
def main() -> None:
    """Haven: an offline-first help app."""


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
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    from .app import create_app

    try:
        app = create_app(settings)
    except ContentError as error:
        raise click.ClickException(f"content: {error}") from error
    except InboxKeyError as error:
        raise click.ClickException(f"inbox key: {error}") from error
    except ValueError as error:
        raise click.ClickException(f"configuration: {error}") from error
    except OSError as error:
        raise click.ClickException(f"data directory {settings.data_dir}: {error}") from error

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Naming IPPROTO_TCP lets asyncio turn Nagle's algorithm off on each
    # connection; without it every response written in two parts (headers,
    # then body) waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from error
    sock.listen(2048)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if family == socket.AF_INET6 else host
    click.echo(f"Haven is running at http://{shown_host}:{bound_port}/", file=sys.stdout)
    sys.stdout.flush()

    config = uvicorn.Config(
        app,
        access_log=False,  # uvicorn's access log prints client addresses
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=list(settings.forwarded_allow_ips),
        server_header=False,
        date_header=False,
    )
    server = uvicorn.Server(config)
    asyncio.run(server.serve(sockets=[sock]))
