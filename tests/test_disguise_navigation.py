"""Inside the installed disguise, moving between the app's own pages is not
leaving: it must not lock the disguise (hiding the app still does)."""

from __future__ import annotations

import pytest
from helpers import HIDE, press, set_up

pytestmark = pytest.mark.browser


def test_moving_between_pages_keeps_the_disguise_unlocked(browser, live_server):  # type: ignore[no-untyped-def]
    base = live_server.url
    context = browser.new_context(viewport={"width": 360, "height": 780})
    page = context.new_page()
    try:
        set_up(page, base, "en", "calculator", "482913")
        page.goto(f"{base}/calculator?app=1")
        press(page, "482913=")
        page.wait_for_url(f"{base}/en/")
        for path in ("/en/p/1", "/en/p/7", "/en/q"):
            page.locator(f'a[href="{path}"]').first.click()
            page.wait_for_url(f"{base}{path}")
            page.wait_for_timeout(300)
            assert page.url == f"{base}{path}", f"locked on the way to {path}"
        # The app's own Back button, too.
        page.locator("[data-module='app-navigation']").click()
        page.wait_for_url(f"{base}/en/p/7")
        page.wait_for_timeout(300)
        assert page.url == f"{base}/en/p/7"
        # Another app comes up: the disguise locks, as before.
        page.evaluate(HIDE)
        page.wait_for_url(f"{base}/calculator?app=1")
    finally:
        context.close()
