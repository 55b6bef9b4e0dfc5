"""Web push to advisors: VAPID keys, and content-free notifications.

A notification says only that something is new for a centre; the advisor
opens the dashboard to see what. Sending happens off the request's path:
a push service that is slow, down or refusing never delays or fails the
acknowledgement a phone is waiting for.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from .storage import Database, StoredRequest
from .storage.subscriptions import Subscription, delete_subscription, subscriptions_for

logger = logging.getLogger("haven.push")

KEY_FILE = "vapid-key.pem"
TTL_SECONDS = 24 * 60 * 60  # a notification older than a day is no longer news
ATTEMPTS = 4
BASE_DELAY = 1.0  # seconds; doubled after each retry
MAX_DELAY = 60.0
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


def _retry_after(value: str | None, fallback: float) -> float:
    if value and value.isdigit():
        return min(float(value), MAX_DELAY)
    return min(fallback, MAX_DELAY)


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


class PushSender:
    def __init__(
        self,
        db: Database,
        key: VapidKey,
        subject: str,
        services: PushServices,
        *,
        base_delay: float = BASE_DELAY,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.key = key
        self.subject = subject
        self.services = services
        self.base_delay = base_delay
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self.resolver: GuardedResolver | None = None
        self._pending: set[asyncio.Task[Any]] = set()
        self.sent = 0
        self.failed = 0

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
        for task in list(self._pending):
            task.cancel()
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self.resolver is not None:
            await self.resolver.close()
            self.resolver = None

    async def request_arrived(self, stored: StoredRequest) -> None:
        """The intake hook. Intake already runs it in a task of its own, after the
        acknowledgement; it is tracked here so that stopping can cancel it."""
        self._track(asyncio.current_task())
        await self.notify(stored.centre)

    def notify_soon(self, centre: str) -> None:
        """Tell a centre's devices in the background (a transfer, say)."""
        self._track(asyncio.create_task(self.notify(centre)))

    def _track(self, task: asyncio.Task[Any] | None) -> None:
        if task is not None:
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def notify(self, centre: str) -> None:
        try:
            subscriptions = await subscriptions_for(self.db, centre)
            await asyncio.gather(*(self._send(item, centre) for item in subscriptions))
        except Exception:
            logger.exception("push for %s failed", centre)

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

    async def _send(self, subscription: Subscription, centre: str) -> None:
        if not self.services.allows(subscription.endpoint):
            # Stored before the rules were this strict, or the operator has
            # since removed its origin from HAVEN_PUSH_SERVICES.
            logger.warning(
                "push subscription %d is not at an allowed push service: not sent",
                subscription.id,
            )
            self.failed += 1
            return
        delay = self.base_delay
        for attempt in range(1, ATTEMPTS + 1):
            try:
                status, retry_after = await self._post(subscription, centre)
            except aiohttp.ClientConnectorError as error:
                if isinstance(error.os_error, RefusedAddress):
                    logger.warning(
                        "push subscription %d resolves to a private address: not sent",
                        subscription.id,
                    )
                    self.failed += 1
                    return
                logger.info("push service unreachable (%s)", type(error).__name__)
                wait = delay
            except (aiohttp.ClientError, TimeoutError) as error:
                logger.info("push service unreachable (%s)", type(error).__name__)
                wait = delay
            else:
                if 200 <= status < 300:
                    self.sent += 1
                    return
                if status in (404, 410):
                    # The browser unsubscribed or the subscription expired.
                    await delete_subscription(self.db, subscription.id)
                    logger.info(
                        "push subscription %d is gone (%s): deleted", subscription.id, status
                    )
                    return
                if status != 429 and status < 500:
                    # A redirect lands here too: it is not followed.
                    logger.warning("push refused with %s; not retried", status)
                    self.failed += 1
                    return
                wait = _retry_after(retry_after, delay) if status == 429 else delay
            if attempt < ATTEMPTS:
                await self._sleep(wait)
                delay *= 2
        self.failed += 1
        logger.warning(
            "push to subscription %d failed after %d attempts", subscription.id, ATTEMPTS
        )
