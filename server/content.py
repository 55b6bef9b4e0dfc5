"""Reading the operator-editable content: pages, self-check questions, centres.

Everything is parsed once at start; a malformed file stops the server with
a message that names the file, rather than serving a half page later.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from .bundle import CONTENT_DIR
from .i18n import LANGUAGES
from .pages_table import PAGES, page_url

# The pages written in content/<lang>/<key>.md, by key, with their addresses
# relative to /<lang>/ (server/pages_table.py holds the table).
PAGE_PATHS: dict[str, str] = {entry.key: entry.path for entry in PAGES if entry.content}

_SECTION = re.compile(r"^## +(?P<heading>.+?) *\{#(?P<id>[a-z0-9-]+)\} *$")
_FRONT_MATTER = re.compile(r"\A---\n(?P<yaml>.*?)\n---\n(?P<body>.*)\Z", re.S)


class ContentError(Exception):
    """A content file is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Section:
    id: str
    heading: str
    html: Markup  # rendered from Markdown with raw HTML disabled


@dataclass(frozen=True)
class Page:
    key: str
    lang: str
    heading: str
    lead: str
    sections: tuple[Section, ...]
    # For search engines' result lists (<meta name="description">); unlike the
    # title it is not shown in the browser's history, so it says what the page is.
    description: str = ""

    def section(self, section_id: str) -> Section:
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(section_id)


@dataclass(frozen=True)
class Centre:
    id: str
    name: str
    region: str
    street: str
    postcode: str
    city: dict[str, str]
    phone: str
    hours: dict[str, str]
    checked: dt.date

    @property
    def tel(self) -> str:
        return tel_uri(self.phone)


@dataclass(frozen=True)
class Numbers:
    national: str
    national_checked: dt.date
    police: str
    general: str


@dataclass(frozen=True)
class Content:
    pages: dict[str, dict[str, Page]]  # lang -> key -> page
    questions: dict[str, tuple[tuple[str, str], ...]]  # lang -> ((id, text), ...)
    threshold: int
    centres: tuple[Centre, ...]
    numbers: Numbers

    def page(self, lang: str, key: str) -> Page:
        return self.pages[lang][key]


def tel_uri(number: str) -> str:
    digits = re.sub(r"[^\d+]", "", number)
    return f"tel:{digits}"


def _markdown() -> MarkdownIt:
    # Raw HTML is off: content files are data, and the CSP forbids inline style.
    return MarkdownIt("commonmark", {"html": False, "typographer": False})


def _rewrite_links(tokens: list[Token], lang: str, source: Path) -> None:
    for token in tokens:
        if token.children:
            _rewrite_links(token.children, lang, source)
        if token.type != "link_open":
            continue
        href = str(token.attrGet("href") or "")
        if href.startswith("page:"):
            key = href.removeprefix("page:")
            if key not in PAGE_PATHS:
                raise ContentError(f"{source}: link to unknown page {key!r}")
            token.attrSet("href", page_url(lang, key))
        elif not href.startswith(("tel:", "#")):
            raise ContentError(f"{source}: links must use page:<key> or tel:, not {href!r}")


def render_markdown(text: str, lang: str, source: Path) -> Markup:
    md = _markdown()
    tokens = md.parse(text)
    _rewrite_links(tokens, lang, source)
    # markdown-it escapes all text and, with html off, all raw HTML too.
    return Markup(md.renderer.render(tokens, md.options, {}))  # noqa: S704


def parse_page(text: str, key: str, lang: str, source: Path) -> Page:
    match = _FRONT_MATTER.match(text.replace("\r\n", "\n"))
    if not match:
        raise ContentError(f"{source}: missing the --- front matter ---")
    try:
        meta = yaml.safe_load(match["yaml"]) or {}
    except yaml.YAMLError as error:
        raise ContentError(f"{source}: front matter is not valid YAML: {error}") from error
    if not isinstance(meta, dict) or not meta.get("heading"):
        raise ContentError(f"{source}: front matter needs a heading")
    sections: list[Section] = []
    current: tuple[str, str] | None = None
    lines: list[str] = []

    def close() -> None:
        if current is not None:
            html = render_markdown("\n".join(lines), lang, source)
            sections.append(Section(current[1], current[0], html))

    for line in match["body"].split("\n"):
        found = _SECTION.match(line)
        if found:
            close()
            current = (found["heading"], found["id"])
            lines = []
        elif current is None:
            if line.strip():
                raise ContentError(f"{source}: text before the first '## Heading {{#id}}'")
        else:
            lines.append(line)
    close()
    ids = [section.id for section in sections]
    if len(set(ids)) != len(ids):
        raise ContentError(f"{source}: a section id appears twice")
    return Page(
        key,
        lang,
        str(meta["heading"]).strip(),
        str(meta.get("lead", "")).strip(),
        tuple(sections),
        str(meta.get("description", "")).strip(),
    )


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ContentError(f"{path}: file is missing") from error
    except yaml.YAMLError as error:
        raise ContentError(f"{path}: not valid YAML: {error}") from error


