"""Small helpers shared by the tests and the benchmarks that drive Chromium."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from server.content import PAGE_PATHS

ROOT = Path(__file__).resolve().parent.parent


def _load_tool(name: str) -> ModuleType:
    """A script of tools/, which is not a package, as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The translation checks a reviewer runs; the tests run the same.
check_translations = _load_tool("check_translations")

CHROMIUM = "/usr/bin/chromium"
# Keep Chromium off every network but loopback: no update checks, no lookups.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--dns-prefetch-disable",
]

CACHED_COUNT = """async (lang) => {
  if (!navigator.serviceWorker || !navigator.serviceWorker.controller) return -1;
  let count = 0;
  for (const name of await caches.keys()) {
    for (const request of await (await caches.open(name)).keys()) {
      if (new URL(request.url).pathname.startsWith('/' + lang + '/')) count += 1;
    }
  }
  return count;
}"""

LANGUAGE_PAGES = len(PAGE_PATHS) + 2  # every page, the offline page and t.js


def wait_until_offline_ready(page: Any, lang: str, timeout: float = 20) -> None:
    """Wait until the service worker controls the page and holds the language."""
    deadline = time.monotonic() + timeout
    count = -1
    while time.monotonic() < deadline:
        count = page.evaluate(CACHED_COUNT, lang)
        if count >= LANGUAGE_PAGES:
            return
        time.sleep(0.1)
    raise AssertionError(f"{lang}: {count} of {LANGUAGE_PAGES} pages cached")


def answer(page: Any, yes: int, total: int = 7) -> None:
    """Answer the self-check: the first `yes` questions yes, the rest no."""
    questions = page.locator("fieldset.question")
    assert questions.count() == total
    for index in range(total):
        value = "yes" if index < yes else "no"
        questions.nth(index).locator(f'input[value="{value}"]').check()


OUTBOX_ITEMS = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open('app-outbox');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains('items')) { db.close(); resolve([]); return; }
    const request = db.transaction('items').objectStore('items').getAll();
    request.onsuccess = () => { db.close(); resolve(request.result); };
    request.onerror = () => reject(request.error);
  };
})"""


def outbox_items(page: Any) -> list[dict[str, Any]]:
    """What the phone keeps in its outbox, exactly as stored."""
    items: list[dict[str, Any]] = page.evaluate(OUTBOX_ITEMS)
    return items


def wait_for(
    predicate: Any, timeout: float = 20, message: str = "condition", page: Any = None
) -> None:
    """Poll a condition. With a page, wait through Playwright, so that route
    handlers (which sync Playwright runs only inside its own calls) get to run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if page is not None:
            page.wait_for_timeout(100)
        else:
            time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")


def fill_help_form(
    page: Any, situation: str, centre: str = "payoke", contact: str = "0470 12 34 56"
) -> None:
    form = page.locator("#help-form")
    form.locator(f'input[name="centre"][value="{centre}"]').check()
    form.locator('input[name="channel"][value="call"]').check()
    form.locator('input[name="contact"]').fill(contact)
    form.locator('textarea[name="situation"]').fill(situation)
    form.locator('input[name="consent"]').check()


def raw_rows(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows as another process reads them, past the app's engine: straight from
    the SQLite file, or from PostgreSQL on a connection of its own."""
    if database_url.startswith("postgresql"):
        from pg import query

        return query(database_url, sql)
    path = database_url.split(":///", 1)[1]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute(sql).fetchall()


def dump_text(database_url: str) -> str:
    """Everything the database holds, as text: SQLite's dump, or ``pg_dump``'s."""
    if database_url.startswith("postgresql"):
        from pg import dump

        return dump(database_url)
    path = database_url.split(":///", 1)[1]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return "\n".join(db.iterdump())


def stored_rows(data_dir: Path, env: dict[str, str] | None = None) -> int:
    """Rows in the server's help request table: in the data directory's SQLite
    file, or in the PostgreSQL database that ``env``'s ``HAVEN_DATABASE_URL`` names."""
    url = (env or {}).get("HAVEN_DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / 'haven.sqlite3'}")
    ((count,),) = raw_rows(url, "select count(*) from help_requests")
    return int(count)


def files_containing(folder: Path, marker: bytes) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and marker in path.read_bytes()]


def installability(playwright: Any, profile: Path, base: str, path: str) -> dict[str, Any]:
    """Chromium's own verdict on installing the page at ``path``.

    In a persistent profile, as on a phone, once the app has stored itself:
    the installability errors, the parsed manifest and the app's id.
    """
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS
    )
    try:
        page = context.new_page()
        page.goto(f"{base}/en/")
        wait_until_offline_ready(page, "en")
        if path != "/en/":
            page.goto(f"{base}{path}")
        session = context.new_cdp_session(page)
        return {
            "errors": session.send("Page.getInstallabilityErrors")["installabilityErrors"],
            "manifest": session.send("Page.getAppManifest"),
            "app_id": session.send("Page.getAppId").get("appId"),
        }
    finally:
        context.close()


# Hidden, as a phone does when the task switcher opens or another app comes up.
# Headless Chromium never hides a page by itself, so the state is set here and
# the real event is sent to the page's own listeners.
HIDE = """() => {
  Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
  document.dispatchEvent(new Event('visibilitychange'));
}"""
SHOW = """() => {
  Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'visible'});
  document.dispatchEvent(new Event('visibilitychange'));
}"""


def set_up(page: Any, base: str, lang: str, disguise: str, code: str, idle: str = "5") -> None:
    """Install the disguise from the app's own page, as the person does."""
    page.goto(f"{base}/{lang}/p/9")
    wait_until_offline_ready(page, lang)
    page.check(f'input[name="disguise"][value="{disguise}"]')
    page.fill("#unlock-code", code)
    page.fill("#unlock-again", code)
    page.select_option("#idle-minutes", idle)
    page.locator("[data-form] button[type=submit]").click()
    page.wait_for_selector("[data-ready]:not([hidden])")
    lock = page.evaluate("() => JSON.parse(localStorage.getItem('app-lock'))")
    assert lock["disguise"] == disguise and code not in json.dumps(lock)
    assert lock["iterations"] >= 100000 and len(lock["salt"]) >= 16


def press(page: Any, keys: str) -> None:
    """Tap the calculator's keys."""
    for key in keys:
        page.locator(f'[data-key="{key}"]').click()
