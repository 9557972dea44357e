"""Repeats in words: what staff pick becomes the cron rule the scheduler runs, and every stored
rule reads back in the same words (or, when no phrase fits, as the cron it is)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.calendar.posts import cron_trigger, upcoming
from bot.calendar.repeat import Repeat, RepeatError, describe, from_cron, from_form, words
from bot.i18n import use_locale

TAIPEI = ZoneInfo("Asia/Taipei")
TEN = time(10, 0)


@pytest.fixture(autouse=True)
def english():
    with use_locale("en"):
        yield


def test_a_chinese_reader_sees_the_repeat_in_chinese():
    with use_locale("zh_Hant_TW"):
        assert describe("0 10 * * mon-fri") == "每個平日（週一至週五）10:00"
        assert describe("30 9 * * mon") == "每週一 09:30"
        assert describe("0 10 1 * *") == "每月 1 日 10:00"


@pytest.mark.parametrize(
    "repeat, cron, said",
    [
        (Repeat("day", TEN), "0 10 * * *", "every day at 10:00"),
        (Repeat("weekday", TEN), "0 10 * * mon-fri", "every weekday (Monday to Friday) at 10:00"),
        (Repeat("week", time(9, 30), weekday=0), "30 9 * * mon", "every Monday at 09:30"),
        (Repeat("week", TEN, weekday=6), "0 10 * * sun", "every Sunday at 10:00"),
        (Repeat("month", time(8, 5), day=1), "5 8 1 * *", "monthly on the 1st at 08:05"),
        (Repeat("month", TEN, day=22), "0 10 22 * *", "monthly on the 22nd at 10:00"),
        (Repeat("month", TEN, day=13), "0 10 13 * *", "monthly on the 13th at 10:00"),
    ],
)
def test_a_repeat_in_words_writes_its_cron_rule_and_reads_back_the_same(repeat, cron, said):
    assert repeat.cron() == cron
    assert from_cron(cron) == repeat
    assert words(repeat) == said == describe(cron)


@pytest.mark.parametrize(
    "cron, repeat",
    [
        ("0 10 * * 1-5", Repeat("weekday", TEN)),
        ("0 10 * * MON-FRI", Repeat("weekday", TEN)),
        ("0 10 * * 1,2,3,4,5", Repeat("weekday", TEN)),
        ("0 10 * * 1", Repeat("week", TEN, weekday=0)),
        ("0 10 * * 0", Repeat("week", TEN, weekday=6)),
        ("0 10 * * 7", Repeat("week", TEN, weekday=6)),
        ("0 10 * * 0-6", Repeat("day", TEN)),
        ("0 10 * * mon-sun", Repeat("day", TEN)),
    ],
)
def test_rules_an_admin_typed_read_as_words_when_one_phrase_says_the_same(cron, repeat):
    assert from_cron(cron) == repeat


@pytest.mark.parametrize(
    "cron",
    ["0 * * * *", "*/30 9 * * *", "0 10 * * mon,thu", "0 10 31 * *", "0 10 1 1 *",
     "0 10 1 * mon", "0 10 * * 6-0", "0 10 * *", "", None],
)  # fmt: skip
def test_rules_no_phrase_fits_are_not_forced_into_words(cron):
    assert from_cron(cron) is None


def test_a_rule_no_phrase_fits_is_shown_as_the_cron_it_is():
    assert describe("0 10 * * mon,thu") == "on the custom schedule “0 10 * * mon,thu” (cron)"
    assert describe(None) == ""


def test_the_words_and_the_scheduler_agree_on_the_days():
    monday_noon = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Taipei
    weekdays = upcoming(cron_trigger(Repeat("weekday", TEN).cron(), "Asia/Taipei"), monday_noon, 5)
    assert [t.astimezone(TAIPEI).strftime("%a %H:%M") for t in weekdays] == [
        "Tue 10:00", "Wed 10:00", "Thu 10:00", "Fri 10:00", "Mon 10:00",
    ]  # fmt: skip
    sundays = upcoming(cron_trigger(Repeat("week", TEN, 6).cron(), "Asia/Taipei"), monday_noon, 2)
    assert [t.astimezone(TAIPEI).strftime("%a %d") for t in sundays] == ["Sun 29", "Sun 06"]
    firsts = upcoming(
        cron_trigger(Repeat("month", TEN, day=1).cron(), "Asia/Taipei"), monday_noon, 2
    )
    assert [t.astimezone(TAIPEI).strftime("%m-%d %H:%M") for t in firsts] == [
        "12-01 10:00", "01-01 10:00",
    ]  # fmt: skip


def test_the_form_takes_the_day_of_a_weekly_or_monthly_repeat_from_the_first_post():
    thursday = date(2026, 11, 26)
    assert from_form("", "10:00") is None
    assert from_form("week", "18:30", start=thursday) == Repeat("week", time(18, 30), weekday=3)
    assert from_form("week", "18:30", "0", start=thursday).weekday == 0
    assert from_form("month", "09:00", day="", start=thursday) == Repeat("month", time(9), day=26)
    assert from_form("month", "09:00", day="5", start=thursday).day == 5
    assert from_form("weekday", "09:00", "4", "7", start=thursday) == Repeat("weekday", time(9))


@pytest.mark.parametrize(
    "every, at, weekday, day, message",
    [
        ("hourly", "10:00", "", "", "repeat must be one of"),
        ("day", "ten", "", "", "not a time of day"),
        ("day", "25:00", "", "", "not a time of day"),
        ("week", "10:00", "9", "", "day of the week"),
        ("week", "10:00", "x", "", "must be a number"),
        ("month", "10:00", "", "31", "from 1 to 28"),
    ],
)
def test_a_repeat_that_cannot_be_made_says_why(every, at, weekday, day, message):
    with pytest.raises(RepeatError, match=message):
        from_form(every, at, weekday, day, start=date(2026, 11, 26))
