"""How often a post repeats, in words, and the cron rule each is stored as.

Every day, every weekday, every Monday, monthly on the 1st, at a time of day: staff pick one;
the calendar stores it as a five-field cron rule (what the scheduler runs), and shows any
stored rule back in words. Rules that no phrase describes (admins may still type cron) are
shown as they are."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time

from bot.errors import Invalid
from bot.i18n import N_
from bot.i18n import gettext as _

EVERY = ("day", "weekday", "week", "month")
LAST_MONTH_DAY = 28  # later days are skipped in short months: no "monthly" that misses a month
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab order: 0 = Sunday
_WORKDAYS = frozenset({1, 2, 3, 4, 5})


class RepeatError(Invalid, ValueError):
    """A repeat that cannot be made from what was chosen; the message says why."""


@dataclass(frozen=True)
class Repeat:
    """`every` one of EVERY at `at` (local time in the calendar's zone); `weekday` for "week"
    (0 = Monday … 6 = Sunday, as datetime counts), `day` of the month for "month"."""

    every: str
    at: time
    weekday: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if self.every not in EVERY:
            raise RepeatError(N_("repeat must be one of: {values}"), values=", ".join(EVERY))
        if self.every == "week" and self.weekday not in range(7):
            raise RepeatError(N_("a weekly repeat needs a day of the week"))
        if self.every == "month" and self.day not in range(1, LAST_MONTH_DAY + 1):
            raise RepeatError(
                N_("a monthly repeat needs a day from 1 to {last}"), last=LAST_MONTH_DAY
            )

    def cron(self) -> str:
        """The five crontab fields (minute hour day month weekday) the scheduler runs."""
        clock = f"{self.at.minute} {self.at.hour}"
        if self.every == "day":
            return f"{clock} * * *"
        if self.every == "weekday":
            return f"{clock} * * mon-fri"
        if self.every == "week":
            assert self.weekday is not None  # checked in __post_init__
            return f"{clock} * * {_DAY_NAMES[(self.weekday + 1) % 7]}"
        return f"{clock} {self.day} * *"


def from_form(every: str, at: str, weekday: str = "", day: str = "", start: date | None = None):
    """The repeat chosen in the calendar's form (None for a one-off post). A weekly or monthly
    repeat without its day takes the day of the first post (`start`)."""
    every = (every or "").strip()
    if not every:
        return None
    try:
        hour, minute = (int(part) for part in (at or "").strip().split(":")[:2])
        clock = time(hour, minute)
    except ValueError as error:
        raise RepeatError(N_("{at!r} is not a time of day like 10:00"), at=at) from error
    try:
        weekday_number = int(weekday) if str(weekday).strip() else None
        day_number = int(day) if str(day).strip() else None
    except ValueError as error:
        raise RepeatError(N_("the day of a repeat must be a number")) from error
    if start is not None:
        weekday_number = start.weekday() if weekday_number is None else weekday_number
        day_number = start.day if day_number is None else day_number
    return Repeat(
        every,
        clock,
        weekday=weekday_number if every == "week" else None,
        day=day_number if every == "month" else None,
    )


def from_cron(expr: str | None) -> Repeat | None:
    """The repeat a cron rule means, or None when no phrase says the same."""
    fields = (expr or "").split()
    if len(fields) != 5:
        return None
    minute, hour, day, month, weekday = (field.lower() for field in fields)
    if not (minute.isdigit() and hour.isdigit()) or month != "*":
        return None
    if int(minute) > 59 or int(hour) > 23:
        return None
    at = time(int(hour), int(minute))
    days = _weekdays(weekday)
    if day == "*" and weekday in ("*", "?"):
        return Repeat("day", at)
    if day != "*" or days is None:
        if weekday == "*" and day.isdigit() and 1 <= int(day) <= LAST_MONTH_DAY:
            return Repeat("month", at, day=int(day))
        return None
    if days == _WORKDAYS:
        return Repeat("weekday", at)
    if len(days) == 7:
        return Repeat("day", at)
    if len(days) == 1:
        return Repeat("week", at, weekday=(next(iter(days)) - 1) % 7)
    return None


def _weekdays(field: str) -> frozenset[int] | None:
    """A crontab weekday field ("1-5", "mon-fri", "0,6", "sun") as numbers, 0 = Sunday; None
    when it is not a plain list or range."""
    if field in ("*", "?"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in field.split(","):
        ends = part.split("-")
        if len(ends) > 2 or not all(re.fullmatch(r"[0-7]|[a-z]{3}", end) for end in ends):
            return None
        numbers = [int(e) % 7 if e.isdigit() else _name(e) for e in ends]
        low, high = numbers[0], numbers[-1]  # one or two ends
        if low is None or high is None:
            return None
        if len(ends) == 2 and ends[1] in ("7", "sun"):
            high = 7
        if low > high:
            return None
        days.update(d % 7 for d in range(low, high + 1))
    return frozenset(days)


def _name(text: str) -> int | None:
    return _DAY_NAMES.index(text) if text in _DAY_NAMES else None


_EVERY_WEEKDAY = (
    N_("every Monday at {time}"),
    N_("every Tuesday at {time}"),
    N_("every Wednesday at {time}"),
    N_("every Thursday at {time}"),
    N_("every Friday at {time}"),
    N_("every Saturday at {time}"),
    N_("every Sunday at {time}"),
)


def words(repeat: Repeat) -> str:
    """The repeat as staff say it: "every weekday at 10:00", "monthly on the 1st at 09:30"."""
    clock = repeat.at.strftime("%H:%M")
    if repeat.every == "day":
        return _("every day at {time}").format(time=clock)
    if repeat.every == "weekday":
        return _("every weekday (Monday to Friday) at {time}").format(time=clock)
    if repeat.every == "week":
        assert repeat.weekday is not None  # checked in Repeat.__post_init__
        return _(_EVERY_WEEKDAY[repeat.weekday]).format(time=clock)
    assert repeat.day is not None  # monthly: checked in Repeat.__post_init__
    return _("monthly on the {nth} at {time}").format(
        nth=_ordinal(repeat.day), day=repeat.day, time=clock
    )


def describe(cron: str | None) -> str:
    """Words for a stored rule; a rule no phrase fits is quoted as the cron it is."""
    if not cron:
        return ""
    repeat = from_cron(cron)
    if repeat is not None:
        return words(repeat)
    return _("on the custom schedule “{cron}” (cron)").format(cron=cron)


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"
