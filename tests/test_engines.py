"""The person's side in the two other engines a phone may have: WebKit (as
Safari is) and Gecko (Firefox), against a real `haven serve`.

Each test runs once per engine, in a fresh profile, in a 360 x 780 CSS px
viewport, and ends by asserting that neither the pages nor the worker
reported an error (see each engine's `features.console` for what that can
see). "Offline" is the server stopped and, as each engine allows, the
browser told so too: Firefox's offline mode; for WebKit, whose
navigator.onLine is read once at start, a browser started in a network
namespace with only loopback (the `offline_phone` fixture).
"""

from __future__ import annotations

import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import LiveServer, start_server, stop_server
from engines import ENGINES, Display, Engine, LoopbackOnly, launched
from helpers import CACHED_COUNT, LANGUAGE_PAGES, OUTBOX_ITEMS

from server.content import PAGE_PATHS, load_content, page_url
from server.i18n import translations

pytestmark = [pytest.mark.engines, pytest.mark.browser]
relies_on = pytest.mark.relies_on

LANG = "en"
NO_CONNECTION = translations(LANG).gettext("No internet connection")
# What the engines show instead of a page when the worker fails a request.
ENGINE_ERRORS = ("Response served by service worker is an error", "unexpected error")

RECEIPTS = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open('app-outbox')
  open.onerror = () => reject(open.error)
  open.onsuccess = () => {
    const db = open.result
    if (!db.objectStoreNames.contains('receipts')) { db.close(); resolve([]); return }
    const request = db.transaction('receipts').objectStore('receipts').getAll()
    request.onsuccess = () => { db.close(); resolve(request.result) }
    request.onerror = () => reject(request.error)
  }
})"""

APP_STATUS = "() => document.querySelector('[data-module=app-status]')?.dataset.state"


@dataclass
class Phone:
    """A browser of one engine and the server it talks to, which a test may stop."""

    engine: Engine
    server: LiveServer
    folder: Path
    neutral_site: str
    network: LoopbackOnly | None
    running: bool = True
    logs: list[Path] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.server.url

    def go_offline(self) -> None:
        stop_server(self.server)
        self.running = False
        self.engine.set_offline(True)

    def come_back(self) -> None:
        """The server again, on the same port and data, and the connection."""
        self.server = start_server(
            self.server.data_dir,
            self.server.log_path,
            self.neutral_site,
            port=int(self.base.rsplit(":", 1)[1]),
            preexec_fn=self.network.enter if self.network else None,
        )
        self.running = True
        self.engine.set_offline(False)

    def log(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-6000:]}"
            for path in [self.server.log_path, *self.logs]
            if path.exists()
        )


@pytest.fixture(scope="module")
def display() -> Iterator[Display]:
    screen = Display()
    yield screen
    screen.stop()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, neutral_site: str) -> Path:
    """A data directory with its database and keys made, copied for each
    test's own server: a second start is quicker than a first."""
    folder = tmp_path_factory.mktemp("prepared")
    stop_server(start_server(folder / "data", folder / "server.log", neutral_site))
    return folder / "data"


def _phone(
    name: str,
    folder: Path,
    neutral_site: str,
    display: Display,
    loopback_only: bool = False,
    shared: LiveServer | None = None,
    prepared: Path | None = None,
) -> Iterator[Phone]:
    """A fresh browser of `name` and a server: the `shared` one (which the
    test must leave running), or one of its own on a copy of `prepared`."""
    network = LoopbackOnly(folder) if loopback_only and name == "webkit" else None
    phone: Phone | None = None
    if prepared and not shared:
        shutil.copytree(prepared, folder / "data")
    try:
        server = shared or start_server(
            folder / "data",
            folder / "server.log",
            neutral_site,
            port=network.forward() if network else 0,
            preexec_fn=network.enter if network else None,
        )
        try:
            with launched(name, folder, display, network) as engine:
                phone = Phone(engine, server, folder, neutral_site, network)
                phone.logs = sorted(folder.glob("*.log"))
                yield phone
                errors = engine.errors()
            assert errors == [], f"{name} reported errors: {errors}"
        finally:
            if shared:
                assert phone is None or phone.server is shared, "the shared server was stopped"
            elif phone is None:
                stop_server(server)
            elif phone.running:
                stop_server(phone.server)
    finally:
        if network:
            network.stop()


