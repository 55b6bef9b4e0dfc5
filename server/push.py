"""Web push to advisors: VAPID keys, and one content-free notification to one device.

A notification says only that something is new for a centre; the advisor
opens the dashboard to see what. Which notifications to send, when, and
again after a failure is the push queue's (:mod:`server.push_queue`), off
the request's path: a push service that is slow, down or refusing never
delays or fails the acknowledgement a phone is waiting for.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPusher

from .push_services import PushServices, is_public_address, origin_of
from .security.files import create_exclusively, require_private
from .storage import Database
from .storage.subscriptions import Subscription, delete_subscription

logger = logging.getLogger("haven.push")

KEY_FILE = "vapid-key.pem"
TTL_SECONDS = 24 * 60 * 60  # a notification older than a day is no longer news
MAX_DELAY = 60.0  # the longest Retry-After heeded, in seconds
# Push services answer in well under a second; anything slower is not one.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
TIMEOUT = 15.0
VAPID_LIFETIME = 12 * 60 * 60  # RFC 8292 allows at most a day


class PushKeyError(RuntimeError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class VapidKey:
    """The server's VAPID key pair (RFC 8292), kept in the data directory (0600)."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        self.vapid = Vapid02(private_key=private_key)
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        # What PushManager.subscribe() takes as applicationServerKey.
        self.public_key = _b64(raw)
        # Push services read the Topic header in clear, so it must not name
        # the centre; a keyed hash of it keeps one waiting message per centre
        # without telling them which. Derived from this key so that every
        # instance sharing the key agrees, and only they can compute it.
        secret = private_key.private_numbers().private_value.to_bytes(32, "big")
        self._topic_key = hashlib.sha256(b"haven push topic\x00" + secret).digest()

    def topic(self, centre: str) -> str:
        """The Topic for ``centre``: 32 base64url characters, as RFC 8030 allows at most."""
        digest = hmac.new(self._topic_key, centre.encode(), hashlib.sha256).digest()
        return _b64(digest[:24])

    @classmethod
    def load_or_create(cls, data_dir: Path) -> VapidKey:
        path = data_dir / KEY_FILE
        if not os.path.lexists(path):
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            if create_exclusively(path, pem):
                logger.info("created a new VAPID key in %s", path)
                return cls(key)
        require_private(path, "VAPID key")
        try:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as error:
            raise PushKeyError(
                f"the VAPID key {path} cannot be read as a PEM private key ({error}); "
                "delete it to make a new one (advisors then subscribe their devices again)"
            ) from error
        if not isinstance(loaded, ec.EllipticCurvePrivateKey) or not isinstance(
            loaded.curve, ec.SECP256R1
        ):
            raise PushKeyError(f"the VAPID key {path} is not a P-256 key")
        return cls(loaded)


def payload(centre: str) -> str:
    """The whole notification: that something is new, and for which centre."""
    return json.dumps({"type": "inbox", "centre": centre}, separators=(",", ":"))


def retry_after_seconds(value: str | None) -> float | None:
    """A push service's Retry-After in seconds (capped), if it gave a number."""
    if value and value.isdigit():
        return min(float(value), MAX_DELAY)
    return None


class RefusedAddress(OSError):
    """A public push service's name resolved to an address the server must not reach."""


class GuardedResolver(AbstractResolver):
    """DNS for the push sender that refuses answers pointing inside a network.

    Checking the endpoint's name is not enough: a name's DNS answer can change
    between a check and the connection. This runs on the lookup the connection
    itself uses. aiohttp skips the resolver for IP literals, which
    :meth:`PushServices.allows` refuses unless the operator listed them.
    """

    def __init__(self, services: PushServices, inner: AbstractResolver) -> None:
        self.services = services
        self.inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        if self.services.is_listed_host(host, port):
            return found
        if not found or not all(is_public_address(item["host"]) for item in found):
            raise RefusedAddress(f"{host} resolves to an address that is not public")
        return found

    async def close(self) -> None:
        await self.inner.close()


@dataclass(frozen=True)
class Retry:
    """Not delivered, for a reason that may pass: try again (after ``after`` seconds, if
    the push service said so)."""

    after: float | None = None


class Outcome(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # the subscription is deleted: the browser unsubscribed
    REFUSED = "refused"  # not sent, and never will be: not retried


class PushSender:
    """One POST of a content-free notification to one device, behind every guard."""

    def __init__(self, db: Database, key: VapidKey, subject: str, services: PushServices) -> None:
        self.db = db
        self.key = key
        self.subject = subject
        self.services = services
        self._session: aiohttp.ClientSession | None = None
        self.resolver: GuardedResolver | None = None

    async def start(self) -> None:
        self.resolver = GuardedResolver(self.services, DefaultResolver())
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=self.resolver),
            timeout=aiohttp.ClientTimeout(
                total=TIMEOUT, sock_connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT
            ),
            # No proxy from the environment: the checks above are about where
            # the POST really goes.
            trust_env=False,
        )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self.resolver is not None:
            await self.resolver.close()
            self.resolver = None

    async def _post(self, subscription: Subscription, centre: str) -> tuple[int, str | None]:
        """One POST to the push service: its status and its Retry-After."""
        pusher = WebPusher(
            {
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            }
        )
        body = pusher.encode(payload(centre).encode(), "aes128gcm")["body"]
        claims = {
            "sub": self.subject,
            "aud": str(origin_of(subscription.endpoint)),
            "exp": int(time.time()) + VAPID_LIFETIME,
        }
        headers = {
            **self.key.vapid.sign(claims),
            "TTL": str(TTL_SECONDS),
            "Content-Encoding": "aes128gcm",
            "Urgency": "high",
            # One waiting notification per centre is enough: the newer replaces it.
            "Topic": self.key.topic(centre),
        }
        assert self._session is not None, "PushSender.start() was not awaited"
        # A redirect could send the POST anywhere, past every check: never follow one.
        async with self._session.post(
            subscription.endpoint, data=body, headers=headers, allow_redirects=False
        ) as response:
            return response.status, response.headers.get("Retry-After")

    async def deliver(self, subscription: Subscription, centre: str) -> Outcome | Retry:
        """Tell one device that something is new for ``centre``, once; what came of it."""
        if not self.services.allows(subscription.endpoint):
            # Stored before the rules were this strict, or the operator has
            # since removed its origin from HAVEN_PUSH_SERVICES.
            logger.warning(
                "push subscription %d is not at an allowed push service: not sent",
                subscription.id,
            )
            return Outcome.REFUSED
        try:
            status, retry_after = await self._post(subscription, centre)
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, RefusedAddress):
                logger.warning(
                    "push subscription %d resolves to a private address: not sent",
                    subscription.id,
                )
                return Outcome.REFUSED
            logger.info("push service unreachable (%s)", type(error).__name__)
            return Retry()
        except (aiohttp.ClientError, TimeoutError) as error:
            logger.info("push service unreachable (%s)", type(error).__name__)
            return Retry()
        if 200 <= status < 300:
            return Outcome.SENT
        if status in (404, 410):
            # The browser unsubscribed or the subscription expired.
            await delete_subscription(self.db, subscription.id)
            logger.info("push subscription %d is gone (%s): deleted", subscription.id, status)
            return Outcome.GONE
        if status != 429 and status < 500:
            # A redirect lands here too: it is not followed.
            logger.warning("push refused with %s; not retried", status)
            return Outcome.REFUSED
        return Retry(retry_after_seconds(retry_after) if status == 429 else None)
