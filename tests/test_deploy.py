"""The shipped deployment files work: nginx in front of two instances, and the systemd units.

The nginx test runs ``deploy/nginx.conf`` itself, with only its listen ports,
certificate and log paths, upstream ports, pid and temporary paths and one
timeout substituted, in front of two ``haven serve`` processes sharing one
data directory, as a phone, an advisor and an attacker would use it.
"""

from __future__ import annotations

import base64
import ctypes
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from advisors import PASSWORD, add_by_command
from conftest import LiveServer, start_server, stop_server
from proxy import DEPLOY, HEADER_TIMEOUT, Nginx, free_port, have_nginx, start_nginx, substitute

from server.crypto import seal

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
ADVISOR = "advisor@payoke.example"
# What a person types into the form without JavaScript: it must appear in no log.
TYPED = "my passport is kept by the boss at the car wash"
FORM = {
    "centre": "payoke",
    "channel": "call",
    "contact": "0470 12 34 56",
    "situation": TYPED,
    "consent": "yes",
}
SECURITY_HEADERS = (
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "permissions-policy",
    "cross-origin-opener-policy",
    "cross-origin-resource-policy",
    "x-frame-options",
    "strict-transport-security",
    "cache-control",
    "etag",
    "content-type",
    "content-encoding",
    "vary",
)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_REFERENCE = re.compile(r"HV-[0-9A-Z]{4}-[0-9A-Z]{4}")

needs_nginx = pytest.mark.skipif(
    not have_nginx(), reason="Debian's nginx is not installed (./test.sh installs it)"
)


# --- nginx with the shipped configuration (tests/proxy.py) ---------------------------


@dataclass
class Proxied(Nginx):
    """nginx on loopback in front of two Haven instances."""

    instances: list[LiveServer] = field(default_factory=list)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory, neutral_site: str) -> Iterator[Proxied]:
    if not have_nginx():
        pytest.skip("Debian's nginx is not installed (./test.sh installs it)")
    folder = tmp_path_factory.mktemp("nginx")
    https_port = free_port()
    url = f"https://127.0.0.1:{https_port}"
    env = {"HAVEN_FORWARDED_ALLOW_IPS": "127.0.0.1", "HAVEN_BASE_URL": url}
    data = folder / "data"
    instances = [start_server(data, folder / "haven-1.log", neutral_site, env=env)]
    try:
        instances.append(start_server(data, folder / "haven-2.log", neutral_site, env=env))
        added = add_by_command(data, ADVISOR, "payoke")
        assert added.returncode == 0, added.stderr
        nginx = start_nginx(
            folder, [int(live.url.rsplit(":", 1)[1]) for live in instances], https_port=https_port
        )
        try:
            yield Proxied(**vars(nginx), instances=instances)
        finally:
            nginx.stop()
    finally:
        for live in instances:
            stop_server(live)


def _served_by(live: LiveServer, marker: str) -> int:
    return live.log().count(marker)


# --- the app, through the proxy ------------------------------------------------------


@needs_nginx
def test_pages_and_the_worker_are_served_over_https_and_http2(proxied: Proxied) -> None:
    with proxied.client(http2=True) as client:
        for path in ("/", "/en/", "/en/p/7", "/sw.js", "/api/inbox-key", "/robots.txt"):
            response = client.get(path, follow_redirects=True)
            assert response.status_code == 200, (path, response.status_code)
            assert response.http_version == "HTTP/2", path
        assert "javascript" in client.get("/sw.js").headers["content-type"]
    # What a phone's TLS stack is offered: h2 by ALPN, TLS 1.2 at least.
    context = ssl.create_default_context(cafile=proxied.cert)
    context.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", proxied.port)) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.selected_alpn_protocol() == "h2"
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    # An older phone that speaks TLS 1.2 at most is served too.
    older = ssl.create_default_context(cafile=proxied.cert)
    older.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        socket.create_connection(("127.0.0.1", proxied.port)) as raw,
        older.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        cipher = tls.cipher()
        assert tls.version() == "TLSv1.2"
        assert cipher is not None and cipher[0].startswith("ECDHE-ECDSA-")


