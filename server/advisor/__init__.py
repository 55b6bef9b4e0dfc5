"""The advisors' side: sign-in, the centre-scoped inbox, actions, audit, statistics, push."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import errors, haven
from ..assets import compact
from ..bundle import PWA_DIR
from ..responses import NO_STORE, Representation
from . import api, case, coordinator, inbox, signin

ASSETS_DIR = PWA_DIR / "advisor"
# The dashboard's own files: never in the public pages' precache.
ASSETS = {
    "/advisor/assets/advisor.css": ("advisor.css", "text/css; charset=utf-8"),
    "/advisor/assets/advisor.js": ("advisor.js", "text/javascript; charset=utf-8"),
    "/advisor/sw.js": ("sw.js", "text/javascript; charset=utf-8"),
}


def load_assets() -> dict[str, Representation]:
    """The dashboard's files; its scripts without their comments, like the public ones."""
    files: dict[str, Representation] = {}
    for url, (name, media_type) in ASSETS.items():
        body = (ASSETS_DIR / name).read_bytes()
        files[url] = Representation(compact(body) if name.endswith(".js") else body, media_type)
    return files


async def asset(request: Request) -> Response:
    representation: Representation | None = haven.of(request).files.advisor.get(request.url.path)
    if representation is None:
        raise HTTPException(404)
    return representation.respond(request)


def routes() -> list[BaseRoute]:
    """The advisors' routes, mounted at ``/advisor``; their JSON ones at ``/advisor/api``."""
    return [
        Route("/login", signin.login, methods=["GET", "HEAD", "POST"], name="advisor_login"),
        Route("/logout", signin.logout, methods=["POST"], name="advisor_logout"),
        Route("/", inbox.inbox, name="advisor_inbox"),
        Route("/requests/{reference}", case.request_view, name="advisor_request"),
        Route("/requests/{reference}/{action}", case.act, methods=["POST"], name="advisor_action"),
        Route("/audit", coordinator.audit_view, name="advisor_audit"),
        Route("/stats", coordinator.stats_view, name="advisor_stats"),
        Mount("/api", routes=api.routes(), middleware=[errors.json_errors()]),
        *(Route(url.removeprefix("/advisor"), asset) for url in ASSETS),
    ]


def middleware() -> list[Middleware]:
    """Around every advisors' route: their headers, over their errors' pages too."""
    return [Middleware(AdvisorHeadersMiddleware), errors.page_errors()]


class AdvisorHeadersMiddleware:
    """Headers of everything under /advisor/ (the mount's middleware).

    Nothing may be kept by a browser or a proxy cache. The referrer policy is
    ``same-origin`` rather than the public pages' ``no-referrer``: with
    ``no-referrer`` a browser sends ``Origin: null`` on a form post, and the
    CSRF check needs the real origin. Other sites still get no referrer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in (b"cache-control", b"etag", b"referrer-policy")
                ]
                headers.append((b"cache-control", NO_STORE["Cache-Control"].encode()))
                headers.append((b"referrer-policy", b"same-origin"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