@pytest.fixture(params=ENGINES)
def phone(request, tmp_path, neutral_site, display, live_server) -> Iterator[Phone]:  # type: ignore[no-untyped-def]
    """A phone with a connection, on the session's server (not to be stopped)."""
    yield from _phone(request.param, tmp_path, neutral_site, display, shared=live_server)


@pytest.fixture(params=ENGINES)
def own_phone(request, tmp_path, neutral_site, display, prepared) -> Iterator[Phone]:  # type: ignore[no-untyped-def]
    """A phone with a connection (WebKit's navigator.onLine stays true) and a
    server of its own, which the test may stop."""
    yield from _phone(request.param, tmp_path, neutral_site, display, prepared=prepared)


@pytest.fixture(params=ENGINES)
def offline_phone(request, tmp_path, neutral_site, display, prepared) -> Iterator[Phone]:  # type: ignore[no-untyped-def]
    """A phone that can be truly offline: WebKit started in a namespace with
    only loopback (navigator.onLine false), Firefox with its offline mode."""
    yield from _phone(
        request.param, tmp_path, neutral_site, display, loopback_only=True, prepared=prepared
    )


@pytest.fixture(scope="module")
def content():  # type: ignore[no-untyped-def]
    return load_content()


# --- what the person does ------------------------------------------------------


def first_visit(phone: Phone, path: str = f"/{LANG}/") -> None:
    """Opens the app and waits until the worker controls it and holds the language."""
    phone.engine.open(f"{phone.base}{path}")
    phone.engine.wait(
        "async (lang, pages) => (await (" + CACHED_COUNT + ")(lang)) >= pages",
        LANG,
        LANGUAGE_PAGES,
        message="the language stored",
    )


def heading(engine: Engine) -> str:
    return engine.text("h1").strip()


def answer(engine: Engine, yes: int, total: int = 7) -> None:
    count = engine.run("() => document.querySelectorAll('fieldset.question').length")
    assert count == total
    for index in range(total):
        value = "yes" if index < yes else "no"
        engine.click(f"fieldset.question:nth-of-type({index + 1}) input[value='{value}']")


def send_help_request(engine: Engine, situation: str, contact: str) -> None:
    engine.click('#help-form input[name="centre"][value="payoke"]')
    engine.click('#help-form input[name="channel"][value="call"]')
    engine.type('#help-form input[name="contact"]', contact)
    engine.type('#help-form textarea[name="situation"]', situation)
    engine.click('#help-form input[name="consent"]')
    engine.click("#help-form button[type=submit]")


def rows(data_dir: Path) -> list[str]:
    """The references of the help requests the server stored, read from its file."""
    with sqlite3.connect(f"file:{data_dir / 'haven.sqlite3'}?mode=ro", uri=True) as db:
        return [reference for (reference,) in db.execute("select reference from help_requests")]


def assert_a_page_not_an_engine_error(engine: Engine) -> str:
    shown = engine.text()
    for words in ENGINE_ERRORS:
        assert words not in shown, f"{engine.features.name} shows its own error: {shown[:200]}"
    assert engine.run("() => document.querySelectorAll('h1').length") == 1, shown[:200]
    return heading(engine)


# --- the tests -----------------------------------------------------------------


@relies_on(
    "service worker",
    "Cache Storage",
    fallbacks=("no Background Sync", "no Push API in MiniBrowser"),
)
def test_the_worker_controls_the_page_and_says_it_works_offline(phone: Phone) -> None:
    engine = phone.engine
    first_visit(phone)
    worker = engine.run(
        """async () => {
          const registration = await navigator.serviceWorker.ready
          return {
            state: registration.active.state,
            script: new URL(navigator.serviceWorker.controller.scriptURL).pathname,
            scope: new URL(registration.scope).pathname,
          }
        }"""
    )
    assert worker == {"state": "activated", "script": "/sw.js", "scope": "/"}
    # The first install says that the app now works offline: it is no update.
    assert engine.wait(APP_STATUS, message="the status") == "ready"
    # What the engine offers is what its features say (and the app does without).
    offered = engine.run("() => ['SyncManager' in window, 'PushManager' in window]")
    assert offered == [engine.features.background_sync, engine.features.push]


