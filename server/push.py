"""Web push to advisors: VAPID keys, and content-free notifications.

A notification says only that something is new for a centre; the advisor
opens the dashboard to see what. Sending happens off the request's path:
a push service that is slow, down or refusing never delays or fails the
acknowledgement a phone is waiting for.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush_async

from .crypto import create_exclusively
from .security.files import require_private
from .storage import Database, StoredRequest
from .storage.casework import Subscription, delete_subscription, subscriptions_for

logger = logging.getLogger("haven.push")

KEY_FILE = "vapid-key.pem"
TTL_SECONDS = 24 * 60 * 60  # a notification older than a day is no longer news
ATTEMPTS = 4
BASE_DELAY = 1.0  # seconds; doubled after each retry
MAX_DELAY = 60.0
TIMEOUT = 10.0


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


def _retry_after(error: WebPushException, fallback: float) -> float:
    value = error.retry_after if error.response is not None else None
    if value and value.isdigit():
        return min(float(value), MAX_DELAY)
    return min(fallback, MAX_DELAY)


class PushSender:
    def __init__(
        self,
        db: Database,
        key: VapidKey,
        subject: str,
        *,
        base_delay: float = BASE_DELAY,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.key = key
        self.subject = subject
        self.base_delay = base_delay
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self._pending: set[asyncio.Task[Any]] = set()
        self.sent = 0
        self.failed = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=TIMEOUT), trust_env=False
        )

    async def stop(self) -> None:
        for task in list(self._pending):
            task.cancel()
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

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

    async def _send(self, subscription: Subscription, centre: str) -> None:
        info: dict[str, Any] = {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
        delay = self.base_delay
        for attempt in range(1, ATTEMPTS + 1):
            try:
                await webpush_async(
                    info,
                    data=payload(centre),
                    vapid_private_key=self.key.vapid,
                    # A new dict each time: the library fills in aud and exp.
                    vapid_claims={"sub": self.subject},
                    ttl=TTL_SECONDS,
                    # One waiting notification per centre is enough: the newer replaces it.
                    headers={"Urgency": "high", "Topic": f"inbox-{centre}"},
                    aiohttp_session=self._session,
                    timeout=TIMEOUT,
                )
                self.sent += 1
                return
            except WebPushException as error:
                status = error.status_code
                if status in (404, 410):
                    # The browser unsubscribed or the subscription expired.
                    await delete_subscription(self.db, subscription.id)
                    logger.info(
                        "push subscription %d is gone (%s): deleted", subscription.id, status
                    )
                    return
                if status is None or status == 429 or status >= 500:
                    wait = _retry_after(error, delay) if status == 429 else delay
                else:
                    logger.warning("push refused with %s; not retried", status)
                    self.failed += 1
                    return
            except (aiohttp.ClientError, TimeoutError) as error:
                logger.info("push service unreachable (%s)", type(error).__name__)
                wait = delay
            if attempt < ATTEMPTS:
                await self._sleep(wait)
                delay *= 2
        self.failed += 1
        logger.warning(
            "push to subscription %d failed after %d attempts", subscription.id, ATTEMPTS
        )
