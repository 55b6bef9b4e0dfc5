"""Whoever picks up the phone after a quick exit or a lock learns nothing.

Each test does what the person does (send a help request, see the receipt,
leave), then what someone holding the phone afterwards would do: open every
page of the app and read every storage the browser keeps for it. Only the
sealed messages still waiting to be sent may survive, and they are still
delivered.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import pytest
from conftest import start_server, stop_server
from helpers import (
    HIDE,
    fill_help_form,
    outbox_items,
    press,
    set_up,
    stored_rows,
    wait_for,
    wait_until_offline_ready,
)

from server.content import PAGE_PATHS, page_url
from server.i18n import translations
from server.pages_table import OFFLINE_PATH

pytestmark = pytest.mark.browser

REFERENCE = re.compile(r"HV-[A-Z0-9]+(?:-[A-Z0-9]+)*")

# Everything the browser keeps for the app's origin that a page can read:
# every IndexedDB database and store (keys and values), every Cache Storage
# entry with its body, localStorage, sessionStorage and the cookies.
STORAGE = """async () => {
  const request = (r) => new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const found = {indexedDB: {}, caches: {}, localStorage: {}, sessionStorage: {}};
  found.cookie = document.cookie;
  for (const {name} of await indexedDB.databases()) {
    const db = await request(indexedDB.open(name));
    found.indexedDB[name] = {};
    for (const store of db.objectStoreNames) {
      const objects = db.transaction(store).objectStore(store);
      found.indexedDB[name][store] = {
        keys: await request(objects.getAllKeys()),
        values: await request(objects.getAll()),
      };
    }
    db.close();
  }
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    found.caches[name] = {};
    for (const entry of await cache.keys()) {
      found.caches[name][entry.url] = await (await cache.match(entry)).text();
    }
  }
  for (const kind of ['localStorage', 'sessionStorage']) {
    const storage = window[kind];
    for (let i = 0; i < storage.length; i += 1) {
      found[kind][storage.key(i)] = storage.getItem(storage.key(i));
    }
  }
  return found;
}"""

RECEIPTS = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open('app-outbox');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains('receipts')) { db.close(); resolve([]); return; }
    const request = db.transaction('receipts').objectStore('receipts').getAll();
    request.onsuccess = () => { db.close(); resolve(request.result); };
    request.onerror = () => reject(request.error);
  };
})"""


def secret_text() -> str:
    return f"marker-{secrets.token_hex(8)}"


def storage(page: Any) -> str:
    """Every storage of the app's origin, and the browser's cookie jar, as one text."""
    found = page.evaluate(STORAGE)
    found["cookies"] = page.context.cookies()
    return json.dumps(found, ensure_ascii=False)


