"""The app factory: builds Haven's Starlette app from a Settings object."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from . import api, assets, pages
from .accesslog import AccessLogMiddleware
from .content import load_content
from .crypto import InboxKey
from .responses import Representation
from .security.headers import SecurityHeadersMiddleware
from .security.ratelimit import RateLimiter
from .settings import Settings
from .site import OFFLINE_PATH, Site
from .storage import Database


async def static(request: Request) -> Response:
    representation: Representation | None = request.app.state.static.get(request.url.path)
    if representation is None:
        raise HTTPException(404)
    return representation.respond(request)


def stored(name: str) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint serving the Representation kept on ``app.state`` under ``name``."""

    async def endpoint(request: Request) -> Response:
        representation: Representation = getattr(request.app.state, name)
        return representation.respond(request)

    return endpoint


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    current: Site = request.app.state.site
    html = current.render_error(pages.language_of(request), status)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def routes() -> list[Route]:
    return [
        *api.routes(),
        Route("/", pages.root, name="root"),
        Route("/healthz", pages.healthz, name="healthz"),
        Route(assets.SERVICE_WORKER_URL, stored("service_worker"), name="service_worker"),
        Route(assets.MANIFEST_URL, stored("manifest"), name="manifest"),
        Route("/api/inbox-key", stored("inbox_key_document"), name="api_inbox_key"),
        Route("/api/openapi.json", stored("openapi"), name="api_openapi"),
        Route("/static/{path:path}", static, name="static"),
        Route("/{lang}", pages.language_root, name="language_root"),
        Route("/{lang}/", pages.page, name="home"),
        Route(
            "/{lang}/p/7", pages.page_or_help_request, methods=["GET", "HEAD", "POST"], name="help"
        ),
        Route("/{lang}/p/{number:int}", pages.page, name="page"),
        Route("/{lang}/q", pages.check, methods=["GET", "POST"], name="check"),
        Route(f"/{{lang}}/{OFFLINE_PATH}", pages.page, name="offline"),
    ]


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    db: Database = app.state.db
    await db.start()
    try:
        yield
    finally:
        await db.stop()


def create_app(settings: Settings) -> Starlette:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Made (or read) before anything else: a broken key file stops the start.
    inbox_key = InboxKey.load_or_create(settings.data_dir)
    inbox_key_representation = api.inbox_key_representation(inbox_key)
    site = Site(settings, load_content())
    static_files = assets.load_static()
    manifest_file = assets.manifest()
    shared = {
        **static_files,
        assets.MANIFEST_URL: manifest_file,
        "/api/inbox-key": inbox_key_representation,
    }
    precache = assets.precache_list(shared, site.pages)

    app = Starlette(
        routes=routes(),
        lifespan=lifespan,
        middleware=[
            Middleware(AccessLogMiddleware),
            Middleware(SecurityHeadersMiddleware, hsts_seconds=settings.hsts_seconds),
        ],
        exception_handlers={HTTPException: http_error, Exception: http_error},
    )
    app.state.settings = settings
    app.state.site = site
    app.state.static = static_files
    app.state.manifest = manifest_file
    app.state.precache = precache
    app.state.service_worker = assets.service_worker(precache)
    app.state.inbox_key = inbox_key
    app.state.inbox_key_document = inbox_key_representation
    app.state.openapi = api.openapi_representation()
    app.state.db = Database.from_settings(settings)
    app.state.rate_limiter = RateLimiter(*settings.request_rate)
    # Keys the no-JavaScript form's idempotency hash; lives only in memory.
    app.state.form_key = secrets.token_bytes(32)
    return app
