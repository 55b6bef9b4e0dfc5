"""The advisors' pages: sign-in, the inbox, a request and its actions, audit, statistics."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..crypto import seal_note
from ..security.ratelimit import client_of
from ..storage.advisors import Advisor, find_advisor, normalise_email, use_totp_step
from ..storage.casework import (
    OUTCOMES,
    CaseClosed,
    CaseRow,
    audit,
    count_audit,
    count_cases,
    events_of,
    get_case,
    list_cases,
    read_audit,
    record_event,
)
from ..validation import CENTRES, CONTROL
from . import stats as statistics
from .common import (
    NO_STORE,
    REFERENCE,
    error_page,
    guarded,
    html,
    language,
    now,
    pages,
    read_form,
    scope_of,
    sessions,
)
from .opening import open_case, open_note
from .sessions import Current, may_sign_in, same_origin
from .throttle import Reservation, SignInBudgets
from .totp import TotpBox, accepted_step
from .verifier import RETRY_SECONDS, Verifier, VerifierBusy

PER_PAGE = 50
MAX_PAGE = 10_000
NOTE_MAX = 4000
STATUS_FILTERS = ("open", "new", "contacted", "closed", "all")
ACTIONS = ("contact", "transfer", "close", "note")
ROUTABLE = tuple(centre for centre in CENTRES if centre != "unknown")
_SAFE_NEXT = re.compile(r"/advisor/[A-Za-z0-9/_\-]*(\?[A-Za-z0-9_\-=&]*)?")


def _next(value: str | None) -> str:
    return value if value and _SAFE_NEXT.fullmatch(value) else "/advisor/"


# --- signing in and out ----------------------------------------------------------


def _login_form(
    request: Request, *, status: int = 200, error: str | None = None, email: str = ""
) -> Response:
    manager = sessions(request)
    nonce, new = manager.login_nonce(request)
    response = html(
        request,
        "login.html",
        status=status,
        error=error,
        email=email,
        csrf_token=manager.login_token(nonce),
        next=_next(request.query_params.get("next")),
        signed_out=request.query_params.get("bye") == "1",
        insecure=False,
    )
    if new:
        manager.set_login_cookie(request, response, nonce)
    return response


async def login(request: Request) -> Response:
    _ = pages(request).gettext(language(request))
    if not may_sign_in(request):
        # Over plain HTTP a password and a session cookie could be read on the way.
        return html(
            request,
            "login.html",
            status=403 if request.method == "POST" else 200,
            insecure=True,
            error=None,
            email="",
            csrf_token="",
            next="/advisor/",
            signed_out=False,
        )
    if request.method != "POST":
        if await sessions(request).current(request, now(request)) is not None:
            return RedirectResponse("/advisor/", status_code=303, headers=NO_STORE)
        return _login_form(request)
    if not same_origin(request, request.app.state.settings.base_url):
        return error_page(
            request, 403, _("This sign-in was refused: it did not come from this site's own page.")
        )
    form = await read_form(request)
    if form is None:
        return _login_form(
            request, status=400, error=_("The form could not be read. Please try again.")
        )
    if not sessions(request).login_token_ok(request, form.get("csrf")):
        return error_page(
            request,
            403,
            _("This sign-in was refused: the page was too old. Please reload it and try again."),
        )
    email = form.get("email", "").strip()[:320]
    password = form.get("password", "")
    if not email or not password:
        return _login_form(
            request,
            status=400,
            error=_("Please enter your e-mail address and your password."),
            email=email,
        )
    state = request.app.state
    budgets: SignInBudgets = state.login_budgets
    account = normalise_email(email)
    # A browser that has signed in to this account before has a budget of its own.
    device = sessions(request).device_of(request, account)
    # Counted before the password is checked, so a burst of attempts sent at
    # once gets no more checks than the budget allows.
    reservation = budgets.reserve(account, client_of(request), device)
    if not isinstance(reservation, Reservation):
        return _throttled(request, email, reservation)
    advisor = await find_advisor(state.db, email)
    verifier: Verifier = state.verifier
    try:
        verified = await verifier.verify(advisor.password_hash if advisor else None, password)
    except VerifierBusy:
        budgets.not_checked(reservation)
        return _busy(request, email)
    moment = now(request)
    if verified and advisor is not None and advisor.active and advisor.totp_secret is not None:
        verified = await _second_factor_ok(request, advisor, form.get("code", ""), moment)
    if not verified or advisor is None or not advisor.active:
        await audit(
            state.db, now=moment, advisor_id=advisor.id if advisor else None, action="login_failed"
        )
        # The same words whether the e-mail is unknown or the password wrong.
        return _login_form(
            request,
            status=400,
            error=_("The e-mail address, the password or the code is not right."),
            email=email,
        )
    budgets.succeeded(reservation)
    response = RedirectResponse(_next(form.get("next")), status_code=303, headers=NO_STORE)
    await sessions(request).start(request, response, advisor, moment)
    sessions(request).remember_device(request, response, account)
    await audit(state.db, now=moment, advisor_id=advisor.id, action="login")
    return response


async def _second_factor_ok(
    request: Request, advisor: Advisor, code: str, moment: dt.datetime
) -> bool:
    box: TotpBox = request.app.state.totp_box
    assert advisor.totp_secret is not None
    secret = box.open(advisor.totp_secret, advisor.email)
    if secret is None:
        return False
    step = accepted_step(secret, code, moment, advisor.totp_last_step)
    # The database has the last word: two sign-ins racing with one code, one wins.
    return step is not None and await use_totp_step(request.app.state.db, advisor.id, step)


def _throttled(request: Request, email: str, wait: float) -> Response:
    seconds = max(1, math.ceil(wait))
    minutes = -(-seconds // 60)
    ngettext = pages(request).ngettext(language(request))
    text = ngettext(
        "Too many attempts. Please wait %(num)d minute and try again.",
        "Too many attempts. Please wait %(num)d minutes and try again.",
        minutes,
    ) % {"num": minutes}
    response = _login_form(request, status=429, error=text, email=email)
    response.headers["Retry-After"] = str(seconds)
    return response


def _busy(request: Request, email: str) -> Response:
    _ = pages(request).gettext(language(request))
    text = _("Too many sign-ins at once. Please wait a few seconds and try again.")
    response = _login_form(request, status=503, error=text, email=email)
    response.headers["Retry-After"] = str(RETRY_SECONDS)
    return response


@guarded()
async def logout(request: Request, current: Current, form: dict[str, str]) -> Response:
    moment = now(request)
    response = RedirectResponse("/advisor/login?bye=1", status_code=303, headers=NO_STORE)
    await sessions(request).end(request, response, moment)
    await audit(request.app.state.db, now=moment, advisor_id=current.advisor.id, action="logout")
    return response


# --- the inbox -------------------------------------------------------------------


def _page_number(value: str | None) -> int | None:
    if value is None or value == "":
        return 1
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        return None
    return int(value)


def inbox_filters(request: Request, current: Current) -> tuple[str, str | None, int] | str:
    """(status, centre, page) from the query, or the text of what is wrong with it."""
    _ = pages(request).gettext(language(request))
    query = request.query_params
    status = query.get("status") or "open"
    if status not in STATUS_FILTERS:
        return _("There is no such status filter.")
    centre = query.get("centre") or None
    if centre is not None and (not current.advisor.coordinator or centre not in CENTRES):
        return _("There is no such centre filter.")
    page = _page_number(query.get("page"))
    if page is None:
        return _("There is no such page number.")
    return status, centre, page


@dataclass(frozen=True)
class InboxPage:
    """One page of a viewer's inbox, as the query asked for it."""

    status: str
    centre: str | None
    page: int
    cases: list[CaseRow]
    counts: dict[str, int]
    has_next: bool


