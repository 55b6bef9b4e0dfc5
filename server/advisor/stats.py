"""Coordinators' statistics, and their chart drawn on the server as SVG.

Only routing columns and times are read; no envelope is opened. The chart is
plain SVG inside the page (no script, no chart library in the browser), with
a table of the same figures beside it for screen readers.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field

from babel.dates import format_date
from markupsafe import Markup, escape

from ..i18n import LANGUAGES
from ..storage import Database
from ..storage.cases import Scope, timings_since
from ..validation import CENTRE_IDS, CENTRES, UNKNOWN_CENTRE
from ..workdays import BRUSSELS

WEEKS = 12
# The centres' colours, in the order of content/centres.yaml (repeated past the
# third); "don't know" is grey.
PALETTE = ("#0b6e69", "#8a4baf", "#c2571a")
COLOURS = {
    **{centre: PALETTE[index % len(PALETTE)] for index, centre in enumerate(CENTRE_IDS)},
    UNKNOWN_CENTRE: "#6b6b6b",
}


@dataclass
class CentreFigures:
    received: int = 0
    due: int = 0  # requests whose contact-by day has come
    on_time: int = 0  # of those, contacted on or before that day
    hours_to_contact: list[float] = field(default_factory=list)

    @property
    def share_on_time(self) -> float | None:
        return None if self.due == 0 else self.on_time / self.due

    @property
    def median_hours(self) -> float | None:
        return statistics.median(self.hours_to_contact) if self.hours_to_contact else None


@dataclass
class Report:
    weeks: list[dt.date]  # the Monday of each week, oldest first
    per_week: dict[dt.date, dict[str, int]]
    centres: dict[str, CentreFigures]
    total: CentreFigures


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


async def report(db: Database, now: dt.datetime) -> Report:
    today = now.astimezone(BRUSSELS).date()
    first = _monday(today) - dt.timedelta(weeks=WEEKS - 1)
    weeks = [first + dt.timedelta(weeks=index) for index in range(WEEKS)]
    since = dt.datetime.combine(first, dt.time(), tzinfo=BRUSSELS)
    per_week = {week: dict.fromkeys(CENTRES, 0) for week in weeks}
    centres = {centre: CentreFigures() for centre in CENTRES}
    total = CentreFigures()
    for centre, received_at, due_on, first_contact_at in await timings_since(
        db, Scope(None), since
    ):
        week = _monday(received_at.astimezone(BRUSSELS).date())
        if week in per_week and centre in per_week[week]:
            per_week[week][centre] += 1
        for figures in (centres.get(centre), total):
            if figures is None:
                continue
            figures.received += 1
            if first_contact_at is not None:
                hours = (first_contact_at - received_at).total_seconds() / 3600
                figures.hours_to_contact.append(hours)
            if due_on <= today:
                figures.due += 1
                if (
                    first_contact_at is not None
                    and first_contact_at.astimezone(BRUSSELS).date() <= due_on
                ):
                    figures.on_time += 1
    return Report(weeks, per_week, centres, total)


def chart(report: Report, names: dict[str, str], lang: str) -> Markup:
    """A grouped bar chart: requests per week, one bar per centre."""
    width, height = 760, 300
    left, right, top, bottom = 44, 12, 16, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max([1, *(count for week in report.per_week.values() for count in week.values())])
    step = max(1, -(-highest // 5))
    scale_top = step * -(-highest // step)
    group_w = plot_w / len(report.weeks)
    bar_w = (group_w - 6) / len(CENTRES)
    locale = LANGUAGES[lang].babel
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in range(0, scale_top + 1, step):
        y = top + plot_h - plot_h * tick / scale_top
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d6d3cc"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{tick}</text>'
        )
    for index, week in enumerate(report.weeks):
        x0 = left + index * group_w + 3
        for offset, centre in enumerate(CENTRES):
            count = report.per_week[week][centre]
            bar_h = plot_h * count / scale_top
            x = x0 + offset * bar_w
            y = top + plot_h - bar_h
            label = escape(f"{names[centre]}, {format_date(week, 'd MMM', locale=locale)}: {count}")
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" height="{bar_h:.1f}" '
                f'fill="{COLOURS[centre]}"><title>{label}</title></rect>'
            )
        parts.append(
            f'<text x="{x0 + group_w / 2 - 3:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
            f'font-size="11">{escape(format_date(week, "d MMM", locale=locale))}</text>'
        )
    for offset, centre in enumerate(CENTRES):
        x = left + offset * 170
        y = height - 18
        parts.append(
            f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{COLOURS[centre]}"/>'
            f'<text x="{x + 18}" y="{y}" font-size="12">{escape(names[centre])}</text>'
        )
    parts.append("</svg>")
    # Every text above went through escape(); the rest is numbers and fixed markup.
    return Markup("".join(parts))  # noqa: S704
