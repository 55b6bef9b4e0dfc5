"""The coordinators' pages: the audit log and the statistics."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .. import haven
from ..storage.audit import audit, count_audit, read_audit
from ..validation import CENTRES
from . import stats as statistics
from .common import error_page, guarded, html, language, now, page_number, pages
from .sessions import Current

AUDIT_PER_PAGE = 100


@guarded(coordinator=True)
async def audit_view(request: Request, current: Current, form: dict[str, str]) -> Response:
    page = page_number(request.query_params.get("page"))
    if page is None:
        _ = pages(request).gettext(language(request))
        return error_page(request, 400, _("There is no such page number."), current)
    running = haven.of(request)
    await audit(running.db, now=now(request), advisor_id=current.advisor.id, action="view_audit")
    entries = await read_audit(running.db, limit=AUDIT_PER_PAGE, offset=(page - 1) * AUDIT_PER_PAGE)
    total = await count_audit(running.db)
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
    running = haven.of(request)
    report = await statistics.report(running.db, now(request))
    await audit(running.db, now=now(request), advisor_id=current.advisor.id, action="view_stats")
    names = {centre: pages(request).centre_name(language(request), centre) for centre in CENTRES}
    return html(
        request,
        "stats.html",
        current=current,
        report=report,
        chart=statistics.chart(report, names, language(request)),
        names=names,
    )