@needs_nginx
def test_plain_http_only_redirects_to_https(proxied: Proxied) -> None:
    response = httpx.get(f"{proxied.http_url}/en/p/7?x=1", timeout=10)
    assert response.status_code == 301
    # The shipped public name, from server_name: nothing the client sent decides it.
    assert response.headers["location"] == "https://haven.example/en/p/7?x=1"
    posted = httpx.post(f"{proxied.http_url}/en/p/7", data=FORM, timeout=10)
    assert posted.status_code == 301 and TYPED not in posted.text


@needs_nginx
def test_a_help_request_through_the_proxy_is_stored_once_by_either_instance(
    proxied: Proxied,
) -> None:
    with proxied.client(http2=True) as client:
        raw = client.get("/api/inbox-key").json()["raw"]
        public = _b64(raw)
        body = {"centre": "payoke", "lang": "en", "envelope": seal(public, b"{}", "payoke", "en")}
        key = secrets.token_urlsafe(24)
        first = client.post("/api/requests", json=body, headers={"Idempotency-Key": key})
        assert first.status_code == 201, first.text
        # The same request again: whichever instance answers, the same reference.
        for _ in range(3):
            again = client.post("/api/requests", json=body, headers={"Idempotency-Key": key})
            assert again.status_code == 200, again.text
            assert again.json()["reference"] == first.json()["reference"]
        # Both instances answer: round robin over the upstream.
        marker = f"/{secrets.token_hex(6)}"
        for number in range(6):
            assert client.get(f"{marker}-{number}").status_code == 404
    # Each instance writes its line once the answer is sent: wait for the six.
    deadline = time.monotonic() + 10
    counts = [_served_by(live, marker) for live in proxied.instances]
    while sum(counts) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
        counts = [_served_by(live, marker) for live in proxied.instances]
    assert all(count >= 1 for count in counts) and sum(counts) == 6, counts


@needs_nginx
def test_the_form_without_javascript_works_through_the_proxy(proxied: Proxied) -> None:
    with proxied.client() as client:
        sent = client.post("/en/p/7", data=FORM)
        assert sent.status_code == 201, sent.text[-500:]
        again = client.post("/en/p/7", data=FORM)
        assert again.status_code == 200
        reference = _REFERENCE.search(sent.text)
        assert reference and reference.group(0) in again.text
        # Over HTTPS, the form's cookie is Secure.
        assert "secure" in sent.headers["set-cookie"].lower()


@needs_nginx
def test_advisors_cookies_are_host_prefixed_and_secure_and_sessions_are_shared(
    proxied: Proxied,
) -> None:
    with proxied.client() as client:
        form = client.get("/advisor/login")
        assert form.status_code == 200
        login_cookie = form.headers["set-cookie"]
        assert login_cookie.startswith("__Host-haven-login=")
        assert "; secure" in login_cookie.lower() and "path=/" in login_cookie.lower()
        token = _CSRF.search(form.text)
        assert token, form.text[-500:]
        signed_in = client.post(
            "/advisor/login",
            data={"csrf": token.group(1), "email": ADVISOR, "password": PASSWORD},
            headers={"Origin": proxied.url},
        )
        assert signed_in.status_code == 303, signed_in.text[-500:]
        cookies = signed_in.headers.get_list("set-cookie")
        session = [cookie for cookie in cookies if cookie.startswith("__Host-haven-advisor=")]
        assert session and "; secure" in session[0].lower(), cookies
        assert all(cookie.startswith("__Host-") for cookie in cookies), cookies
        # The session is in the database: every instance knows it.
        for _ in range(4):
            inbox = client.get("/advisor/api/requests")
            assert inbox.status_code == 200, inbox.text[-300:]
            assert inbox.headers["cache-control"] == "no-store"


@needs_nginx
def test_havens_headers_arrive_unchanged(proxied: Proxied) -> None:
    instance = proxied.instances[0].url
    with proxied.client() as client:
        for path in ("/en/", "/sw.js", "/api/inbox-key", "/static/app.css", "/missing"):
            direct = httpx.get(f"{instance}{path}", headers={"Accept-Encoding": "gzip"})
            through = client.get(path, headers={"Accept-Encoding": "gzip"})
            assert through.status_code == direct.status_code, path
            for name in SECURITY_HEADERS:
                assert through.headers.get_list(name) == direct.headers.get_list(name), (
                    path,
                    name,
                )
            assert through.content == direct.content, path
            # nginx's version is not told.
            assert through.headers.get("server", "nginx") == "nginx"
    assert "default-src 'none'" in through.headers["content-security-policy"]


