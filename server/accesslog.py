"""Request logging without client addresses.

uvicorn's access log is turned off (it prints the client's IP); this
middleware logs method, path, status and duration only. Query strings are
left out: they could one day carry something a person typed.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("haven.access")


def record(scope: Scope, status: int, started: float) -> None:
    """One line of the access log for a request begun at ``started`` (perf_counter)."""
    elapsed = (time.perf_counter() - started) * 1000
    logger.info("%s %s %d %.1fms", scope["method"], scope["path"], status, elapsed)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Asked per request, so a level changed at run time is followed.
        if scope["type"] != "http" or not logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            record(scope, status, started)
