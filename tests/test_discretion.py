"""Quick exit and the disguised install, in real Chromium."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server
from helpers import (
    HIDE,
    SHOW,
    answer,
    fill_help_form,
    installability,
    outbox_items,
    press,
    set_up,
    stored_rows,
    wait_for,
    wait_until_offline_ready,
)

from server.i18n import translations

pytestmark = pytest.mark.browser

DISGUISES = ("/calculator", "/notes")


def is_content(url: str, base: str) -> bool:
    """A page of the app itself (the neutral calculator and notes pages are not)."""
    return url.startswith(base) and urlsplit(url).path not in DISGUISES


def shift_three_times(page) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        page.keyboard.press("Shift")


def escape_twice(page) -> None:  # type: ignore[no-untyped-def]
    page.locator("main h1").click()  # focus outside any text field
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")


TRIGGERS = {
    "button": lambda page: page.locator("[data-quick-exit]").click(),
    "shift": shift_three_times,
    "escape": escape_twice,
}


# Each trigger once, the languages taking turns: the whole visit (a server
# stopped and started again, a message waiting) costs ten seconds a run.
@pytest.mark.parametrize(("trigger", "lang"), [("button", "en"), ("shift", "fr"), ("escape", "en")])
def test_exit_leaves_nothing_behind_but_the_waiting_message(  # type: ignore[no-untyped-def]
    browser, tmp_path, neutral_site, trigger, lang
):
    data = tmp_path / "data"
    server = start_server(data, tmp_path / "one.log", neutral_site)
    base, port = server.url, int(server.url.rsplit(":", 1)[1])
    context = browser.new_context(viewport={"width": 360, "height": 780})
    page = context.new_page()
    try:
        page.goto(f"{neutral_site}?before")
        page.goto(f"{base}/{lang}/p/7")
        wait_until_offline_ready(page, lang)
        stop_server(server)  # a message sent now has to wait
        marker = f"marker-{secrets.token_hex(6)}"
        fill_help_form(page, f"Please help. {marker}")
        page.locator("#help-form button[type=submit]").click()
        wait_for(lambda: len(outbox_items(page)) == 1, message="the waiting message")
        # Moving inside the app replaces the history entry.
        page.locator(f'footer a[href="/{lang}/q"]').click()
        page.wait_for_url(f"{base}/{lang}/q")
        answer(page, 4)
        TRIGGERS[trigger](page)
        page.wait_for_url(neutral_site)
        seen = []
        for _ in range(6):
            page.go_back()
            seen.append(page.url)
            assert not is_content(page.url, base), seen
        # Back leads to what came before the app, straight away.
        assert seen[0] == f"{neutral_site}?before"

        server = start_server(data, tmp_path / "two.log", neutral_site, port=port)
        page.goto(f"{base}/{lang}/q")
        assert page.locator("fieldset.question input:checked").count() == 0
        stored = page.evaluate("() => Object.keys(sessionStorage)")
        assert stored == ["app-trail"], stored  # only the trail of this new visit
        wait_for(lambda: outbox_items(page) == [], page=page, message="delivery")
        assert stored_rows(data) == 1
    finally:
        context.close()
        stop_server(server)


def test_moving_around_never_adds_to_the_history(page, live_server, neutral_site):  # type: ignore[no-untyped-def]
    page.goto(f"{neutral_site}?before")
    page.goto(f"{live_server.url}/en/")
    length = page.evaluate("history.length")
    for path in ("/en/p/1", "/en/p/6", "/en/q"):
        page.locator(f'a[href="{path}"]').first.click()
        page.wait_for_url(f"{live_server.url}{path}")
    # To the picker on the start page, then the same page in Dutch.
    page.locator(".language-link").click()
    page.wait_for_url(f"{live_server.url}/en/#languages")
    page.locator('#languages a[data-language="nl"]').click()
    page.wait_for_url(f"{live_server.url}/nl/q")
    page.locator(".skip-link[href='#main']").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("history.length") == length
    assert page.url == f"{live_server.url}/nl/q"
    # The app's own Back goes back through the trail.
    back = page.locator("[data-module=app-navigation]")
    assert back.is_visible()
    back.click()
    page.wait_for_url(f"{live_server.url}/en/")
    back.click()
    page.wait_for_url(f"{live_server.url}/en/q")
    page.go_back()
    assert page.url == f"{neutral_site}?before"


@pytest.mark.parametrize("lang", ["en", "de"])
def test_offline_the_exit_lands_on_a_working_neutral_page(browser, live_server, lang):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/{lang}/p/3")
        wait_until_offline_ready(page, lang)
        context.set_offline(True)
        page.locator("[data-quick-exit]").click()
        page.wait_for_url(f"{live_server.url}/calculator")
        assert page.title() == "Calculator"
        for key in "6*7=":
            page.locator(f'[data-key="{key}"]').click()
        assert page.locator("[data-display]").inner_text() == "42"
    finally:
        context.close()


def test_what_does_not_make_it_exit(page, live_server):  # type: ignore[no-untyped-def]
    page.clock.install()
    page.goto(f"{live_server.url}/en/q")
    status = page.locator("[data-quick-exit-status]")
    # Shift together with another key: typing capitals, a shortcut.
    for _ in range(3):
        page.keyboard.down("Shift")
        page.keyboard.press("KeyA")
        page.keyboard.up("Shift")
    assert page.url == f"{live_server.url}/en/q"
    # Shift three times, but over more than five seconds.
    page.keyboard.press("Shift")
    page.wait_for_function("() => document.querySelector('[data-quick-exit-status]').textContent")
    assert status.inner_text() == "Shift pressed once. Press it 2 more times to leave quickly."
    page.clock.fast_forward(2600)
    page.keyboard.press("Shift")
    page.clock.fast_forward(2600)
    page.keyboard.press("Shift")
    page.wait_for_timeout(200)
    assert page.url == f"{live_server.url}/en/q"
    # Escape inside a text field.
    page.goto(f"{live_server.url}/en/p/7")
    page.locator('textarea[name="situation"]').click()
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.wait_for_timeout(200)
    assert page.url == f"{live_server.url}/en/p/7"


def test_the_shift_progress_is_announced_in_the_persons_language(page, live_server):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/fr/")
    page.keyboard.press("Shift")
    page.wait_for_function("() => document.querySelector('[data-quick-exit-status]').textContent")
    text = translations("fr").gettext("Shift pressed once. Press it 2 more times to leave quickly.")
    assert page.locator("[data-quick-exit-status]").inner_text() == text
    assert page.locator("[data-quick-exit-status]").get_attribute("aria-live") == "polite"


def test_nothing_is_painted_after_the_trigger(page, live_server, neutral_site):  # type: ignore[no-untyped-def]
    # The neutral site answers "204 No Content" here: the browser then stays on
    # the page as the trigger left it, which is what a slow network shows.
    page.route(f"{neutral_site}*", lambda route: route.fulfill(status=204))
    page.goto("about:blank")
    blank = page.screenshot()
    page.goto(f"{live_server.url}/en/")
    before = page.screenshot()
    assert before != blank
    page.locator("[data-quick-exit]").click(no_wait_after=True)
    assert page.screenshot() == blank
    assert page.evaluate("document.title") == "\u200b"


def test_a_hidden_page_is_covered(page, live_server):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/en/p/2")
    page.evaluate(HIDE)
    assert page.evaluate("document.documentElement.classList.contains('is-covered')")
    assert page.evaluate("getComputedStyle(document.body).visibility") == "hidden"
    page.evaluate(SHOW)
    assert page.evaluate("getComputedStyle(document.body).visibility") == "visible"


# --- the disguised install ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["calculator", "notes"])
def test_each_disguise_is_installable_with_its_own_neutral_manifest(  # type: ignore[no-untyped-def]
    playwright_instance, live_server, tmp_path, name
):
    verdict = installability(playwright_instance, tmp_path / "profile", live_server.url, f"/{name}")
    assert verdict["errors"] == []
    assert verdict["manifest"]["url"] == f"{live_server.url}/{name}.webmanifest"
    assert not verdict["manifest"].get("errors")
    assert verdict["app_id"] == f"{live_server.url}/{name}"
    ids = {
        httpx.get(f"{live_server.url}/{n}.webmanifest").json()["id"]
        for n in ("calculator", "notes")
    }
    assert len(ids) == 2 and "/" not in {i.rstrip("/") or "/" for i in ids}


def test_the_calculator_calculates(page, live_server):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/calculator")
    display = page.locator("[data-display]")
    for keys, shown in (
        ("12+30=", "42"),
        ("7*6=", "42"),
        ("1/4=", "0.25"),
        (".1+.2=", "0.3"),
        ("9-12=", "-3"),
        ("2+3*4=", "20"),
        ("1/0=", "Error"),
    ):
        page.locator('[data-key="C"]').click()
        press(page, keys)
        assert display.inner_text() == shown, keys
    page.locator('[data-key="C"]').click()
    page.locator("[data-display]").click()  # the keyboard, with no key focused
    page.keyboard.type("81/9")
    page.keyboard.press("Enter")
    assert display.inner_text() == "9"


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_right_code_opens_the_app_and_a_wrong_one_does_not(browser, live_server, lang):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    try:
        set_up(page, live_server.url, lang, "calculator", "482913")
        page.goto(f"{live_server.url}/calculator?app=1")  # as the installed app starts
        press(page, "1111=")
        page.wait_for_timeout(600)  # longer than the code check takes
        assert page.url.endswith("/calculator?app=1")
        assert page.locator("[data-display]").inner_text() == "1111"
        press(page, "48291+3=")
        page.wait_for_timeout(600)
        assert page.locator("[data-display]").inner_text() == "48294"
        press(page, "482913=")
        page.wait_for_url(f"{live_server.url}/{lang}/")
        # Hidden (task switcher, another app): back to the disguise, locked.
        page.evaluate(HIDE)
        page.wait_for_url(f"{live_server.url}/calculator?app=1")
        page.goto(f"{live_server.url}/{lang}/p/3")  # straight to a page: locked too
        page.wait_for_url(f"{live_server.url}/calculator?app=1")
        # The quick exit inside the unlocked app also goes back to the disguise.
        press(page, "482913=")
        page.wait_for_url(f"{live_server.url}/{lang}/")
        page.locator("[data-quick-exit]").click()
        page.wait_for_url(f"{live_server.url}/calculator?app=1")
    finally:
        context.close()


def test_notes_open_the_app_with_a_note_titled_with_the_code(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    try:
        set_up(page, live_server.url, "en", "notes", "blue heron 7")
        page.goto(f"{live_server.url}/notes?app=1")
        page.locator('[data-action="new"]').click()
        page.fill("#note-title", "Shopping")
        page.fill("#note-body", "rice, tea")
        page.locator("form[data-view=edit] button[type=submit]").click()
        page.locator(".notes__item").first.wait_for()
        assert page.locator(".notes__item").all_inner_texts() == ["Shopping"]
        page.locator('[data-action="new"]').click()
        page.fill("#note-title", "blue heron 7")
        page.locator("form[data-view=edit] button[type=submit]").click()
        page.wait_for_url(f"{live_server.url}/en/")
        notes = page.evaluate("() => localStorage.getItem('app-notes')")
        assert "heron" not in notes and "Shopping" in notes
    finally:
        context.close()


@pytest.mark.parametrize(("lang", "direction"), [("ar", "rtl"), ("zh-Hans", "ltr"), ("uk", "ltr")])
def test_notes_speak_the_language_chosen_at_set_up(browser, live_server, lang, direction):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    try:
        set_up(page, live_server.url, lang, "notes", "blue heron 7")
        page.goto(f"{live_server.url}/notes?app=1")
        html = page.locator("html")
        assert (html.get_attribute("lang"), html.get_attribute("dir")) == (lang, direction)
        words = translations(lang).gettext
        assert page.locator('[data-action="new"]').inner_text() == words("New note")
        assert page.title() == words("Notes") != "Notes"
    finally:
        context.close()


@pytest.mark.parametrize(
    ("locale", "lang"),
    [("pt-PT", "pt-BR"), ("zh-CN", "zh-Hans"), ("zh-TW", "en"), ("ar-MA", "ar"), ("ja-JP", "en")],
)
def test_notes_without_set_up_follow_the_browser(browser, live_server, locale, lang):  # type: ignore[no-untyped-def]
    context = browser.new_context(locale=locale)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/notes")
        assert page.locator("html").get_attribute("lang") == lang
        assert page.locator("[data-empty]").inner_text() == translations(lang).gettext(
            "No notes yet."
        )
    finally:
        context.close()


def test_the_installed_disguise_works_offline_and_locks_after_idle(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    try:
        set_up(page, live_server.url, "en", "calculator", "7777", idle="1")
        context.set_offline(True)
        page.clock.install()
        page.goto(f"{live_server.url}/calculator?app=1")
        press(page, "7777=")
        page.wait_for_url(f"{live_server.url}/en/")
        assert page.locator("main h1").is_visible()  # the app, from the phone's copy
        page.clock.fast_forward(30_000)
        assert page.url == f"{live_server.url}/en/"
        page.clock.fast_forward(31_000)
        page.wait_for_url(f"{live_server.url}/calculator?app=1")
    finally:
        context.close()


def test_forgetting_the_code_clears_the_disguise_but_not_the_outbox(
    browser, tmp_path, neutral_site
):  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    server = start_server(data, tmp_path / "one.log", neutral_site)
    base, port = server.url, int(server.url.rsplit(":", 1)[1])
    context = browser.new_context()
    page = context.new_page()
    try:
        set_up(page, base, "en", "notes", "my secret 1")
        note = {"id": "1", "title": "x", "body": "y", "updated": 1}
        page.evaluate("(note) => localStorage.setItem('app-notes', JSON.stringify([note]))", note)
        page.goto(f"{base}/en/p/7")
        stop_server(server)
        fill_help_form(page, "Please call me.")
        page.locator("#help-form button[type=submit]").click()
        wait_for(lambda: len(outbox_items(page)) == 1, message="the waiting message")
        page.goto(f"{base}/en/p/9")
        page.locator("[data-reset]").click()
        assert page.evaluate(
            "() => [localStorage.getItem('app-lock'), localStorage.getItem('app-notes')]"
        ) == [None, None]
        assert len(outbox_items(page)) == 1
        server = start_server(data, tmp_path / "two.log", neutral_site, port=port)
        page.reload()
        wait_for(lambda: outbox_items(page) == [], page=page, message="delivery")
        assert stored_rows(data) == 1
    finally:
        context.close()
        stop_server(server)


# As a browser with site data blocked has it: reading localStorage throws.
BLOCK_LOCAL_STORAGE = """
Object.defineProperty(window, 'localStorage', {
  configurable: true,
  get () { throw new DOMException('The operation is insecure.', 'SecurityError') }
})
"""


def test_where_nothing_can_be_kept_the_set_up_says_so(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    context.add_init_script(BLOCK_LOCAL_STORAGE)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/en/p/9")
        page.check('input[name="disguise"][value="calculator"]')
        page.fill("#unlock-code", "482913")
        page.fill("#unlock-again", "482913")
        page.locator("[data-form] button[type=submit]").click()
        status = page.locator("[data-status]")
        wait_for(
            lambda: status.inner_text().startswith("This browser cannot do this."),
            timeout=10,
            page=page,
            message="the set-up saying that nothing was kept",
        )
        assert page.locator("[data-ready]").is_hidden()
    finally:
        context.close()


def test_a_page_brought_back_from_the_back_forward_cache_leaves(  # type: ignore[no-untyped-def]
    playwright_instance, live_server, neutral_site
):
    # Playwright turns the back/forward cache off by default; phones have it on.
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        ignore_default_args=["--disable-back-forward-cache"],
    )
    try:
        page = browser.new_page()
        session = page.context.new_cdp_session(page)
        not_restored: list[object] = []
        session.on("Page.backForwardCacheNotUsed", lambda event: not_restored.append(event))
        session.send("Page.enable")
        page.goto(f"{live_server.url}/en/p/3")
        # Once the worker controls the page: its taking over later would evict
        # the page from the cache, and Back would then simply load it again.
        wait_until_offline_ready(page, "en")
        page.goto(f"{neutral_site}?elsewhere")  # e.g. a link out, then Back
        page.go_back(wait_until="commit")
        page.wait_for_timeout(300)
        assert not not_restored, not_restored
        page.wait_for_url(neutral_site)
        assert not is_content(page.url, live_server.url)
    finally:
        browser.close()
