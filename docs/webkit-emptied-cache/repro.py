"""WebKitGTK empties a service worker's cache once no page of its origin is
left for some seconds (MiniBrowser under WebDriver, an ephemeral session).

Nothing of Haven here: a page that registers a worker, a worker that stores
that page at install and answers from its cache, and a second origin to go
to. Run on Debian with webkit2gtk-driver, xvfb and Selenium:

    python3 docs/webkit-emptied-cache/repro.py [seconds away, default 15]

It prints, before leaving and after coming back, what the page finds in the
cache, and what is kept when the worker stores the page again: into the same
cache, and into one it deleted and opened again.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGE = b"""<!doctype html><title>stored</title><h1>The stored page</h1>
<script>navigator.serviceWorker.register('/sw.js')</script>"""
WORKER = b"""
self.addEventListener('install', (event) => {
  event.waitUntil(caches.open('v1').then((cache) => cache.addAll(['/page'])))
  self.skipWaiting()
})
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))
// Asked by the page: store the page again, as an app re-storing itself would
// (with `renew`, delete the cache and open it afresh first), and say how many
// entries the cache then holds.
self.addEventListener('message', (event) => {
  event.waitUntil((async () => {
    if (event.data.renew) await caches.delete('v1')
    const cache = await caches.open('v1')
    await cache.addAll(['/page'])
    event.source.postMessage((await cache.keys()).length)
  })())
})
self.addEventListener('fetch', (event) => {
  if (new URL(event.request.url).origin !== location.origin) return
  event.respondWith(caches.match(event.request).then((hit) => hit || fetch(event.request)))
})
"""
ELSEWHERE = b"<!doctype html><title>elsewhere</title><h1>Another site</h1>"

# What the page sees: the caches' names and how many entries 'v1' holds;
# then after the worker stores the page again into that cache, and after it
# deletes the cache and stores the page into a new one.
PROBE = """
const done = arguments[arguments.length - 1]
const count = async () => (await (await caches.open('v1')).keys()).length
const ask = (renew) => new Promise((resolve) => {
  const answer = (event) => resolve(event.data)
  navigator.serviceWorker.addEventListener('message', answer, { once: true })
  navigator.serviceWorker.controller.postMessage({ renew })
})
;(async () => {
  const found = { names: await caches.keys(), entries: await count() }
  found.workerStoredAgain = { workerSees: await ask(false), pageSees: await count() }
  found.workerRenewed = { workerSees: await ask(true), pageSees: await count() }
  return found
})().then(done, (error) => done(String(error)))
"""


def serve(body_for: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = body_for.get(self.path, body_for.get("*", b""))
            kind = "text/javascript" if self.path.endswith(".js") else "text/html"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.webkitgtk.options import Options
    from selenium.webdriver.webkitgtk.service import Service

    away = float(sys.argv[1]) if len(sys.argv) > 1 else 15
    app = serve({"/sw.js": WORKER, "*": PAGE})
    other = serve({"*": ELSEWHERE})
    base = f"http://127.0.0.1:{app.server_address[1]}"
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    select.select([read], [], [], 30)
    os.environ["DISPLAY"] = ":" + os.read(read, 16).decode().strip()
    options = Options()
    options.binary_location = str(next(Path("/usr/lib").glob("*/webkit2gtk-4.1/MiniBrowser")))
    options.add_argument("--automation")
    driver = webdriver.WebKitGTK(
        options=options, service=Service(executable_path="/usr/bin/WebKitWebDriver")
    )
    try:
        print("WebKitGTK", driver.capabilities.get("browserVersion"))
        driver.get(f"{base}/page")
        while not driver.execute_script("return !!navigator.serviceWorker.controller"):
            time.sleep(0.1)
        print("before leaving:", driver.execute_async_script(PROBE))
        # Leave as the quick exit does: the app's history entry is replaced.
        driver.execute_script(f"location.replace('http://127.0.0.1:{other.server_address[1]}/')")
        time.sleep(away)
        driver.get(f"{base}/elsewhere-in-the-app")
        print(f"after {away:g} s away:", driver.execute_async_script(PROBE))
    finally:
        driver.quit()
        xvfb.terminate()
        app.shutdown()
        other.shutdown()


if __name__ == "__main__":
    main()
