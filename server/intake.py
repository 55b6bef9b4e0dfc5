"""Accepting a sealed help request, whichever way it arrived.

The JSON API (phones with JavaScript) and the plain form (without) both end
here: the envelope is stored once under its idempotency key, durably, and
only then acknowledged; whoever must hear of a new request is told after,
off the acknowledgement's path.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette

from .crypto import ENVELOPE_VERSION
from .storage import StoredRequest, store_request

logger = logging.getLogger("haven.intake")

NewRequestHook = Callable[[StoredRequest], Awaitable[None]]

# Background tasks must be referenced until they finish, or they may vanish.
_pending: set[asyncio.Task[Any]] = set()


async def accept_request(
    app: Starlette,
    *,
    idempotency_key: str,
    centre: str,
    language: str,
    envelope: bytes,
    received_at: dt.datetime,
) -> StoredRequest:
    stored = await store_request(
        app.state.db,
        idempotency_key=idempotency_key,
        centre=centre,
        language=language,
        envelope=envelope,
        envelope_version=ENVELOPE_VERSION,
        received_at=received_at,
    )
    hook: NewRequestHook | None = getattr(app.state, "on_new_request", None)
    if stored.created and hook is not None:
        task = asyncio.create_task(_notify(hook, stored))
        _pending.add(task)
        task.add_done_callback(_pending.discard)
    return stored


async def _notify(hook: NewRequestHook, stored: StoredRequest) -> None:
    try:
        await hook(stored)
    except Exception:
        # Never the request's content: only that telling someone failed.
        logger.exception("notifying about a new request for %s failed", stored.centre)
