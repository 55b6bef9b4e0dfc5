"""By when an advisor calls back: the next Belgian working day, in Brussels time."""

from __future__ import annotations

import datetime as dt

import pytest

from server.workdays import BRUSSELS, contact_by, format_day, is_working_day


def brussels(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=BRUSSELS)


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        # An ordinary weekday: the next day.
        (brussels(2026, 11, 24), dt.date(2026, 11, 25)),
        # Friday, Saturday and Sunday all lead to Monday.
        (brussels(2026, 11, 27), dt.date(2026, 11, 30)),
        (brussels(2026, 11, 28), dt.date(2026, 11, 30)),
        (brussels(2026, 11, 29), dt.date(2026, 11, 30)),
        # Christmas Day is a public holiday; 26 December is a working day in
        # Belgium (a bank holiday only), so Christmas Eve 2025 leads to the 26th ...
        (brussels(2025, 12, 24), dt.date(2025, 12, 26)),
        (brussels(2025, 12, 25), dt.date(2025, 12, 26)),
        # ... and in 2027, with 25/26 December on a weekend, to Monday the 27th.
        (brussels(2027, 12, 24), dt.date(2027, 12, 27)),
        # Easter Monday 2026 is 6 April: the Friday before leads to Tuesday.
        (brussels(2026, 4, 3), dt.date(2026, 4, 7)),
        # National Day, 21 July (a Tuesday in 2026).
        (brussels(2026, 7, 20), dt.date(2026, 7, 22)),
        # Labour Day, 1 May (a Friday in 2026): Thursday leads to Monday the 4th.
        (brussels(2026, 4, 30), dt.date(2026, 5, 4)),
        # New Year: 31 December 2026 (Thursday) leads past 1 January to Monday.
        (brussels(2026, 12, 31), dt.date(2027, 1, 4)),
    ],
)
def test_next_working_day(received: dt.datetime, expected: dt.date) -> None:
    assert contact_by(received) == expected


def test_late_friday_in_brussels_is_monday_although_utc_is_still_friday() -> None:
    late = brussels(2026, 11, 27, 23, 30)
    assert late.astimezone(dt.UTC).date() == dt.date(2026, 11, 27)
    assert contact_by(late) == dt.date(2026, 11, 30)
    assert contact_by(late.astimezone(dt.UTC)) == dt.date(2026, 11, 30)


def test_just_after_midnight_on_saturday_in_brussels() -> None:
    # 00:30 on Saturday in Brussels is still Friday 23:30 in UTC.
    early = brussels(2026, 11, 28, 0, 30)
    assert early.astimezone(dt.UTC).date() == dt.date(2026, 11, 27)
    assert contact_by(early.astimezone(dt.UTC)) == dt.date(2026, 11, 30)


def test_late_thursday_utc_that_is_friday_in_brussels_in_summer() -> None:
    # 22:30 UTC on Thursday 23 July 2026 is 00:30 on Friday in Brussels (CEST).
    received = dt.datetime(2026, 7, 23, 22, 30, tzinfo=dt.UTC)
    assert contact_by(received) == dt.date(2026, 7, 27)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        contact_by(dt.datetime(2026, 11, 27, 12, 0))


def test_weekends_and_holidays_are_not_working_days() -> None:
    assert not is_working_day(dt.date(2026, 11, 28))  # Saturday
    assert not is_working_day(dt.date(2026, 11, 11))  # Armistice Day
    assert is_working_day(dt.date(2026, 11, 30))


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en_GB", "Monday, 30 November 2026"),
        ("nl_BE", "maandag 30 november 2026"),
        ("fr_BE", "lundi 30 novembre 2026"),
        ("de_BE", "Montag, 30. November 2026"),
    ],
)
def test_written_out_in_each_language(locale: str, text: str) -> None:
    assert format_day(dt.date(2026, 11, 30), locale) == text
