"""The app factory: builds Haven's Starlette app from a Settings object."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from . import assets, pages
from .accesslog import AccessLogMiddleware
from .content import load_content
from .responses import Representation
from .security.headers import SecurityHeadersMiddleware
from .settings import Settings
from .site import OFFLINE_PATH, Site


async def static(request: Request) -> Response:
    representation: Representation | None = request.app.state.static.get(request.url.path)
    if representation is None:
        raise HTTPException(404)
    return representation.respond(request)


async def manifest(request: Request) -> Response:
    return request.app.state.manifest.respond(request)  # type: ignore[no-any-return]


async def service_worker(request: Request) -> Response:
    return request.app.state.service_worker.respond(request)  # type: ignore[no-any-return]


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    current: Site = request.app.state.site
    html = current.render_error(pages.language_of(request), status)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def routes() -> list[Route]:
    return [
        Route("/", pages.root, name="root"),
        Route("/healthz", pages.healthz, name="healthz"),
        Route(assets.SERVICE_WORKER_URL, service_worker, name="service_worker"),
        Route(assets.MANIFEST_URL, manifest, name="manifest"),
        Route("/static/{path:path}", static, name="static"),
        Route("/{lang}", pages.language_root, name="language_root"),
        Route("/{lang}/", pages.page, name="home"),
        Route("/{lang}/p/{number:int}", pages.page, name="page"),
        Route("/{lang}/q", pages.check, methods=["GET", "POST"], name="check"),
        Route(f"/{{lang}}/{OFFLINE_PATH}", pages.page, name="offline"),
    ]


def create_app(settings: Settings) -> Starlette:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    site = Site(settings, load_content())
    static_files = assets.load_static()
    manifest_file = assets.manifest()
    shared = {**static_files, assets.MANIFEST_URL: manifest_file}
    precache = assets.precache_list(shared, site.pages)

    app = Starlette(
        routes=routes(),
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
    return app
