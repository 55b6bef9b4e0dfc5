"""Views for the people Haven serves: pages, the self-check, the help form."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from . import haven
from .bodies import MAX_BODY, last_values, parse_form, read_limited
from .crypto import seal
from .forms import form_idempotency_key, form_nonce, set_form_nonce
from .i18n import LANGUAGES, negotiate
from .intake import UNAVAILABLE_RETRY_SECONDS, Accepted, Limited, Replayed
from .pages_table import View, page_url
from .responses import NO_STORE
from .security.clients import client_of
from .site import Site
from .validation import FIELDS, validate
from .workdays import format_day

# The self-check form is seven radio groups; anything longer is not ours.
MAX_CHECK_BODY = 4096


def site(request: Request) -> Site:
    return haven.of(request).site


def known_language(request: Request) -> str:
    """The language named in the address; 404 if Haven does not have it."""
    code = str(request.path_params["lang"])
    if code not in LANGUAGES:
        raise HTTPException(404)
    return code


def _in_browser_language(request: Request, key: str) -> Response:
    """A redirect to one page in the language the browser asks for."""
    code = negotiate(request.headers.get("accept-language"))
    return RedirectResponse(
        page_url(code, key), status_code=303, headers={"Vary": "Accept-Language"}
    )


async def root(request: Request) -> Response:
    return _in_browser_language(request, "home")


async def install_root(request: Request) -> Response:
    """/install: the disguised-install page, in the browser's language."""
    return _in_browser_language(request, "install")


async def language_root(request: Request) -> Response:
    code = known_language(request)
    return RedirectResponse(f"/{code}/", status_code=301)


async def page(request: Request) -> Response:
    """Any pre-rendered page: its address is its key in the site's table."""
    representation = site(request).pages.get(request.url.path)
    if representation is None:
        raise HTTPException(404)
    return representation.respond(request)


async def page_or_help_request(request: Request) -> Response:
    if request.method == "POST":
        return await help_request(request)
    return await page(request)


async def check(request: Request) -> Response:
    """The self-check without JavaScript: answers are counted and forgotten."""
    if request.method != "POST":
        return await page(request)
    code = known_language(request)
    current = site(request)
    _ = current.gettext(code)
    body = await _read_limited(request, MAX_CHECK_BODY)
    answers = _parse_answers(body, [qid for qid, _text in current.content.questions[code]])
    if answers is None:
        html = current.render_check(
            code, None, error=_("Please answer each question with yes or no, then try again.")
        )
        return HTMLResponse(html, status_code=400, headers=NO_STORE)
    yes = sum(answers.values())
    result = "result-likely" if yes >= current.content.threshold else "result-unlikely"
    return HTMLResponse(current.render_check(code, result), headers=NO_STORE)


# The view answering each kind of page of the table (server/pages_table.py).
VIEWS: dict[View, Callable[[Request], Awaitable[Response]]] = {
    View.PAGE: page,
    View.HELP: page_or_help_request,
    View.CHECK: check,
}


async def help_request(request: Request) -> Response:
    """The help form without JavaScript: validated, sealed on arrival, stored.

    The plaintext exists only in this function's memory; what is stored is the
    same sealed envelope a phone would have sent, through the same intake.
    """
    code = known_language(request)
    current = site(request)
    body = await _read_limited(request, MAX_BODY)
    parsed = parse_form(body)
    if parsed is None:
        return HTMLResponse(current.render_help(code), status_code=400, headers=NO_STORE)
    fields = last_values(parsed)
    clean, errors = validate(fields)
    # Only the form's own fields go back into the page, escaped by the template.
    values = {name: value for name, value in fields.items() if name in FIELDS}
    if errors:
        html = current.render_help(code, values, errors)
        return HTMLResponse(html, status_code=400, headers=NO_STORE)
    running = haven.of(request)
    intake = running.intake
    centre = clean["centre"]
    document = {"v": 1, "lang": code, "fields": clean}
    nonce, new_nonce = form_nonce(request)
    idempotency_key = form_idempotency_key(running.keys.form, nonce, document)
    document["writtenAt"] = intake.clock().isoformat()
    plaintext = json.dumps(document, ensure_ascii=False).encode("utf-8")
    envelope = seal(running.keys.inbox.public_raw, plaintext, centre, code)
    outcome = await intake.submit(
        idempotency_key=idempotency_key,
        centre=centre,
        language=code,
        envelope=envelope,
        client=client_of(request),
    )
    if isinstance(outcome, Accepted | Replayed):
        stored = outcome.stored
        html = current.render_sent(
            code, stored.reference, format_day(stored.due_on, LANGUAGES[code].babel)
        )
        response = HTMLResponse(
            html, status_code=201 if isinstance(outcome, Accepted) else 200, headers=NO_STORE
        )
        if new_nonce:
            set_form_nonce(request, response, nonce)
        return response
    # Not sent: the form comes back with everything the person wrote, and says why.
    _ = current.gettext(code)
    if isinstance(outcome, Limited):
        status, retry_after = 429, outcome.retry_after
        notice = _(
            "Many messages came from this connection. Please try again later, or call a centre."
        )
    else:
        # UnknownKey cannot happen here (the server sealed it); treated as unavailable.
        status, retry_after = 503, UNAVAILABLE_RETRY_SECONDS
        notice = _(
            "Your message could not be sent just now. Nothing is lost: please press Send "
            "again in a few minutes, or call a centre."
        )
    html = current.render_help(code, values, notice=notice)
    return HTMLResponse(
        html, status_code=status, headers={**NO_STORE, "Retry-After": str(retry_after)}
    )


async def _read_limited(request: Request, limit: int) -> bytes:
    body = await read_limited(request, limit)
    if body is None:
        raise HTTPException(413)
    return body


def _parse_answers(body: bytes, question_ids: list[str]) -> dict[str, bool] | None:
    """Map each question to True for yes; None if the form is not ours."""
    fields = parse_form(body)
    if fields is None:
        return None
    answers: dict[str, bool] = {}
    for qid in question_ids:
        values = fields.pop(f"q-{qid}", [])
        if len(values) > 1 or (values and values[0] not in {"yes", "no"}):
            return None
        answers[qid] = values == ["yes"]
    if fields:
        return None
    return answers


async def healthz(request: Request) -> Response:
    found = await haven.of(request).health.status()
    return JSONResponse({"status": found.status}, status_code=found.code, headers=NO_STORE)
