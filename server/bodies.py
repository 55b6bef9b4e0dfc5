"""Reading request bodies with a size limit, as JSON or as a form, for every route."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

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


def parse_form(body: bytes, max_fields: int = 100) -> dict[str, list[str]] | None:
    """An urlencoded form's fields with all their values; None if it is not one.

    Blank values are kept (an empty field is an answer too); more than
    ``max_fields`` fields, bytes that are not UTF-8 or a broken encoding make
    the whole body unreadable rather than half-read.
    """
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError):
        return None


def last_values(fields: dict[str, list[str]]) -> dict[str, str]:
    """One value per field: the last, as a browser's form would send only one."""
    return {name: values[-1] for name, values in fields.items()}
