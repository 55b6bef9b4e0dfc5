"""The page table is the one list of pages: the routes, the rendered pages, the
precache list, the content and the sitemap all agree with it."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from babel.messages.pofile import read_po
from starlette.routing import Route
from test_assets import precache_of

from server.content import PAGE_PATHS, content_ids
from server.i18n import LANGUAGES
from server.pages_table import PAGE, PAGES, TEXTS_PATH, View, language_urls, page_url

ROOT = Path(__file__).resolve().parent.parent
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def language_routes(app) -> dict[str, Route]:  # type: ignore[no-untyped-def]
    return {
        route.path: route
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith("/{lang}/")
    }


def test_keys_and_addresses_are_unique() -> None:
    assert len({entry.key for entry in PAGES}) == len(PAGES)
    assert len({entry.path for entry in PAGES}) == len(PAGES)
    assert TEXTS_PATH not in {entry.path for entry in PAGES}


def test_the_title_number_is_the_page_number() -> None:
    numbers = [entry.number for entry in PAGES if entry.number is not None]
    assert len(set(numbers)) == len(numbers)
    for entry in PAGES:
        found = re.fullmatch(r"p/(\d+)", entry.path)
        if found:
            assert entry.number == int(found[1]), entry.key
    assert PAGE["check"].number == 10
    assert PAGE["home"].number is None and PAGE["offline"].number is None


def test_titles_follow_the_table(client) -> None:  # type: ignore[no-untyped-def]
    expected = {"p/1": "Info · 1", "p/7": "Info · 7", "p/8": "Info · 8", "p/9": "Info · 9"}
    for path, title in {**expected, "q": "Info · 10", "": "Info", "o": "Info"}.items():
        assert f"<title>{title}</title>" in client.get(f"/en/{path}").text, path


def test_every_page_is_routed_and_nothing_else(app_session) -> None:  # type: ignore[no-untyped-def]
    routes = language_routes(app_session)
    wanted = {f"/{{lang}}/{entry.path}" for entry in PAGES} | {f"/{{lang}}/{TEXTS_PATH}"}
    assert set(routes) == wanted
    for entry in PAGES:
        route = routes[f"/{{lang}}/{entry.path}"]
        assert route.name == entry.key
        assert route.methods == set(entry.view.methods)
        assert ("POST" in route.methods) == (entry.view is not View.PAGE)


def test_every_page_answers_in_every_language(client) -> None:  # type: ignore[no-untyped-def]
    for lang in LANGUAGES:
        for url in language_urls(lang):
            assert client.get(url).status_code == 200, url


def test_only_the_help_and_check_pages_take_a_post(client) -> None:  # type: ignore[no-untyped-def]
    for entry in PAGES:
        if entry.view is View.PAGE:
            assert client.post(page_url("en", entry.key)).status_code == 405, entry.key
    assert client.post("/en/p/99").status_code == 404


def test_every_page_is_rendered_and_precached(app_session, client) -> None:  # type: ignore[no-untyped-def]
    pages = app_session.state.haven.site.pages
    precache = precache_of(client)
    for lang in LANGUAGES:
        for url in language_urls(lang):
            assert url in pages, url
        assert [url for url, _ in precache["languages"][lang]] == language_urls(lang)
    assert precache["offline"] == PAGE["offline"].path
    stored = {url for entries in precache["languages"].values() for url, _ in entries}
    stored |= {url for url, _ in precache["shared"]}
    assert "/sitemap.xml" not in stored and "/robots.txt" not in stored


def test_the_content_is_read_for_each_table_page(app_session) -> None:  # type: ignore[no-untyped-def]
    content = app_session.state.haven.site.content
    assert {entry.key: entry.path for entry in PAGES if entry.content} == PAGE_PATHS
    for lang in LANGUAGES:
        assert set(content.pages[lang]) == set(PAGE_PATHS)
        for key in PAGE_PATHS:
            assert (ROOT / "content" / lang / f"{key}.md").exists()
    assert not (ROOT / "content" / "en" / "offline.md").exists()


def test_the_sitemap_lists_every_content_page_in_every_language(client) -> None:  # type: ignore[no-untyped-def]
    root = ET.fromstring(client.get("/sitemap.xml").content)
    listed = {loc.text for loc in root.iter(f"{SITEMAP}loc")}
    origin = "http://127.0.0.1:8000"
    assert listed == {
        origin + entry.url(lang) for entry in PAGES if entry.content for lang in LANGUAGES
    }


def test_the_navigation_follows_the_table(client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/en/p/3").text
    footer = html[html.index('class="footer__pages"') :]
    links = re.findall(r'<li><a href="([^"]+)"', footer)
    assert links == [entry.url("en") for entry in PAGES if entry.nav]


def test_navigation_labels_are_in_the_catalogue() -> None:
    with (ROOT / "locales" / "messages.pot").open("rb") as handle:
        listed = {message.id for message in read_po(handle)}
    for entry in PAGES:
        if entry.nav is not None:
            assert entry.nav in listed, entry.key


def code_lines(folder: str, *suffixes: str):  # type: ignore[no-untyped-def]
    """Each line of code (comment lines left out) under a folder, with its file."""
    for path in sorted((ROOT / folder).rglob("*")):
        if path.suffix not in suffixes or path.name == "pages_table.py":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if not stripped.startswith(("#", "//", "/*", "*", "{#")):
                yield path.relative_to(ROOT), line


def test_page_addresses_are_written_only_in_the_table() -> None:
    addresses = re.compile(r"\bp/\d|[/'\"`]q['\"`]|\$\{lang\}/o\b")
    found = [
        (str(path), line.strip())
        for folder in ("server", "pwa", "service_worker")
        for path, line in code_lines(folder, ".py", ".js", ".html")
        if addresses.search(line)
    ]
    assert found == []


def test_centre_and_question_ids_are_written_only_in_the_content() -> None:
    ids = content_ids()
    quoted = re.compile(
        "|".join(rf"['\"`]{re.escape(name)}['\"`]" for name in (*ids.centres, *ids.questions))
    )
    found = [
        (str(path), line.strip())
        for folder in ("server", "pwa", "service_worker")
        for path, line in code_lines(folder, ".py", ".js", ".html")
        if quoted.search(line)
    ]
    assert found == []