def receipts(page: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(RECEIPTS)
    return found


def send(page: Any, text: str) -> None:
    fill_help_form(page, f"Please help. {text}")
    page.locator("#help-form button[type=submit]").click()


def shown_reference(page: Any) -> str:
    """The reference the receipt on screen gives, once it is there."""
    receipt = page.locator('[data-module=outbox-status] [data-state="sent"]')
    receipt.wait_for()
    match = REFERENCE.search(receipt.inner_text())
    assert match, receipt.inner_text()
    return match.group(0)


def secrets_of(reference: str, text: str) -> list[str]:
    """What must appear nowhere: the reference (with and without its prefix) and the text."""
    return [reference, reference.removeprefix("HV-"), text]


def assert_no_page_tells(page: Any, base: str, lang: str, told: list[str]) -> None:
    """Open every page of the language, as the next person would, and read it."""
    paths = [page_url(lang, key) for key in PAGE_PATHS] + [f"/{lang}/{OFFLINE_PATH}"]
    for path in paths:
        page.goto(f"{base}{path}")
        # The outbox is read and shown after the page has loaded: give it time.
        for _ in range(6):
            page.wait_for_timeout(100)
            html = page.content()
            for secret in told:
                assert secret not in html, f"{path} shows {secret!r}"
        assert page.locator('[data-state="sent"]').count() == 0, path


def assert_nothing_stored(page: Any, told: list[str]) -> None:
    everything = storage(page)
    for secret in told:
        assert secret not in everything, f"{secret!r} is still stored"


def leave(page: Any, neutral_site: str) -> None:
    page.locator("[data-quick-exit]").click()
    page.wait_for_url(neutral_site)


def test_a_receipt_seen_online_is_gone_after_the_exit(browser, live_server, neutral_site):  # type: ignore[no-untyped-def]
    base = live_server.url
    context = browser.new_context(viewport={"width": 360, "height": 780})
    page = context.new_page()
    try:
        page.goto(f"{base}/en/p/7")
        wait_until_offline_ready(page, "en")
        text = secret_text()
        send(page, text)
        reference = shown_reference(page)
        told = secrets_of(reference, text)
        leave(page, neutral_site)

        # Before any page of the app runs again: the exit itself has wiped it.
        page.goto(f"{base}/healthz")
        wait_for(lambda: receipts(page) == [], timeout=5, page=page, message="the receipt wiped")
        assert_no_page_tells(page, base, "en", told)
        assert_nothing_stored(page, told)
        # No mark of the exit lingers either: nothing at all in localStorage.
        assert page.evaluate("() => localStorage.length") == 0
    finally:
        context.close()


def test_a_receipt_delivered_by_the_worker_is_gone_after_the_exit(  # type: ignore[no-untyped-def]
    browser, live_server, neutral_site
):
    base = live_server.url
    context = browser.new_context(viewport={"width": 360, "height": 780})
    page = context.new_page()
    try:
        page.goto(f"{base}/nl/p/7")
        wait_until_offline_ready(page, "nl")
        context.set_offline(True)
        text = secret_text()
        send(page, text)
        wait_for(lambda: len(outbox_items(page)) == 1, message="the sealed item")
        # No page of the app is open when the connection returns: the
        # browser wakes the worker (Background Sync), which delivers.
        session = context.new_cdp_session(page)
        registrations: list[dict[str, Any]] = []
        session.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda event: registrations.extend(event["registrations"]),
        )
        session.send("ServiceWorker.enable")
        wait_for(lambda: registrations, page=page, message="the worker's registration")
        page.goto("about:blank")
        before = stored_rows(live_server.data_dir)
        context.set_offline(False)
        # Right after the connection returns, the worker's first try can still
        # fail; the browser then fires the sync again later, as it is asked to.
        for attempt in range(6):
            session.send(
                "ServiceWorker.dispatchSyncEvent",
                {
                    "origin": base,
                    "registrationId": registrations[-1]["registrationId"],
                    "tag": "outbox",
                    "lastChance": attempt == 5,
                },
            )
            try:
                wait_for(
                    lambda: stored_rows(live_server.data_dir) == before + 1,
                    timeout=8,
                    message="delivery",
                )
                break
            except AssertionError:
                if attempt == 5:
                    raise

        # The person comes back and sees their receipt; then leaves.
        page.goto(f"{base}/nl/")
        reference = shown_reference(page)
        told = secrets_of(reference, text)
        leave(page, neutral_site)

        assert_no_page_tells(page, base, "nl", told)
        assert_nothing_stored(page, told)
        assert outbox_items(page) == []
    finally:
        context.close()


def test_an_exit_cut_short_is_finished_before_anything_is_shown(browser, live_server):  # type: ignore[no-untyped-def]
    # No worker to finish the job, and the exit's page gone right after its
    # first synchronous step: only the mark it left remains.
    base = live_server.url
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    try:
        page.goto(f"{base}/de/p/7")
        text = secret_text()
        send(page, text)
        reference = shown_reference(page)
        page.evaluate("() => localStorage.setItem('app-tidy', '1')")
        page.goto("about:blank")
        page.goto(f"{base}/de/p/3")
        page.wait_for_timeout(500)
        assert reference not in page.content()
        assert receipts(page) == []
        assert page.evaluate("() => localStorage.length") == 0
        assert_nothing_stored(page, secrets_of(reference, text))
    finally:
        context.close()


def test_the_exit_keeps_the_waiting_message_which_is_delivered_later_without_a_receipt(  # type: ignore[no-untyped-def]
    browser, tmp_path, neutral_site
):
    data = tmp_path / "data"
    server = start_server(data, tmp_path / "one.log", neutral_site)
    base, port = server.url, int(server.url.rsplit(":", 1)[1])
    context = browser.new_context(viewport={"width": 360, "height": 780})
    page = context.new_page()
    try:
        page.goto(f"{base}/fr/p/7")
        wait_until_offline_ready(page, "fr")
        first = secret_text()
        send(page, first)
        reference = shown_reference(page)
        stop_server(server)  # the second message has to wait
        second = secret_text()
        send(page, second)
        wait_for(lambda: len(outbox_items(page)) == 1, message="the waiting message")
        (waiting,) = outbox_items(page)
        leave(page, neutral_site)

        page.goto(f"{base}/fr/")  # the phone's copy: the server is down
        told = [*secrets_of(reference, first), second]
        assert_nothing_stored(page, told)
        (kept,) = outbox_items(page)
        assert (kept["key"], kept["envelope"]) == (waiting["key"], waiting["envelope"])
        assert page.locator('[data-state="waiting"]').is_visible()

        server = start_server(data, tmp_path / "two.log", neutral_site, port=port)
        page.reload()  # every page load delivers what waits, without the retry timer
        wait_for(lambda: outbox_items(page) == [], timeout=30, page=page, message="delivery")
        assert stored_rows(data) == 2
        # Delivered after the exit: whoever holds the phone now may not be
        # the person who wrote, so no receipt is kept or shown.
        page.wait_for_timeout(300)
        assert receipts(page) == []
        assert_no_page_tells(page, base, "fr", told)
    finally:
        context.close()
        stop_server(server)


