"""Rendering Haven's pages once, in every language, into memory.

Every public page is a pure function of (language, page): it is rendered at
start, kept as a :class:`~server.responses.Representation`, and its hash
feeds the service worker's precache list.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
from babel.dates import format_date
from markupsafe import Markup

from .bundle import PWA_DIR
from .compiled import COMPILED
from .component_texts import layout_texts
from .content import Content, tel_uri
from .i18n import LANGUAGES, Language, translations
from .pages_table import PAGE, PAGES, PageEntry, View, page_url, texts_url
from .responses import JAVASCRIPT, Representation
from .settings import Settings
from .sitemap import ROBOTS_URL, SITEMAP_URL, origin, robots, sitemap
from .validation import FIELDS, RULES, messages

HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Alternate:
    """The same page in another language, for the language picker."""

    lang: str
    path: str


def _nav(_: Callable[[str], str]) -> list[tuple[str, str]]:
    return [(entry.key, _(entry.nav)) for entry in PAGES if entry.nav is not None]


def _region_names(_: Callable[[str], str]) -> dict[str, str]:
    return {
        "brussels": _("Brussels region"),
        "flanders": _("Flanders"),
        "wallonia": _("Wallonia and the German-speaking area"),
    }


def load_pictograms() -> dict[str, Markup]:
    folder = PWA_DIR / "pictograms"
    return {
        path.stem: Markup(path.read_text(encoding="utf-8").strip())  # noqa: S704 - our own files
        for path in sorted(folder.glob("*.svg"))
    }


@cache
def _environment(code: str) -> jinja2.Environment:
    """One template environment per language, for the whole process."""
    env = jinja2.Environment(
        bytecode_cache=COMPILED,
        loader=jinja2.FileSystemLoader([PWA_DIR / "templates", PWA_DIR / "components"]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    # Scripts read JSON from data attributes: UTF-8 is a third of \uXXXX's size.
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    env.install_gettext_translations(translations(code), newstyle=True)  # type: ignore[attr-defined]
    return env


class Site:
    def __init__(self, settings: Settings, content: Content) -> None:
        self.settings = settings
        self.content = content
        self.pictograms = load_pictograms()
        self._environments = {code: _environment(code) for code in LANGUAGES}
        # Every address of the public site, prerendered: each language's pages
        # and scripts' strings, then what search engines read.
        self.pages: dict[str, Representation] = {}
        for code in LANGUAGES:
            for entry in PAGES:
                self.pages[entry.url(code)] = self._render_page(code, entry)
            self.pages[texts_url(code)] = self._render_texts(code)
        base = origin(settings)
        self.pages[SITEMAP_URL] = sitemap(base, LANGUAGES)
        self.pages[ROBOTS_URL] = robots(base)

    def gettext(self, code: str) -> Callable[[str], str]:
        return translations(code).gettext

    def alternates(self, path: str) -> list[Alternate]:
        return [Alternate(code, f"/{code}/{path}") for code in LANGUAGES]

    def context(self, code: str, key: str | None, path: str) -> dict[str, Any]:
        lang: Language = LANGUAGES[code]
        _ = self.gettext(code)
        number = None if key is None else PAGE[key].number
        title = _("Info") if number is None else f"{_('Info')} · {number}"
        description = ""
        if key is not None and PAGE[key].content:
            description = self.content.page(code, key).description
        return {
            "lang": lang,
            "languages": LANGUAGES,
            "texts_url": texts_url(code),
            "title": title,
            "description": description,
            "page_key": key,
            "with_picker": key in (None, "home"),
            "alternates": self.alternates(path),
            "exit_url": self.settings.exit_url,
            "numbers": self.content.numbers,
            "national_tel": tel_uri(self.content.numbers.national),
            "centres": self.content.centres,
            "nav": _nav(_),
            "region_names": _region_names(_),
            "pictograms": self.pictograms,
            "url": lambda target: page_url(code, target),
            "format_date": lambda day: _format_date(day, lang),
        }

    def render(self, code: str, template: str, **values: Any) -> str:
        return self._environments[code].get_template(template).render(**values)

    def render_check(self, code: str, result: str | None, error: str | None = None) -> str:
        """The self-check page; ``result`` is shown for the no-JavaScript answer."""
        entry = PAGE["check"]
        return self.render(
            code,
            entry.template,
            **self.context(code, entry.key, entry.path),
            page=self.content.page(code, "check"),
            questions=self.content.questions[code],
            threshold=self.content.threshold,
            result=result,
            error=error,
        )

    def render_help(
        self,
        code: str,
        values: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
        notice: str | None = None,
    ) -> str:
        """The get-help page with its form; values, errors and a notice saying why
        it was not sent, for the no-JavaScript path."""
        _ = self.gettext(code)
        texts = messages(_)
        field_messages = {
            name: texts[error].replace("{max}", str(FIELDS[name].get("max", "")))
            for name, error in (errors or {}).items()
        }
        entry = PAGE["help"]
        return self.render(
            code,
            entry.template,
            **self.context(code, entry.key, entry.path),
            page=self.content.page(code, "help"),
            privacy=self.content.page(code, "privacy"),
            questions=self.content.questions[code],
            rules=RULES,
            messages=texts,
            values=values or {},
            field_messages=field_messages,
            notice=notice,
        )

    def render_sent(self, code: str, reference: str, contact_by_text: str) -> str:
        return self.render(
            code,
            "sent.html",
            **self.context(code, None, PAGE["help"].path),
            reference=reference,
            contact_by_text=contact_by_text,
        )

    def _render_page(self, code: str, entry: PageEntry) -> Representation:
        if entry.view is View.CHECK:
            html = self.render_check(code, None)
        elif entry.view is View.HELP:
            html = self.render_help(code)
        elif not entry.content:
            # The app's own page (offline): no content, and no place in the list of pages.
            html = self.render(code, entry.template, **self.context(code, None, entry.path))
        else:
            html = self.render(
                code,
                entry.template,
                **self.context(code, entry.key, entry.path),
                page=self.content.page(code, entry.key),
                layout=entry.layout,
            )
        return _stored_page(html)

    def _render_texts(self, code: str) -> Representation:
        texts = json.dumps(
            layout_texts(code, self.context(code, None, "")),
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return Representation(f"window.HAVEN_TEXTS={texts}\n".encode(), JAVASCRIPT)

    def render_error(self, code: str, status: int) -> str:
        heading, message = self.error_texts(self.gettext(code), status)
        return self.render(
            code,
            "error.html",
            **self.context(code, None, ""),
            heading=heading,
            message=message,
        )

    @staticmethod
    def error_texts(_: Callable[[str], str], status: int) -> tuple[str, str]:
        """The heading and the sentence that explain an error status to a person."""
        if status == 404:
            heading, message = _("Page not found"), _("This address does not exist in this app.")
        elif status == 429:
            heading, message = (
                _("Please wait a little"),
                _(
                    "Many messages came from this connection. Please try again later, "
                    "or call a centre."
                ),
            )
        elif status == 405:
            heading, message = _("Not possible"), _("This page cannot be used in this way.")
        else:
            heading, message = (
                _("Something went wrong"),
                _("Please try again in a moment. In danger, call 101 or 112."),
            )
        return heading, message


_INDENT = re.compile(r"\n[ \t]+")
_KEEPS_SPACES = re.compile(r"(<(?:textarea|pre)\b.*?</(?:textarea|pre)>)", re.S)


def compact_html(html: str) -> str:
    """The page without the templates' indentation: phones store every page.

    A line break followed by spaces renders like the line break alone, except
    inside <pre> and <textarea>, which are left as they are.
    """
    parts = _KEEPS_SPACES.split(html)
    return "".join(
        part if index % 2 else _INDENT.sub("\n", part) for index, part in enumerate(parts)
    )


def _stored_page(html: str) -> Representation:
    """A prerendered page, as the server keeps it and the phone stores it."""
    return Representation(compact_html(html).encode("utf-8"), HTML)


def _format_date(day: dt.date, lang: Language) -> str:
    return format_date(day, format="long", locale=lang.babel)