@relies_on("service worker", "Cache Storage", "navigator.onLine false offline")
def test_every_page_and_the_self_check_work_offline(offline_phone: Phone, content) -> None:  # type: ignore[no-untyped-def]
    phone, engine = offline_phone, offline_phone.engine
    first_visit(phone)
    phone.go_offline()
    assert engine.run("() => navigator.onLine") is False
    for key in PAGE_PATHS:
        engine.open(f"{phone.base}{page_url(LANG, key)}")
        assert heading(engine) == content.page(LANG, key).heading, key

    engine.open(f"{phone.base}/{LANG}/q")
    answer(engine, yes=2)
    engine.click("form.self-check button[type=submit]")
    visible = "(id) => document.getElementById(id).offsetParent !== null"
    assert engine.wait(visible, "result-likely", message="the likely result")
    assert not engine.run(visible, "result-unlikely")
    assert engine.url == f"{phone.base}/{LANG}/q"  # nothing went into the address
    answer(engine, yes=1)
    engine.click("form.self-check button[type=submit]")
    assert engine.wait(visible, "result-unlikely", message="the unlikely result")
    assert not engine.run(visible, "result-likely")

    # A page that was never stored: the offline page in the language, not an error.
    engine.open(f"{phone.base}/{LANG}/p/99")
    assert assert_a_page_not_an_engine_error(engine) == NO_CONNECTION
    assert engine.run("() => document.documentElement.lang") == LANG


@relies_on(
    "service worker",
    "IndexedDB",
    "WebCrypto ECDH and AES-GCM",
    fallbacks=("no Background Sync: delivered on the next page load with a connection",),
)
def test_a_request_sealed_offline_is_delivered_once_without_background_sync(
    offline_phone: Phone,
) -> None:
    phone, engine = offline_phone, offline_phone.engine
    assert engine.features.background_sync is False
    first_visit(phone, f"/{LANG}/p/7")
    phone.go_offline()
    marker = f"marker-{secrets.token_hex(8)}"
    contact = f"0470 {secrets.randbelow(10**6):06d}"
    send_help_request(engine, f"Please help. {marker}", contact)
    engine.wait(f"async () => (await ({OUTBOX_ITEMS})()).length === 1", message="the sealed item")
    item = engine.run(OUTBOX_ITEMS)[0]
    assert item["centre"] == "payoke" and set(item["envelope"]) >= {"kid", "epk", "iv", "ct"}
    # Sealed on the phone: what was typed is in no storage at all.
    everything = engine.storage()
    for typed in (marker, contact, contact.replace(" ", "")):
        assert typed not in everything
    assert rows(phone.server.data_dir) == []

    if engine.features.persistent_profile:
        # The browser is closed while the message waits, and opened again.
        engine.restart()
        engine.set_offline(True)
    phone.come_back()
    engine.open(f"{phone.base}/{LANG}/")
    engine.wait(f"async () => (await ({OUTBOX_ITEMS})()).length === 0", message="the delivery")
    stored = rows(phone.server.data_dir)
    assert len(stored) == 1
    # Its receipt names that one request; more page loads send nothing again.
    receipt = engine.wait(RECEIPTS, message="the receipt")
    assert [entry["reference"] for entry in receipt] == stored
    for path in (f"/{LANG}/p/7", f"/{LANG}/"):
        engine.open(f"{phone.base}{path}")
        engine.wait(f"async () => (await ({OUTBOX_ITEMS})()).length === 0", message="no item")
    assert rows(phone.server.data_dir) == stored
    access = phone.server.log()
    assert len(re.findall(r"POST /api/requests 201", access)) == 1


@relies_on("location.replace", "navigator.onLine true online")
def test_the_quick_exit_online_goes_to_the_neutral_site(phone: Phone) -> None:
    engine = phone.engine
    first_visit(phone, f"/{LANG}/p/3")
    assert engine.run("() => navigator.onLine") is True
    engine.click("[data-quick-exit]")
    engine.wait_for_url(lambda url: url == phone.neutral_site, message="the neutral site")
    assert heading(engine) == "Weather today"


