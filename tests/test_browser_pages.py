"""The pages in real Chromium: self-check, quick exit, narrow screens, no JavaScript."""

import pytest
from helpers import answer

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("yes", "result"), [(0, "unlikely"), (1, "unlikely"), (2, "likely"), (7, "likely")]
)
def test_self_check_answers_at_once_and_stores_nothing(page, live_server, yes, result):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/de/q")
    answer(page, yes)
    page.locator("button[type=submit]").click()
    shown = page.locator(f"#result-{result}")
    assert shown.is_visible()
    assert page.evaluate("document.activeElement.id") == f"result-{result}"
    assert page.url == f"{live_server.url}/de/q"
    # Nothing of the answers is kept: only the app's own trail of addresses.
    stored = page.evaluate(
        "() => [localStorage.length, Object.keys(sessionStorage), document.cookie]"
    )
    assert stored == [0, ["app-trail"], ""]
    assert page.evaluate("() => sessionStorage.getItem('app-trail')") == '["/de/q"]'
    page.locator("button[type=reset]").click()
    assert shown.is_hidden()
    assert page.locator("input:checked").count() == 0


def test_self_check_without_javascript(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/nl/q")
        answer(page, yes=3)
        page.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert page.url == f"{live_server.url}/nl/q"  # a POST: the answers are not in the address
        assert page.locator("#result-likely").is_visible()
        assert page.locator("#result-unlikely").is_hidden()
        # The quick exit is still a working link.
        assert (
            page.locator("[data-quick-exit]").get_attribute("href").startswith("http://127.0.0.1")
        )
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_quick_exit_leaves_without_a_history_entry(page, live_server, neutral_site, lang):  # type: ignore[no-untyped-def]
    page.goto("about:blank")
    page.goto(f"{live_server.url}/{lang}/q")
    answer(page, yes=2)
    page.locator("[data-quick-exit]").click()
    page.wait_for_url(neutral_site)
    assert page.locator("h1").inner_text() == "Weather today"
    page.go_back()
    assert not page.url.startswith(live_server.url), "Back must not return to the app"


def test_quick_exit_hides_the_page_before_the_next_frame(page, live_server):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/en/p/1")
    # The click handler runs synchronously: by the time it returns, before any
    # paint, the content must already be invisible.
    state = page.evaluate(
        """() => {
          document.querySelector('[data-quick-exit]').click();
          return [getComputedStyle(document.body).visibility, document.title];
        }"""
    )
    assert state == ["hidden", "\u200b"]


def test_emergency_numbers_are_one_tap_away(page, live_server):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/fr/p/4")
    police = page.locator('header a[href="tel:101"]')
    assert police.is_visible()
    assert police.bounding_box()["y"] < 200
    assert page.locator('header a[href="tel:112"]').is_visible()


def test_the_quick_exit_is_the_first_thing_keyboard_focus_reaches(page, live_server, neutral_site):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/en/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.hasAttribute('data-quick-exit-link')")
    assert page.locator("[data-quick-exit-link]").is_visible()  # shown while focused
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.outerHTML")
    assert "data-quick-exit=" in focused, focused
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#main"
    # Enter on the first stop leaves.
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(neutral_site)
