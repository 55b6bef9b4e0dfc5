"""The advisors' side: sign-in, the centre-scoped inbox, actions, audit, statistics, push."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..bundle import PWA_DIR
from ..responses import Representation
from . import api, case, coordinator, inbox, signin

ASSETS_DIR = PWA_DIR / "advisor"
# The dashboard's own files: never in the public pages' precache.
ASSETS = {
    "/advisor/assets/advisor.css": ("advisor.css", "text/css; charset=utf-8"),
    "/advisor/assets/advisor.js": ("advisor.js", "text/javascript; charset=utf-8"),
    "/advisor/sw.js": ("sw.js", "text/javascript; charset=utf-8"),
}


def load_assets() -> dict[str, Representation]:
    return {
        url: Representation((ASSETS_DIR / name).read_bytes(), media_type)
        for url, (name, media_type) in ASSETS.items()
    }


async def asset(request: Request) -> Response:
    representation: Representation | None = request.app.state.advisor_assets.get(request.url.path)
    if representation is None:
        raise HTTPException(404)
    return representation.respond(request)


def routes() -> list[Route]:
    return [
        Route(
            "/advisor/login", signin.login, methods=["GET", "HEAD", "POST"], name="advisor_login"
        ),
        Route("/advisor/logout", signin.logout, methods=["POST"], name="advisor_logout"),
        Route("/advisor/", inbox.inbox, name="advisor_inbox"),
        Route("/advisor/requests/{reference}", case.request_view, name="advisor_request"),
        Route(
            "/advisor/requests/{reference}/{action}",
            case.act,
            methods=["POST"],
            name="advisor_action",
        ),
        Route("/advisor/audit", coordinator.audit_view, name="advisor_audit"),
        Route("/advisor/stats", coordinator.stats_view, name="advisor_stats"),
        Route("/advisor/api/requests", api.list_requests, name="advisor_api_requests"),
        Route("/advisor/api/requests/{reference}", api.one_request, name="advisor_api_request"),
        Route("/advisor/api/push-key", api.push_key, name="advisor_api_push_key"),
        Route(
            "/advisor/api/push-subscription",
            api.subscribe,
            methods=["POST"],
            name="advisor_api_subscribe",
        ),
        Route(
            "/advisor/api/push-subscription/remove",
            api.unsubscribe,
            methods=["POST"],
            name="advisor_api_unsubscribe",
        ),
        *(Route(url, asset) for url in ASSETS),
    ]


class AdvisorHeadersMiddleware:
    """Headers of everything under /advisor/.

    Nothing may be kept by a browser or a proxy cache. The referrer policy is
    ``same-origin`` rather than the public pages' ``no-referrer``: with
    ``no-referrer`` a browser sends ``Origin: null`` on a form post, and the
    CSRF check needs the real origin. Other sites still get no referrer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/advisor"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in (b"cache-control", b"etag", b"referrer-policy")
                ]
                headers.append((b"cache-control", b"no-store"))
                headers.append((b"referrer-policy", b"same-origin"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
