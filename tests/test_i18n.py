import pytest
from helpers import check_translations as check

from server.advisor.render import ADVISOR_LANGUAGES
from server.i18n import LANGUAGES, negotiate, parse_accept_language, translations


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("nl-BE,nl;q=0.9,en;q=0.8", "nl"),
        ("fr-BE", "fr"),
        ("de-DE,de;q=0.9", "de"),
        ("DE-at", "de"),
        ("ja,fr;q=0.5", "fr"),
        ("en;q=0.1, nl;q=0.9", "nl"),
        ("nl;q=0, fr", "fr"),
        ("xx, *", "en"),
        ("fr;q=abc, de", "de"),
        ("fr;q=2, de", "de"),
        (";;;,,,", "en"),
        ("a" * 5000, "en"),
    ],
)
def test_negotiation(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def test_accept_language_order_is_by_quality_then_position() -> None:
    assert parse_accept_language("a;q=0.5, b, c;q=0.5, d;q=1") == ["b", "d", "a", "c"]


def test_language_names_are_in_their_own_language() -> None:
    assert {code: lang.name for code, lang in LANGUAGES.items()} == {
        "en": "English",
        "nl": "Nederlands",
        "fr": "Français",
        "de": "Deutsch",
        "ro": "Română",
        "bg": "Български",
        "ar": "العربية",
        "pt-BR": "Português (Brasil)",
        "es": "Español",
        "uk": "Українська",
        "ru": "Русский",
        "zh-Hans": "简体中文",
        "vi": "Tiếng Việt",
        "ti": "ትግርኛ",
        "sq": "Shqip",
        "pl": "Polski",
    }


@pytest.mark.parametrize("code", [code for code in ADVISOR_LANGUAGES if code != "en"])
def test_advisor_catalogue_is_complete(code: str) -> None:
    """The dashboard's catalogues get the public one's checks (tests/test_languages.py)."""
    assert list(check.catalogue_problems(code, "advisor")) == []


def test_translations_are_used() -> None:
    assert translations("nl").gettext("Leave quickly") != "Leave quickly"
    assert translations("en").gettext("Leave quickly") == "Leave quickly"
