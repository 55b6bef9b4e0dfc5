"""Accepting a sealed help request, whichever way it arrived: one policy.

The JSON API (phones with JavaScript) and the plain form (without) both hand
their envelope to :class:`Intake`, which decides alone: an envelope sealed
to a key this server does not hold is refused (the phone keeps it and tells
the person); a client over its limit is refused unless the request is one
already stored (a replay always hears its acknowledgement); a storage failure
is "unavailable, try again", never an error page or a lost request. What is
accepted is stored once under its idempotency key, durably, and only then
acknowledged; whoever must hear of a new request is told after, off the
acknowledgement's path. The front doors only translate the outcome.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .crypto import ENVELOPE_VERSION
from .security.ratelimit import RateLimiter
from .storage import Database, StoredRequest, find_request, store_request
from .storage.keys import is_recorded_inbox_key
from .storage.requests import Refused

logger = logging.getLogger("haven.intake")

NewRequestHook = Callable[[StoredRequest], Awaitable[None]]
# How long a phone (or a person at the form) should wait when storage is down.
UNAVAILABLE_RETRY_SECONDS = 30


@dataclass(frozen=True)
class Accepted:
    """Stored now, for the first time."""

    stored: StoredRequest


@dataclass(frozen=True)
class Replayed:
    """Stored before under the same idempotency key: the same acknowledgement again."""

    stored: StoredRequest


@dataclass(frozen=True)
class Limited:
    """Too many new requests from this client; try again after ``retry_after`` seconds."""

    retry_after: int


@dataclass(frozen=True)
class UnknownKey:
    """Sealed to an inbox key this server does not hold: it could never be opened."""


@dataclass(frozen=True)
class Unavailable:
    """Storage failed; nothing was stored. Try again after ``retry_after`` seconds."""

    retry_after: int = UNAVAILABLE_RETRY_SECONDS


Outcome = Accepted | Replayed | Limited | UnknownKey | Unavailable


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Intake:
    """The one way a help request gets in. Built once, in ``create_app``."""

    def __init__(
        self,
        db: Database,
        limiter: RateLimiter,
        kids: Collection[str],
        *,
        notify: NewRequestHook | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.db = db
        self.limiter = limiter
        self.kids = frozenset(kids)
        self.notify = notify
        self.clock = clock
        # Background tasks must be referenced until they finish, or they may vanish.
        self._pending: set[asyncio.Task[Any]] = set()

    async def submit(
        self,
        *,
        idempotency_key: str,
        centre: str,
        language: str,
        envelope: Mapping[str, object],
        client: str | None,
    ) -> Outcome:
        """Decide on one sealed request; ``envelope`` has passed ``envelope_problems``."""
        try:
            if envelope.get("kid") not in self.kids:
                stored = await find_request(self.db, idempotency_key)
                if stored is not None:
                    return Replayed(stored)
                if await is_recorded_inbox_key(self.db, str(envelope.get("kid"))):
                    # Another instance rotated the inbox key and this one was
                    # not restarted: the phone must try again, not give up.
                    logger.error(
                        "an envelope is sealed to inbox key %s, which the database records "
                        "but this instance does not hold: restart it after a key rotation",
                        envelope.get("kid"),
                    )
                    return Unavailable()
                return UnknownKey()
            now = self.limiter.clock()
            result = await store_request(
                self.db,
                idempotency_key=idempotency_key,
                centre=centre,
                language=language,
                # A canonical copy of the checked envelope: the same fields and
                # values as sent, nothing added.
                envelope=json.dumps(envelope, separators=(",", ":")).encode(),
                envelope_version=ENVELOPE_VERSION,
                received_at=self.clock(),
                # Counted in the storing transaction, and only if it is new: a
                # replay never counts, and nothing stored is nothing counted.
                charge=lambda connection: self.limiter.hit_in(connection, client, now),
                give_back=lambda connection: self.limiter.refund_in(connection, client, now),
                charge_order=self.limiter.digests(client, now)[-1],
            )
        except Exception as error:
            # The error's text can quote the row: log its kind only.
            logger.error("could not store a help request: %s", type(error).__name__)
            return Unavailable()
        if isinstance(result, Refused):
            return Limited(max(1, math.ceil(result.wait)))
        if not result.created:
            return Replayed(result)
        if self.notify is not None:
            task = asyncio.create_task(self._notify(self.notify, result))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        return Accepted(result)

    @staticmethod
    async def _notify(hook: NewRequestHook, stored: StoredRequest) -> None:
        try:
            await hook(stored)
        except Exception:
            # Never the request's content: only that telling someone failed.
            logger.exception("notifying about a new request for %s failed", stored.centre)
