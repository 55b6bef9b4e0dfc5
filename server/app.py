"""The app factory: builds Haven's Starlette app from a Settings object."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
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
from .advisor.throttle import SignInBudgets
from .advisor.totp import TotpBox
from .advisor.verifier import Verifier
from .content import load_content
from .crypto import InboxKey
from .exact import ExactPathsMiddleware
from .intake import Intake
from .pages_table import PAGES, TEXTS_PATH
from .push import PushSender, VapidKey
from .push_services import PushServices
from .responses import Representation
from .security.files import private_directory, private_umask
from .security.headers import SecurityHeadersMiddleware
from .security.ratelimit import RateLimiter
from .settings import Settings
from .site import Site
from .sitemap import ROBOTS_URL, SITEMAP_URL
from .storage import Database


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


# Error codes of the JSON APIs, by status; anything else is "error".
JSON_ERRORS = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
# What an error may keep of its headers: how to retry, and what would work.
KEPT_HEADERS = ("allow", "retry-after")


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    kept = {
        name: value
        for name, value in ((exc.headers or {}) if isinstance(exc, HTTPException) else {}).items()
        if name.lower() in KEPT_HEADERS
    }
    headers = {"Cache-Control": "no-store", **kept}
    code = pages.language_of(request)
    if request.url.path.startswith(("/api/", "/advisor/api/")):
        # A program is asking: it gets JSON it can read, never an HTML page.
        _heading, message = Site.error_texts(request.app.state.site.gettext(code), status)
        return JSONResponse(
            {"error": JSON_ERRORS.get(status, "error"), "message": message},
            status_code=status,
            headers=headers,
        )
    current: Site = request.app.state.site
    html = current.render_error(code, status)
    return HTMLResponse(html, status_code=status, headers=headers)


async def advisor_root(request: Request) -> Response:
    return RedirectResponse("/advisor/", status_code=301)


def routes() -> list[Route]:
    return [
        *api.routes(),
        *advisor.routes(),
        Route("/advisor", advisor_root, name="advisor_root"),
        Route("/", pages.root, name="root"),
        Route("/healthz", pages.healthz, name="healthz"),
        Route(SITEMAP_URL, pages.page, name="sitemap"),
        Route(ROBOTS_URL, pages.page, name="robots"),
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
        *(
            Route(
                f"/{{lang}}/{entry.path}",
                pages.VIEWS[entry.view],
                methods=list(entry.view.methods),
                name=entry.key,
            )
            for entry in PAGES
        ),
        Route(f"/{{lang}}/{TEXTS_PATH}", pages.page, name="texts"),
    ]


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    db: Database = app.state.db
    push_sender: PushSender = app.state.push_sender
    verifier: Verifier = app.state.verifier
    await db.start()
    verifier.start()
    await push_sender.start()
    try:
        yield
    finally:
        await push_sender.stop()
        await db.stop()


def create_app(settings: Settings) -> Starlette:
    private_umask()
    private_directory(settings.data_dir)
    # Made (or read) before anything else: a broken key file stops the start.
    inbox_key = InboxKey.load_or_create(settings.data_dir)
    # The keys an envelope may be sealed to (key rotation will make it several).
    kids = frozenset({inbox_key.kid})
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
    service_worker = assets.service_worker(precache)
    openapi = api.openapi_representation(kids)
    # Everything rendered at start, by the address its route serves it at.
    prerendered = {
        **site.pages,
        **shared,
        assets.SERVICE_WORKER_URL: service_worker,
        "/api/openapi.json": openapi,
    }

    app = Starlette(
        routes=routes(),
        lifespan=lifespan,
        middleware=[
            Middleware(ExactPathsMiddleware, table=prerendered, hsts_seconds=settings.hsts_seconds),
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
    app.state.service_worker = service_worker
    app.state.inbox_key = inbox_key
    app.state.inbox_key_document = inbox_key_representation
    app.state.openapi = openapi
    app.state.db = Database.from_settings(settings)
    app.state.clock = _utc_now
    # Advisors: sessions signed with a key of the data directory, sign-in
    # attempts counted per account, client and device (keyed hashes, not names).
    session_key = load_or_create_key(settings.data_dir)
    app.state.sessions = Sessions(app.state.db, session_key)
    app.state.totp_box = TotpBox(session_key)
    app.state.advisor_pages = AdvisorPages(site.content)
    app.state.advisor_assets = advisor.load_assets()
    app.state.login_budgets = SignInBudgets()
    app.state.verifier = Verifier()
    app.state.vapid_key = VapidKey.load_or_create(settings.data_dir)
    app.state.push_services = PushServices(settings.push_services)
    app.state.push_sender = PushSender(
        app.state.db, app.state.vapid_key, settings.push_subject, app.state.push_services
    )
    app.state.intake = Intake(
        app.state.db,
        RateLimiter(*settings.request_rate),
        kids,
        notify=app.state.push_sender.request_arrived,
        clock=_utc_now,
    )
    # Keys the no-JavaScript form's idempotency hash (forms.py); derived from the
    # session key, so a resubmission after a restart is still recognised.
    app.state.form_key = hmac.new(session_key, b"haven form idempotency", hashlib.sha256).digest()
    return app
