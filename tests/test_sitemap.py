"""The sitemap and robots.txt: what search engines are told, and nothing more."""

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from advisors import make_settings
from test_neutrality import assert_neutral

from server.i18n import LANGUAGES
from server.pages_table import PAGES
from server.sitemap import origin, robots, sitemap

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
XHTML = "{http://www.w3.org/1999/xhtml}"
# The only elements a sitemap with language alternates needs.
ELEMENTS = {f"{SITEMAP}urlset", f"{SITEMAP}url", f"{SITEMAP}loc", f"{XHTML}link"}


def parsed(body: bytes) -> ET.Element:
    return ET.fromstring(body)


def check_sitemap(body: bytes, base: str) -> None:
    root = parsed(body)
    assert root.tag == f"{SITEMAP}urlset"
    assert {element.tag for element in root.iter()} == ELEMENTS
    public = [entry for entry in PAGES if entry.content]
    urls = root.findall(f"{SITEMAP}url")
    assert len(urls) == len(public) * len(LANGUAGES)
    for url in urls:
        loc = url.findtext(f"{SITEMAP}loc") or ""
        links = url.findall(f"{XHTML}link")
        alternates = {link.get("hreflang"): link.get("href") for link in links}
        assert set(alternates) == set(LANGUAGES)
        assert all(link.get("rel") == "alternate" for link in links)
        # The page itself is among its alternates, in its own language.
        lang = urlsplit(loc).path.split("/")[1]
        assert alternates[lang] == loc
        path = loc.removeprefix(f"{base}/{lang}/")
        entry = next(entry for entry in public if entry.path == path)
        assert alternates == {code: base + entry.url(code) for code in LANGUAGES}
        for address in (loc, *alternates.values()):
            assert address.startswith(f"{base}/"), address
            assert_neutral(urlsplit(address).path, "sitemap address")


def test_the_sitemap_lists_each_page_with_its_languages(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/sitemap.xml", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    # The in-process app listens nowhere: its own default address, on loopback.
    check_sitemap(response.content, "http://127.0.0.1:8000")


def test_nothing_but_public_pages_is_listed(client) -> None:  # type: ignore[no-untyped-def]
    text = client.get("/sitemap.xml").text
    for hidden in ("/advisor", "/api/", "/calculator", "/notes", "/install", "/o<", "t.js"):
        assert hidden not in text, hidden
    addresses = [element.text or "" for element in parsed(text.encode()).iter(f"{SITEMAP}loc")]
    assert not [address for address in addresses if "?" in address or "#" in address]
    # Addresses only: no heading or title of a page, in any language.
    assert "Info" not in text and "<title" not in text


def test_the_sitemap_is_served_like_every_prerendered_file(client) -> None:  # type: ignore[no-untyped-def]
    plain = client.get("/sitemap.xml", headers={"Accept-Encoding": "identity"})
    packed = client.get("/sitemap.xml", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["etag"] != plain.headers["etag"]
    assert packed.headers["x-content-type-options"] == "nosniff"
    again = client.get(
        "/sitemap.xml", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["etag"]}
    )
    assert again.status_code == 304
    assert client.post("/sitemap.xml").status_code == 405


def test_robots_txt_points_to_the_sitemap(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    lines = response.text.splitlines()
    assert lines[0] == "User-agent: *"
    assert "Disallow: /advisor/" in lines and "Disallow: /api/" in lines
    # The disguises (and their manifests) are no one's search result.
    assert "Disallow: /calculator" in lines and "Disallow: /notes" in lines
    assert "Sitemap: http://127.0.0.1:8000/sitemap.xml" in lines
    assert not any(line == "Disallow: /" for line in lines)


def test_the_base_url_is_the_sitemap_s_origin(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, HAVEN_BASE_URL="https://haven.example/")
    base = origin(settings)
    assert base == "https://haven.example"
    check_sitemap(sitemap(base, LANGUAGES).body, base)
    assert "Sitemap: https://haven.example/sitemap.xml" in robots(base).body.decode()
    ipv6 = make_settings(tmp_path, HAVEN_HOST="::1", HAVEN_PORT="8443")
    assert origin(ipv6) == "http://[::1]:8443"


def test_addresses_are_escaped_in_the_xml() -> None:
    root = parsed(sitemap("https://haven.example/a&b", ["en"]).body)
    assert root.findtext(f"{SITEMAP}url/{SITEMAP}loc") == "https://haven.example/a&b/en/"


def test_a_running_server_lists_the_address_it_listens_on(live_server) -> None:  # type: ignore[no-untyped-def]
    # Started with --port 0: the sitemap has the port that was picked.
    response = httpx.get(f"{live_server.url}/sitemap.xml")
    assert response.status_code == 200
    check_sitemap(response.content, live_server.url)
    assert urlsplit(live_server.url).hostname == "127.0.0.1"