async def read_inbox(request: Request, current: Current) -> InboxPage | str:
    """The page of the inbox the query asks for (the dashboard's and the JSON's),
    or the text of what is wrong with the query."""
    filters = inbox_filters(request, current)
    if isinstance(filters, str):
        return filters
    status, centre, page = filters
    db = request.app.state.db
    scope = scope_of(current)
    cases = await list_cases(
        db,
        scope,
        status=None if status == "all" else status,
        centre=centre,
        limit=PER_PAGE + 1,  # one more, to know whether there is a next page
        offset=(page - 1) * PER_PAGE,
    )
    counts = await count_cases(db, scope, centre=centre)
    return InboxPage(status, centre, page, cases[:PER_PAGE], counts, len(cases) > PER_PAGE)


@guarded()
async def inbox(request: Request, current: Current, form: dict[str, str]) -> Response:
    found = await read_inbox(request, current)
    if isinstance(found, str):
        return error_page(request, 400, found, current)
    state = request.app.state
    rows = [(case, open_case(state.inbox_key, case)) for case in found.cases]
    await audit(state.db, now=now(request), advisor_id=current.advisor.id, action="view_inbox")
    return html(
        request,
        "inbox.html",
        current=current,
        rows=rows,
        counts=found.counts,
        filter_status=found.status,
        centre=found.centre,
        page=found.page,
        has_next=found.has_next,
        done=request.query_params.get("done"),
    )


