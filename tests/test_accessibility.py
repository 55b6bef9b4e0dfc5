"""axe-core on every page in every language (its script ships in a package)."""

from pathlib import Path

import axe_playwright_python
import pytest

from server.content import PAGE_PATHS
from server.i18n import LANGUAGES

pytestmark = pytest.mark.browser

AXE = Path(axe_playwright_python.__file__).parent / "axe.min.js"


@pytest.fixture(scope="module")
def axe_page(browser):  # type: ignore[no-untyped-def]
    # axe is injected as a script, which the app's own CSP rightly forbids.
    # Without the service worker: it would store each language's pages while
    # axe runs, which costs time and checks nothing here.
    context = browser.new_context(
        bypass_csp=True, service_workers="block", viewport={"width": 360, "height": 780}
    )
    # Given once, run in every page before its own scripts: cheaper than
    # sending half a megabyte of script to each page.
    context.add_init_script(path=str(AXE))
    yield context.new_page()
    context.close()


def violations(page, paths: list[str], base: str) -> dict[str, list[object]]:  # type: ignore[no-untyped-def]
    """axe-core's violations on each page, by path (only the pages that have some).

    Each page is also checked for a horizontal scroll at 360 px, the width of
    a small phone, while it is open anyway.
    """
    problems = {}
    for path in paths:
        page.goto(f"{base}{path}")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if width[0] > width[1]:
            problems[path] = [("horizontal-scroll-at-360-px", width)]
        result = page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        )
        if result:
            problems[path] = problems.get(path, []) + [
                (v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result
            ]
    return problems


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_axe_violations_nor_horizontal_scroll(axe_page, live_server, lang):  # type: ignore[no-untyped-def]
    paths = [f"/{lang}/{path}" for path in [*PAGE_PATHS.values(), "o", "p/99"]]
    problems = violations(axe_page, paths, live_server.url)
    assert not problems, problems


def test_the_self_check_result_passes_axe(axe_page, live_server):  # type: ignore[no-untyped-def]
    axe_page.goto(f"{live_server.url}/en/q")
    axe_page.locator("button[type=submit]").click()
    violations = axe_page.evaluate("async () => (await axe.run()).violations")
    assert violations == []


def test_the_disguises_pass_axe(axe_page, live_server):  # type: ignore[no-untyped-def]
    problems = violations(axe_page, ["/calculator", "/notes"], live_server.url)
    assert not problems, problems
