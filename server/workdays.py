"""Belgian working days: by when an advisor will contact a person.

The promise is the first working day strictly after the day the request
arrived, in Brussels: a request sent at 23:30 on a Friday in Brussels is
answered on Monday, even though it is still Friday in UTC.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo

import holidays
from babel.dates import format_date

BRUSSELS = ZoneInfo("Europe/Brussels")
# Saturday and Sunday, as date.weekday() numbers them.
WEEKEND = frozenset({5, 6})


@cache
def _public_holidays(year: int) -> frozenset[dt.date]:
    # Only the legal public holidays: 26 December, for one, is a working day in Belgium.
    return frozenset(holidays.country_holidays("BE", years=year).keys())


def is_working_day(day: dt.date) -> bool:
    return day.weekday() not in WEEKEND and day not in _public_holidays(day.year)


def contact_by(received_at: dt.datetime) -> dt.date:
    """The first Belgian working day after the Brussels date of ``received_at``."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must carry its time zone")
    day = received_at.astimezone(BRUSSELS).date()
    day += dt.timedelta(days=1)
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def format_day(day: dt.date, babel_locale: str) -> str:
    """The date written out in full, e.g. "Monday, 30 November 2026"."""
    return format_date(day, format="full", locale=babel_locale)
