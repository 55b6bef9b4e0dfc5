"""nginx running the shipped ``deploy/nginx.conf`` on loopback, in front of Haven instances.

The configuration is the shipped file with only its listen ports, certificate
and log paths, upstream ports, pid and temporary paths and one timeout
substituted (and, for a benchmark, whatever else its caller names, each
substitution checked to match). Used by ``tests/test_deploy.py``,
``tests/test_cluster.py`` and ``bench/cluster.py``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# The test copy's header timeout: short, so that the slow clients are cut soon.
HEADER_TIMEOUT = 2
# One more substitution: (pattern, replacement, how many times it must match).
Substitution = tuple[str, str, int]


def have_nginx() -> bool:
    return os.access(NGINX, os.X_OK)


def substitute(
    text: str, pattern: str, replacement: str | Callable[[re.Match[str]], str], count: int
) -> str:
    """``text`` with ``pattern`` replaced, which must occur exactly ``count`` times:
    a shipped file that changed shape fails here instead of being half-tested."""
    new, found = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert found == count, f"deploy/nginx.conf: {pattern!r} found {found} times, not {count}"
    return new


def local_copy(
    shipped: str,
    folder: Path,
    *,
    https_port: int,
    http_port: int,
    upstreams: Sequence[int],
    user: str | None,
    extra: Sequence[Substitution] = (),
) -> str:
    """The shipped configuration with this machine's ports and paths, and a short
    header timeout; every other line is the shipped one (but for ``extra``)."""
    text = shipped
    if user is None:
        text = substitute(text, r"^user \S+;\n", "", 1)
    else:
        text = substitute(text, r"^user \S+;", f"user {user};", 1)
    text = substitute(text, r"^pid \S+;", f"pid {folder / 'nginx.pid'};", 1)
    text = substitute(text, r"/var/log/nginx/", f"{folder}/", 3)
    text = substitute(text, r"/var/lib/nginx/", f"{folder}/temp-", 5)
    text = substitute(text, r"/etc/ssl/haven/fullchain\.pem", str(folder / "cert.pem"), 1)
    text = substitute(text, r"/etc/ssl/haven/privkey\.pem", str(folder / "key.pem"), 1)
    # Loopback only: the IPv6 wildcard listeners go, the others name 127.0.0.1.
    text = substitute(text, r"^\s*listen \[::\]:\d+.*\n", "", 2)
    text = substitute(text, r"listen 443 ", f"listen 127.0.0.1:{https_port} ", 1)
    text = substitute(text, r"listen 80;", f"listen 127.0.0.1:{http_port};", 1)
    # The shipped two `server` lines become one per instance, as the file says to edit them.
    text = substitute(
        text,
        r"^(\s*)server 127\.0\.0\.1:8001 (\S+ \S+;).*\n\s*server 127\.0\.0\.1:8002 .*\n",
        lambda m: "".join(f"{m[1]}server 127.0.0.1:{port} {m[2]}\n" for port in upstreams),
        1,
    )
    text = substitute(
        text, r"client_header_timeout \d+s;", f"client_header_timeout {HEADER_TIMEOUT}s;", 1
    )
    for pattern, replacement, count in extra:
        text = substitute(text, pattern, replacement, count)
    return text


def make_certificate(folder: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 (P-256), its key beside it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = folder / "cert.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (folder / "key.pem").chmod(0o600)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Nginx:
    """nginx on loopback, in the foreground, with its files in ``folder``."""

    url: str  # https://127.0.0.1:PORT
    http_url: str
    port: int
    folder: Path
    cert: str
    process: subprocess.Popen[bytes]

    def trust(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cert)

    def client(self, http2: bool = False) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.trust(), timeout=10, http2=http2)

    def logs(self) -> dict[str, bytes]:
        return {
            name: (self.folder / name).read_bytes()
            for name in ("haven-access.log", "haven-error.log", "nginx.out")
            if (self.folder / name).exists()
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_nginx(
    folder: Path,
    upstreams: Sequence[int],
    *,
    https_port: int | None = None,
    extra: Sequence[Substitution] = (),
) -> Nginx:
    """nginx with the shipped configuration in front of the instances on
    ``upstreams``, answering on ``https_port`` (a free one by default)."""
    cert = make_certificate(folder)
    https_port = https_port or free_port()
    http_port = free_port()
    config = folder / "nginx.conf"
    config.write_text(
        local_copy(
            (DEPLOY / "nginx.conf").read_text(),
            folder,
            https_port=https_port,
            http_port=http_port,
            upstreams=upstreams,
            user="nobody nogroup" if os.geteuid() == 0 else None,
            extra=extra,
        )
    )
    with (folder / "nginx.out").open("wb") as out:
        process = subprocess.Popen(
            [NGINX, "-p", str(folder), "-c", str(config), "-g", "daemon off;"],
            stdout=out,
            stderr=out,
        )
    nginx = Nginx(
        f"https://127.0.0.1:{https_port}",
        f"http://127.0.0.1:{http_port}",
        https_port,
        folder,
        str(cert),
        process,
    )
    try:
        _wait_until_it_answers(nginx)
    except BaseException:
        nginx.stop()
        raise
    return nginx


def _wait_until_it_answers(nginx: Nginx) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if nginx.process.poll() is not None:
            raise RuntimeError(f"nginx stopped: {nginx.logs().get('nginx.out', b'').decode()}")
        try:
            with nginx.client() as client:
                if client.get("/healthz").status_code == 200:
                    return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"nginx did not answer: {nginx.logs()}")