@needs_nginx
def test_an_oversized_body_is_refused_at_the_proxy(proxied: Proxied) -> None:
    with proxied.client() as client:
        too_big = client.post(
            "/api/requests",
            content=b"x" * (64 * 1024 + 1),
            headers={"Idempotency-Key": secrets.token_urlsafe(24)},
        )
        assert too_big.status_code == 413
        at_limit = client.post(
            "/api/requests",
            content=b"x" * (64 * 1024),
            headers={"Idempotency-Key": secrets.token_urlsafe(24), "Content-Type": "text/plain"},
        )
        # Through to Haven, which refuses what is not JSON itself.
        assert at_limit.status_code in (400, 415, 422), at_limit.status_code


# --- slow and idle clients -------------------------------------------------------------


@dataclass
class Cut:
    closed: bool = False
    seconds: float = 0.0


def _silent(port: int, result: Cut, give_up: float) -> None:
    """Connects and sends nothing, not even a TLS hello."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(give_up)
        try:
            result.closed = sock.recv(1) == b""
        except ConnectionResetError:
            result.closed = True
        except TimeoutError:
            result.closed = False
    result.seconds = time.monotonic() - started


def _dribbling(port: int, cert: str, result: Cut, give_up: float) -> None:
    """Completes TLS, starts a request, then sends one header byte every 0.2 s."""
    started = time.monotonic()
    context = ssl.create_default_context(cafile=cert)
    context.set_alpn_protocols(["http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET /en/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        tls.settimeout(0.2)
        while time.monotonic() - started < give_up:
            try:
                if tls.recv(1) == b"":
                    result.closed = True
                    break
            except TimeoutError:
                pass
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                result.closed = True
                break
            try:
                tls.sendall(b"a")
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                result.closed = True
                break
    result.seconds = time.monotonic() - started


@needs_nginx
def test_slow_and_silent_clients_are_cut_while_others_are_served(proxied: Proxied) -> None:
    # Well below the shipped 15 s: the cut comes from the test copy's 2 s.
    give_up = 12.0
    results = [Cut() for _ in range(8)]
    threads = [
        threading.Thread(target=_silent, args=(proxied.port, result, give_up))
        for result in results[:4]
    ] + [
        threading.Thread(target=_dribbling, args=(proxied.port, proxied.cert, result, give_up))
        for result in results[4:]
    ]
    for thread in threads:
        thread.start()
    # Meanwhile, everyone else is served.
    with proxied.client(http2=True) as client:
        for _ in range(5):
            assert client.get("/en/").status_code == 200
    for thread in threads:
        thread.join(give_up + 5)
    for result in results:
        assert result.closed, results
        # Cut by the timer, not refused at once; and before the client gave up.
        assert HEADER_TIMEOUT * 0.5 <= result.seconds < give_up, results


# --- failover ------------------------------------------------------------------------


class Dropping:
    """In an instance's place: reads each request whole, then hangs up unanswered,
    as an instance that dies in the middle of a request does."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", port))
        self.received: list[str] = []
        self.heads: list[str] = []  # each request's headers, as nginx sent them
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _address = self.sock.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = connection.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = re.search(rb"(?im)^content-length: *(\d+)", head)
                    while length and len(body) < int(length.group(1)):
                        chunk = connection.recv(65536)
                        if not chunk:
                            break
                        body += chunk
                except OSError:
                    continue
                if head:
                    self.received.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
                    self.heads.append(head.decode("latin-1").lower())

    def close(self) -> None:
        # Wakes the accept() under way, which a close alone would leave holding the port.
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


