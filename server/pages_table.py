"""The table of Haven's public pages: address, title number, template, navigation and view.

Everything that lists the pages reads it: the routes (server/app.py), the
renderer (server/site.py), the content loader and its ``page:`` links
(server/content.py), the precache list (server/assets.py) and the sitemap
(server/sitemap.py). Addresses and titles never carry a sensitive word: the
browser's history list shows them (docs/decisions/0001). Page numbers never
change: installed copies and bookmarks keep them.

This module imports nothing of Haven's, so that every other module can read it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


def _(message: str) -> str:
    """Marks a label for the catalogue (pybabel's ``_``); it is translated where shown."""
    return message


class View(enum.Enum):
    """Which view answers a page's address, and so which methods it takes."""

    PAGE = "page"  # the prerendered page
    HELP = "help"  # the page, and the help form posted without JavaScript
    CHECK = "check"  # the page, and the self-check's answers posted without JavaScript

    @property
    def methods(self) -> tuple[str, ...]:
        return ("GET", "HEAD") if self is View.PAGE else ("GET", "HEAD", "POST")


@dataclass(frozen=True)
class PageEntry:
    """One page, the same in every language."""

    key: str  # content/<lang>/<key>.md, and the name of page:<key> links
    path: str  # the address after /<lang>/
    number: int | None  # the title is "Info · <number>", or "Info" alone
    template: str
    layout: str = "plain"
    nav: str | None = None  # its label in the list of all pages, untranslated
    view: View = View.PAGE
    content: bool = True  # written in content/, linkable, and listed in the sitemap

    def url(self, lang: str) -> str:
        return f"/{lang}/{self.path}"


# In the order the list of all pages shows them. The title number of /p/N is N.
PAGES: tuple[PageEntry, ...] = (
    PageEntry("home", "", None, "home.html", nav=_("Start page")),
    PageEntry("help", "p/7", 7, "help.html", nav=_("Get help now"), view=View.HELP),
    PageEntry("check", "q", 10, "check.html", nav=_("Seven questions"), view=View.CHECK),
    PageEntry("forms", "p/1", 1, "page.html", nav=_("What is it?")),
    PageEntry("steps", "p/2", 2, "page.html", layout="steps", nav=_("What happens next")),
    PageEntry("centres", "p/3", 3, "page.html", nav=_("Who helps")),
    PageEntry("rights", "p/4", 4, "page.html", nav=_("Your rights")),
    PageEntry("find", "p/5", 5, "contacts.html", nav=_("Find a centre")),
    PageEntry("safety", "p/6", 6, "page.html", nav=_("Stay safe")),
    PageEntry("install", "p/9", 9, "install.html", nav=_("Install it in disguise")),
    PageEntry("privacy", "p/8", 8, "page.html"),
    # Shown by the service worker for a page that was never stored.
    PageEntry("offline", "o", None, "offline.html", content=False),
)

PAGE: dict[str, PageEntry] = {entry.key: entry for entry in PAGES}
OFFLINE_PATH = PAGE["offline"].path
# The strings the scripts of every page need, one file per language, so that
# each page does not carry its own copy.
TEXTS_PATH = "t.js"


def page_url(lang: str, key: str) -> str:
    return PAGE[key].url(lang)


def texts_url(lang: str) -> str:
    return f"/{lang}/{TEXTS_PATH}"


def language_urls(lang: str) -> list[str]:
    """Every address a language has: its pages, then its scripts' strings."""
    return [*(entry.url(lang) for entry in PAGES), texts_url(lang)]
