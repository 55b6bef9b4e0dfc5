"""The app factory: builds Haven's Starlette app from a Settings object."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from . import advisor, api, assets, pages
from .accesslog import AccessLogMiddleware
from .advisor.render import AdvisorPages
from .advisor.sessions import Sessions, load_or_create_key
from .advisor.totp import TotpBox
from .content import load_content
from .crypto import InboxKey
from .push import PushSender, VapidKey
from .push_services import PushServices
from .responses import Representation
from .security.headers import SecurityHeadersMiddleware
from .security.ratelimit import RateLimiter
from .settings import Settings
from .site import OFFLINE_PATH, TEXTS_PATH, Site
from .storage import Database

# Failed sign-ins allowed before a pause: (count, per seconds).
LOGIN_FAILURES_PER_ACCOUNT = (5, 15 * 60)
LOGIN_FAILURES_PER_CLIENT = (20, 15 * 60)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def by_path(name: str) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint serving, by its address, a file of the table on ``app.state.<name>``."""

    async def endpoint(request: Request) -> Response:
        table: dict[str, Representation] = getattr(request.app.state, name)
        representation = table.get(request.url.path)
        if representation is None:
            raise HTTPException(404)
        return representation.respond(request)

    return endpoint


def stored(name: str) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint serving the Representation kept on ``app.state`` under ``name``."""

    async def endpoint(request: Request) -> Response:
        representation: Representation = getattr(request.app.state, name)
        return representation.respond(request)

    return endpoint


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if request.url.path.startswith("/advisor/api/"):
        return JSONResponse(
            {"error": "not_found" if status == 404 else "error", "message": str(status)},
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )
    current: Site = request.app.state.site
    html = current.render_error(pages.language_of(request), status)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


async def advisor_root(request: Request) -> Response:
    return RedirectResponse("/advisor/", status_code=301)


def routes() -> list[Route]:
    return [
        *api.routes(),
        *advisor.routes(),
        Route("/advisor", advisor_root, name="advisor_root"),
        Route("/", pages.root, name="root"),
        Route("/healthz", pages.healthz, name="healthz"),
        Route(assets.SERVICE_WORKER_URL, stored("service_worker"), name="service_worker"),
        Route(assets.MANIFEST_URL, stored("manifest"), name="manifest"),
        Route("/api/inbox-key", stored("inbox_key_document"), name="api_inbox_key"),
        Route("/api/openapi.json", stored("openapi"), name="api_openapi"),
        Route("/static/{path:path}", by_path("static"), name="static"),
        *(
            Route(path, by_path("disguises"), name=f"disguise_{name}")
            for item in assets.DISGUISES
            for name, path in ((item.name, item.url), (f"{item.name}_manifest", item.manifest_url))
        ),
        Route("/install", pages.install_root, name="install_root"),
        Route("/{lang}", pages.language_root, name="language_root"),
        Route("/{lang}/", pages.page, name="home"),
        Route(
            "/{lang}/p/7", pages.page_or_help_request, methods=["GET", "HEAD", "POST"], name="help"
        ),
        Route("/{lang}/p/{number:int}", pages.page, name="page"),
        Route("/{lang}/q", pages.check, methods=["GET", "POST"], name="check"),
        Route(f"/{{lang}}/{OFFLINE_PATH}", pages.page, name="offline"),
        Route(f"/{{lang}}/{TEXTS_PATH}", pages.page, name="texts"),
    ]


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    db: Database = app.state.db
    push_sender: PushSender = app.state.push_sender
    await db.start()
    await push_sender.start()
    try:
        yield
    finally:
        await push_sender.stop()
        await db.stop()


def create_app(settings: Settings) -> Starlette:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Made (or read) before anything else: a broken key file stops the start.
    inbox_key = InboxKey.load_or_create(settings.data_dir)
    inbox_key_representation = api.inbox_key_representation(inbox_key)
    site = Site(settings, load_content())
    static_files = assets.load_static()
    manifest_file = assets.manifest()
    disguise_files = assets.disguises()
    shared = {
        **static_files,
        **disguise_files,
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
            Middleware(advisor.AdvisorHeadersMiddleware),
        ],
        exception_handlers={HTTPException: http_error, Exception: http_error},
    )
    app.state.settings = settings
    app.state.site = site
    app.state.static = static_files
    app.state.disguises = disguise_files
    app.state.manifest = manifest_file
    app.state.precache = precache
    app.state.service_worker = assets.service_worker(precache)
    app.state.inbox_key = inbox_key
    app.state.inbox_key_document = inbox_key_representation
    app.state.openapi = api.openapi_representation()
    app.state.db = Database.from_settings(settings)
    app.state.rate_limiter = RateLimiter(*settings.request_rate)
    app.state.clock = _utc_now
    # Advisors: sessions signed with a key of the data directory, failed
    # sign-ins counted per account and per client (keyed hashes, not names).
    session_key = load_or_create_key(settings.data_dir)
    app.state.sessions = Sessions(app.state.db, session_key)
    app.state.totp_box = TotpBox(session_key)
    app.state.advisor_pages = AdvisorPages(site.content)
    app.state.advisor_assets = advisor.load_assets()
    app.state.login_accounts = RateLimiter(*LOGIN_FAILURES_PER_ACCOUNT)
    app.state.login_clients = RateLimiter(*LOGIN_FAILURES_PER_CLIENT)
    app.state.vapid_key = VapidKey.load_or_create(settings.data_dir)
    app.state.push_services = PushServices(settings.push_services)
    app.state.push_sender = PushSender(
        app.state.db, app.state.vapid_key, settings.push_subject, app.state.push_services
    )
    app.state.on_new_request = app.state.push_sender.request_arrived
    # Keys the no-JavaScript form's idempotency hash; lives only in memory.
    app.state.form_key = secrets.token_bytes(32)
    return app
