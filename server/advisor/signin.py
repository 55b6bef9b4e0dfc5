"""Signing an advisor in and out, and the sign-in form's throttled and busy answers."""

from __future__ import annotations

import datetime as dt
import logging
import math
import re

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import haven
from ..responses import NO_STORE
from ..security.clients import client_of
from ..storage.advisors import Advisor, find_advisor, normalise_email, use_totp_step
from ..storage.audit import audit
from .common import error_page, guarded, html, language, now, pages, read_form, sessions
from .sessions import Current, may_sign_in, same_origin
from .throttle import Reservation, SignInBudgets
from .totp import TotpBox, accepted_step
from .verifier import RETRY_SECONDS, Verifier, VerifierBusy

logger = logging.getLogger("haven.advisor")

_SAFE_NEXT = re.compile(r"/advisor/[A-Za-z0-9/_\-]*(\?[A-Za-z0-9_\-=&]*)?")


def _next(value: str | None) -> str:
    return value if value and _SAFE_NEXT.fullmatch(value) else "/advisor/"


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
    if not same_origin(request, haven.of(request).settings.base_url):
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
    running = haven.of(request)
    budgets: SignInBudgets = running.desk.budgets
    account = normalise_email(email)
    # A browser that has signed in to this account before has a budget of its own.
    device = sessions(request).device_of(request, account)
    # Counted before the password is checked, so a burst of attempts sent at
    # once gets no more checks than the budget allows.
    try:
        reservation = await budgets.reserve(account, client_of(request), device)
        if not isinstance(reservation, Reservation):
            return _throttled(request, email, reservation)
        advisor = await find_advisor(running.db, email)
        verifier: Verifier = running.desk.verifier
        try:
            verified = await verifier.verify(advisor.password_hash if advisor else None, password)
        except VerifierBusy:
            await budgets.not_checked(reservation)
            return _busy(request, email)
        moment = now(request)
        if verified and advisor is not None and advisor.active and advisor.totp_secret is not None:
            verified = await _second_factor_ok(request, advisor, form.get("code", ""), moment)
        if not verified or advisor is None or not advisor.active:
            await audit(
                running.db,
                now=moment,
                advisor_id=advisor.id if advisor else None,
                action="login_failed",
            )
            # The same words whether the e-mail is unknown or the password wrong.
            return _login_form(
                request,
                status=400,
                error=_("The e-mail address, the password or the code is not right."),
                email=email,
            )
        await budgets.succeeded(reservation)
        response = RedirectResponse(_next(form.get("next")), status_code=303, headers=NO_STORE)
        await sessions(request).start(request, response, advisor, moment)
        sessions(request).remember_device(request, response, account)
        await audit(running.db, now=moment, advisor_id=advisor.id, action="login")
        return response
    except SQLAlchemyError as error:
        # The database is held up (a flood of sign-ins, a lock): the same answer
        # as a busy verifier, never an error page; the error's text is not logged.
        logger.warning("a sign-in could not reach the database: %s", type(error).__name__)
        return _busy(request, email)


async def _second_factor_ok(
    request: Request, advisor: Advisor, code: str, moment: dt.datetime
) -> bool:
    box: TotpBox = haven.of(request).desk.totp
    assert advisor.totp_secret is not None
    secret = box.open(advisor.totp_secret, advisor.email)
    if secret is None:
        return False
    step = accepted_step(secret, code, moment, advisor.totp_last_step)
    # The database has the last word: two sign-ins racing with one code, one wins.
    return step is not None and await use_totp_step(haven.of(request).db, advisor.id, step)


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
    await audit(haven.of(request).db, now=moment, advisor_id=current.advisor.id, action="logout")
    return response