@relies_on(
    "service worker",
    "Cache Storage",
    "navigator.onLine false offline",
    fallbacks=("no connection: the stored calculator instead of the neutral site",),
)
def test_the_quick_exit_offline_shows_the_calculator(offline_phone: Phone) -> None:
    phone, engine = offline_phone, offline_phone.engine
    first_visit(phone, f"/{LANG}/p/3")
    phone.go_offline()
    assert engine.run("() => navigator.onLine") is False
    engine.click("[data-quick-exit]")
    engine.wait_for_url(lambda url: url == f"{phone.base}/calculator", message="the calculator")
    engine.wait("() => document.readyState === 'complete' && document.title", message="its load")
    assert assert_a_page_not_an_engine_error(engine) == "Calculator"
    assert engine.run("() => document.title") == "Calculator"
    # A working calculator, not a picture of one.
    for key in "12+3=":
        engine.click(f'[data-key="{key}"]')
    assert engine.text("[data-display]") == "15"


@relies_on("service worker", "Cache Storage", "WebCrypto PBKDF2", "localStorage")
def test_the_disguise_opens_with_the_code_offline(offline_phone: Phone) -> None:
    phone, engine = offline_phone, offline_phone.engine
    code = "482913"
    first_visit(phone, f"/{LANG}/p/9")
    engine.click('input[name="disguise"][value="calculator"]')
    engine.type("#unlock-code", code)
    engine.type("#unlock-again", code)
    engine.click("[data-form] button[type=submit]")
    engine.wait("() => !document.querySelector('[data-ready]').hidden", message="the set-up")
    lock = engine.run("() => JSON.parse(localStorage.getItem('app-lock'))")
    assert lock["disguise"] == "calculator" and code not in str(lock)
    phone.go_offline()

    engine.open(f"{phone.base}/calculator?app=1")
    # Another number is only a number.
    for key in "4829=":
        engine.click(f'[data-key="{key}"]')
    assert engine.text("[data-display]") == "4829"
    assert engine.url == f"{phone.base}/calculator?app=1"
    engine.click('[data-key="C"]')
    for key in f"{code}=":
        engine.click(f'[data-key="{key}"]')
    engine.wait_for_url(lambda url: url == f"{phone.base}/{LANG}/", message="the app")
    engine.wait("() => document.readyState === 'complete'", message="its load")
    assert heading(engine) == load_content().page(LANG, "home").heading


MAIN_PAGES = [page_url(LANG, key) for key in PAGE_PATHS] + [f"/{LANG}/o", "/calculator", "/notes"]


@relies_on("a 360 CSS px viewport", "a right-to-left layout (Arabic)")
def test_the_main_pages_fit_a_360_px_screen(phone: Phone) -> None:
    engine = phone.engine
    first_visit(phone)
    for path in [*MAIN_PAGES, "/ar/", "/ar/p/7"]:
        engine.open(f"{phone.base}{path}")
        width = engine.run(
            "() => [innerWidth, document.documentElement.clientWidth, "
            "document.documentElement.scrollWidth]"
        )
        assert width[0] == width[1] == 360, (path, width)
        assert width[2] <= 360, f"{path} scrolls sideways: {width}"


@relies_on("console.error, error and unhandledrejection events")
def test_the_error_watch_sees_what_a_page_reports(phone: Phone) -> None:
    """The assertion every test ends with would be empty if nothing could be seen."""
    engine = phone.engine
    engine.open(f"{phone.base}/{LANG}/")
    engine.run(
        """() => {
          console.error('planted error')
          setTimeout(() => { throw new Error('planted throw') }, 0)
          Promise.reject(new Error('planted rejection'))
        }"""
    )
    expected = ("planted error", "planted throw", "planted rejection")
    deadline = time.monotonic() + 10
    seen: list[str] = []
    while time.monotonic() < deadline and not all(any(w in e for e in seen) for w in expected):
        seen += engine.errors()
        time.sleep(0.2)
    for words in expected:
        assert any(words in error for error in seen), (words, seen)


