"""One request: reading it for the page and the JSON, and the actions taken on it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import haven
from ..crypto import seal_note
from ..haven import Haven
from ..responses import NO_STORE
from ..storage.audit import audit
from ..storage.cases import (
    OUTCOMES,
    CaseClosed,
    CaseRow,
    Event,
    events_of,
    get_case,
    record_event,
)
from ..validation import CENTRE_IDS, CONTROL
from .common import REFERENCE, error_page, guarded, html, language, now, pages, scope_of
from .opening import Opened, open_case, open_note
from .sessions import Current

NOTE_MAX = 4000
ACTIONS = ("contact", "transfer", "close", "note")
ROUTABLE = CENTRE_IDS

# What became of an action: recorded, refused because the request is closed,
# or not done because the request is no longer in the advisor's scope.
Outcome = Literal["recorded", "closed", "gone"]


@dataclass(frozen=True)
class CaseView:
    """A request in the viewer's scope, opened, with its events and their notes opened."""

    case: CaseRow
    opened: Opened
    events: list[tuple[Event, str | None]]


async def read_case(running: Haven, current: Current, reference: str) -> CaseView | None:
    """The request the viewer asks for (the page's and the JSON's), or None if it is
    not in the viewer's scope or is no reference at all."""
    if not REFERENCE.fullmatch(reference):
        return None
    case = await get_case(running.db, scope_of(current), reference)
    if case is None:
        return None
    events = [
        (event, open_note(running.keys.inbox, event.note, case.reference))
        for event in await events_of(running.db, case.id)
    ]
    return CaseView(case, open_case(running.keys.inbox, case), events)


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


async def record_action(
    running: Haven, current: Current, case: CaseRow, action: str, form: dict[str, str]
) -> Outcome:
    """Take an action whose form :func:`action_errors` found nothing wrong with:
    seal its note to the inbox key, record the event, write the audit entry and,
    for a transfer, tell the receiving centre's devices."""
    note = _clean_note(form.get("note"))
    sealed = None
    if note:
        plaintext = json.dumps({"text": note}, ensure_ascii=False).encode("utf-8")
        sealed = json.dumps(
            seal_note(running.keys.inbox.public_raw, plaintext, case.reference),
            separators=(",", ":"),
        ).encode("ascii")
    to_centre = form.get("to_centre") if action == "transfer" else None
    outcome = form.get("outcome") if action == "close" else None
    moment = running.clock()
    try:
        updated = await record_event(
            running.db,
            scope_of(current),
            case.reference,
            advisor_id=current.advisor.id,
            kind=action,
            now=moment,
            note=sealed,
            to_centre=to_centre,
            outcome=outcome,
        )
    except CaseClosed:
        return "closed"
    if updated is None:
        return "gone"
    await audit(
        running.db,
        now=moment,
        advisor_id=current.advisor.id,
        action=action,
        reference=case.reference,
        detail=f"{case.centre}->{to_centre}" if to_centre else outcome,
    )
    if to_centre is not None:
        running.push.queue.notify_soon(to_centre)
    return "recorded"


async def _request_page(
    request: Request,
    current: Current,
    reference: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    running = haven.of(request)
    found = await read_case(running, current, reference)
    if found is None:
        return _not_found(request, current)
    await audit(
        running.db,
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
        case=found.case,
        opened=found.opened,
        events=found.events,
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
    return await _request_page(request, current, str(request.path_params["reference"]))


@guarded()
async def act(request: Request, current: Current, form: dict[str, str]) -> Response:
    """Record contact, transfer, close or add a note."""
    reference = str(request.path_params["reference"])
    action = str(request.path_params["action"])
    if not REFERENCE.fullmatch(reference) or action not in ACTIONS:
        return _not_found(request, current)
    case = await get_case(haven.of(request).db, scope_of(current), reference)
    if case is None:
        return _not_found(request, current)
    errors = action_errors(request, action, form, case.centre)
    if errors:
        values = {name: form.get(name, "") for name in ("note", "to_centre", "outcome")}
        values["action"] = action
        return await _request_page(
            request, current, reference, status=400, errors=errors, values=values
        )
    outcome = await record_action(haven.of(request), current, case, action, form)
    if outcome == "closed":
        _ = pages(request).gettext(language(request))
        return await _request_page(
            request, current, reference, status=409, errors={"form": _("This request is closed.")}
        )
    if outcome == "gone":
        return _not_found(request, current)
    if action == "transfer" and scope_of(current).centre is not None:
        # No longer in this advisor's inbox.
        return RedirectResponse("/advisor/?done=transfer", status_code=303, headers=NO_STORE)
    return RedirectResponse(
        f"/advisor/requests/{reference}?done={action}", status_code=303, headers=NO_STORE
    )
