"""Each component's strings live in its texts file, and its script reads exactly those."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from server import component_texts
from server.bundle import PWA_DIR
from server.content import PAGE_PATHS
from server.i18n import LANGUAGES

COMPONENTS = PWA_DIR / "components"
# What a component's script reads from its root's dataset, directly
# (``dataset.i18nReady``) or through a name for it (``this.text.i18nSaved``).
READ = re.compile(r"\bi18n[A-Z]\w*")


def read_by_script(name: str) -> set[str]:
    return {
        key
        for path in sorted((COMPONENTS / name).glob("*.js"))
        for key in READ.findall(path.read_text(encoding="utf-8"))
    }


class Roots(HTMLParser):
    """The data-i18n-* attributes on each component root of a page, by component."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, list[dict[str, str]]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("data-module"):
            self.found.setdefault(str(values["data-module"]), []).append(
                {
                    component_texts.dataset_name(name.removeprefix("data-i18n-")): value or ""
                    for name, value in attrs
                    if name.startswith("data-i18n-")
                }
            )


def test_dataset_names_follow_the_browser() -> None:
    assert component_texts.dataset_name("ok") == "i18nOk"
    assert component_texts.dataset_name("shift-once") == "i18nShiftOnce"
    assert component_texts.dataset_name("write-again-url") == "i18nWriteAgainUrl"


def test_each_script_reads_exactly_the_strings_of_its_texts_file(app_session) -> None:  # type: ignore[no-untyped-def]
    """No string a script needs is missing from its component's file, none is unused."""
    context = app_session.state.haven.site.context("en", None, "")
    with_texts = component_texts.components_with_texts()
    assert with_texts, "the components keep their strings in texts files"
    for folder in sorted(path for path in COMPONENTS.iterdir() if path.is_dir()):
        read = read_by_script(folder.name)
        given = (
            set(component_texts.component_texts("en", folder.name, context))
            if folder.name in with_texts
            else set()
        )
        assert read == given, (folder.name, sorted(read - given), sorted(given - read))


def test_strings_are_written_on_a_root_only_through_the_texts_files() -> None:
    """A data-i18n-* attribute typed into a template would be a second place for words."""
    for path in sorted([*COMPONENTS.glob("*/*.html"), *(PWA_DIR / "templates").glob("*.html")]):
        if path.name == "_i18n.html":
            continue
        assert not re.search(r"data-i18n-[\w-]+=", path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize("code", ["en", "ar", "uk"])
def test_each_root_gets_its_strings_in_exactly_one_way(app_session, code: str) -> None:  # type: ignore[no-untyped-def]
    """On every page: the layout's components from t.js, the others from their root."""
    site = app_session.state.haven.site
    context = site.context(code, None, "")
    script = site.pages[f"/{code}/t.js"].body.decode()
    assert script.startswith("window.HAVEN_TEXTS=") and script.endswith("\n")
    shared = json.loads(script.removeprefix("window.HAVEN_TEXTS="))
    assert list(shared) == list(component_texts.layout_components())
    seen: set[str] = set()
    for path in [*PAGE_PATHS.values(), "o"]:
        roots = Roots()
        roots.feed(site.pages[f"/{code}/{path}"].body.decode())
        for name, found in roots.found.items():
            if name not in component_texts.components_with_texts():
                assert found == [{}] * len(found), (path, name)
                continue
            expected = component_texts.component_texts(code, name, context)
            for attributes in found:
                from_script = shared.get(name, {})
                assert not set(attributes) & set(from_script), (path, name)
                assert {**attributes, **from_script} == expected, (path, name)
            seen.add(name)
    assert seen == set(component_texts.components_with_texts())


def test_the_layouts_components_are_those_of_base_html() -> None:
    assert component_texts.layout_components() == ("quick-exit", "app-status", "outbox-status")


def test_the_notes_disguise_reads_exactly_the_words_of_its_texts_file() -> None:
    from server.assets import NOTES_TEXTS

    page = (PWA_DIR / "disguise" / "notes.html").read_text(encoding="utf-8")
    script = (PWA_DIR / "disguise" / "notes.js").read_text(encoding="utf-8")
    used = set(re.findall(r'data-text="([\w-]+)"', page))
    used |= set(re.findall(r"this\.text\.(\w+)", script))
    # The writing direction comes with the language, not from the catalogue.
    used.discard("dir")
    for code in LANGUAGES:
        words = component_texts.read_texts(code, NOTES_TEXTS)
        assert set(words) == used, code
        assert all(isinstance(text, str) and text for text in words.values()), code