# --- one request -----------------------------------------------------------------


async def _request_page(
    request: Request,
    current: Current,
    reference: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    state = request.app.state
    case = await get_case(state.db, scope_of(current), reference)
    if case is None:
        return _not_found(request, current)
    opened = open_case(state.inbox_key, case)
    events = [
        (event, open_note(state.inbox_key, event.note, case.reference))
        for event in await events_of(state.db, case.id)
    ]
    await audit(
        state.db,
        now=now(request),
        advisor_id=current.advisor.id,
        action="view_request",
        reference=reference,
    )
    return html(
        request,
        "request.html",
        status=status,
        current=current,
        case=case,
        opened=opened,
        events=events,
        questions=pages(request).questions(language(request)),
        outcomes=OUTCOMES,
        routable=ROUTABLE,
        errors=errors or {},
        values=values or {},
        done=request.query_params.get("done") if status == 200 else None,
    )


def _not_found(request: Request, current: Current) -> Response:
    _ = pages(request).gettext(language(request))
    return error_page(request, 404, _("There is no such request in your inbox."), current)


@guarded()
async def request_view(request: Request, current: Current, form: dict[str, str]) -> Response:
    reference = str(request.path_params["reference"])
    if not REFERENCE.fullmatch(reference):
        return _not_found(request, current)
    return await _request_page(request, current, reference)


def _clean_note(value: str | None) -> str:
    return (value or "").replace("\r\n", "\n").strip()


def action_errors(
    request: Request, action: str, form: dict[str, str], centre: str
) -> dict[str, str]:
    """What is wrong with an action's form, by field, in the advisor's language."""
    _ = pages(request).gettext(language(request))
    errors: dict[str, str] = {}
    note = _clean_note(form.get("note"))
    if len(note) > NOTE_MAX:
        errors["note"] = _("Please keep the note to %(max)d characters or fewer.") % {
            "max": NOTE_MAX
        }
    elif re.search(CONTROL, note.replace("\t", " ")):
        errors["note"] = _("Please remove the special characters from the note.")
    elif action in ("note", "transfer") and not note:
        errors["note"] = (
            _("Please say why it goes to the other centre.")
            if action == "transfer"
            else _("Please write the note.")
        )
    if action == "transfer":
        target = form.get("to_centre", "")
        if target not in ROUTABLE:
            errors["to_centre"] = _("Please choose the centre it should go to.")
        elif target == centre:
            errors["to_centre"] = _("It is already with this centre; please choose another.")
    if action == "close" and form.get("outcome", "") not in OUTCOMES:
        errors["outcome"] = _("Please choose how it ended.")
    return errors


@guarded()
async def act(request: Request, current: Current, form: dict[str, str]) -> Response:
    """Record contact, transfer, close or add a note."""
    reference = str(request.path_params["reference"])
    action = str(request.path_params["action"])
    if not REFERENCE.fullmatch(reference) or action not in ACTIONS:
        return _not_found(request, current)
    state = request.app.state
    scope = scope_of(current)
    case = await get_case(state.db, scope, reference)
    if case is None:
        return _not_found(request, current)
    errors = action_errors(request, action, form, case.centre)
    if errors:
        values = {name: form.get(name, "") for name in ("note", "to_centre", "outcome")}
        values["action"] = action
        return await _request_page(
            request, current, reference, status=400, errors=errors, values=values
        )
    note = _clean_note(form.get("note"))
    sealed = None
    if note:
        plaintext = json.dumps({"text": note}, ensure_ascii=False).encode("utf-8")
        sealed = json.dumps(
            seal_note(state.inbox_key.public_raw, plaintext, reference), separators=(",", ":")
        ).encode("ascii")
    to_centre = form.get("to_centre") if action == "transfer" else None
    outcome = form.get("outcome") if action == "close" else None
    moment = now(request)
    try:
        updated = await record_event(
            state.db,
            scope,
            reference,
            advisor_id=current.advisor.id,
            kind=action,
            now=moment,
            note=sealed,
            to_centre=to_centre,
            outcome=outcome,
        )
    except CaseClosed:
        _ = pages(request).gettext(language(request))
        return await _request_page(
            request, current, reference, status=409, errors={"form": _("This request is closed.")}
        )
    if updated is None:
        return _not_found(request, current)
    detail = f"{case.centre}->{to_centre}" if to_centre else outcome
    await audit(
        state.db,
        now=moment,
        advisor_id=current.advisor.id,
        action=action,
        reference=reference,
        detail=detail,
    )
    if to_centre is not None:
        state.push_sender.notify_soon(to_centre)
        if scope.centre is not None:
            # No longer in this advisor's inbox.
            return RedirectResponse("/advisor/?done=transfer", status_code=303, headers=NO_STORE)
    return RedirectResponse(
        f"/advisor/requests/{reference}?done={action}", status_code=303, headers=NO_STORE
    )


# --- for coordinators ------------------------------------------------------------

AUDIT_PER_PAGE = 100


@guarded(coordinator=True)
async def audit_view(request: Request, current: Current, form: dict[str, str]) -> Response:
    page = _page_number(request.query_params.get("page"))
    if page is None:
        _ = pages(request).gettext(language(request))
        return error_page(request, 400, _("There is no such page number."), current)
    state = request.app.state
    await audit(state.db, now=now(request), advisor_id=current.advisor.id, action="view_audit")
    entries = await read_audit(state.db, limit=AUDIT_PER_PAGE, offset=(page - 1) * AUDIT_PER_PAGE)
    total = await count_audit(state.db)
    return html(
        request,
        "audit.html",
        current=current,
        entries=entries,
        page=page,
        has_next=page * AUDIT_PER_PAGE < total,
    )


@guarded(coordinator=True)
async def stats_view(request: Request, current: Current, form: dict[str, str]) -> Response:
    state = request.app.state
    report = await statistics.report(state.db, now(request))
    await audit(state.db, now=now(request), advisor_id=current.advisor.id, action="view_stats")
    names = {centre: pages(request).centre_name(language(request), centre) for centre in CENTRES}
    return html(
        request,
        "stats.html",
        current=current,
        report=report,
        chart=statistics.chart(report, names, language(request)),
        names=names,
    )
