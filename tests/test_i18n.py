import re

import pytest
from babel.messages.pofile import read_po

from server.advisor.render import ADVISOR_LANGUAGES
from server.i18n import LANGUAGES, catalogue_path, negotiate, parse_accept_language, translations


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


PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}")
CATALOGUES = [("messages", code) for code in LANGUAGES if code != "en"] + [
    ("advisor", code) for code in ADVISOR_LANGUAGES if code != "en"
]


def _texts(value: object) -> list[str]:
    """A message's text, or each of its plural forms."""
    return [str(item) for item in value] if isinstance(value, (tuple, list)) else [str(value)]


@pytest.mark.parametrize(("domain", "code"), CATALOGUES)
def test_catalogue_is_complete(domain: str, code: str) -> None:
    path = catalogue_path(code, domain=domain)
    with path.open("rb") as handle:
        catalog = read_po(handle)
    with (path.parents[2] / f"{domain}.pot").open("rb") as handle:
        template = read_po(handle)
    wanted = {message.id for message in template if message.id}
    present = {message.id: message for message in catalog if message.id}
    assert wanted <= set(present), f"missing: {wanted - set(present)}"
    for msgid in wanted:
        message = present[msgid]
        texts = _texts(message.string)
        assert all(texts) and not message.fuzzy, f"{code}: {msgid!r} not translated"
        expected = sorted(PLACEHOLDER.findall(_texts(msgid)[-1]))
        for text in texts:
            assert sorted(PLACEHOLDER.findall(text)) == expected, (
                f"{code}: placeholders changed in {msgid!r}"
            )


def test_translations_are_used() -> None:
    assert translations("nl").gettext("Leave quickly") != "Leave quickly"
    assert translations("en").gettext("Leave quickly") == "Leave quickly"
