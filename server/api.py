"""The JSON API: sealed help requests in, the inbox key and the API description out.

``POST /api/requests`` follows docs/envelope.md. The body is never logged nor
echoed back: error messages name fields, not what was in them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import haven, openapi
from .bodies import MAX_BODY, parse_json, read_limited
from .crypto import MISSING, MUST_BE_OBJECT, UNKNOWN_KEY, InboxKey, envelope_problems
from .i18n import LANGUAGES, negotiate, translations
from .intake import Accepted, Limited, Replayed, UnknownKey
from .responses import NO_STORE, Representation
from .security.clients import client_of
from .storage import StoredRequest
from .validation import CENTRES
from .workdays import format_day

IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{16,128}")
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Served as rendered at start, by the exact-address table as well as by these routes.
INBOX_KEY_URL = "/api/inbox-key"
OPENAPI_URL = "/api/openapi.json"

Gettext = Callable[[str], str]


def inbox_key_representation(inbox_key: InboxKey) -> Representation:
    body = json.dumps(inbox_key.public_document(), separators=(",", ":")).encode()
    return Representation(body, "application/json")


def openapi_representation(kids: Collection[str]) -> Representation:
    return Representation(json.dumps(openapi.document(kids), indent=1).encode(), "application/json")


def _error(
    status: int,
    error: str,
    message: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    content: dict[str, Any] = {"error": error, "message": message}
    if errors is not None:
        content["errors"] = errors
    return JSONResponse(content, status_code=status, headers={**NO_STORE, **(headers or {})})


def _field_errors(data: object, key: str | None, _: Gettext) -> list[dict[str, str]]:
    problems: list[tuple[str, str]] = []
    if key is None:
        problems.append((IDEMPOTENCY_HEADER, _("Please send an Idempotency-Key header.")))
    elif not IDEMPOTENCY_KEY.fullmatch(key):
        problems.append(
            (
                IDEMPOTENCY_HEADER,
                _(
                    "The Idempotency-Key header must be 16 to 128 letters, digits, "
                    "hyphens or underscores."
                ),
            )
        )
    if not isinstance(data, dict):
        problems.append(("body", _(MUST_BE_OBJECT)))
        return [{"field": field, "message": message} for field, message in problems]
    for name, choices in (("centre", CENTRES), ("lang", tuple(LANGUAGES))):
        if name not in data:
            problems.append((name, _(MISSING)))
        elif data[name] not in choices:
            problems.append((name, _("Please choose one of the options.")))
    if "envelope" not in data:
        problems.append(("envelope", _(MISSING)))
    else:
        # The envelope's messages are marked in crypto.py and translated here.
        problems.extend(
            (field, _(message)) for field, message in envelope_problems(data["envelope"])
        )
    return [{"field": field, "message": message} for field, message in problems]


def _acknowledge(stored: StoredRequest) -> JSONResponse:
    # Built from the stored row alone, so every replay gets the same bytes.
    language = LANGUAGES.get(stored.language, LANGUAGES["en"])
    body = {
        "reference": stored.reference,
        "contact_by": stored.due_on.isoformat(),
        "contact_by_text": format_day(stored.due_on, language.babel),
        "received_at": stored.received_at.astimezone(dt.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
    }
    return JSONResponse(body, status_code=201 if stored.created else 200, headers=NO_STORE)


async def create_request(request: Request) -> Response:
    code = negotiate(request.headers.get("accept-language"))
    _ = translations(code).gettext
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return _error(
            415, "unsupported_media_type", _("Please send the request as application/json.")
        )
    body = await read_limited(request, MAX_BODY)
    if body is None:
        return _error(413, "too_large", _("The request is too large."))
    parsed, data = parse_json(body)
    if not parsed:
        return _error(400, "malformed_json", _("The request could not be read as JSON."))
    lang = data.get("lang") if isinstance(data, dict) else None
    if isinstance(lang, str) and lang in LANGUAGES:
        code = lang
        _ = translations(code).gettext
    key = request.headers.get(IDEMPOTENCY_HEADER)
    errors = _field_errors(data, key, _)
    if errors:
        return _error(
            422, "invalid", _("Some parts of the request are missing or not valid."), errors=errors
        )
    assert isinstance(data, dict) and key is not None
    outcome = await haven.of(request).intake.submit(
        idempotency_key=key,
        centre=data["centre"],
        language=code,
        envelope=data["envelope"],
        client=client_of(request),
    )
    if isinstance(outcome, Accepted | Replayed):
        return _acknowledge(outcome.stored)
    if isinstance(outcome, UnknownKey):
        message = _(UNKNOWN_KEY)
        return _error(
            422,
            "unknown_key",
            message,
            errors=[{"field": "envelope.kid", "message": message}],
        )
    if isinstance(outcome, Limited):
        return _error(
            429,
            "rate_limited",
            _("Too many requests were sent from this connection. Please try again later."),
            headers={"Retry-After": str(outcome.retry_after)},
        )
    return _error(
        503,
        "unavailable",
        _("The request could not be saved just now. It will be sent again."),
        headers={"Retry-After": str(outcome.retry_after)},
    )


async def inbox_key(request: Request) -> Response:
    return haven.of(request).files.inbox_key.respond(request)


async def description(request: Request) -> Response:
    return haven.of(request).files.openapi.respond(request)


def routes() -> list[Route]:
    """The API's routes, mounted at ``/api``."""
    return [
        Route("/requests", create_request, methods=["POST"], name="api_requests"),
        Route(INBOX_KEY_URL.removeprefix("/api"), inbox_key, name="api_inbox_key"),
        Route(OPENAPI_URL.removeprefix("/api"), description, name="api_openapi"),
    ]
