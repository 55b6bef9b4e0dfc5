"""A fake Web Push service on loopback, strict about what it accepts.

It stands in for the browser vendors' push services in tests and in
``bench/advisor.py``: it verifies the VAPID JWT (RFC 8292) against the key in
the ``Authorization`` header, decrypts the ``aes128gcm`` body (RFC 8291) with
the subscription's private key and auth secret, and records what arrived. It
runs on a thread with the standard library's HTTP server, so it works beside
any event loop. Standard library and ``cryptography`` only, apart from
``http_ece`` for the decryption.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Subscriber:
    """What a browser makes when it subscribes: a P-256 key pair and an auth secret."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = secrets.token_bytes(16)
        self.public_raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def subscription(self, endpoint: str) -> dict[str, Any]:
        """The JSON of a PushSubscription, as `subscription.toJSON()` gives it."""
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64encode(self.public_raw), "auth": b64encode(self.auth)},
        }

    def decrypt(self, body: bytes) -> bytes:
        result: bytes = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )
        return result


@dataclass
class Received:
    name: str
    status: int
    headers: dict[str, str]
    payload: bytes | None
    vapid_claims: dict[str, Any] | None
    error: str | None
    at: float  # time.monotonic()

    @property
    def ttl(self) -> int | None:
        value = self.headers.get("ttl")
        return int(value) if value and value.isdigit() else None


def verify_vapid(authorization: str, audience: str) -> dict[str, Any]:
    """The JWT's claims, if the header is a valid VAPID authorisation for ``audience``."""
    scheme, _, rest = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise ValueError(f"scheme {scheme!r} is not vapid")
    parts = dict(item.strip().split("=", 1) for item in rest.split(",") if "=" in item)
    token, key = parts.get("t", ""), parts.get("k", "")
    header_b64, claims_b64, signature_b64 = token.split(".")
    header = json.loads(b64decode(header_b64))
    if header.get("alg") != "ES256" or header.get("typ", "JWT") != "JWT":
        raise ValueError(f"unexpected JWT header {header}")
    signature = b64decode(signature_b64)
    if len(signature) != 64:
        raise ValueError("the signature is not 64 bytes")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64decode(key))
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as error:
        raise ValueError("the JWT signature does not match the key in k=") from error
    claims: dict[str, Any] = json.loads(b64decode(claims_b64))
    if claims.get("aud") != audience:
        raise ValueError(f"aud {claims.get('aud')!r} is not {audience!r}")
    now = time.time()
    if not now < int(claims.get("exp", 0)) <= now + 24 * 3600:
        raise ValueError("exp is not within the next 24 hours")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise ValueError("sub is not a mailto: or https: address")
    return claims


class FakePushService:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._subscribers: dict[str, Subscriber] = {}
        self._answers: dict[str, deque[tuple[int, int | None]]] = {}
        self._hang: set[str] = set()
        self.received: list[Received] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                service._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> FakePushService:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._hang.clear()
            self._lock.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakePushService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- set-up ------------------------------------------------------------------------

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    def subscribe(self, name: str) -> dict[str, Any]:
        """A new subscriber at ``/push/<name>``; the subscription JSON to give the server."""
        subscriber = Subscriber()
        with self._lock:
            self._subscribers[name] = subscriber
        return subscriber.subscription(self.endpoint(name))

    def respond(self, name: str, *statuses: int, retry_after: int | None = None) -> None:
        """Answer the next posts to ``name`` with these statuses (then 201 again)."""
        with self._lock:
            queue = self._answers.setdefault(name, deque())
            queue.extend((status, retry_after) for status in statuses)

    def hang(self, name: str) -> None:
        """Never answer posts to ``name`` (until the service stops)."""
        with self._lock:
            self._hang.add(name)

    # --- what arrived ------------------------------------------------------------------

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self.received)} of {count} push messages arrived: {self.received}"
                    )
                self._lock.wait(left)
            return list(self.received)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        name = request.path.removeprefix("/push/")
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length)
        headers = {key.lower(): value for key, value in request.headers.items()}
        with self._lock:
            if name in self._hang:
                while name in self._hang:
                    self._lock.wait()
                return
            subscriber = self._subscribers.get(name)
            queue = self._answers.get(name)
            status, retry_after = queue.popleft() if queue else (201, None)
        claims = payload = error = None
        if subscriber is None:
            status, error = 404, "no such subscription"
        else:
            try:
                claims = verify_vapid(headers.get("authorization", ""), self.origin)
                if headers.get("content-encoding") != "aes128gcm":
                    raise ValueError("Content-Encoding is not aes128gcm")
                if "ttl" not in headers:
                    raise ValueError("no TTL header")
                payload = subscriber.decrypt(body)
            except Exception as problem:  # anything wrong is the sender's fault here
                status, error = 400, f"{type(problem).__name__}: {problem}"
        request.send_response(status)
        if retry_after is not None and status in (429, 503):
            request.send_header("Retry-After", str(retry_after))
        request.send_header("Content-Length", "0")
        request.end_headers()
        with self._lock:
            self.received.append(
                Received(name, status, headers, payload, claims, error, time.monotonic())
            )
            self._lock.notify_all()
