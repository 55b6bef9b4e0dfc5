"""The engines of the phones Haven must work on besides Chromium's: WebKit
(Safari's, as WebKitGTK's MiniBrowser) and Gecko (Firefox ESR), behind one
small interface so that a test reads the same for both.

- `WebKit` drives /usr/lib/<triplet>/webkit2gtk-4.1/MiniBrowser through
  Debian's WebKitWebDriver with Selenium, on an Xvfb display the tests start.
- `Firefox` drives Debian's firefox-esr, headless, through Marionette.

Nothing here downloads anything: both browsers and drivers come from Debian,
the Selenium client talks to a WebKitWebDriver this module starts itself (so
Selenium Manager never runs), and both browsers are kept off every network
but loopback (a proxy on a closed loopback port for every other host).

What each engine has, what stands in for what it lacks, and how "offline" is
made honest for it, is its `features`.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MINIBROWSER = next(
    iter(sorted(Path("/usr/lib").glob("*/webkit2gtk-4.1/MiniBrowser"))),
    Path("/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"),
)
WEBKIT_DRIVER = Path("/usr/bin/WebKitWebDriver")
FIREFOX = Path("/usr/bin/firefox-esr")
XVFB = Path("/usr/bin/Xvfb")
# Where every host but loopback is sent: a loopback port nothing listens on.
NOWHERE = ("127.0.0.1", 9)
WIDTH, HEIGHT = 360, 780  # CSS pixels, as the Chromium tests' phone

TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Ends a process this module started (its whole group), politely first."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)


@dataclass(frozen=True)
class Features:
    """What an engine offers the app, as this machine runs it."""

    name: str
    version: str
    background_sync: bool
    push: bool
    persistent_profile: bool  # does `restart` keep what the app stored?
    offline: str  # how `set_offline` cuts the connection
    console: str  # what `errors` can see
    fallbacks: tuple[str, ...]  # what the app does instead of what is missing


class EngineError(AssertionError):
    """A script that threw in the page, or a driver that gave up."""


# --- the display and the network ------------------------------------------------


class Display:
    """An Xvfb server on a free display number (Xvfb picks it: -displayfd)."""

    def __init__(self) -> None:
        read, write = os.pipe()
        self.process = subprocess.Popen(
            [
                str(XVFB),
                "-displayfd",
                str(write),
                "-nolisten",
                "tcp",
                "-screen",
                "0",
                "1024x800x24",
            ],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(write)
        number = b""
        with os.fdopen(read, "rb") as pipe:
            ready, _, _ = select.select([pipe], [], [], TIMEOUT)
            if ready:
                number = pipe.readline().strip()
        if not number:
            stop_process(self.process)
            raise RuntimeError("Xvfb did not start")
        self.name = f":{number.decode()}"

    def stop(self) -> None:
        stop_process(self.process)


# The network namespace's side: loopback up, then a relay from a Unix socket
# (which every namespace sees) to a loopback port inside. Run by `python -c`.
_AGENT = r"""
import fcntl, socket, struct, sys, threading
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    request = struct.pack("16sH", b"lo", 0)
    flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, request)[:18])[1]
    fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))

