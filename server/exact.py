"""Prerendered addresses answered before the router.

Starlette finds a route by trying each pattern in turn, and every response
passes through the middleware, which rebuilds its header list. A page or
file that Haven rendered at start is known by its exact address: it is
looked up in one dict, and its answers - each encoding's 200, HEAD and 304,
with the security headers already in place - are built once, when the app
is made. They are the same bytes the router's endpoints would send
(tests/test_exact.py compares them); any other address or method goes on to
the app unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from .accesslog import logger, record
from .responses import RawHeaders, Representation, Wire, accepts_gzip, matches
from .security.headers import security_headers, with_security_headers

METHODS = frozenset({"GET", "HEAD"})
# Their own middleware changes these answers' headers (server/advisor).
LEFT_TO_THE_ROUTER = "/advisor"


class _Answers:
    __slots__ = ("gzipped", "plain")

    def __init__(self, representation: Representation, security: RawHeaders) -> None:
        self.plain = _secured(representation.wire(encoded=False), security)
        self.gzipped = (
            None
            if representation.gzipped is None
            else _secured(representation.wire(encoded=True), security)
        )


def _secured(wire: Wire, security: RawHeaders) -> Wire:
    return Wire(
        etag=wire.etag,
        body=wire.body,
        ok=tuple(with_security_headers(wire.ok, security)),
        head=tuple(with_security_headers(wire.head, security)),
        not_modified=tuple(with_security_headers(wire.not_modified, security)),
    )


class ExactPathsMiddleware:
    def __init__(
        self, app: ASGIApp, table: Mapping[str, Representation], hsts_seconds: int
    ) -> None:
        self.app = app
        security = security_headers(hsts_seconds)
        self.answers = {
            path: _Answers(representation, security)
            for path, representation in table.items()
            if not path.startswith(LEFT_TO_THE_ROUTER)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answers = (
            self.answers.get(scope["path"])
            if scope["type"] == "http" and scope["method"] in METHODS and not scope.get("root_path")
            else None
        )
        if answers is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        accept_encoding = if_none_match = None
        # The first of each, as Starlette's Request.headers.get would read them.
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                if accept_encoding is None:
                    accept_encoding = value.decode("latin-1")
            elif name == b"if-none-match" and if_none_match is None:
                if_none_match = value.decode("latin-1")
        wire = answers.plain
        if answers.gzipped is not None and accepts_gzip(accept_encoding):
            wire = answers.gzipped
        status, headers, body = 200, wire.ok, wire.body
        if matches(if_none_match, wire.etag):
            status, headers, body = 304, wire.not_modified, b""
        elif scope["method"] == "HEAD":
            headers, body = wire.head, b""
        try:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            if logger.isEnabledFor(logging.INFO):
                record(scope, status, started)
