"""What a search engine reads in a page besides its address and title: the
description under the link in its results, the words of the links, and
whether the page may be listed at all."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from server.assets import DISGUISES
from server.i18n import LANGUAGES
from server.pages_table import PAGES

ROOT = Path(__file__).resolve().parent.parent
# Lighthouse's "link-text" audit flags a link whose whole text is one of these
# (node_modules/lighthouse/core/audits/seo/link-text.js, version 12.8.2), by
# the link's language: English, and the languages of Haven that it has a list for.
GENERIC_LINK_TEXTS: dict[str, frozenset[str]] = {
    "en": frozenset(
        {
            "click here",
            "click this",
            "go",
            "here",
            "information",
            "learn more",
            "more",
            "more info",
            "more information",
            "right here",
            "read more",
            "see more",
            "start",
            "this",
        }
    ),
    "de": frozenset(
        {"klicke hier", "hier klicken", "hier", "mehr", "siehe", "dies", "das", "weiterlesen"}
    ),
    "es": frozenset(
        {
            "click aquí",
            "click aqui",
            "clicka aquí",
            "clicka aqui",
            "pincha aquí",
            "pincha aqui",
            "aquí",
            "aqui",
            "más",
            "mas",
            "más información",
            "más informacion",
            "mas información",
            "mas informacion",
            "este",
            "enlace",
            "este enlace",
            "empezar",
        }
    ),
    "pt-BR": frozenset(
        {"clique aqui", "ir", "mais informação", "mais informações", "mais", "veja mais"}
    ),
}
LIGHTHOUSE_LINK_TEXT = ROOT / "node_modules/lighthouse/core/audits/seo/link-text.js"
# Search engines show about this much of a description.
DESCRIPTION_MAX = 160


class _Head(HTMLParser):
    """The page's meta elements by name, and each link's address and words."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, list[str]] = {}
        self.links: list[tuple[str, str]] = []
        self._open: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "meta" and "name" in values:
            self.meta.setdefault(values["name"], []).append(values.get("content", ""))
        elif tag == "a":
            self._open.append([values.get("href", ""), ""])

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            href, text = self._open.pop()
            self.links.append((href, " ".join(text.split())))

    def handle_data(self, data: str) -> None:
        for link in self._open:
            link[1] += data


def parsed(html: str) -> _Head:
    parser = _Head()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def pages(app_session) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Every prerendered HTML page, by address."""
    return {
        path: representation.body.decode()
        for path, representation in app_session.state.haven.site.pages.items()
        if representation.media_type.startswith("text/html")
    }


def test_every_page_has_a_description_in_its_language(pages) -> None:  # type: ignore[no-untyped-def]
    english = {}
    for entry in PAGES:
        if not entry.content:
            continue
        for lang in LANGUAGES:
            found = parsed(pages[entry.url(lang)]).meta.get("description", [])
            assert len(found) == 1, entry.url(lang)
            description = found[0]
            assert description.strip() == description and description, entry.url(lang)
            assert len(description) <= DESCRIPTION_MAX, (entry.url(lang), len(description))
            if lang == "en":
                english[entry.key] = description
            else:
                assert description != english[entry.key], f"{entry.url(lang)} is in English"
    # No two pages of a language describe themselves alike.
    assert len(set(english.values())) == len(english)


def test_the_app_s_own_pages_have_no_description(pages, client) -> None:  # type: ignore[no-untyped-def]
    """The offline page and the error pages say nothing a search could list."""
    for entry in PAGES:
        if not entry.content:
            for lang in LANGUAGES:
                assert "description" not in parsed(pages[entry.url(lang)]).meta
    missing = client.get("/en/p/99")
    assert missing.status_code == 404
    assert "description" not in parsed(missing.text).meta


def test_no_link_says_only_here_or_more(pages) -> None:  # type: ignore[no-untyped-def]
    """Out of context (a search engine, a screen reader's list of links) every
    link still says where it leads."""
    checked = 0
    for path, html in pages.items():
        lang = path.split("/")[1]
        generic = GENERIC_LINK_TEXTS["en"] | GENERIC_LINK_TEXTS.get(lang, frozenset())
        for href, text in parsed(html).links:
            if href.startswith("#"):
                continue  # a place on the same page, which Lighthouse leaves out too
            checked += 1
            assert text.lower() not in generic, f"{path}: a link to {href} says {text!r}"
    assert checked > 100 * len(LANGUAGES)


def test_the_generic_phrases_are_lighthouse_s() -> None:
    """The English list above is the one of the Lighthouse that bench/lighthouse.py runs."""
    if not LIGHTHOUSE_LINK_TEXT.exists():
        pytest.skip("Lighthouse is not installed (npm ci)")
    source = LIGHTHOUSE_LINK_TEXT.read_text(encoding="utf-8")
    english = re.search(r"'en': new Set\(\[(.*?)\]\)", source, re.S)
    assert english is not None
    assert set(re.findall(r"'([^']+)'", english[1])) == GENERIC_LINK_TEXTS["en"]


@pytest.mark.parametrize("disguise", DISGUISES, ids=lambda disguise: disguise.name)
def test_disguises_are_kept_out_of_search_results(client, disguise) -> None:  # type: ignore[no-untyped-def]
    page = parsed(client.get(disguise.url).text)
    assert page.meta.get("robots") == ["noindex"]
    assert "description" not in page.meta
    assert f"Disallow: {disguise.url}" in client.get("/robots.txt").text.splitlines()
