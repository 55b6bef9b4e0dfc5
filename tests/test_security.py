import re
import time
from html.parser import HTMLParser

from server.content import PAGE_PATHS
from server.i18n import LANGUAGES


class _Inline(HTMLParser):
    """Collects what a strict CSP would block or what would leak to a third party."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script" and not values.get("src"):
            self.problems.append("inline <script>")
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            if name.startswith("on"):
                self.problems.append(f"{name} handler on <{tag}>")
            external = name in {"src", "href", "action"} and re.match(r"(https?:)?//", value or "")
            # The quick exit is the one link that must leave for another site.
            if external and not (
                tag == "a" and ("data-quick-exit" in values or "data-quick-exit-link" in values)
            ):
                self.problems.append(f"third-party address {value}")


def test_security_headers_on_every_response(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/en/", "/static/app.css", "/sw.js", "/healthz", "/en/p/404", "/"):
        headers = client.get(path, follow_redirects=False).headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "base-uri 'none'" in csp
        assert "form-action 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["strict-transport-security"].startswith("max-age=")
        assert "camera=()" in headers["permissions-policy"]
        assert "server" not in headers


def test_pages_need_no_inline_code_and_no_third_party(client) -> None:  # type: ignore[no-untyped-def]
    for lang in LANGUAGES:
        for path in [*PAGE_PATHS.values(), "o"]:
            parser = _Inline()
            parser.feed(client.get(f"/{lang}/{path}").text)
            assert not parser.problems, (lang, path, parser.problems)


def test_assets_have_no_third_party_addresses(app_session) -> None:  # type: ignore[no-untyped-def]
    for url, representation in app_session.state.haven.files.static.items():
        if url.endswith((".js", ".css")):
            text = representation.body.decode()
            assert not re.search(r"https?://", text), url
            assert "@import" not in text and "url(" not in text, url


def test_access_log_has_no_client_address(live_server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    httpx.get(f"{live_server.url}/en/p/3", headers={"X-Forwarded-For": "203.0.113.9"})
    # The line is written once the answer has gone out: it may follow it by a moment.
    deadline = time.monotonic() + 5
    while "GET /en/p/3 200" not in (log := live_server.log()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "GET /en/p/3 200" in log
    assert "127.0.0.1" not in log.split("Haven is running", 1)[-1]
    assert "203.0.113.9" not in log