@dataclass(frozen=True)
class ContentIds:
    """The centre and question ids, which only content/ spells out."""

    centres: tuple[str, ...]  # in the order of centres.yaml
    regions: Mapping[str, str]  # each centre's region, by centre id
    questions: tuple[str, ...]  # in the order of questions.yaml


@cache
def content_ids(content_dir: Path = CONTENT_DIR) -> ContentIds:
    """The ids alone, read once: the help form's rules need them when imported."""
    centres_path, questions_path = content_dir / "centres.yaml", content_dir / "questions.yaml"
    try:
        centres = {
            str(item["id"]): str(item["region"]) for item in _load_yaml(centres_path)["centres"]
        }
    except (KeyError, TypeError) as error:
        raise ContentError(f"{centres_path}: missing or malformed field {error}") from error
    try:
        questions = tuple(str(qid) for qid in _load_yaml(questions_path)["questions"])
    except (KeyError, TypeError) as error:
        raise ContentError(f"{questions_path}: missing or malformed field {error}") from error
    return ContentIds(tuple(centres), MappingProxyType(centres), questions)


def _load_questions(
    content_dir: Path,
) -> tuple[int, dict[str, tuple[tuple[str, str], ...]]]:
    spec = _load_yaml(content_dir / "questions.yaml")
    ids = content_ids(content_dir).questions
    result: dict[str, tuple[tuple[str, str], ...]] = {}
    for lang in LANGUAGES:
        path = content_dir / lang / "questions.yaml"
        texts = _load_yaml(path)
        if not isinstance(texts, dict):
            raise ContentError(f"{path}: expected a mapping from question id to text")
        missing = [qid for qid in ids if not str(texts.get(qid, "")).strip()]
        if missing:
            raise ContentError(f"{path}: missing questions {missing}")
        result[lang] = tuple((qid, str(texts[qid]).strip()) for qid in ids)
    return int(spec["threshold"]), result


def _load_centres(content_dir: Path) -> tuple[tuple[Centre, ...], Numbers]:
    path = content_dir / "centres.yaml"
    data = _load_yaml(path)
    centres = []
    try:
        for item in data["centres"]:
            centre = Centre(
                id=str(item["id"]),
                name=str(item["name"]),
                region=str(item["region"]),
                street=str(item["street"]),
                postcode=str(item["postcode"]),
                city={str(k): str(v) for k, v in item["city"].items()},
                phone=str(item["phone"]),
                hours={str(k): str(v) for k, v in (item.get("hours") or {}).items()},
                checked=item["checked"],
            )
            missing = [lang for lang in LANGUAGES if lang not in centre.city]
            if missing or not isinstance(centre.checked, dt.date):
                raise ContentError(f"{path}: centre {centre.id}: city names or date missing")
            centres.append(centre)
        numbers = Numbers(
            national=str(data["national"]["phone"]),
            national_checked=data["national"]["checked"],
            police=str(data["emergency"]["police"]),
            general=str(data["emergency"]["general"]),
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise ContentError(f"{path}: missing or malformed field {error}") from error
    return tuple(centres), numbers


def load_content(content_dir: Path = CONTENT_DIR) -> Content:
    pages: dict[str, dict[str, Page]] = {}
    for lang in LANGUAGES:
        pages[lang] = {}
        for key in PAGE_PATHS:
            path = content_dir / lang / f"{key}.md"
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError as error:
                raise ContentError(f"{path}: page is missing") from error
            pages[lang][key] = parse_page(text, key, lang, path)
    threshold, questions = _load_questions(content_dir)
    centres, numbers = _load_centres(content_dir)
    return Content(pages, questions, threshold, centres, numbers)
