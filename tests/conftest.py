"""Shared fixtures: settings, an in-process client, a real server, Chromium."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from advisors import Desk, make_settings, staffed_desk
from helpers import CHROMIUM, CHROMIUM_ARGS
from pg import Cluster, binaries, running_cluster
from starlette.testclient import TestClient

import server.app
from server.app import create_app
from server.content import load_content
from server.pages_table import PageEntry
from server.responses import Representation
from server.site import Site
from server.storage import Database

ROOT = Path(__file__).resolve().parent.parent

# Hundreds of tests build an app of their own, and each build would parse the
# same shipped pages again (half of a build's time). The content is frozen
# dataclasses, read-only: one parse per test process serves them all. Tests of
# the parser itself call server.content.load_content, which stays as it is.
server.app.load_content = functools.cache(load_content)

# Likewise each build renders the same pages again: a page depends only on its
# language, its entry, the content and the exit address (Site.context), so one
# rendering per process serves every app with that exit address.
_rendered: dict[tuple[str, int, str, PageEntry], Representation] = {}
_render_page = Site._render_page


def _render_page_once(site: Site, code: str, entry: PageEntry) -> Representation:
    key = (site.settings.exit_url, id(site.content), code, entry)
    if key not in _rendered:
        _rendered[key] = _render_page(site, code, entry)
    return _rendered[key]


Site._render_page = _render_page_once  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def app_session(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One app for the read-only tests: rendering every page takes a moment."""
    return create_app(make_settings(tmp_path_factory.mktemp("app")))


# --- the two databases: SQLite (the embedded default) and PostgreSQL -----------

# `-m "not postgresql"` leaves PostgreSQL out; `-m postgresql` runs only it.
BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql))
# For a test that is about the embedded default alone (its file, its pragmas).
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster per pytest process (tests/pg.py)."""
    try:
        binaries()
    except RuntimeError as error:
        pytest.fail(str(error))
    with running_cluster() as cluster:
        yield cluster


def _database_env(backend: str, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if backend == "sqlite":
        yield {}  # the default: haven.sqlite3 in the data directory
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    with cluster.fresh_database() as url:
        yield {"HAVEN_DATABASE_URL": url}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database a test runs on; a test is run once on each."""
    return str(request.param)


@pytest.fixture
def database_env(backend: str, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The settings that point an app or a server at a fresh database of ``backend``."""
    yield from _database_env(backend, request)


@pytest.fixture(scope="module", params=BACKENDS)
def module_database_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """As ``database_env``, for an app a whole module shares."""
    yield from _database_env(str(request.param), request)


@pytest_asyncio.fixture
async def db(tmp_path: Path, database_env: dict[str, str]) -> AsyncIterator[Database]:
    """A migrated database of its own: a file in the test's data directory, or
    a PostgreSQL database copied from the migrated template."""
    settings = make_settings(tmp_path, **database_env)
    settings.data_dir.mkdir(parents=True)
    database = Database.from_settings(settings)
    await database.start()
    yield database
    await database.stop()


@pytest.fixture
def client(app_session) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app_session, base_url="http://127.0.0.1") as test_client:
        yield test_client


# --- a neutral site for the quick exit, on loopback --------------------------

NEUTRAL_HTML = b"<!doctype html><html lang=en><title>Weather</title><h1>Weather today</h1></html>"


class _NeutralHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(NEUTRAL_HTML)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def neutral_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NeutralHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/weather"
    server.shutdown()
    server.server_close()


# --- the real server ---------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[str]
    log_path: Path
    data_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)  # the settings it was given

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_server(
    data_dir: Path,
    log_path: Path,
    exit_url: str,
    port: int = 0,
    env: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> LiveServer:
    """``haven serve`` on a free loopback port; ``env`` adds or overrides settings,
    ``preexec_fn`` runs in the child before it starts (to set its limits, say)."""
    environment = {
        **os.environ,
        "HAVEN_DATA_DIR": str(data_dir),
        "HAVEN_EXIT_URL": exit_url,
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    with log_path.open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=environment,
            cwd=ROOT,
            preexec_fn=preexec_fn,
        )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
    if not match:
        process.kill()
        raise RuntimeError(f"server did not start: {line!r}\n{log_path.read_text()}")
    url = match.group(1)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return LiveServer(url, process, log_path, data_dir, dict(env or {}))
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not answer: {log_path.read_text()}")


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
    if server.process.stdout:
        server.process.stdout.close()


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, neutral_site: str
) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("live")
    # Shared by every test of a process, which together send more new requests
    # from 127.0.0.1 than the hourly limit allows: a test late in the run would
    # meet a 429 that is not its own. The limit is tested on servers of its own.
    server = start_server(
        base / "data",
        base / "server.log",
        neutral_site,
        env={"HAVEN_REQUEST_RATE": "100000/3600"},
    )
    yield server
    stop_server(server)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.failed and "live_server" in getattr(item, "fixturenames", ()):
        server = item.funcargs.get("live_server")  # type: ignore[attr-defined]
        if isinstance(server, LiveServer):
            report.sections.append(("server log", server.log()[-8000:]))
    # The other engines' phones (tests/test_engines.py): the server's and the browser's logs.
    for name in ("phone", "own_phone", "offline_phone"):
        phone = getattr(item, "funcargs", {}).get(name)
        if report.failed and phone is not None:
            report.sections.append(("logs", phone.log()))


# --- Chromium ------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright_instance():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (see README)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):  # type: ignore[no-untyped-def]
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 360, "height": 780})
    yield context
    context.close()


@pytest.fixture
def page(context):  # type: ignore[no-untyped-def]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"JavaScript errors: {errors}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the browser tests last.

    Sync Playwright keeps an event loop running in the main thread for as long
    as its session fixture lives; asyncio tests after it could not start their
    own. The sort is stable, so the order within each group is kept.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    """After the other engines' tests: what each engine offered, and what each
    test relied on and which fallbacks it exercised (`relies_on` markers)."""
    engines = sys.modules.get("engines")
    if engines is None or not engines.LAUNCHED:
        return
    write = terminalreporter.write_line
    terminalreporter.section("engines")
    for features in engines.LAUNCHED.values():
        write(f"{features.name}: {features.version}")
        write(
            f"  Background Sync: {'yes' if features.background_sync else 'no'}; "
            f"Push API: {'yes' if features.push else 'no'}; "
            f"profile kept on restart: {'yes' if features.persistent_profile else 'no'}"
        )
        write(f"  offline: {features.offline}")
        write(f"  console: {features.console}")
        for fallback in features.fallbacks:
            write(f"  fallback: {fallback}")
    seen: set[str] = set()
    for item in terminalreporter.config.pluginmanager.getplugin("session").items:
        marker = item.get_closest_marker("relies_on")
        name = item.originalname if isinstance(item, pytest.Function) else item.name
        if marker is None or name in seen:
            continue
        seen.add(name)
        write(f"{name}: relies on {', '.join(marker.args)}")
        for fallback in marker.kwargs.get("fallbacks", ()):
            write(f"  exercises: {fallback}")


# --- advisors ------------------------------------------------------------------


@pytest.fixture
def desk(tmp_path: Path, database_env: dict[str, str]) -> Iterator[Desk]:
    """An app over HTTPS with an advisor of each centre and a coordinator, signed in,
    on each database."""
    yield from staffed_desk(tmp_path, env=database_env)
