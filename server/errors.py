"""How an error is answered: JSON to a program under an API, a page to a person elsewhere.

The app answers errors with :func:`as_page`; the API mounts (``/api`` and
``/advisor/api``) answer theirs with :func:`as_json` through
:func:`json_errors`. Either way the answer is in the person's language, is
never stored, and keeps of the error's headers only how to retry and what
would work.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from . import haven
from .i18n import language_of
from .responses import NO_STORE
from .site import Site

logger = logging.getLogger("haven.errors")

# Error codes of the JSON APIs, by status; anything else is "error".
JSON_ERRORS = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
# What an error may keep of its headers: how to retry, and what would work.
KEPT_HEADERS = ("allow", "retry-after")


def _status_and_headers(exc: Exception) -> tuple[int, dict[str, str]]:
    if not isinstance(exc, HTTPException):
        return 500, dict(NO_STORE)
    kept = {
        name: value for name, value in (exc.headers or {}).items() if name.lower() in KEPT_HEADERS
    }
    return exc.status_code, {**NO_STORE, **kept}


async def as_page(request: Request, exc: Exception) -> Response:
    """The error page, in the language of the address or of the browser."""
    status, headers = _status_and_headers(exc)
    html = haven.of(request).site.render_error(language_of(request), status)
    return HTMLResponse(html, status_code=status, headers=headers)


async def as_json(request: Request, exc: Exception) -> Response:
    """``{"error": code, "message": text}``: what a program can read, never a page."""
    status, headers = _status_and_headers(exc)
    if status == 500:
        # Answered here, so no server above sees it: it is logged here instead.
        logger.error(
            "Unexpected error answering %s %s", request.method, request.url.path, exc_info=exc
        )
    gettext = haven.of(request).site.gettext(language_of(request))
    _heading, message = Site.error_texts(gettext, status)
    return JSONResponse(
        {"error": JSON_ERRORS.get(status, "error"), "message": message},
        status_code=status,
        headers=headers,
    )


def json_errors() -> Middleware:
    """A mount's middleware answering every error of its routes as JSON."""
    return Middleware(ExceptionMiddleware, handlers={HTTPException: as_json, Exception: as_json})


def page_errors() -> Middleware:
    """A mount's middleware answering its routes' HTTP errors as pages, inside its own headers."""
    return Middleware(ExceptionMiddleware, handlers={HTTPException: as_page})