@needs_nginx
def test_a_help_request_is_sent_again_to_another_instance_and_nothing_else_is(
    proxied: Proxied, neutral_site: str
) -> None:
    """An instance that takes a request and dies: nginx resends a help request
    (idempotent by its key) and a GET to the other instance, never a form's POST.
    What reached it shows what nginx tells an instance, whatever the client said."""
    second = proxied.instances[1]
    port = int(second.url.rsplit(":", 1)[1])
    stop_server(second)
    dropping = Dropping(port)
    answers: dict[str, list[int]] = {"api": [], "get": [], "form": []}
    # What a client says of itself is not passed on: nginx says what it saw.
    spoofed = {"X-Forwarded-For": "127.0.0.99", "X-Forwarded-Proto": "http"}
    try:
        with proxied.client() as client:
            client.headers.update(spoofed)
            public = _b64(client.get("/api/inbox-key").json()["raw"])
            for number in range(4):
                body = {
                    "centre": "payoke",
                    "lang": "en",
                    "envelope": seal(public, b"{}", "payoke", "en"),
                }
                key = secrets.token_urlsafe(24)
                sent = client.post("/api/requests", json=body, headers={"Idempotency-Key": key})
                answers["api"].append(sent.status_code)
                answers["get"].append(client.get(f"/en/?n={number}").status_code)
                form = {**FORM, "situation": f"failover {number}"}
                answers["form"].append(client.post("/en/p/7", data=form).status_code)
    finally:
        dropping.close()
        proxied.instances[1] = start_server(
            second.data_dir,
            second.log_path,
            neutral_site,
            port=port,
            env={"HAVEN_FORWARDED_ALLOW_IPS": "127.0.0.1", "HAVEN_BASE_URL": proxied.url},
        )
    dropped = dropping.received
    assert any(line.startswith("POST /api/requests ") for line in dropped), dropped
    for head in dropping.heads:
        assert "\r\nx-forwarded-for: 127.0.0.1\r\n" in head + "\r\n", head
        assert "\r\nx-forwarded-proto: https\r\n" in head + "\r\n", head
        assert "127.0.0.99" not in head and "x-forwarded-proto: http\r" not in head, head
    # Every help request was stored by the instance that was left, at once.
    assert answers["api"] == [201] * 4, (answers, dropped)
    assert answers["get"] == [200] * 4, (answers, dropped)
    # A form's POST that reached the dying instance is not resent: 502, and the
    # person's page keeps what was typed (the form is sent again by hand).
    forms_dropped = sum(line.startswith("POST /en/p/7 ") for line in dropped)
    assert answers["form"].count(502) == forms_dropped, (answers, dropped)
    assert answers["form"].count(201) == 4 - forms_dropped, (answers, dropped)


# --- the logs -------------------------------------------------------------------------


