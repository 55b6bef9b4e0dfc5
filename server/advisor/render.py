"""The advisors' pages: their templates, language and the little formatting they need."""

from __future__ import annotations

import datetime as dt
import gettext
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from ..bundle import PWA_DIR
from ..content import Content
from ..i18n import LANGUAGES, parse_accept_language, translations
from ..workdays import BRUSSELS

DOMAIN = "advisor"
# The centres work in Dutch, French and English; the dashboard speaks those.
ADVISOR_LANGUAGES = ("en", "nl", "fr")
TEMPLATES = PWA_DIR / "advisor" / "templates"


def advisor_language(accept_language: str | None) -> str:
    for tag in parse_accept_language(accept_language or ""):
        primary = tag.split("-")[0].lower()
        if primary in ADVISOR_LANGUAGES:
            return primary
    return "en"


@dataclass(frozen=True)
class Due:
    text: str
    overdue: bool
    today: bool


def due(day: dt.date, today: dt.date, translation: gettext.NullTranslations) -> Due:
    """When a request is due, said the way an advisor thinks of it."""
    _, ngettext = translation.gettext, translation.ngettext
    days = (day - today).days
    if days == 0:
        return Due(_("today"), False, True)
    if days < 0:
        late = -days
        return Due(
            ngettext("overdue by %(num)d day", "overdue by %(num)d days", late) % {"num": late},
            True,
            False,
        )
    if days == 1:
        return Due(_("tomorrow"), False, False)
    return Due(ngettext("in %(num)d day", "in %(num)d days", days) % {"num": days}, False, False)


class AdvisorPages:
    def __init__(self, content: Content) -> None:
        self.content = content
        self.centre_names = {centre.id: centre.name for centre in content.centres}
        self._environments = {code: self._environment(code) for code in ADVISOR_LANGUAGES}

    def _environment(self, code: str) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(translations(code, DOMAIN), newstyle=True)  # type: ignore[attr-defined]
        return env

    def gettext(self, code: str) -> Callable[[str], str]:
        return translations(code, DOMAIN).gettext

    def ngettext(self, code: str) -> Callable[[str, str, int], str]:
        return translations(code, DOMAIN).ngettext

    def centre_name(self, code: str, centre: str) -> str:
        if centre == "unknown":
            _ = self.gettext(code)
            return _("Not sure (to route)")
        return self.centre_names.get(centre, centre)

    def questions(self, code: str) -> Mapping[str, str]:
        return dict(self.content.questions.get(code) or self.content.questions["en"])

    def render(self, code: str, template: str, *, today: dt.date, **values: Any) -> str:
        locale = LANGUAGES[code].babel

        def format_written(value: str) -> str:
            # The phone's own clock, as it wrote it; shown as given if it is odd.
            try:
                moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    return value
                return format_datetime(moment, format="short", tzinfo=BRUSSELS, locale=locale)
            except (ValueError, OverflowError):
                return value

        helpers = {
            "language_name": lambda tag: (
                f"{LANGUAGES[tag].name} ({tag})" if tag in LANGUAGES else tag
            ),
            "format_written": format_written,
            "lang": code,
            "centre_name": lambda centre: self.centre_name(code, centre),
            "centre_ids": tuple(self.centre_names),
            "format_date": lambda day: format_date(day, format="medium", locale=locale),
            "format_time": lambda moment: format_datetime(
                moment, format="short", tzinfo=BRUSSELS, locale=locale
            ),
            "format_number": lambda value: format_decimal(value, format="#,##0.0", locale=locale),
            "today": today,
            "due": lambda day: due(day, today, translations(code, DOMAIN)),
            "to_json": lambda value: json.dumps(value, ensure_ascii=False),
        }
        return self._environments[code].get_template(template).render(**helpers, **values)
