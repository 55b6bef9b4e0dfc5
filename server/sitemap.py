"""The sitemap and robots.txt that search engines read, made from the page table.

The sitemap lists each public page in each language, with the same page in
every other language as its alternates (hreflang), so that a search finds
the page in the searcher's language. It holds addresses only: they are
neutral (docs/decisions/0001), and the disguises are left out: robots.txt
keeps crawlers off them, so that no search lists a calculator or notes page
as Haven's.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import escape, quoteattr

from .assets import DISGUISES
from .pages_table import PAGES
from .responses import Representation
from .settings import Settings

SITEMAP_URL = "/sitemap.xml"
ROBOTS_URL = "/robots.txt"
XML = "application/xml; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
# Not for search engines: the advisors' side, the programs' API and the disguises.
NOT_CRAWLED = ("/advisor/", "/api/", *(disguise.url for disguise in DISGUISES))


def origin(settings: Settings) -> str:
    """The site's public origin: HAVEN_BASE_URL, else the address it listens on."""
    if settings.base_url:
        return settings.base_url
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}"


def sitemap(base: str, languages: Iterable[str]) -> Representation:
    codes = list(languages)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        ' xmlns:xhtml="http://www.w3.org/1999/xhtml">',
    ]
    for entry in PAGES:
        if not entry.content:
            continue
        alternates = [
            f'<xhtml:link rel="alternate" hreflang={quoteattr(code)}'
            f" href={quoteattr(base + entry.url(code))}/>"
            for code in codes
        ]
        for code in codes:
            loc = escape(base + entry.url(code))
            lines += ["<url>", f"<loc>{loc}</loc>", *alternates, "</url>"]
    lines.append("</urlset>")
    return Representation(("\n".join(lines) + "\n").encode("utf-8"), XML)


def robots(base: str) -> Representation:
    lines = [
        "User-agent: *",
        *(f"Disallow: {path}" for path in NOT_CRAWLED),
        f"Sitemap: {base}{SITEMAP_URL}",
    ]
    return Representation(("\n".join(lines) + "\n").encode("utf-8"), TEXT)
