"""What is missing or wrong in one language's translation, in plain words.

    .venv/bin/python tools/check_translations.py            # every language
    .venv/bin/python tools/check_translations.py ro ar      # some languages

For each language it compares the Markdown pages in ``content/<lang>/`` and
the catalogue ``locales/<lang>/LC_MESSAGES/messages.po`` with the English
originals, and prints one line per problem: a missing page or section, a
changed link or number, an English sentence left in, an empty or fuzzy
message, a changed placeholder, a wrong number of plural forms. It exits 1
when it found a problem. The test suite runs the same checks.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import yaml
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.i18n import LANGUAGES, catalogue_path  # noqa: E402

CONTENT = ROOT / "content"
LOCALES = ROOT / "locales"
SOURCE = "en"

PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}")
SECTION = re.compile(r"^## +.+?\{#([a-z0-9-]+)\} *$", re.M)
PAGE_LINK = re.compile(r"\]\((page:[a-z]+)\)")
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)
# Numbers a reader may need to dial or count on: 101, 112, 45 days, 2.
NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")
SENTENCE_END = re.compile(r"(?<=[.!?:])\s+")
MARKUP = re.compile(r'\*\*|\[|\]\([^)]*\)|^(?:#+|[-*>]|\d+\.|[a-z]+:) +|\{#[a-z0-9-]+\}|"', re.M)


def english_sentences(text: str) -> set[str]:
    """The English sentences of a text long enough to be unmistakable."""
    plain = MARKUP.sub("", text)
    found = set()
    for line in plain.splitlines():
        for sentence in SENTENCE_END.split(line.strip()):
            if len(sentence.split()) >= 4:
                found.add(sentence.strip())
    return found


def page_problems(code: str, name: str, source: str, text: str) -> Iterator[str]:
    source_match = FRONT_MATTER.match(source)
    match = FRONT_MATTER.match(text)
    if not match or not source_match:
        yield f"{name}: the front matter (between the two --- lines) is missing"
        return
    try:
        front = yaml.safe_load(match[1]) or {}
    except yaml.YAMLError as error:
        yield f"{name}: the front matter is not valid YAML: {error}"
        return
    for key in yaml.safe_load(source_match[1]):
        if not str(front.get(key) or "").strip():
            yield f"{name}: '{key}' is empty in the front matter"
    wanted, present = SECTION.findall(source), SECTION.findall(text)
    if wanted != present:
        yield f"{name}: sections should be {wanted}, found {present}"
    lost = Counter(PAGE_LINK.findall(source)) - Counter(PAGE_LINK.findall(text))
    if lost:
        yield f"{name}: links to other pages missing: {sorted(lost.elements())}"
    missing = set(NUMBER.findall(source)) - set(NUMBER.findall(text))
    if missing:
        yield f"{name}: numbers missing from the translation: {sorted(missing)}"
    if "<" in match[2]:
        yield f"{name}: raw HTML is not allowed"
    if code != SOURCE:
        plain = MARKUP.sub("", text)
        for sentence in sorted(english_sentences(source)):
            if sentence in plain:
                yield f"{name}: still in English: {sentence!r}"


def content_problems(code: str) -> Iterator[str]:
    folder = CONTENT / code
    for source_path in sorted((CONTENT / SOURCE).glob("*.md")):
        path = folder / source_path.name
        if not path.exists():
            yield f"content/{code}/{path.name}: missing"
            continue
        yield from page_problems(
            code,
            f"content/{code}/{path.name}",
            source_path.read_text(encoding="utf-8"),
            path.read_text(encoding="utf-8"),
        )
    source_questions = yaml.safe_load((CONTENT / SOURCE / "questions.yaml").read_text("utf-8"))
    path = folder / "questions.yaml"
    if not path.exists():
        yield f"content/{code}/questions.yaml: missing"
        return
    questions = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for key, english in source_questions.items():
        text = str(questions.get(key) or "").strip()
        if not text:
            yield f"content/{code}/questions.yaml: question '{key}' is missing"
        elif code != SOURCE and text == english:
            yield f"content/{code}/questions.yaml: question '{key}' is still in English"


def texts(value: object) -> list[str]:
    """A message's text, or each of its plural forms."""
    return [str(item) for item in value] if isinstance(value, (tuple, list)) else [str(value)]


def read_catalogue(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def catalogue_problems(code: str, domain: str = "messages") -> Iterator[str]:
    path = catalogue_path(code, LOCALES, domain)
    name = path.relative_to(ROOT)
    if not path.exists():
        yield f"{name}: missing"
        return
    catalog = read_catalogue(path)
    template = read_catalogue(LOCALES / f"{domain}.pot")
    present = {message.id: message for message in catalog if message.id}
    for wanted in template:
        if not wanted.id:
            continue
        label = texts(wanted.id)[0]
        message = present.get(wanted.id)
        if message is None:
            yield f"{name}: {label!r} is missing (run pybabel update)"
            continue
        strings = texts(message.string)
        if message.fuzzy:
            yield f"{name}: {label!r} is marked fuzzy: check it, then remove the flag"
        if not all(string.strip() for string in strings):
            yield f"{name}: {label!r} is not translated"
            continue
        if isinstance(wanted.id, tuple) and len(strings) != catalog.num_plurals:
            yield (
                f"{name}: {label!r} needs {catalog.num_plurals} plural forms, found {len(strings)}"
            )
        expected = sorted(PLACEHOLDER.findall(texts(wanted.id)[-1]))
        for string in strings:
            if sorted(PLACEHOLDER.findall(string)) != expected:
                yield f"{name}: {label!r} must keep the placeholders {expected}: {string!r}"
        if len(label.split()) >= 3 and strings[0] == label:
            yield f"{name}: {label!r} is still in English"


def problems(code: str) -> list[str]:
    found = list(content_problems(code))
    if code != SOURCE:
        found.extend(catalogue_problems(code))
    return found


def main(argv: list[str]) -> int:
    codes = argv or list(LANGUAGES)
    unknown = [code for code in codes if code not in LANGUAGES]
    if unknown:
        print(f"unknown language: {', '.join(unknown)}; known: {', '.join(LANGUAGES)}")
        return 2
    status = 0
    for code in codes:
        found = problems(code)
        print(f"{code}: {'complete' if not found else f'{len(found)} problem(s)'}")
        for problem in found:
            print(f"  - {problem}")
        status = status or int(bool(found))
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
