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
    context = browser.new_context(bypass_csp=True, viewport={"width": 360, "height": 780})
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_axe_violations(axe_page, live_server, lang):  # type: ignore[no-untyped-def]
    problems = {}
    for path in [*PAGE_PATHS.values(), "o", "p/99"]:
        axe_page.goto(f"{live_server.url}/{lang}/{path}")
        axe_page.add_script_tag(path=str(AXE))
        result = axe_page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        )
        if result:
            problems[path] = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result]
    assert not problems, problems


def test_the_self_check_result_passes_axe(axe_page, live_server):  # type: ignore[no-untyped-def]
    axe_page.goto(f"{live_server.url}/en/q")
    axe_page.locator("button[type=submit]").click()
    axe_page.add_script_tag(path=str(AXE))
    violations = axe_page.evaluate("async () => (await axe.run()).violations")
    assert violations == []


def test_the_disguises_pass_axe(axe_page, live_server):  # type: ignore[no-untyped-def]
    problems = {}
    for path in ("/calculator", "/notes"):
        axe_page.goto(f"{live_server.url}{path}")
        axe_page.add_script_tag(path=str(AXE))
        result = axe_page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        )
        if result:
            problems[path] = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result]
    assert not problems, problems
