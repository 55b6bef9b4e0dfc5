"""First visit, then the network goes away: everything but sending still works."""

import pytest
from conftest import start_server, stop_server
from helpers import answer, wait_until_offline_ready

from server.content import PAGE_PATHS, load_content

pytestmark = pytest.mark.browser


@pytest.fixture
def own_server(tmp_path, neutral_site):  # type: ignore[no-untyped-def]
    """A server this test may stop: a stopped server is a truly absent network."""
    server = start_server(tmp_path / "data", tmp_path / "server.log", neutral_site)
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def content():  # type: ignore[no-untyped-def]
    return load_content()


def go_offline(context, server) -> None:  # type: ignore[no-untyped-def]
    stop_server(server)
    context.set_offline(True)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_page_and_the_self_check_work_offline(context, page, own_server, content, lang):  # type: ignore[no-untyped-def]
    base = own_server.url
    page.goto(f"{base}/{lang}/")
    status = page.locator("[data-module=app-status]")
    wait_until_offline_ready(page, lang)
    # The first install tells the person, in their language, that it now works offline.
    assert status.is_visible()
    assert status.get_attribute("data-state") == "ready"
    # Online, the start address still asks the server which language fits.
    page.goto(f"{base}/")
    assert page.url == f"{base}/en/"
    go_offline(context, own_server)

    for key, path in PAGE_PATHS.items():
        page.goto(f"{base}/{lang}/{path}")
        assert page.locator("h1").inner_text() == content.page(lang, key).heading, key

    page.goto(f"{base}/{lang}/q")
    answer(page, yes=2)
    page.locator("button[type=submit]").click()
    assert page.locator("#result-likely").is_visible()
    assert page.locator("#result-unlikely").is_hidden()
    assert page.url == f"{base}/{lang}/q"  # nothing went into the address

    answer(page, yes=1)
    page.locator("button[type=submit]").click()
    assert page.locator("#result-unlikely").is_visible()
    assert page.locator("#result-likely").is_hidden()

    # A page that was never stored: a neutral offline page, not a browser error.
    page.goto(f"{base}/{lang}/p/99")
    assert page.url.startswith(base)
    assert page.locator("h1").count() == 1
    assert page.locator("html").get_attribute("lang") == lang
    # The start address chooses a language on the server; offline it opens the stored one.
    page.goto(f"{base}/")
    assert page.locator("h1").inner_text() == content.page(lang, "home").heading


@pytest.mark.parametrize("target", ["ar", "ti", "zh-Hans"])
def test_switching_keeps_the_page_and_stores_the_new_language(  # type: ignore[no-untyped-def]
    context, page, own_server, content, target
):
    base = own_server.url
    page.goto(f"{base}/en/p/3")
    wait_until_offline_ready(page, "en")
    page.locator(".language-link").click()
    page.wait_for_url(f"{base}/en/#languages")
    page.locator(f'#languages a[data-language="{target}"]').click()
    page.wait_for_url(f"{base}/{target}/p/3")
    wait_until_offline_ready(page, target)
    go_offline(context, own_server)
    for key, path in PAGE_PATHS.items():
        page.goto(f"{base}/{target}/{path}")
        assert page.locator("h1").inner_text() == content.page(target, key).heading, key
        assert page.locator("html").get_attribute("lang") == target
    # The page scripts have their strings offline too.
    assert page.evaluate("Object.keys(window.HAVEN_TEXTS)") == [
        "quick-exit",
        "app-status",
        "outbox-status",
    ]


def test_a_new_version_is_offered_not_forced(context, page, tmp_path, neutral_site):  # type: ignore[no-untyped-def]
    """A restart with changed files gives a new worker that waits for the person."""
    first = start_server(tmp_path / "data", tmp_path / "one.log", neutral_site)
    port = first.url.rsplit(":", 1)[1]
    page.goto(f"{first.url}/en/")
    wait_until_offline_ready(page, "en")
    old_version = page.evaluate("caches.keys()")
    stop_server(first)
    # The same port and a changed exit address: every page changes, so the version does.
    second = start_server(
        tmp_path / "data", tmp_path / "two.log", neutral_site + "?v=2", port=int(port)
    )
    try:
        page.reload()
        status = page.locator("[data-module=app-status]")
        status.locator("button").wait_for(timeout=20000)
        assert status.get_attribute("data-state") == "update"
        assert page.evaluate("caches.keys()") != []
        with page.expect_event("load"):
            status.locator("button").click()
        wait_until_offline_ready(page, "en")
        new_version = page.evaluate("caches.keys()")
        assert new_version != old_version and len(new_version) == 1
    finally:
        stop_server(second)
