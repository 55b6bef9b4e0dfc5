"""Each component's strings, read from the texts file beside its macro and script.

A component whose script shows words keeps all of them in one file,
``pwa/components/<name>/_<name>.texts.html``: a Jinja file that sets
``texts`` to a mapping. Each key names a ``data-i18n-*`` attribute without
its prefix (``"shift-once"`` is what the script reads as
``dataset.i18nShiftOnce``); each value is most often a ``_()`` call, so
pybabel finds the strings with the other templates. A value that is not a
string (the numbers to call) reaches the script as JSON.

How the words reach the script depends only on where the component is:

- a component of the layout (imported by ``templates/base.html``, so on every
  page): once per language in ``/<lang>/t.js``, which ``main.js`` copies into
  the component's dataset before starting it;
- any other component: its macro imports its texts file and writes them on its
  root with ``i18n_attributes`` (``templates/_i18n.html``), so only the page
  that has the component carries them.

The notes disguise keeps its words the same way, in
``pwa/disguise/_notes.texts.html``; server/assets.py puts them, in every
language, into ``/static/disguise/notes-texts.js``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache

import jinja2
from jinja2 import nodes

from .bundle import PWA_DIR
from .compiled import COMPILED
from .content import tel_uri
from .i18n import translations

COMPONENTS_DIR = PWA_DIR / "components"
LAYOUT = "templates/base.html"


def texts_file(name: str) -> str:
    """Where a component's strings live, relative to ``pwa/``."""
    return f"components/{name}/_{name}.texts.html"


def components_with_texts() -> list[str]:
    """The components that have a texts file, by name."""
    return sorted(
        folder.name
        for folder in COMPONENTS_DIR.iterdir()
        if (PWA_DIR / texts_file(folder.name)).is_file()
    )


@cache
def _environment(code: str) -> jinja2.Environment:
    """Reads texts files in one language, with the pages' gettext."""
    env = jinja2.Environment(
        bytecode_cache=COMPILED,
        loader=jinja2.FileSystemLoader(PWA_DIR),
        # The words go into JSON and the scripts set them as text, never as
        # HTML: escaping them here would show "&amp;" on the phone.
        autoescape=False,  # noqa: S701
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        auto_reload=False,
    )
    env.globals["tel_uri"] = tel_uri
    env.install_gettext_translations(translations(code), newstyle=True)  # type: ignore[attr-defined]
    return env


def read_texts(
    code: str, path: str, context: Mapping[str, object] | None = None
) -> dict[str, object]:
    """The ``texts`` of the file at ``path`` (relative to ``pwa/``), in one language.

    ``context`` holds what the file may use besides ``_``: the pages' template
    values, such as ``url``, ``centres`` and ``numbers``.
    """
    module = _environment(code).get_template(path).make_module(dict(context or {}))
    texts = getattr(module, "texts", None)
    if not isinstance(texts, dict):
        raise TypeError(f"{path} must set texts to a mapping")
    return {str(key): value for key, value in texts.items()}


def dataset_name(key: str) -> str:
    """The dataset name under which a script reads ``data-i18n-<key>``."""
    return re.sub(r"-([a-z])", lambda match: match[1].upper(), f"i18n-{key}")


def component_texts(code: str, name: str, context: Mapping[str, object]) -> dict[str, str]:
    """A component's strings as its script reads them from its dataset."""
    return {
        dataset_name(key): _as_text(value)
        for key, value in read_texts(code, texts_file(name), context).items()
    }


def _as_text(value: object) -> str:
    # A data attribute holds only text: anything else is sent as JSON.
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@cache
def layout_components() -> tuple[str, ...]:
    """The components the layout imports that have strings, in the layout's order."""
    source = (PWA_DIR / LAYOUT).read_text(encoding="utf-8")
    names: list[str] = []
    for node in _environment("en").parse(source).find_all((nodes.Import, nodes.FromImport)):
        template = getattr(node, "template", None)
        if isinstance(template, nodes.Const) and "/" in template.value:
            name = template.value.split("/", 1)[0]
            if (PWA_DIR / texts_file(name)).is_file() and name not in names:
                names.append(name)
    return tuple(names)


def layout_texts(code: str, context: Mapping[str, object]) -> dict[str, dict[str, str]]:
    """The strings of the layout's components in one language, by component: ``t.js``."""
    return {name: component_texts(code, name, context) for name in layout_components()}
