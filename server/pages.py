"""Views for the people Haven serves: pages, the self-check, the offline shell."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from .content import PAGE_PATHS
from .i18n import LANGUAGES, negotiate
from .site import Site

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


async def root(request: Request) -> Response:
    code = negotiate(request.headers.get("accept-language"))
    return RedirectResponse(f"/{code}/", status_code=303, headers={"Vary": "Accept-Language"})


async def language_root(request: Request) -> Response:
    code = request.path_params["lang"]
    if code not in LANGUAGES:
        raise HTTPException(404)
    return RedirectResponse(f"/{code}/", status_code=301)


async def page(request: Request) -> Response:
    """Any pre-rendered page: its address is its key in the site's table."""
    representation = site(request).pages.get(request.url.path)
    if representation is None:
        raise HTTPException(404)
    return representation.respond(request)


async def check(request: Request) -> Response:
    """The self-check without JavaScript: answers are counted and forgotten."""
    if request.method != "POST":
        return await page(request)
    code = request.path_params["lang"]
    if code not in LANGUAGES:
        raise HTTPException(404)
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


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
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


def page_routes() -> list[str]:
    """Every address of a pre-rendered page, for the route table."""
    return sorted({f"/{{lang}}/{path}" for path in PAGE_PATHS.values()})
