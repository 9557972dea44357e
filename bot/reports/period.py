"""The period a report covers: whole local days, from the first to the last (inclusive)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from bot.i18n import gettext as _

MAX_DAYS = 366
# Reports cover days a database can hold with room for the period before (comparisons) and the
# midnight after; a date outside is refused with a reason instead of overflowing.
EARLIEST = date(1970, 1, 1)
LATEST = date(9998, 12, 31)


class PeriodError(ValueError):
    """A period that cannot be reported on; the message says why, in the current language."""


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    tz: ZoneInfo

    @classmethod
    def parse(cls, first: str, last: str, tz: ZoneInfo) -> Period:
        try:
            period = cls(date.fromisoformat(first), date.fromisoformat(last), tz)
        except (TypeError, ValueError) as error:
            raise PeriodError(_("Dates look like 2026-11-01.")) from error
        if period.first < EARLIEST or period.last > LATEST:
            bounds = {"first": EARLIEST, "last": LATEST}
            raise PeriodError(_("Dates lie between %(first)s and %(last)s.") % bounds)
        if period.last < period.first:
            raise PeriodError(_("The period ends before it starts."))
        if period.days > MAX_DAYS:
            raise PeriodError(_("A report covers at most %(days)s days.") % {"days": MAX_DAYS})
        return period

    @classmethod
    def month_before(cls, day: date, tz: ZoneInfo) -> Period:
        """The calendar month before the one `day` is in."""
        last = day.replace(day=1) - timedelta(days=1)
        return cls(last.replace(day=1), last, tz)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @cached_property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), self.tz)

    @cached_property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.last + timedelta(days=1), time(), self.tz)

    @property
    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]

    def previous(self) -> Period:
        """The period of the same length just before this one (for comparisons)."""
        return Period(
            self.first - timedelta(days=self.days), self.first - timedelta(days=1), self.tz
        )

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end
