"""The app factory: builds Haven's Starlette app from a Settings object."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from . import advisor, api, assets, errors, haven, pages
from .accesslog import AccessLogMiddleware
from .advisor.render import AdvisorPages
from .advisor.sessions import Sessions
from .advisor.throttle import SignInBudgets
from .advisor.totp import TotpBox
from .advisor.verifier import Verifier
from .content import load_content
from .daily_purge import DailyPurge, policy, warn_if_notice_out_of_date
from .exact import ExactPathsMiddleware
from .haven import Desk, Files, Haven, Keys, Push, utc_now
from .health import Health
from .intake import Intake
from .keys import check_keys, load_keys
from .pages_table import PAGES, TEXTS_PATH
from .push import PushSender
from .push_queue import PushQueue
from .push_services import PushServices
from .responses import NO_STORE, Representation
from .security.files import private_directory, private_umask
from .security.headers import SecurityHeadersMiddleware
from .security.ratelimit import RateLimiter
from .settings import Settings
from .site import Site
from .sitemap import ROBOTS_URL, SITEMAP_URL
from .storage import Database

Endpoint = Callable[[Request], Awaitable[Response]]


def _serving(pick: Callable[[Files], Mapping[str, Representation]]) -> Endpoint:
    """An endpoint serving, by its address, one of a table of prerendered files."""

    async def endpoint(request: Request) -> Response:
        representation = pick(haven.of(request).files).get(request.url.path)
        if representation is None:
            raise HTTPException(404)
        return representation.respond(request)

    return endpoint


async def service_worker(request: Request) -> Response:
    return haven.of(request).files.service_worker.respond(request)


async def manifest(request: Request) -> Response:
    return haven.of(request).files.manifest.respond(request)


async def advisor_root(request: Request) -> Response:
    return RedirectResponse("/advisor/", status_code=301, headers=NO_STORE)


def routes() -> list[BaseRoute]:
    return [
        Mount("/api", routes=api.routes(), middleware=[errors.json_errors()]),
        Mount("/advisor", routes=advisor.routes(), middleware=advisor.middleware()),
        Route("/advisor", advisor_root, name="advisor_root"),
        Route("/", pages.root, name="root"),
        Route("/healthz", pages.healthz, name="healthz"),
        Route(SITEMAP_URL, pages.page, name="sitemap"),
        Route(ROBOTS_URL, pages.page, name="robots"),
        Route(assets.SERVICE_WORKER_URL, service_worker, name="service_worker"),
        Route(assets.MANIFEST_URL, manifest, name="manifest"),
        Route("/static/{path:path}", _serving(lambda files: files.static), name="static"),
        *(
            Route(path, _serving(lambda files: files.disguises), name=f"disguise_{name}")
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
    running: Haven = app.state.haven
    await running.db.start()
    try:
        await check_keys(running.db, running.keys.held)
    except BaseException:
        await running.db.stop()
        raise
    running.desk.verifier.start()
    await running.push.sender.start()
    running.purge.start()
    await running.push.queue.start()
    try:
        yield
    finally:
        await running.push.queue.stop()
        await running.purge.stop()
        await running.push.sender.stop()
        await running.db.stop()


def build(settings: Settings) -> Haven:
    """Everything Haven holds, made from its settings and its data directory."""
    private_umask()
    private_directory(settings.data_dir)
    # Made (or read) before anything else: a broken key file stops the start.
    # They are checked against the database's record when it starts (lifespan).
    held = load_keys(settings.keys_dir)
    inbox_key = held.inbox
    # Advisors' sessions are signed with the session key; the no-JavaScript
    # form's idempotency hash is keyed by one derived from it, so a
    # resubmission after a restart is still recognised.
    session_key = held.session
    keys = Keys(
        held=held,
        inbox=inbox_key,
        kids=inbox_key.kids,
        form=hmac.new(session_key, b"haven form idempotency", hashlib.sha256).digest(),
        limits=held.limits,
    )
    site = Site(settings, load_content())
    warn_if_notice_out_of_date(site.content, settings.retention_days)
    static_files = assets.load_static()
    disguise_files = assets.disguises()
    manifest_file = assets.manifest()
    inbox_key_file = api.inbox_key_representation(inbox_key.current)
    shared = {
        **static_files,
        **disguise_files,
        assets.MANIFEST_URL: manifest_file,
        api.INBOX_KEY_URL: inbox_key_file,
    }
    precache = assets.precache_list(shared, site.pages)
    files = Files(
        static=static_files,
        disguises=disguise_files,
        manifest=manifest_file,
        service_worker=assets.service_worker(precache),
        precache=precache,
        inbox_key=inbox_key_file,
        openapi=api.openapi_representation(keys.kids),
        advisor=advisor.load_assets(),
    )
    db = Database.from_settings(settings)
    push_key = held.vapid
    push_services = PushServices(settings.push_services)
    sender = PushSender(db, push_key, settings.push_subject, push_services)
    push = Push(key=push_key, services=push_services, sender=sender, queue=PushQueue(db, sender))
    # Sign-in attempts are counted per account, client and device (keyed hashes, not names).
    desk = Desk(
        pages=AdvisorPages(site.content),
        sessions=Sessions(db, session_key),
        totp=TotpBox(session_key),
        budgets=SignInBudgets(db, keys.limits),
        verifier=Verifier(),
    )
    intake = Intake(
        db,
        RateLimiter(db, keys.limits, "help requests", *settings.request_rate),
        keys.kids,
        notify=push.queue.request_arrived,
        clock=utc_now,
    )
    return Haven(
        settings=settings,
        site=site,
        db=db,
        intake=intake,
        keys=keys,
        files=files,
        desk=desk,
        push=push,
        purge=DailyPurge(db, policy(settings), utc_now),
        health=Health(db, held),
        clock=utc_now,
    )


def prerendered(running: Haven) -> dict[str, Representation]:
    """Everything rendered at start, by the address its route serves it at."""
    files = running.files
    return {
        **running.site.pages,
        **files.static,
        **files.disguises,
        assets.MANIFEST_URL: files.manifest,
        api.INBOX_KEY_URL: files.inbox_key,
        assets.SERVICE_WORKER_URL: files.service_worker,
        api.OPENAPI_URL: files.openapi,
    }


def create_app(settings: Settings) -> Starlette:
    running = build(settings)
    hsts = settings.hsts_seconds
    app = Starlette(
        routes=routes(),
        lifespan=lifespan,
        middleware=[
            Middleware(ExactPathsMiddleware, table=prerendered(running), hsts_seconds=hsts),
            Middleware(AccessLogMiddleware),
            Middleware(SecurityHeadersMiddleware, hsts_seconds=hsts),
        ],
        exception_handlers={HTTPException: errors.as_page, Exception: errors.as_page},
    )
    app.state.haven = running
    return app
