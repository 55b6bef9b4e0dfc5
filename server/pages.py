"""Views for the people Haven serves: pages, the self-check, the help form."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from .bodies import MAX_BODY, read_limited
from .content import page_url
from .crypto import seal
from .i18n import LANGUAGES, negotiate
from .intake import accept_request
from .security.ratelimit import client_of
from .site import Site
from .validation import FIELDS, validate
from .workdays import format_day

# The self-check form is seven radio groups; anything longer is not ours.
MAX_CHECK_BODY = 4096
NO_STORE = {"Cache-Control": "no-store"}


def site(request: Request) -> Site:
    value: Site = request.app.state.site
    return value


def language_of(request: Request) -> str:
    """The language of the address if it names one, else the browser's choice."""
    code = request.path_params.get("lang") or request.url.path.split("/")[1]
    if code in LANGUAGES:
        return str(code)
    return negotiate(request.headers.get("accept-language"))


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


async def help_request(request: Request) -> Response:
    """The help form without JavaScript: validated, sealed on arrival, stored.

    The plaintext exists only in this function's memory; what is stored is the
    same sealed envelope a phone would have sent.
    """
    code = known_language(request)
    current = site(request)
    _ = current.gettext(code)
    body = await _read_limited(request, MAX_BODY)
    fields = _parse_form(body)
    if fields is None:
        return HTMLResponse(current.render_help(code), status_code=400, headers=NO_STORE)
    clean, errors = validate(fields)
    if errors:
        # Only the form's own fields go back into the page, escaped by the template.
        values = {name: value for name, value in fields.items() if name in FIELDS}
        html = current.render_help(code, values, errors)
        return HTMLResponse(html, status_code=400, headers=NO_STORE)
    state = request.app.state
    retry_after = state.rate_limiter.hit(client_of(request))
    if retry_after is not None:
        return HTMLResponse(
            current.render_error(code, 429),
            status_code=429,
            headers={**NO_STORE, "Retry-After": str(max(1, round(retry_after)))},
        )
    centre = clean["centre"]
    document = {"v": 1, "lang": code, "fields": clean}
    # A resubmitted form (Back, reload) is the same request: the key is a
    # keyed hash of its content with a key that lives only in memory, so the
    # stored hash tells nothing about what was written.
    canonical = json.dumps(document, sort_keys=True).encode("utf-8")
    idempotency_key = hmac.new(state.form_key, canonical, hashlib.sha256).hexdigest()
    now: dt.datetime = state.clock()
    document["writtenAt"] = now.isoformat()
    plaintext = json.dumps(document, ensure_ascii=False).encode("utf-8")
    envelope = seal(state.inbox_key.public_raw, plaintext, centre, code)
    stored = await accept_request(
        request.app,
        idempotency_key=idempotency_key,
        centre=centre,
        language=code,
        envelope=json.dumps(envelope).encode("utf-8"),
        received_at=now,
    )
    html = current.render_sent(
        code, stored.reference, format_day(stored.due_on, LANGUAGES[code].babel)
    )
    return HTMLResponse(html, status_code=201 if stored.created else 200, headers=NO_STORE)


def _parse_form(body: bytes) -> dict[str, str] | None:
    """An urlencoded form as one value per name; None if it is not one."""
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        return None
    return {name: values[-1] for name, values in parsed.items()}


async def _read_limited(request: Request, limit: int) -> bytes:
    body = await read_limited(request, limit)
    if body is None:
        raise HTTPException(413)
    return body


def _parse_answers(body: bytes, question_ids: list[str]) -> dict[str, bool] | None:
    """Map each question to True for yes; None if the form is not ours."""
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
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
    return JSONResponse({"status": "ok"}, headers=NO_STORE)
