"""Sixteen languages, complete: every page, section, message and plural form.

The checks themselves live in tools/check_translations.py so that a reviewer
can run them on one language and read what is missing in plain words.
"""

import datetime as dt
import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from helpers import check_translations as check

from server.content import PAGE_PATHS
from server.i18n import LANGUAGES, catalogue_path, negotiate, translations
from server.site import _format_date

ROOT = Path(__file__).resolve().parent.parent

# gettext's plural forms for each language (GNU gettext's table).
PLURAL_FORMS = {
    "en": 2, "nl": 2, "fr": 2, "de": 2, "ro": 3, "bg": 2, "ar": 6, "pt-BR": 2,
    "es": 2, "uk": 3, "ru": 3, "zh-Hans": 1, "vi": 1, "ti": 2, "sq": 2, "pl": 3,
}  # fmt: skip


def test_sixteen_languages() -> None:
    assert list(LANGUAGES) == [
        "en", "nl", "fr", "de", "ro", "bg", "ar", "pt-BR",
        "es", "uk", "ru", "zh-Hans", "vi", "ti", "sq", "pl",
    ]  # fmt: skip
    assert set(PLURAL_FORMS) == set(LANGUAGES)
    assert [code for code, lang in LANGUAGES.items() if lang.direction == "rtl"] == ["ar"]


@pytest.mark.parametrize("code", LANGUAGES)
def test_translation_is_complete(code: str) -> None:
    """Pages, sections, links, numbers, messages, placeholders, plural forms."""
    assert check.problems(code) == []


def test_the_checker_finds_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    english = (ROOT / "content" / "en" / "help.md").read_text(encoding="utf-8")
    broken = english.replace("{#visit}", "{#elsewhere}").replace("**101**", "**999**")
    problems = list(check.page_problems("xx", "help.md", english, broken))
    assert any("sections should be" in problem for problem in problems)
    assert any("numbers missing" in problem and "101" in problem for problem in problems)
    assert any("still in English" in problem for problem in problems)


@pytest.mark.parametrize("code", [code for code in LANGUAGES if code != "en"])
def test_plural_forms_follow_the_language(code: str) -> None:
    with catalogue_path(code).open("rb") as handle:
        catalog = read_po(handle)
    assert catalog.num_plurals == PLURAL_FORMS[code]
    ngettext = translations(code).ngettext
    one, many = "At most %(num)s character.", "At most %(num)s characters."
    texts = {ngettext(one, many, n) % {"num": n} for n in (1, 2, 5, 11, 21, 102, 2000)}
    assert all(str(n) in "".join(texts) for n in (1, 2000))
    assert not any("character" in text for text in texts)


def test_slavic_and_arabic_plurals_pick_the_right_form() -> None:
    """1, 21: one; 2-4, 22: few; 5-20, 11: many (and Arabic's six forms)."""
    numbers = (1, 3, 5, 11, 21, 22, 100)
    assert [translations("ru").plural(n) for n in numbers] == [0, 1, 2, 2, 0, 1, 2]  # type: ignore[attr-defined]
    assert [translations("pl").plural(n) for n in numbers] == [0, 1, 2, 2, 2, 1, 2]  # type: ignore[attr-defined]
    assert [translations("ar").plural(n) for n in (0, 1, 2, 3, 11, 100)] == [0, 1, 2, 3, 4, 5]  # type: ignore[attr-defined]


class _Text(HTMLParser):
    """The visible text of a page, without scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.skip += tag in {"script", "style"}
        for name, value in attrs:
            if name in {"aria-label", "placeholder", "alt", "title"} and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in {"script", "style"}

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


@cache
def english_sentences() -> frozenset[str]:
    """Every English interface string and content sentence of three words or more."""
    with (ROOT / "locales" / "messages.pot").open("rb") as handle:
        found = {
            text
            for message in read_po(handle)
            if message.id
            for text in check.texts(message.id)
            if len(text.split()) >= 3 and not PLACEHOLDER.search(text)
        }
    for path in (ROOT / "content" / "en").glob("*.md"):
        found |= check.english_sentences(path.read_text(encoding="utf-8"))
    return frozenset(found)


PLACEHOLDER = re.compile(r"%\(|\{")


@pytest.mark.parametrize("code", [code for code in LANGUAGES if code != "en"])
def test_no_page_shows_an_english_sentence(app_session, code: str) -> None:
    """What a person sees is in their language: nothing falls back to English."""
    english = english_sentences()
    pages = app_session.state.haven.site.pages
    for path in [*(f"/{code}/{path}" for path in PAGE_PATHS.values()), f"/{code}/o"]:
        text = visible_text(pages[path].body.decode())
        left = sorted(sentence for sentence in english if sentence in text)
        assert not left, (path, left)
    script = pages[f"/{code}/t.js"].body.decode()
    assert not [sentence for sentence in english if sentence in script]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("pt-PT", "pt-BR"),
        ("pt", "pt-BR"),
        ("pt-BR,pt;q=0.9", "pt-BR"),
        ("zh-CN,zh;q=0.9", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("zh-Hans-CN", "zh-Hans"),
        ("zh-SG", "zh-Hans"),
        ("zh-TW,fr;q=0.5", "fr"),
        ("zh-Hant", "en"),
        ("ar-MA", "ar"),
        ("ar-SY,ar;q=0.8", "ar"),
        ("ti-ER", "ti"),
        ("uk-UA", "uk"),
        ("ru-RU", "ru"),
        ("ro-MD", "ro"),
        ("sq-XK", "sq"),
        ("es-419", "es"),
        ("vi-VN", "vi"),
        ("bg-BG", "bg"),
        ("pl-PL", "pl"),
    ],
)
def test_regional_variants_find_their_language(header: str, expected: str) -> None:
    assert negotiate(header) == expected


@pytest.mark.parametrize("code", LANGUAGES)
def test_dates_are_written_the_local_way(code: str) -> None:
    text = _format_date(dt.date(2026, 12, 1), LANGUAGES[code])
    assert "2026" in text  # Western digits, as on the rest of the page
    assert ("December" in text) == (code == "en"), text
