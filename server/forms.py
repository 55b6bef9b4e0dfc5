"""Telling a resubmitted plain form from a second person's identical one.

Without JavaScript there is no outbox to hold an idempotency key, and the
prerendered form is the same bytes for everyone (it is cached), so it cannot
carry a token of its own. Instead, the first answer to a browser's form post
sets a short-lived cookie holding a random nonce; the request's idempotency
key is a keyed hash of that nonce and the form's content. A reload or a
Back-and-resubmit from the same browser carries the same nonce and content:
the same key, one request. Someone else who sends the same words has no such
cookie (or another one): another key, another request, and nothing learnt
about the first. The cookie says nothing: a random value, gone after an hour.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from .advisor.sessions import cookie_name, is_secure

FORM_COOKIE = "form"
FORM_COOKIE_SECONDS = 3600
_NONCE = re.compile(r"[A-Za-z0-9_-]{22}")


def form_nonce(request: Request) -> tuple[str, bool]:
    """This browser's form nonce, and whether it is new (its cookie must be set)."""
    value = request.cookies.get(cookie_name(request, FORM_COOKIE), "")
    if _NONCE.fullmatch(value):
        return value, False
    return secrets.token_urlsafe(16), True


def set_form_nonce(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(
        cookie_name(request, FORM_COOKIE),
        nonce,
        max_age=FORM_COOKIE_SECONDS,
        path="/",
        secure=is_secure(request),
        httponly=True,
        samesite="strict",
    )


def form_idempotency_key(key: bytes, nonce: str, document: Mapping[str, object]) -> str:
    """A keyed hash of the nonce and the content: the stored hash tells nothing."""
    canonical = json.dumps(document, sort_keys=True).encode("utf-8")
    return hmac.new(key, nonce.encode("ascii") + b"\n" + canonical, hashlib.sha256).hexdigest()
