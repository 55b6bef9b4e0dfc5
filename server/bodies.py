"""Reading request bodies with a size limit, and JSON, for the API and the plain forms."""

from __future__ import annotations

import json

from starlette.requests import Request

# The largest help request: a sealed envelope of the biggest size bucket,
# base64url-encoded, fits well below this; so does any honest form post.
MAX_BODY = 64 * 1024


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to be over ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> tuple[bool, object]:
    """``(True, value)``, or ``(False, None)`` for a body that cannot be read as JSON."""
    try:
        return True, json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        # ValueError covers bad UTF-8 and bad syntax; deep nesting recurses,
        # and a few kilobytes of brackets are enough for that.
        return False, None