@relies_on(
    "service worker",
    "Cache Storage",
    fallbacks=(
        "a stored file lost: an empty 503",
        "nothing stored and no connection: the worker's own page, retried every 15 s",
    ),
)
def test_every_request_the_worker_takes_on_gets_a_deliberate_answer(
    offline_phone: Phone, content
) -> None:  # type: ignore[no-untyped-def]
    phone, engine = offline_phone, offline_phone.engine
    first_visit(phone)
    phone.go_offline()
    statuses = """async (paths) => {
      const answers = []
      for (const path of paths) {
        try {
          answers.push((await fetch(path)).status)
        } catch (error) {
          answers.push(String(error))
        }
      }
      return answers
    }"""
    # Stored: from the cache, the icon Firefox once reported failing, and a
    # script no page of the language loads itself (so no HTTP cache holds it).
    icon, script = "/static/icons/favicon.svg", "/static/disguise/notes.js"
    assert engine.run(statuses, [icon, script]) == [200, 200]
    # A file the worker never stores is left to the browser: the network's own
    # failure, not an interception gone wrong.
    (failure,) = engine.run(statuses, ["/static/icons/apple-touch-icon.png?fresh"])
    assert str(failure).startswith("TypeError"), failure
    # Stored once, then lost (as WebKit loses it): a deliberate, empty 503.
    engine.run(
        "async (path) => { for (const name of await caches.keys()) "
        "await (await caches.open(name)).delete(path) }",
        script,
    )
    assert engine.run(statuses, [script]) == [503]
    # With every cache gone, a page is still a page: the worker's own, in the language.
    engine.run("async () => { for (const name of await caches.keys()) await caches.delete(name) }")
    for path in (f"/{LANG}/p/3", "/"):
        engine.open(f"{phone.base}{path}")
        assert assert_a_page_not_an_engine_error(engine) == NO_CONNECTION, path
    assert engine.run("() => [document.documentElement.lang, document.title]") == [
        LANG,
        NO_CONNECTION,
    ]
    # It tries again by itself; once the connection is back the app returns and is stored again.
    assert engine.run("() => document.querySelector('meta[http-equiv=refresh]')?.content") == str(
        15
    )
    phone.come_back()
    first_visit(phone, f"/{LANG}/p/3")
    assert heading(engine) == content.page(LANG, "centres").heading
    phone.go_offline()
    engine.open(f"{phone.base}/{LANG}/p/4")
    assert heading(engine) == content.page(LANG, "rights").heading


# How long the person stays away: past the 10 s after which WebKit ends the
# worker of an origin no page shows, which is when it empties its cache.
AWAY_SECONDS = 15


@relies_on(
    "service worker",
    "IndexedDB",
    "Cache Storage",
    fallbacks=(
        "no Background Sync",
        "a cache WebKit emptied: renewed at the next page load with a connection",
    ),
)
def test_a_request_sent_before_leaving_for_a_while_survives_and_the_app_recovers(
    own_phone: Phone, content
) -> None:  # type: ignore[no-untyped-def]
    """Sent with the server down, then the quick exit, some time on another
    site, and the app opened again without a connection (WebKit lost its
    cache this way; see docs/webkit-emptied-cache/)."""
    phone, engine = own_phone, own_phone.engine
    first_visit(phone, f"/{LANG}/p/7")
    stop_server(phone.server)
    phone.running = False
    send_help_request(engine, "Please help.", "0470 12 34 56")
    engine.wait(f"async () => (await ({OUTBOX_ITEMS})()).length === 1", message="the sealed item")
    engine.click("[data-quick-exit]")
    engine.wait_for_url(lambda url: url == phone.neutral_site, message="the neutral site")
    time.sleep(AWAY_SECONDS)  # away from the app: nothing to wait for but time

    engine.set_offline(True)
    engine.open(f"{phone.base}/{LANG}/")
    shown = assert_a_page_not_an_engine_error(engine)
    home = content.page(LANG, "home").heading
    if engine.features.name == "firefox":
        assert shown == home  # Firefox keeps its cache
    else:
        assert shown in (home, NO_CONNECTION)  # the app, or the worker's own page

    phone.come_back()
    first_visit(phone)  # the app again, stored again
    engine.wait(f"async () => (await ({OUTBOX_ITEMS})()).length === 0", message="the delivery")
    assert len(rows(phone.server.data_dir)) == 1
    assert engine.run(RECEIPTS) == []  # the exit forgot it: delivered without a receipt
    phone.go_offline()
    for key in ("centres", "help", "check"):
        engine.open(f"{phone.base}{page_url(LANG, key)}")
        assert heading(engine) == content.page(LANG, key).heading, key
