"""Static assets, the web app manifest and the generated service worker.

All of them are read and hashed once at start. The service worker carries
the precache list (address and content hash of every file it stores); a
changed file gives a changed list, hence a new cache version.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .bundle import PWA_DIR, SERVICE_WORKER_DIR
from .component_texts import read_texts
from .i18n import ALIASES, LANGUAGES, NO_FALLBACK, translations
from .pages_table import OFFLINE_PATH, language_urls
from .responses import JAVASCRIPT, Representation, content_hash

THEME_COLOUR = "#0b6e69"
BACKGROUND_COLOUR = "#fbfaf7"
MANIFEST_URL = "/manifest.webmanifest"
SERVICE_WORKER_URL = "/sw.js"
CSS_URL = "/static/app.css"
# What the pages import from /static/outbox.js: the queue and its constants,
# defined once in service_worker/outbox.js.
OUTBOX_EXPORTS = ("Outbox", "OUTBOX_DB", "OUTBOX_CHANNEL", "SYNC_TAG", "FLUSH_LOCK")

# Installed-app icons the browser fetches itself: kept out of the precache to
# stay within the offline budget.
NOT_PRECACHED = {
    "/static/icons/icon-512.png",
    "/static/icons/icon-maskable-512.png",
    "/static/icons/apple-touch-icon.png",
    "/static/disguise/icons/calculator-512.png",
    "/static/disguise/icons/calculator-maskable-512.png",
    "/static/disguise/icons/notes-512.png",
    "/static/disguise/icons/notes-maskable-512.png",
}
DISGUISE_DIR = PWA_DIR / "disguise"
# The notes disguise's words, in a texts file like a component's (relative to pwa/).
NOTES_TEXTS = "disguise/_notes.texts.html"


@dataclass(frozen=True)
class Disguise:
    """An installable tool that hides the app: its page, manifest and look."""

    name: str  # the address of its page, /<name>, and of its manifest
    title: str
    description: str
    colour: str

    @property
    def url(self) -> str:
        return f"/{self.name}"

    @property
    def manifest_url(self) -> str:
        return f"/{self.name}.webmanifest"


# The ids are the pages' addresses and must never change: a browser treats a
# changed id as another app and will not quietly rename an installed one.
DISGUISES = (
    Disguise("calculator", "Calculator", "A simple calculator", "#282a30"),
    Disguise("notes", "Notes", "Notes kept on this phone", "#e6aa14"),
)

_TYPES = {
    ".js": JAVASCRIPT,
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def _media_type(path: Path) -> str:
    return (
        _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )


def _stylesheet() -> bytes:
    """The base stylesheet followed by each component's own, in a stable order."""
    parts = [PWA_DIR / "css" / "base.css", *sorted((PWA_DIR / "components").glob("*/*.css"))]
    return b"\n".join(path.read_bytes() for path in parts)


# A JSDoc type cast, `/** @type {T} */ (value)`, for the type checker only
# (tsconfig.json); braces may nest two deep, as in {Record<string, {a: T}>}.
_TYPE_CAST = re.compile(r"/\*\*\s*@type\s*\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}\s*\*/\s*")


def compact(source: bytes) -> bytes:
    """A script or stylesheet without its comment lines and indentation.

    Phones store every file for offline use, and the comments are for the
    people who read the source. Only whole comment lines and the type casts'
    comments are dropped, and only leading spaces are removed (no script here
    has a multi-line string), so what runs is exactly what is written.
    """
    kept: list[str] = []
    in_block = False
    for line in source.decode("utf-8").splitlines():
        stripped = line.strip()
        if in_block:
            in_block = "*/" not in stripped
            continue
        stripped = _TYPE_CAST.sub("", stripped).strip()
        if stripped.startswith("/*"):
            in_block = "*/" not in stripped
            continue
        if not stripped or stripped.startswith("//"):
            continue
        kept.append(stripped)
    return ("\n".join(kept) + "\n").encode("utf-8")


def _script(path: Path, suffix: bytes = b"") -> Representation:
    return Representation(compact(path.read_bytes() + suffix), _TYPES[".js"])


def load_static() -> dict[str, Representation]:
    assets: dict[str, Representation] = {
        CSS_URL: Representation(compact(_stylesheet()), _TYPES[".css"]),
        "/static/main.js": _script(PWA_DIR / "main.js"),
    }
    # The outbox code is shared with the service worker, which is a classic
    # script; pages import it as a module with this one export added.
    assets["/static/outbox.js"] = _script(
        SERVICE_WORKER_DIR / "outbox.js",
        f"\nexport {{ {', '.join(OUTBOX_EXPORTS)} }}\n".encode(),
    )
    for path in sorted((PWA_DIR / "components").glob("*/*.js")):
        url = f"/static/components/{path.parent.name}/{path.name}"
        assets[url] = _script(path)
    for path in sorted((PWA_DIR / "icons").glob("*")):
        if path.suffix in {".png", ".svg"}:
            assets[f"/static/icons/{path.name}"] = Representation(
                path.read_bytes(), _media_type(path)
            )
    for path in sorted(DISGUISE_DIR.glob("*.js")) + sorted(DISGUISE_DIR.glob("*.css")):
        assets[f"/static/disguise/{path.name}"] = Representation(
            compact(path.read_bytes()), _media_type(path)
        )
    assets["/static/disguise/notes-texts.js"] = notes_texts()
    for path in sorted((DISGUISE_DIR / "icons").glob("*.png")):
        assets[f"/static/disguise/icons/{path.name}"] = Representation(
            path.read_bytes(), _media_type(path)
        )
    return assets


