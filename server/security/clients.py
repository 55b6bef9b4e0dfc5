"""Who is asking: the client's address as the server sees it, read in one place.

Behind a trusted proxy uvicorn has already put the forwarded address here.
The address is used only as a key for limits (hashed there) and never stored
or logged.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection


def client_address(connection: HTTPConnection) -> str | None:
    """The peer's address, or None when there is none (a Unix socket, a test)."""
    return connection.client.host if connection.client else None
