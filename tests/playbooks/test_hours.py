"""Business hours with holidays, in the brand's timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from playbooks.hours import BusinessHours

TPE = "Asia/Taipei"  # UTC+8
HOURS = BusinessHours(
    TPE,
    weekly={d: [(time(9), time(18))] for d in range(5)} | {5: [(time(10), time(14))]},
    holidays={date(2026, 11, 25): "staff day"},
)


def tpe(day, hour, minute=0):
    """A moment in Taipei in November 2026 (the 23rd is a Monday), as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=ZoneInfo(TPE)).astimezone(UTC)


def test_open_and_closed_follow_the_local_clock():
    assert HOURS.is_open(tpe(23, 9))  # Monday 09:00 Taipei
    assert not HOURS.is_open(tpe(23, 18))
    assert not HOURS.is_open(tpe(22, 12))  # Sunday
    assert HOURS.is_open(tpe(28, 13)) and not HOURS.is_open(tpe(28, 15))  # Saturday short day


def test_a_holiday_is_closed_all_day():
    assert not HOURS.is_open(tpe(25, 11))


def test_one_evening_is_one_closed_stretch_and_the_next_one_is_new():
    evening, midnight, early = tpe(23, 19), tpe(24, 2), tpe(24, 8, 59)
    assert HOURS.closed_since(evening) == HOURS.closed_since(midnight) == HOURS.closed_since(early)
    assert HOURS.closed_since(evening) == tpe(23, 18)
    assert HOURS.closed_since(tpe(24, 10)) is None
    assert HOURS.closed_since(tpe(24, 20)) == tpe(24, 18)


def test_a_holiday_joins_the_nights_around_it_into_one_stretch():
    assert HOURS.closed_since(tpe(24, 22)) == HOURS.closed_since(tpe(25, 12)) == tpe(24, 18)
    assert HOURS.next_open(tpe(25, 12)) == tpe(26, 9)


def test_next_open_skips_the_weekend():
    assert HOURS.next_open(tpe(28, 15)) == tpe(30, 9)  # Saturday afternoon → Monday


def test_first_response_targets_only_count_open_time():
    assert HOURS.due(tpe(23, 10), 30) == tpe(23, 10, 30)
    assert HOURS.due(tpe(23, 17, 50), 30) == tpe(24, 9, 20)  # 10 minutes today, 20 tomorrow
    assert HOURS.due(tpe(24, 23), 60) == tpe(26, 10)  # the holiday does not count


def test_always_open_without_hours():
    always = BusinessHours(TPE)
    now = tpe(22, 3)
    assert always.is_open(now) and always.closed_since(now) is None
    assert always.due(now, 15) == tpe(22, 3, 15)


def test_hours_are_described_in_the_customers_language():
    assert HOURS.describe("en") == "Mon–Fri 09:00–18:00, Sat 10:00–14:00"
    assert HOURS.describe("zh-Hant") == "週一至週五 09:00–18:00，週六 10:00–14:00"
    assert HOURS.when(tpe(30, 9), "zh-Hant") == "11/30（週一）09:00"