def test_after_the_disguise_locks_no_receipt_is_shown(browser, live_server):  # type: ignore[no-untyped-def]
    base = live_server.url
    context = browser.new_context(viewport={"width": 360, "height": 780})
    page = context.new_page()
    try:
        set_up(page, base, "en", "calculator", "482913")
        page.goto(f"{base}/en/p/7")
        text = secret_text()
        send(page, text)
        reference = shown_reference(page)
        told = secrets_of(reference, text)
        # The person opens the installed disguise, and the app behind it:
        # their receipt is there for them.
        page.goto(f"{base}/calculator?app=1")
        press(page, "482913=")
        page.wait_for_url(f"{base}/en/")
        assert shown_reference(page) == reference
        # Another app comes up: the disguise locks.
        page.evaluate(HIDE)
        page.wait_for_url(f"{base}/calculator?app=1")
        # The disguise's own page finishes the job and leaves no mark.
        wait_for(lambda: receipts(page) == [], timeout=5, page=page, message="the receipt wiped")
        wait_for(
            lambda: page.evaluate("() => Object.keys(localStorage)") == ["app-lock"],
            timeout=5,
            page=page,
            message="only the disguise's lock in localStorage",
        )

        # Whoever unlocks it next sees no receipt on any page.
        press(page, "482913=")
        page.wait_for_url(f"{base}/en/")
        page.wait_for_timeout(500)
        assert page.locator('[data-state="sent"]').count() == 0
        assert_nothing_stored(page, told)
        assert_no_page_tells(page, base, "en", told)
    finally:
        context.close()


UNKNOWN_KEY = {
    "error": "unknown_key",
    "message": "Ce message a été scellé pour une clé que le serveur ne possède pas.",
    "errors": [{"field": "envelope.kid", "message": "Clé inconnue."}],
}


def test_a_message_sealed_to_an_unknown_key_is_kept_and_must_be_written_again(  # type: ignore[no-untyped-def]
    browser, live_server
):
    # No worker: the route below then sees every delivery, the page's own.
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    attempts: list[str] = []

    def refuse(route):  # type: ignore[no-untyped-def]
        attempts.append(route.request.method)
        route.fulfill(status=422, content_type="application/json", body=json.dumps(UNKNOWN_KEY))

    try:
        page.route("**/api/requests", refuse)
        before = stored_rows(live_server.data_dir)
        page.goto(f"{live_server.url}/fr/p/7")
        send(page, secret_text())
        status = page.locator("[data-module=outbox-status]")
        item = status.locator('[data-state="undeliverable"]')
        item.wait_for()
        words = translations("fr").gettext
        again = words("This message can no longer be sent. Please write it again.")
        assert again != "This message can no longer be sent. Please write it again."
        assert again in item.inner_text()
        assert words("You can call a centre instead:") in item.inner_text()
        write = item.get_by_role("link", name=words("Write it again"))
        assert write.get_attribute("href") == page_url("fr", "help")
        calls = status.locator(".outbox-status__call a[href^='tel:']")
        assert calls.count() >= 3 and calls.first.is_visible()
        assert status.get_by_role("button", name=words("Try again")).count() == 0

        # Kept: not deleted by itself, not sent again, on this page or the next.
        (kept,) = outbox_items(page)
        assert kept["failed"]["error"] == "unknown_key"
        page.reload()
        item.wait_for()
        page.wait_for_timeout(300)
        assert attempts == ["POST"]
        assert len(outbox_items(page)) == 1
        assert status.get_by_role("button", name=words("Try again")).count() == 0

        # Deleting still takes two taps.
        delete = item.get_by_role("button", name=words("Delete"))
        delete.click()
        assert len(outbox_items(page)) == 1
        item.get_by_role("button", name=words("Tap again to delete")).click()
        wait_for(lambda: outbox_items(page) == [], page=page, message="the deletion")
        assert stored_rows(live_server.data_dir) == before
    finally:
        context.close()
