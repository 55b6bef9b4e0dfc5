"""The inbox: its filters, one page of it for the dashboard and the JSON, and the page itself."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from .. import haven
from ..storage.audit import audit
from ..storage.cases import CaseRow, count_cases, list_cases
from ..validation import CENTRES
from .common import error_page, guarded, html, language, now, page_number, pages, scope_of
from .opening import open_case
from .sessions import Current

PER_PAGE = 50
STATUS_FILTERS = ("open", "new", "contacted", "closed", "all")


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
    page = page_number(query.get("page"))
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
    db = haven.of(request).db
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
    running = haven.of(request)
    rows = [(case, open_case(running.keys.inbox, case)) for case in found.cases]
    await audit(running.db, now=now(request), advisor_id=current.advisor.id, action="view_inbox")
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
