import re
from pathlib import Path

import pytest
import yaml

from server.content import (
    PAGE_PATHS,
    ContentError,
    content_ids,
    load_content,
    parse_page,
)
from server.i18n import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent


def documented_sections() -> dict[str, list[str]]:
    """The page table of docs/content-format.md: the docs and the files must agree."""
    text = (ROOT / "docs" / "content-format.md").read_text()
    table = {}
    for match in re.finditer(r"^\| `(\w+)` \| `[^`]*` \| (.+?) \|$", text, re.M):
        table[match[1]] = re.findall(r"`([a-z-]+)`", match[2])
    return table


@pytest.fixture(scope="module")
def content():  # type: ignore[no-untyped-def]
    return load_content()


def test_docs_list_every_page() -> None:
    assert set(documented_sections()) == set(PAGE_PATHS)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_exists_with_its_sections(content, lang: str) -> None:  # type: ignore[no-untyped-def]
    for key, expected in documented_sections().items():
        page = content.page(lang, key)
        assert page.heading, (lang, key)
        assert [section.id for section in page.sections] == expected, (lang, key)
        for section in page.sections:
            assert section.heading.strip(), (lang, key, section.id)
            assert len(section.html) > 20, (lang, key, section.id)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_question_in_every_language(content, lang: str) -> None:  # type: ignore[no-untyped-def]
    ids = yaml.safe_load((ROOT / "content" / "questions.yaml").read_text())["questions"]
    assert len(ids) == 7
    assert [qid for qid, _ in content.questions[lang]] == ids
    texts = [text for _, text in content.questions[lang]]
    marks = ("?", "\u061f", "\uff1f", "\u1367")  # ? in Latin, Arabic, Chinese and Ethiopic
    assert all(text.endswith(marks) for text in texts), texts
    assert len(set(texts)) == 7


def test_every_centre_has_every_field(content) -> None:  # type: ignore[no-untyped-def]
    assert [centre.id for centre in content.centres] == ["pag-asa", "payoke", "surya"]
    for centre in content.centres:
        assert centre.name and centre.street and centre.phone
        assert re.fullmatch(r"\d{4}", centre.postcode)
        assert re.fullmatch(r"tel:\+32\d{8,9}", centre.tel)
        assert set(centre.city) >= set(LANGUAGES)
        assert centre.region in {"brussels", "flanders", "wallonia"}
        assert centre.checked.year >= 2026
    assert content.numbers.police == "101"
    assert content.numbers.general == "112"
    assert content.numbers.national == "078 05 58 00"
    assert content.threshold == 2


def test_page_links_are_rewritten_per_language() -> None:
    text = "---\nheading: H\n---\n## Part {#a}\n\nSee [the check](page:check).\n"
    page = parse_page(text, "home", "fr", Path("x.md"))
    assert 'href="/fr/q"' in page.sections[0].html


def test_raw_html_in_content_is_shown_as_text() -> None:
    text = "---\nheading: H\n---\n## Part {#a}\n\n<script>alert(1)</script> <b>x</b>\n"
    html = parse_page(text, "home", "en", Path("x.md")).sections[0].html
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter", "front matter"),
        ("---\nheading: [unclosed\n---\n", "not valid YAML"),
        ("---\nlead: x\n---\n", "needs a heading"),
        ("---\nheading: H\n---\nstray\n## A {#a}\n", "before the first"),
        ("---\nheading: H\n---\n## A {#a}\n## B {#a}\n", "twice"),
        ("---\nheading: H\n---\n## A {#a}\n[x](page:nowhere)\n", "unknown page"),
        ("---\nheading: H\n---\n## A {#a}\n[x](https://tracker.example)\n", "links must"),
    ],
)
def test_malformed_pages_name_the_file(text: str, message: str) -> None:
    with pytest.raises(ContentError, match=message) as error:
        parse_page(text, "home", "en", Path("content/en/home.md"))
    assert "content/en/home.md" in str(error.value)


def test_a_missing_page_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match=r"questions\.yaml|page is missing"):
        load_content(tmp_path)


def test_centre_and_question_ids_come_from_the_content() -> None:
    centres = yaml.safe_load((ROOT / "content" / "centres.yaml").read_text())["centres"]
    questions = yaml.safe_load((ROOT / "content" / "questions.yaml").read_text())["questions"]
    ids = content_ids()
    assert ids.centres == tuple(item["id"] for item in centres)
    assert dict(ids.regions) == {item["id"]: item["region"] for item in centres}
    assert ids.questions == tuple(questions)


def test_malformed_id_files_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "centres.yaml").write_text("centres:\n  - name: no id\n")
    (tmp_path / "questions.yaml").write_text("questions: [a]\n")
    with pytest.raises(ContentError, match=r"centres\.yaml: missing or malformed field 'id'"):
        content_ids(tmp_path)
    (tmp_path / "centres.yaml").write_text("centres: []\n")
    (tmp_path / "questions.yaml").write_text("threshold: 2\n")
    with pytest.raises(ContentError, match=r"questions\.yaml: missing or malformed"):
        content_ids(tmp_path)