def notes_texts() -> Representation:
    """A module with the notes disguise's words in every language.

    The notes page is one static file for every language; it picks its words
    from here by the language chosen at set-up or the browser's own.
    """
    texts = {
        code: {**read_texts(code, NOTES_TEXTS), "dir": lang.direction}
        for code, lang in LANGUAGES.items()
    }
    # The browser's own language is matched as the server matches Accept-Language.
    exports = {"TEXTS": texts, "ALIASES": ALIASES, "NO_FALLBACK": NO_FALLBACK}
    body = "".join(
        f"export const {name} = {json.dumps(value, ensure_ascii=False, separators=(',', ':'))}\n"
        for name, value in exports.items()
    )
    return Representation(body.encode("utf-8"), _TYPES[".js"])


def disguises() -> dict[str, Representation]:
    """Each disguise's page and manifest, by address."""
    files: dict[str, Representation] = {}
    for disguise in DISGUISES:
        icons = f"/static/disguise/icons/{disguise.name}"
        document = {
            "id": disguise.url,
            "name": disguise.title,
            "short_name": disguise.title,
            "description": disguise.description,
            # ?app=1 tells the page it was opened as the installed app.
            "start_url": f"{disguise.url}?app=1",
            "scope": "/",
            "display": "standalone",
            "theme_color": disguise.colour,
            "background_color": disguise.colour,
            "icons": [
                {"src": f"{icons}-192.png", "sizes": "192x192", "type": "image/png"},
                {"src": f"{icons}-512.png", "sizes": "512x512", "type": "image/png"},
                {
                    "src": f"{icons}-maskable-512.png",
                    "sizes": "512x512",
                    "type": "image/png",
                    "purpose": "maskable",
                },
            ],
        }
        body = json.dumps(document, indent=1, ensure_ascii=False).encode("utf-8")
        files[disguise.manifest_url] = Representation(body, "application/manifest+json")
        page = (DISGUISE_DIR / f"{disguise.name}.html").read_bytes()
        files[disguise.url] = Representation(page, "text/html; charset=utf-8")
    return files


def manifest() -> Representation:
    document = {
        # The id is stable for ever: a changed id is a different app to the browser.
        "id": "/",
        "name": "Info",
        "short_name": "Info",
        "description": "Info",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [
            {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
            {
                "src": "/static/icons/icon-maskable-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    body = json.dumps(document, indent=1, ensure_ascii=False).encode("utf-8")
    return Representation(body, "application/manifest+json")


def fallback_texts() -> dict[str, list[str]]:
    """Per language, the heading and direction of the page the worker makes up
    itself when it has nothing stored and no connection (a browser that lost
    its cache): its words come from the offline page, so they are translated."""
    return {
        code: [translations(code).gettext("No internet connection"), language.direction]
        for code, language in LANGUAGES.items()
    }


def precache_list(
    shared: Mapping[str, Representation], pages: Mapping[str, Representation]
) -> dict[str, object]:
    def entries(urls: Iterable[str], source: Mapping[str, Representation]) -> list[list[str]]:
        return [[url, source[url].hash] for url in urls]

    shared_entries = entries(sorted(url for url in shared if url not in NOT_PRECACHED), shared)
    languages = {code: entries(language_urls(code), pages) for code in LANGUAGES}
    fallback = fallback_texts()
    version = content_hash(
        json.dumps([shared_entries, languages, fallback], sort_keys=True).encode()
    )
    # "offline": the address, after /<lang>/, of the page shown for one never stored.
    return {
        "version": version,
        "shared": shared_entries,
        "languages": languages,
        "fallback": fallback,
        "offline": OFFLINE_PATH,
    }


# The worker's scripts, in the order they are joined into /sw.js.
WORKER_SCRIPTS = ("strategies.js", "outbox.js", "sw.js")


def worker_source() -> bytes:
    """The worker's scripts joined in order, as written."""
    return b"\n".join((SERVICE_WORKER_DIR / name).read_bytes() for name in WORKER_SCRIPTS)


def service_worker(precache: Mapping[str, object]) -> Representation:
    """The worker script: the precache list, then the strategies, then the listeners.

    Without their comments, like every other script: the phone keeps the
    worker too, and fetches it again at each update.
    """
    header = (
        "// Generated by the server at start; edit service_worker/*.js instead.\n"
        f"const PRECACHE = {json.dumps(precache, separators=(',', ':'))};\n"
    )
    return Representation(header.encode("utf-8") + compact(worker_source()), _TYPES[".js"])