@needs_nginx
def test_nginx_logs_hold_no_client_address_and_nothing_typed(proxied: Proxied) -> None:
    """Everything that makes nginx write about a client, then both logs read (the
    tests above, run first, add timeouts and a failing upstream to them)."""
    with proxied.client() as client:
        assert client.post("/en/p/7", data={**FORM, "contact": "0470 99 88 77"}).status_code in (
            200,
            201,
        )
        client.get("/en/p/7", params={"situation": TYPED})
        # A body near the limit stays in nginx's memory, never in a temporary file.
        client.post("/en/p/7", data={**FORM, "situation": TYPED + " " + "x" * 60000})
        # A body over the limit: nginx's error log says so, with the address, at `error`.
        client.post("/en/p/7", content=b"situation=" + b"x" * 70000)
    # A handshake that is not TLS: logged with the client's address at `info`.
    with socket.create_connection(("127.0.0.1", proxied.port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sock.settimeout(10)
        sock.recv(100)
    # A client that says nothing: logged at `info` when it is cut.
    cut = Cut()
    _silent(proxied.port, cut, 12.0)
    assert cut.closed
    logs = proxied.logs()
    temporary = [path for path in proxied.folder.glob("temp-*/**/*") if path.is_file()]
    assert temporary == []
    assert b"POST /en/p/7 HTTP/1.1 201" in logs["haven-access.log"], logs
    for name, content in logs.items():
        assert b"127.0.0.1" not in content, (name, content[-2000:])
        for typed in (TYPED, "0470 99 88 77", "car wash", "car+wash", "car%20wash"):
            assert typed.encode() not in content, (name, typed)
    # And the instances' own logs, behind the proxy, neither.
    for live in proxied.instances:
        assert TYPED not in live.log() and "car+wash" not in live.log()


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- the systemd units ------------------------------------------------------------------

HARDENING = {
    "User": "haven",
    "StateDirectory": "haven",
    "ProtectSystem": "strict",
    "ReadWritePaths": "/var/lib/haven",
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "ProtectHome": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "SystemCallFilter": "@system-service",
    "CapabilityBoundingSet": "",
    "MemoryDenyWriteExecute": "yes",
    "Restart": "on-failure",
    "Environment": "HAVEN_DATA_DIR=/var/lib/haven",
    "EnvironmentFile": "-/etc/haven/haven.env",
    "UMask": "0077",
}
UNITS = ("haven.service", "haven@.service")


def service_lines(unit: str) -> list[tuple[str, str]]:
    """The ``key=value`` lines of a unit's [Service] section, in order."""
    section, found = "", []
    for line in (DEPLOY / unit).read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.append((key, value))
    return found


@pytest.mark.parametrize("unit", UNITS)
def test_the_units_carry_the_hardening(unit: str) -> None:
    lines = service_lines(unit)
    for key, value in HARDENING.items():
        assert (key, value) in lines, (unit, key)
    (start,) = [value for key, value in lines if key == "ExecStart"]
    port = "800%i" if "@" in unit else "8000"
    assert start == f"/opt/haven/.venv/bin/haven serve --host 127.0.0.1 --port {port}"


def test_the_template_is_the_single_units_hardening_line_for_line() -> None:
    single, template = (
        [line for line in service_lines(unit) if line[0] != "ExecStart"] for unit in UNITS
    )
    assert single == template


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", ["haven.service", "haven@1.service"])
def test_systemd_analyze_verifies_the_units(tmp_path: Path, unit: str) -> None:
    """``systemd-analyze verify``, with the program made one this machine has (it
    checks that it exists); it only warns on a bad line, so any word about the
    units fails the test."""
    for name in UNITS:
        text = (DEPLOY / name).read_text()
        program = substitute(text, r"/opt/haven/\.venv/bin/haven", sys.executable, 1)
        (tmp_path / name).write_text(program)
    assert SYSTEMD_ANALYZE is not None
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", str(tmp_path / unit)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    said = [line for line in (result.stdout + result.stderr).splitlines() if "haven" in line]
    assert result.returncode == 0 and said == [], result.stdout + result.stderr


# The kernel's form of MemoryDenyWriteExecute=yes (systemd uses it where the
# kernel has it, 6.3 on): no mapping may be, or become, writable and executable.
PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1


def deny_write_execute() -> None:
    """In the child before it starts: what MemoryDenyWriteExecute=yes does to it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_MDWE")


def _kernel_denies_write_execute() -> bool:
    probe = (
        "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", probe],
            preexec_fn=deny_write_execute,
            capture_output=True,
            text=True,
            check=False,
        )
    except subprocess.SubprocessError:
        return False  # the kernel has no PR_SET_MDWE
    return result.returncode != 0 and "PermissionError" in result.stderr


def test_haven_runs_with_memory_deny_write_execute(tmp_path: Path, neutral_site: str) -> None:
    """The unit's MemoryDenyWriteExecute=yes: Haven signs an advisor in, seals a
    request sent without JavaScript and opens it, under the same restriction."""
    if not _kernel_denies_write_execute():
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3 or later)")
    data = tmp_path / "data"
    live = start_server(data, tmp_path / "haven.log", neutral_site, preexec_fn=deny_write_execute)
    try:
        assert add_by_command(data, ADVISOR, "payoke").returncode == 0
        with httpx.Client(base_url=live.url, timeout=10) as client:
            assert client.post("/en/p/7", data=FORM).status_code == 201
            form = client.get("/advisor/login")
            token = _CSRF.search(form.text)
            assert token, form.text[-500:]
            signed_in = client.post(
                "/advisor/login",
                data={"csrf": token.group(1), "email": ADVISOR, "password": PASSWORD},
                headers={"Origin": live.url},
            )
            assert signed_in.status_code == 303, signed_in.text[-500:]
            (listed,) = client.get("/advisor/api/requests").json()["requests"]
            opened = client.get(f"/advisor/api/requests/{listed['reference']}").json()
            assert TYPED in str(opened), opened
    finally:
        stop_server(live)
    assert live.process.returncode in (0, -15), live.log()