def pump(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass

def relay(client):
    header = b""
    while not header.endswith(b"\n"):
        byte = client.recv(1)
        if not byte:
            client.close()
            return
        header += byte
    try:
        upstream = socket.create_connection(("127.0.0.1", int(header)))
    except OSError:
        client.close()
        return
    back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    back.start()
    pump(client, upstream)
    back.join()
    client.close()
    upstream.close()

listener = socket.socket(socket.AF_UNIX)
listener.bind(sys.argv[1])
listener.listen(64)
print("ready", flush=True)
while True:
    connection, _ = listener.accept()
    threading.Thread(target=relay, args=(connection,), daemon=True).start()
"""

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


class LoopbackOnly:
    """A network namespace with nothing but loopback: what a phone with no
    connection at all looks like to a browser started in it (no route, so
    WebKitGTK's navigator.onLine is false), while a server started in it is
    still reachable on loopback until the test stops it.

    Processes join it through `enter` (a preexec_fn); the tests reach its
    ports through `forward`, which relays a host loopback port to the same
    port inside through a Unix socket.
    """

    def __init__(self, folder: Path) -> None:
        self.socket_path = str(folder / "loopback-only.sock")
        unshare = ["unshare", "--net"] + (["--map-root-user"] if os.geteuid() != 0 else [])
        self.agent = subprocess.Popen(
            [*unshare, sys.executable, "-c", _AGENT, self.socket_path],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.agent.stdout is not None
        if self.agent.stdout.readline().strip() != "ready":
            stop_process(self.agent)
            raise RuntimeError("could not make a network namespace (unshare --net)")
        self.pid = self.agent.pid
        self.listeners: list[socket.socket] = []
        self.stopped = threading.Event()

    def enter(self) -> None:
        """Joins the namespace; runs in a child between fork and exec."""
        libc = ctypes.CDLL(None, use_errno=True)
        kinds = [("net", _CLONE_NEWNET)]
        if os.geteuid() != 0:
            kinds.insert(0, ("user", _CLONE_NEWUSER))
        for kind, flag in kinds:
            fd = os.open(f"/proc/{self.pid}/ns/{kind}", os.O_RDONLY)
            if libc.setns(fd, flag) != 0:
                raise OSError(ctypes.get_errno(), f"setns {kind}")
            os.close(fd)

    def forward(self) -> int:
        """A free port, reachable from here and listened on inside."""
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self.listeners.append(listener)
        port: int = listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(listener, port), daemon=True).start()
        return port

    def _accept(self, listener: socket.socket, port: int) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client, port), daemon=True).start()

    def _relay(self, client: socket.socket, port: int) -> None:
        with client, socket.socket(socket.AF_UNIX) as inside:
            try:
                inside.connect(self.socket_path)
                inside.sendall(f"{port}\n".encode())
            except OSError:
                return
            back = threading.Thread(target=_pump, args=(inside, client), daemon=True)
            back.start()
            _pump(client, inside)
            back.join()

    def stop(self) -> None:
        self.stopped.set()
        for listener in self.listeners:
            listener.close()
        stop_process(self.agent)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)


# --- what the tests run in the pages ----------------------------------------------

# Collects what a page reports as an error, for engines whose driver cannot
# read the console: console.error, uncaught errors and unhandled rejections
# from the moment it is installed (each script the tests run installs it).
_WATCH = """
if (!window.__engineErrors) {
  const errors = window.__engineErrors = []
  const original = console.error
  console.error = function (...parts) {
    errors.push('console.error: ' + parts.map(String).join(' '))
    return original.apply(this, parts)
  }
  addEventListener('error', (event) => errors.push('error: ' + event.message))
  addEventListener('unhandledrejection', (event) => {
    errors.push('unhandled rejection: ' + event.reason)
  })
}
"""

# A script of the tests, `(async) (...args) => value`, run as an async script.
_RUN = """
const done = arguments[arguments.length - 1]
const args = Array.prototype.slice.call(arguments, 0, -1)
%s
const take = () => (window.__engineErrors || []).splice(0)
Promise.resolve().then(() => (%s)(...args)).then(
  (value) => done({ ok: true, value: value === undefined ? null : value, errors: take() }),
  (error) => done({ ok: false, error: String((error && error.stack) || error), errors: take() })
)
"""

# Everything the browser keeps for the page's origin that a page can read:
# every IndexedDB database and store (keys and values), every Cache Storage
# entry with its body, localStorage, sessionStorage and the cookies.
STORAGE = """async () => {
  const request = (r) => new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result)
    r.onerror = () => reject(r.error)
  })
  const found = { indexedDB: {}, caches: {}, localStorage: {}, sessionStorage: {} }
  found.cookie = document.cookie
  for (const { name } of await indexedDB.databases()) {
    const db = await request(indexedDB.open(name))
    found.indexedDB[name] = {}
    for (const store of db.objectStoreNames) {
      const objects = db.transaction(store).objectStore(store)
      found.indexedDB[name][store] = {
        keys: await request(objects.getAllKeys()),
        values: await request(objects.getAll())
      }
    }
    db.close()
  }
  for (const name of await caches.keys()) {
    const cache = await caches.open(name)
    found.caches[name] = {}
    for (const entry of await cache.keys()) {
      found.caches[name][entry.url] = await (await cache.match(entry)).text()
    }
  }
  for (const kind of ['localStorage', 'sessionStorage']) {
    const storage = window[kind]
    for (let i = 0; i < storage.length; i += 1) {
      found[kind][storage.key(i)] = storage.getItem(storage.key(i))
    }
  }
  return found
}"""

# Where an element is, once it is in view and is what a tap there would hit,
# or null. Asked until two answers agree: WebKit scrolls after the call
# returns, and a banner that appears (the app's status) moves what is below.
_CLICKABLE = """(element) => {
  const box = element.getBoundingClientRect()
  const inView = box.width > 0 && box.top >= 0 && box.bottom <= innerHeight
  if (!inView) {
    element.scrollIntoView({ block: 'center' })
    return null
  }
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2)
  const label = element.closest('label')
  if (!hit || !(element.contains(hit) || hit.contains(element) || (label && label.contains(hit)))) {
    element.scrollIntoView({ block: 'center' })
    return null
  }
  return [box.left, box.top, box.width, box.height].map(Math.round).join(',')
}"""


class Engine(ABC):
    """One browser, one window, driven by the tests."""

    features: Features

    def __init__(self) -> None:
        self.collected: list[str] = []

    # -- what each engine provides --

    @abstractmethod
    def _open(self, url: str) -> None: ...

    @abstractmethod
    def _execute(self, script: str, args: tuple[Any, ...]) -> Any: ...

    @abstractmethod
    def _find(self, css: str) -> Any: ...

    @property
    @abstractmethod
    def url(self) -> str: ...

    @abstractmethod
    def set_offline(self, offline: bool) -> None:
        """Cuts (or gives back) the browser's connection; see `features.offline`."""

    @abstractmethod
    def restart(self) -> None:
        """Quits the browser and starts it again (`features.persistent_profile`)."""

    @abstractmethod
    def quit(self) -> None: ...

    def _console(self) -> list[str]:
        """Errors the engine itself reports (beyond what the pages' watch sees)."""
        return []

    # -- the tests' interface --

    def open(self, url: str) -> None:
        """Navigates and waits for the load, like typing the address."""
        self._open(url)
        self.run("() => document.readyState")

    def run(self, script: str, *args: Any) -> Any:
        """Runs `(...args) => value` (async or not) in the page; returns its value."""
        answer = self._execute(_RUN % (_WATCH, script), args)
        if not isinstance(answer, dict):
            raise EngineError(f"{self.features.name}: the script returned {answer!r}")
        self.collected += answer.get("errors") or []
        if not answer.get("ok"):
            raise EngineError(f"{self.features.name}: {answer.get('error')}")
        return answer.get("value")

    def wait(
        self, script: str, *args: Any, timeout: float = TIMEOUT, message: str = "the condition"
    ) -> Any:
        """Runs `script` until it returns something truthy; that value.

        A navigation under way may interrupt a script: it is run again."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = self.run(script, *args)
                if last:
                    return last
            except EngineError as error:
                last = error
            except Exception as error:  # the drivers raise their own kinds
                last = error
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.features.name}: timed out waiting for {message}: {last!r}"
                )
            time.sleep(0.1)

    def wait_for_url(
        self,
        predicate: Callable[[str], bool],
        timeout: float = TIMEOUT,
        message: str = "the address",
    ) -> str:
        deadline = time.monotonic() + timeout
        url = ""
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                url = self.url
                if predicate(url):
                    return url
            time.sleep(0.1)
        raise AssertionError(f"{self.features.name}: timed out waiting for {message}; at {url!r}")

    def click(self, css: str) -> None:
        """Scrolls the element into view, as a person would, and clicks it."""
        element = self._find(css)
        deadline = time.monotonic() + TIMEOUT
        before = None
        while True:
            where = self.run(_CLICKABLE, element)
            if where and where == before:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.features.name}: {css} never came into view")
            before = where
            time.sleep(0.05)
        element.click()

    def type(self, css: str, text: str) -> None:
        self.click(css)
        self._find(css).send_keys(text)

    def text(self, css: str = "body") -> str:
        value: str = self.run("(css) => document.querySelector(css)?.innerText ?? ''", css)
        return value

    def storage(self) -> str:
        """Every storage of the page's origin, as one text to search."""
        return json.dumps(self.run(STORAGE), ensure_ascii=False)

    def errors(self) -> list[str]:
        """Every error seen so far (and forgets them)."""
        with contextlib.suppress(Exception):
            self.run("() => true")
        found = self.collected + self._console()
        self.collected = []
        return found


