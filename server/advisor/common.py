"""What every advisor route shares: the clock, the guard, forms.

The guard runs before any handler: a POST must come from this site's own
origin and carry the session's CSRF token (403 otherwise); without a live
session a page sends the browser to the sign-in form and the JSON API answers
401; a coordinators-only route answers 404 to anyone else.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from .. import haven
from ..bodies import last_values, parse_form, read_limited
from ..responses import NO_STORE
from ..storage.cases import Scope
from ..storage.requests import REFERENCE_ALPHABET
from ..workdays import BRUSSELS
from .render import AdvisorPages, advisor_language
from .sessions import CSRF_FIELD, CSRF_HEADER, Current, Sessions, same_origin

MAX_FORM = 16 * 1024
REFERENCE = re.compile(f"HV-[{REFERENCE_ALPHABET}]{{4}}-[{REFERENCE_ALPHABET}]{{4}}")
MAX_PAGE = 10_000

Handler = Callable[[Request, Current, dict[str, str]], Awaitable[Response]]


def now(request: Request) -> dt.datetime:
    return haven.of(request).clock()


def today(request: Request) -> dt.date:
    return now(request).astimezone(BRUSSELS).date()


def language(request: Request) -> str:
    return advisor_language(request.headers.get("accept-language"))


def pages(request: Request) -> AdvisorPages:
    return haven.of(request).desk.pages


def sessions(request: Request) -> Sessions:
    return haven.of(request).desk.sessions


def scope_of(current: Current) -> Scope:
    advisor = current.advisor
    return Scope(None if advisor.coordinator else advisor.centre)


def html(
    request: Request,
    template: str,
    *,
    status: int = 200,
    current: Current | None = None,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    body = pages(request).render(
        language(request), template, today=today(request), current=current, **values
    )
    return HTMLResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})


def error_page(
    request: Request,
    status: int,
    message: str,
    current: Current | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return html(
        request, "error.html", status=status, current=current, message=message, headers=headers
    )


def json_error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status, headers=NO_STORE)


async def read_form(request: Request) -> dict[str, str] | None:
    """A url-encoded form's fields (the last value of each), or None if unreadable."""
    body = await read_limited(request, MAX_FORM)
    if body is None:
        return None
    parsed = parse_form(body, max_fields=50)
    return None if parsed is None else last_values(parsed)


def page_number(value: str | None) -> int | None:
    """The page a listing's query asks for (1 when it names none), or None if it is no page."""
    if value is None or value == "":
        return 1
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        return None
    return int(value)


def guarded(
    *, api: bool = False, coordinator: bool = False
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler with the origin, session, role and CSRF checks."""

    def decorate(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            _ = pages(request).gettext(language(request))
            posting = request.method == "POST"
            if posting and not same_origin(request, haven.of(request).settings.base_url):
                message = _("This change was refused: it did not come from this site's own page.")
                return (
                    json_error(403, "forbidden", message)
                    if api
                    else error_page(request, 403, message)
                )
            current = await sessions(request).current(request, now(request))
            if current is None:
                if api:
                    return json_error(401, "unauthenticated", _("Please sign in first."))
                target = request.url.path
                if request.url.query and not posting:
                    target += "?" + request.url.query
                return RedirectResponse(
                    f"/advisor/login?next={quote(target, safe='/')}",
                    status_code=303,
                    headers=NO_STORE,
                )
            if coordinator and not current.advisor.coordinator:
                return (
                    json_error(404, "not_found", _("Not found."))
                    if api
                    else error_page(request, 404, _("This page does not exist."), current)
                )
            form: dict[str, str] = {}
            if posting:
                token = request.headers.get(CSRF_HEADER)
                if not api:
                    parsed = await read_form(request)
                    if parsed is None:
                        return error_page(request, 400, _("The form could not be read."), current)
                    form = parsed
                    token = form.get(CSRF_FIELD)
                if not sessions(request).csrf_ok(current, token):
                    message = _("This change was refused: the page was too old. Please try again.")
                    return (
                        json_error(403, "forbidden", message)
                        if api
                        else error_page(request, 403, message, current)
                    )
            return await handler(request, current, form)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return decorate
