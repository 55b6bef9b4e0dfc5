import html
import json
import posixpath
import re
from dataclasses import replace

from server import assets
from server.content import PAGE_PATHS
from server.i18n import LANGUAGES
from server.responses import Representation, content_hash


def precache_of(client) -> dict:  # type: ignore[no-untyped-def,type-arg]
    source = client.get("/sw.js").text
    match = re.search(r"^const PRECACHE = (\{.*\});$", source, re.M)
    assert match, "the worker carries its precache list"
    return json.loads(match[1])  # type: ignore[no-any-return]


def test_service_worker_is_served_at_the_root(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/sw.js")
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    body = response.text
    assert "addEventListener('fetch'" in body and "function cacheFirst" in body


def test_the_worker_can_say_no_connection_in_every_language(client) -> None:  # type: ignore[no-untyped-def]
    """With nothing stored and no connection the worker makes a page up itself:
    it says what the offline page says, in each language and direction."""
    fallback = precache_of(client)["fallback"]
    assert set(fallback) == set(LANGUAGES)
    for lang, (heading, direction) in fallback.items():
        assert direction == LANGUAGES[lang].direction
        shown = re.search(r"<h1>(.*?)</h1>", client.get(f"/{lang}/o").text)
        assert shown and html.unescape(shown[1]) == heading, lang
    assert fallback["en"][0] == "No internet connection"
    assert fallback["nl"][0] != fallback["en"][0]


def test_precache_lists_every_page_of_each_language_with_its_hash(client) -> None:  # type: ignore[no-untyped-def]
    precache = precache_of(client)
    assert set(precache["languages"]) == set(LANGUAGES)
    for lang, entries in precache["languages"].items():
        urls = [url for url, _ in entries]
        assert f"/{lang}/" in urls and f"/{lang}/q" in urls and f"/{lang}/o" in urls
        assert f"/{lang}/t.js" in urls  # the strings of the page scripts
        assert len(urls) == len(PAGE_PATHS) + 2
        for url, digest in entries:
            body = client.get(url, headers={"Accept-Encoding": "identity"}).content
            assert content_hash(body) == digest, url
    shared = dict(precache["shared"])
    for url in (
        "/static/app.css",
        "/static/main.js",
        "/manifest.webmanifest",
        "/static/components/quick-exit/quick-exit.js",
        "/static/icons/icon-192.png",
        "/static/outbox.js",
        "/static/components/help-form/seal.js",
        "/api/inbox-key",
    ):
        assert url in shared, url
        assert content_hash(client.get(url).content) == shared[url]


def test_every_module_the_pages_import_is_precached(client) -> None:  # type: ignore[no-untyped-def]
    shared = dict(precache_of(client)["shared"])
    # Follow the imports from main.js through every module it reaches.
    pending, seen = ["/static/main.js"], set()
    while pending:
        url = pending.pop()
        seen.add(url)
        assert url in shared, url
        base = url.rsplit("/", 1)[0]
        for target in re.findall(r"from '(\.{1,2}/.+?)'", client.get(url).text):
            resolved = posixpath.normpath(f"{base}/{target}")
            if resolved not in seen:
                pending.append(resolved)
    assert "/static/outbox.js" in seen


def test_a_changed_file_changes_the_version() -> None:
    shared = {"/a.css": Representation(b"a", "text/css")}
    pages = {
        url: Representation(url.encode(), "text/html")
        for code in LANGUAGES
        for url in assets.language_urls(code)
    }
    first = assets.precache_list(shared, pages)
    assert first == assets.precache_list(shared, pages)
    changed = {**pages, "/en/p/1": replace(pages["/en/p/1"])}
    changed["/en/p/1"] = Representation(b"new words", "text/html")
    assert assets.precache_list(shared, changed)["version"] != first["version"]


def test_manifest_makes_a_standalone_app(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/manifest.webmanifest")
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["id"] == "/" and manifest["scope"] == "/" and manifest["start_url"] == "/"
    assert manifest["display"] == "standalone"
    sizes = {(icon["sizes"], icon.get("purpose", "any")) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
        width, height = int.from_bytes(image.content[16:20]), int.from_bytes(image.content[20:24])
        assert f"{width}x{height}" == icon["sizes"]


def test_unknown_static_files_are_404(client) -> None:  # type: ignore[no-untyped-def]
    for path in (
        "/static/nothing.js",
        "/static/icons/../../server/app.py",
        "/static/templates/base.html",
    ):
        assert client.get(path).status_code == 404, path


def test_scripts_are_served_without_comment_lines_or_indentation() -> None:
    from server.assets import compact

    source = b"""// @ts-check
/**
 * A doc comment.
 * @param {number} a
 */
// a line comment
export function f (a) {
  // inside
  /** @type {Record<string, {b: HTMLElement}>} */
  const seen = /** @type {{b: HTMLElement}} */ (document.body)
  return a * 2 /* kept: not a whole line */
}
"""
    assert compact(source) == (
        b"export function f (a) {\nconst seen = (document.body)\n"
        b"return a * 2 /* kept: not a whole line */\n}\n"
    )


def test_no_script_reaches_the_phone_with_its_type_annotations() -> None:
    from server.advisor import load_assets

    scripts = {url: file.body for url, file in assets.load_static().items() if url.endswith(".js")}
    scripts[assets.SERVICE_WORKER_URL] = assets.service_worker({"version": "x"}).body
    scripts |= {url: file.body for url, file in load_assets().items() if url.endswith(".js")}
    for url, body in scripts.items():
        for mark in (b"@ts-check", b"/**", b"@type", b"@param", b"@returns", b"@typedef"):
            assert mark not in body, (url, mark)