# --- WebKit ----------------------------------------------------------------------


class WebKit(Engine):
    """MiniBrowser through WebKitWebDriver, with Selenium's client.

    MiniBrowser under automation keeps everything in an ephemeral session
    (its source: `privateMode || automationMode` gives an ephemeral website
    data manager), so a restart forgets what the app stored. Its
    navigator.onLine is read from the system when the browser starts and not
    updated afterwards, so "offline" is a browser started in a network
    namespace with nothing but loopback (`LoopbackOnly`), where the app's
    server is reachable until the test stops it.
    """

    def __init__(self, display: Display, log_path: Path, network: LoopbackOnly | None = None):
        super().__init__()
        self.display = display
        self.log_path = log_path
        self.network = network
        self.features = Features(
            name="webkit",
            version="",  # known once it runs
            background_sync=False,
            push=False,
            persistent_profile=False,
            offline=(
                "started in a network namespace with only loopback (no route: navigator.onLine "
                "is false), and the server stopped; without one (navigator.onLine stays true, "
                "as on a network without internet) only the stopped server cuts it"
            ),
            console=(
                "what the pages report after each script the tests run: console.error, "
                "uncaught errors, unhandled rejections (the driver has no console; an "
                "ephemeral session never logs it; the worker's console stays out of reach)"
            ),
            fallbacks=(
                "no Background Sync: delivery on page load, at each worker start, on the "
                "retry timer",
                "no Push API in MiniBrowser (the person's side never needs it)",
                "navigator.onLine fixed at start: the quick exit's offline branch only in "
                "a browser started without a network",
            ),
        )
        self._start()

    def _start(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.common.proxy import Proxy, ProxyType
        from selenium.webdriver.remote.client_config import ClientConfig
        from selenium.webdriver.remote.remote_connection import RemoteConnection
        from selenium.webdriver.webkitgtk.options import Options

        port = self.network.forward() if self.network else free_port()
        environment = {**os.environ, "DISPLAY": self.display.name}
        with self.log_path.open("a") as log:
            self.driver_process = subprocess.Popen(
                [str(WEBKIT_DRIVER), f"--port={port}", "--host=127.0.0.1"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                preexec_fn=self.network.enter if self.network else None,
                start_new_session=True,
            )
        options = Options()
        options.binary_location = str(MINIBROWSER)
        for argument in (
            "--automation",
            # Full screen drops the toolbar, whose width would keep the window wider than a phone.
            "--full-screen",
            "--enable-dns-prefetching=false",
            f"--proxy=http://{NOWHERE[0]}:{NOWHERE[1]}",
            "--ignore-host=127.0.0.1",
            "--ignore-host=localhost",
        ):
            options.add_argument(argument)
        deadline = time.monotonic() + TIMEOUT
        while True:
            # Asked over HTTP: inside a namespace the relay accepts before the driver does.
            with contextlib.suppress(OSError, http.client.HTTPException):
                status = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                try:
                    status.request("GET", "/status")
                    if status.getresponse().status == 200:
                        break
                finally:
                    status.close()
            if time.monotonic() > deadline or self.driver_process.poll() is not None:
                stop_process(self.driver_process)
                raise RuntimeError(f"WebKitWebDriver did not start: {self.log_path.read_text()}")
            time.sleep(0.1)
        # Straight to that driver: no proxy from the environment, no Selenium Manager.
        connection = RemoteConnection(
            client_config=ClientConfig(
                remote_server_addr=f"http://127.0.0.1:{port}",
                proxy=Proxy({"proxyType": ProxyType.DIRECT}),
                timeout=TIMEOUT * 4,
            )
        )
        try:
            self.driver = webdriver.Remote(command_executor=connection, options=options)
        except Exception:
            stop_process(self.driver_process)
            raise
        self.driver.set_script_timeout(TIMEOUT * 2)
        self.driver.set_page_load_timeout(TIMEOUT * 2)
        self.driver.set_window_rect(0, 0, WIDTH, HEIGHT)
        version = self.driver.capabilities.get("browserVersion", "?")
        self.features = dataclasses.replace(
            self.features, version=f"WebKitGTK {version} (MiniBrowser, WebKitWebDriver)"
        )

    def _open(self, url: str) -> None:
        self.driver.get(url)

    def _execute(self, script: str, args: tuple[Any, ...]) -> Any:
        return self.driver.execute_async_script(script, *args)

    def _find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    @property
    def url(self) -> str:
        current: str = self.driver.current_url
        return current

    def set_offline(self, offline: bool) -> None:
        # Nothing to switch: see the class's notes and features.offline.
        pass

    def restart(self) -> None:
        self.quit()
        self._start()

    def quit(self) -> None:
        with contextlib.suppress(Exception):
            self.driver.quit()
        stop_process(self.driver_process)


# --- Firefox ---------------------------------------------------------------------

_FIREFOX_PREFS: dict[str, object] = {
    # Offline means offline: loopback too, and never back on by itself.
    "network.disable-localhost-when-offline": True,
    "network.manage-offline-status": False,
    # The pages' and workers' console.error calls, on stdout; none of the browser's own.
    "devtools.console.stdout.content": True,
    "devtools.console.stdout.chrome": False,
    # Scrollbars over the page, as on a phone, so that they take no width.
    "ui.useOverlayScrollbars": 1,
    # Every host but loopback goes to a closed port; nothing is looked up or fetched.
    "network.proxy.type": 1,
    "network.proxy.http": NOWHERE[0],
    "network.proxy.http_port": NOWHERE[1],
    "network.proxy.ssl": NOWHERE[0],
    "network.proxy.ssl_port": NOWHERE[1],
    "network.proxy.allow_hijacking_localhost": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.predictor.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "dom.push.connection.enabled": False,
    "app.update.disabledForTesting": True,
    "app.normandy.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "browser.region.update.enabled": False,
    "browser.region.network.url": "",
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.page": 0,
    "browser.newtabpage.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "geo.provider.network.url": "",
}

_BROWSER_LOGGER = re.compile(r"console\.error: [A-Za-z][\w.-]*: ")

# The errors Firefox's console holds for pages and workers: script errors,
# failed interceptions, CSP reports; not the browser's own (chrome, resource).
_FIREFOX_CONSOLE = """
const errors = []
for (const message of Services.console.getMessageArray()) {
  if (!(message instanceof Ci.nsIScriptError)) continue
  if (message.flags & (Ci.nsIScriptError.warningFlag | Ci.nsIScriptError.infoFlag)) continue
  const source = message.sourceName || ''
  if (/^(chrome|resource|moz-extension|about|jar):/.test(source)) continue
  if ((message.category || '').startsWith('chrome')) continue
  errors.push(`${message.category}: ${message.errorMessage} (${source})`)
}
return errors
"""

# Firefox's own icon loads, counted as they start and as they end (loaded or
# failed), through the hook its tests use; installed once per browser window.
_ICONS_SEEN = """
if (!window.__engineIcons) {
  const icons = window.__engineIcons = [0, 0]
  const { LinkHandlerParent } = ChromeUtils.importESModule(
    'resource:///actors/LinkHandlerParent.sys.mjs'
  )
  LinkHandlerParent.addListenerForTests((name) => {
    if (name === 'LoadingIcon') icons[0] += 1
    else if (name === 'SetIcon' || name === 'SetFailedIcon') icons[1] += 1
  })
}
return window.__engineIcons
"""

# The default zoom, for every site: 200 % in a 720 px window is a 360 CSS px
# viewport at a device pixel ratio of 2, as on a phone (Firefox's window will
# not be narrower than 500 px).
_ZOOM = """
const [zoom, done] = arguments
const service = Cc['@mozilla.org/content-pref/service;1'].getService(Ci.nsIContentPrefService2)
service.setGlobal('browser.content.full-zoom', zoom, Cu.createLoadContext(), {
  handleCompletion: () => done(true)
})
"""


class Firefox(Engine):
    """firefox-esr, headless, through Marionette, in a profile of its own
    that survives `restart`."""

    def __init__(self, profile: Path, log_path: Path) -> None:
        super().__init__()
        self.profile = profile
        self.log_path = log_path
        self.port = free_port()
        self.profile.mkdir(parents=True, exist_ok=True)
        prefs = {**_FIREFOX_PREFS, "marionette.port": self.port}
        (self.profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())
        )
        self.features = Features(
            name="firefox",
            version="",
            background_sync=False,
            push=True,
            persistent_profile=True,
            offline=(
                "Firefox's own offline mode (Services.io.offline, loopback included: "
                "navigator.onLine is false and every request fails), and the server stopped"
            ),
            console=(
                "the browser console's errors for pages and the worker (Services.console), "
                "and every console.error of a page or the worker (on stdout)"
            ),
            fallbacks=(
                "no Background Sync: delivery on page load, at each worker start, on the "
                "online event, on the retry timer",
                "Push API present, its service unreachable here (the person's side never "
                "subscribes)",
            ),
        )
        self._start()

    def _start(self) -> None:
        with warnings.catch_warnings():
            # mozrunner and mozinfo, which marionette_driver imports, use modules and
            # calls Python deprecates (telnetlib, distro.linux_distribution) at import.
            warnings.simplefilter("ignore", DeprecationWarning)
            from marionette_driver.marionette import Marionette

        environment = {**os.environ, "MOZ_HEADLESS_WIDTH": str(WIDTH * 2)}
        environment["MOZ_HEADLESS_HEIGHT"] = str(HEIGHT * 2)
        log = self.log_path.open("ab")
        self.log_offset = self.log_path.stat().st_size
        self.process = subprocess.Popen(
            [
                str(FIREFOX),
                "--marionette",
                "--headless",
                "--no-remote",
                "-remote-allow-system-access",
                "-profile",
                str(self.profile),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
        )
        log.close()
        # Until Marionette greets: the client's own probing leaks a socket per failed try.
        deadline = time.monotonic() + TIMEOUT * 2
        while True:
            address = ("127.0.0.1", self.port)
            with contextlib.suppress(OSError), socket.create_connection(address, 2) as probe:
                if probe.recv(64):
                    break
            if time.monotonic() > deadline or self.process.poll() is not None:
                stop_process(self.process)
                raise RuntimeError(f"Firefox did not start: {self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        self.client = Marionette(host="127.0.0.1", port=self.port)
        try:
            capabilities = self.client.start_session(timeout=TIMEOUT * 2)
        except Exception:
            stop_process(self.process)
            raise
        version = capabilities.get("browserVersion", "?")
        self.features = dataclasses.replace(self.features, version=f"Firefox ESR {version}")
        self.client.timeout.script = TIMEOUT * 2
        self.client.timeout.page_load = TIMEOUT * 2
        self.console_seen = 0
        self.client.set_window_rect(width=WIDTH * 2, height=HEIGHT * 2)
        with self.client.using_context("chrome"):
            self.client.execute_async_script(_ZOOM, script_args=(2,))

    def _open(self, url: str) -> None:
        from marionette_driver.errors import UnknownException

        with self.client.using_context("chrome"):
            before = self.client.execute_script(_ICONS_SEEN)
        try:
            self.client.navigate(url)
        except UnknownException as error:
            # An error page is a page too: the test looks at what it shows.
            if "error page" not in str(error):
                raise
        # As a person would, let the page's icons load before moving on: Firefox
        # drops an icon load when the page goes away, and reports one the worker
        # was answering as "A ServiceWorker intercepted the request and
        # encountered an unexpected error" (it asks for them 100 ms after the
        # page is parsed). Not every page has icons: the wait is bounded.
        deadline = time.monotonic() + 3
        with self.client.using_context("chrome"):
            while time.monotonic() < deadline:
                loading, settled = self.client.execute_script(_ICONS_SEEN)
                if loading > before[0] and settled - before[1] >= loading - before[0]:
                    break
                time.sleep(0.05)

    def _execute(self, script: str, args: tuple[Any, ...]) -> Any:
        return self.client.execute_async_script(script, script_args=args, sandbox=None)

    def _find(self, css: str) -> Any:
        return self.client.find_element("css selector", css)

    @property
    def url(self) -> str:
        current: str = self.client.get_url()
        return current

    def set_offline(self, offline: bool) -> None:
        with self.client.using_context("chrome"):
            self.client.execute_script(
                "Services.io.manageOfflineStatus = false; Services.io.offline = arguments[0]",
                script_args=(offline,),
            )
        self.wait("(offline) => navigator.onLine !== offline", offline, message="navigator.onLine")

    def _console(self) -> list[str]:
        found: list[str] = []
        with contextlib.suppress(Exception), self.client.using_context("chrome"):
            messages = self.client.execute_script(_FIREFOX_CONSOLE)
            found += messages[self.console_seen :]
            self.console_seen = len(messages)
        with self.log_path.open("rb") as log:
            log.seek(self.log_offset)
            output = log.read()
            self.log_offset += len(output)
        for line in output.decode(errors="replace").splitlines():
            # A page's or a worker's arguments come out as source ("text", (new
            # Error(…)), ({…})); the browser's own loggers start with their
            # name (`console.error: RSLoader: …`, Nimbus failing to reach its
            # server): those are left out.
            if line.startswith("console.error:") and not _BROWSER_LOGGER.match(line):
                found.append(line)
        return found

    def restart(self) -> None:
        before = self._console()
        self.quit()
        self._start()
        self.collected += before

    def quit(self) -> None:
        with contextlib.suppress(Exception):
            self.client._send_message("Marionette:Quit", {"flags": ["eAttemptQuit"]})
        with contextlib.suppress(Exception):
            self.client.cleanup()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=TIMEOUT)
        stop_process(self.process)


# --- the engines the tests are parametrized over -----------------------------------

ENGINES = ("webkit", "firefox")
# Each engine as it ran in this session, for the summary at the end (conftest.py).
LAUNCHED: dict[str, Features] = {}


@contextlib.contextmanager
def launched(
    name: str, folder: Path, display: Display, network: LoopbackOnly | None = None
) -> Iterator[Engine]:
    """An engine with a fresh profile, quit afterwards whatever happens."""
    engine: Engine
    if name == "webkit":
        engine = WebKit(display, folder / "webkit.log", network)
    elif name == "firefox":
        if network is not None:
            raise ValueError("Firefox has an offline mode of its own")
        engine = Firefox(
            Path(tempfile.mkdtemp(dir=folder, prefix="firefox-")), folder / "firefox.log"
        )
    else:
        raise ValueError(name)
    LAUNCHED[name] = engine.features
    try:
        yield engine
    finally:
        engine.quit()
