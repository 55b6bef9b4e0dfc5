"""Languages, Accept-Language negotiation and gettext catalogues."""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request

from .bundle import LOCALES_DIR

DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class Language:
    code: str  # the URL prefix and the <html lang> value
    name: str  # the language's own name, in its own script
    babel: str  # the Babel locale used for dates and numbers
    direction: str = "ltr"


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", "en_GB"),
        Language("nl", "Nederlands", "nl_BE"),
        Language("fr", "Français", "fr_BE"),
        Language("de", "Deutsch", "de_BE"),
        Language("ro", "Română", "ro_RO"),
        Language("bg", "Български", "bg_BG"),
        Language("ar", "العربية", "ar", "rtl"),
        Language("pt-BR", "Português (Brasil)", "pt_BR"),
        Language("es", "Español", "es_ES"),
        Language("uk", "Українська", "uk_UA"),
        Language("ru", "Русский", "ru_RU"),
        Language("zh-Hans", "简体中文", "zh_Hans_CN"),
        Language("vi", "Tiếng Việt", "vi_VN"),
        Language("ti", "ትግርኛ", "ti_ER"),
        Language("sq", "Shqip", "sq_AL"),
        Language("pl", "Polski", "pl_PL"),
    )
}

# Tags a browser may send that should land on a language Haven has under
# another code. Matching is by prefix, longest first, so "pt-PT" and "pt" both
# reach "pt-BR", and "zh-CN", "zh-SG" and "zh" reach "zh-Hans". Traditional
# Chinese is not offered: its readers get the next language they ask for.
ALIASES: dict[str, str] = {"pt": "pt-BR", "zh": "zh-Hans"}
# Tags that must not fall back to a shorter prefix's alias.
NO_FALLBACK = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")


def _candidates(tag: str) -> Iterator[str]:
    """Yield Haven codes for one Accept-Language tag, best first."""
    lowered = tag.lower()
    if lowered.startswith(NO_FALLBACK):
        return
    by_lower = {code.lower(): code for code in LANGUAGES}
    parts = lowered.split("-")
    for end in range(len(parts), 0, -1):
        prefix = "-".join(parts[:end])
        if prefix in by_lower:
            yield by_lower[prefix]
        if prefix in ALIASES:
            yield ALIASES[prefix]


def parse_accept_language(header: str) -> list[str]:
    """Return the tags of an Accept-Language header, most preferred first."""
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        if quality <= 0 or quality > 1:
            continue
        weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(header: str | None) -> str:
    """Pick the best language Haven has for an Accept-Language header."""
    for tag in parse_accept_language(header or ""):
        for code in _candidates(tag):
            return code
    return DEFAULT_LANGUAGE


def catalogue_dir(code: str) -> str:
    """The folder of a language's catalogues, named the way pybabel names it."""
    return code.replace("-", "_")


def catalogue_path(code: str, locales_dir: Path = LOCALES_DIR, domain: str = DOMAIN) -> Path:
    return locales_dir / catalogue_dir(code) / "LC_MESSAGES" / f"{domain}.po"


@cache
def translations(code: str, domain: str = DOMAIN) -> gettext.NullTranslations:
    """The interface strings of one language, read from its .po file.

    Catalogues are compiled in memory at start, so the repository and the
    wheel carry only the editable .po files. The ``advisor`` domain holds the
    advisors' dashboard, which is in fewer languages than the public pages.
    """
    path = catalogue_path(code, domain=domain)
    if code == DEFAULT_LANGUAGE or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=LANGUAGES[code].babel)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=domain)


def language_of(request: Request) -> str:
    """The language of the address if it names one, else the browser's choice."""
    code = request.path_params.get("lang") or request.url.path.split("/")[1]
    if code in LANGUAGES:
        return str(code)
    return negotiate(request.headers.get("accept-language"))
