"""Business hours with holidays: is the team in now, since when has it been closed, when does
it open next, and when is a first response due if the clock only runs while it is open."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "zh-Hant": ("週一", "週二", "週三", "週四", "週五", "週六", "週日"),
    "zh-Hans": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
}
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*$")
MAX_DAYS = 400  # every search stops after this many days (a year of holidays and then some)


def parse_day_spec(spec: str) -> list[int]:
    """ "mon-fri" → [0..4], "sat" → [5], "mon,wed" → [0, 2]; ValueError if not days."""
    days: list[int] = []
    for part in spec.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"{spec!r} is not a day or day range like mon-fri")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return days


def parse_spans(spec: str) -> list[tuple[time, time]]:
    """ "09:00-12:00, 13:00-18:00" → spans; "closed" → []; ValueError otherwise."""
    if spec.strip().lower() == "closed":
        return []
    spans = []
    for part in spec.split(","):
        match = _SPAN.match(part)
        if not match:
            raise ValueError(f"{part.strip()!r} is not a time range like 09:00-18:00 or closed")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"{part.strip()!r} has an impossible time")
        start, end = time(h1, m1), time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        if end <= start:
            raise ValueError(f"{part.strip()!r} ends before it starts")
        spans.append((start, end))
    return sorted(spans)


@dataclass(frozen=True)
class BusinessHours:
    """Weekly opening spans in a timezone, minus holidays. No spans at all means always open."""

    timezone: str = "Asia/Taipei"
    weekly: dict[int, list[tuple[time, time]]] = field(default_factory=dict)  # weekday → spans
    holidays: dict[date, str] = field(default_factory=dict)

    @property
    def always_open(self) -> bool:
        return not self.weekly

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _spans_on(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.holidays:
            return []
        return [
            (
                datetime.combine(day, a, self.zone).astimezone(UTC),
                datetime.combine(day, b, self.zone).astimezone(UTC),
            )
            for a, b in self.weekly.get(day.weekday(), [])
        ]

    def _intervals(self, start: datetime, days: int = MAX_DAYS):
        """Open intervals (UTC) that end after `start`, in order, looking `days` ahead."""
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(days + 2):
            for a, b in self._spans_on(day):
                if b > start:
                    yield a, b
            day += timedelta(days=1)

    def is_open(self, at: datetime) -> bool:
        if self.always_open:
            return True
        return any(a <= at < b for a, b in self._intervals(at, days=1))

    def next_open(self, at: datetime) -> datetime | None:
        """When the team is next in: `at` itself when open now; None if never (bad config)."""
        if self.always_open:
            return at
        for a, _ in self._intervals(at):
            return max(a, at)
        return None

    def closed_since(self, at: datetime) -> datetime | None:
        """The start of the closed stretch `at` falls in (the last closing time); None when open.

        Every message of one evening, weekend or holiday shares this value, which is what lets a
        conversation get one acknowledgement per stretch."""
        if self.is_open(at):
            return None
        day = at.astimezone(self.zone).date()
        for _ in range(MAX_DAYS):
            ends = [b for _, b in self._spans_on(day) if b <= at]
            if ends:
                return max(ends)
            day -= timedelta(days=1)
        return datetime(2000, 1, 1, tzinfo=UTC)  # never open in a year: one stretch

    def due(self, start: datetime, minutes: float) -> datetime:
        """`minutes` of open time after `start` (a first-response deadline that does not run
        while the team is closed)."""
        if self.always_open:
            return start + timedelta(minutes=minutes)
        left = timedelta(minutes=minutes)
        for a, b in self._intervals(start):
            a = max(a, start)
            if b - a >= left:
                return a + left
            left -= b - a
        return start + timedelta(minutes=minutes)

    def describe(self, language: str) -> str:
        """The opening hours in words, e.g. "Mon–Fri 09:00–18:00, Sat 10:00–14:00"."""
        names = DAY_NAMES.get(language, DAY_NAMES["en"])
        if self.always_open:
            return {"en": "around the clock"}.get(language, "全天候")
        groups: list[tuple[list[int], str]] = []
        for day in range(7):
            spans = self.weekly.get(day)
            if not spans:
                continue
            text = ", ".join(f"{a:%H:%M}–{_end(b)}" for a, b in spans)
            if groups and groups[-1][1] == text and groups[-1][0][-1] == day - 1:
                groups[-1][0].append(day)
            else:
                groups.append(([day], text))
        sep = ", " if language == "en" else "，"
        dash = "–" if language == "en" else "至"
        parts = []
        for days, text in groups:
            label = names[days[0]] if len(days) == 1 else f"{names[days[0]]}{dash}{names[days[-1]]}"
            parts.append(f"{label} {text}")
        return sep.join(parts)

    def when(self, at: datetime, language: str) -> str:
        """A moment in the brand's timezone, said the way a customer reads it."""
        local = at.astimezone(self.zone)
        names = DAY_NAMES.get(language, DAY_NAMES["en"])
        if language == "en":
            return f"{names[local.weekday()]} {local:%-d %b %H:%M}"
        return f"{local.month}/{local.day}（{names[local.weekday()]}）{local:%H:%M}"


def _end(t: time) -> str:
    return "24:00" if t == time(23, 59, 59, 999999) else f"{t:%H:%M}"
