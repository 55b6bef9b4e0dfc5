"""Bytes a phone pays for Haven: the first visit and the offline copy.

Starts the server on a loopback port, then prints, for each language:
- first visit: bytes transferred (compressed, headers included) when Chromium
  opens the home page, as reported by the browser's network log;
- precache: the service worker's offline copy of that language, as
  transferred (gzip) and as stored (decoded).

Budgets: first visit at most 60 KB, precache of one language at most 200 KB.

    .venv/bin/python bench/size.py [--lang en --lang ar]   # default: every language
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
FIRST_VISIT_BUDGET = 60 * 1024
PRECACHE_BUDGET = 200 * 1024


def start(data_dir: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={"HAVEN_DATA_DIR": data_dir, "PATH": "/usr/bin:/bin"},
    )
    assert process.stdout is not None
    match = re.search(r"(http://127\.0\.0\.1:\d+)", process.stdout.readline())
    if not match:
        process.kill()
        raise SystemExit("the server did not start")
    url = match[1]
    for _ in range(100):
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return process, url


def first_visit(url: str, lang: str) -> tuple[int, int]:
    """(bytes on the wire, number of responses) for the page and its assets."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        # The worker's own downloads are counted as the precache, below.
        context = browser.new_context(service_workers="block")
        page = context.new_page()
        session = context.new_cdp_session(page)
        session.send("Network.enable")
        sizes: dict[str, int] = {}
        session.on(
            "Network.loadingFinished",
            lambda event: sizes.__setitem__(event["requestId"], event["encodedDataLength"]),
        )
        page.goto(f"{url}/{lang}/", wait_until="networkidle")
        browser.close()
    return sum(sizes.values()), len(sizes)


def precache(url: str, lang: str) -> tuple[int, int, int]:
    """(gzip bytes, stored bytes, files) of the shared files plus one language."""
    source = httpx.get(f"{url}/sw.js").text
    match = re.search(r"^const PRECACHE = (\{.*\});$", source, re.M)
    assert match
    listing = json.loads(match[1])
    urls = [entry[0] for entry in listing["shared"] + listing["languages"][lang]]
    wire = stored = 0
    with httpx.Client(base_url=url) as client:
        for path in urls:
            with client.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as response:
                raw = b"".join(response.iter_raw())
            wire += len(raw)
            stored += len(client.get(path, headers={"Accept-Encoding": "identity"}).content)
    return wire, stored, len(urls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--lang", action="append", help="a language code (repeatable); default: every language"
    )
    options = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from server.i18n import LANGUAGES

    codes = options.lang or list(LANGUAGES)
    unknown = [code for code in codes if code not in LANGUAGES]
    if unknown:
        raise SystemExit(f"unknown language: {', '.join(unknown)}; known: {', '.join(LANGUAGES)}")
    rows = []
    with tempfile.TemporaryDirectory() as data_dir:
        process, url = start(data_dir)
        try:
            for code in codes:
                rows.append((code, *first_visit(url, code), *precache(url, code)))
        finally:
            process.terminate()
            process.wait()
    print(
        f"budgets: first visit {FIRST_VISIT_BUDGET // 1024} KB, "
        f"offline copy {PRECACHE_BUDGET // 1024} KB (shared files + one language, as stored)"
    )
    print(
        f"{'language':<9} {'first visit':>12} {'responses':>9} "
        f"{'precache gzip':>14} {'stored':>9} {'files':>5}  verdict"
    )
    for code, visit, responses, wire, stored, files in rows:
        fits = visit <= FIRST_VISIT_BUDGET and stored <= PRECACHE_BUDGET
        print(
            f"{code:<9} {visit / 1024:>9.1f} KB {responses:>9} "
            f"{wire / 1024:>11.1f} KB {stored / 1024:>6.1f} KB {files:>5}  "
            f"{'OK' if fits else 'OVER'}"
        )
    heaviest = max(rows, key=lambda row: row[4])
    print(
        f"heaviest: {heaviest[0]}, first visit {heaviest[1] / 1024:.1f} KB, "
        f"offline copy {heaviest[4] / 1024:.1f} KB stored"
    )


if __name__ == "__main__":
    main()
