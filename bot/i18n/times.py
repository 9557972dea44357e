"""Times as people read them: in the brand's time zone, 24-hour clock, relative where it helps.
Stored datetimes are UTC (a naive one is taken as UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from babel.dates import format_date, format_timedelta, get_timezone_name

from bot.i18n.catalog import gettext
from bot.i18n.locale import current_locale, current_zone

JUST_NOW = timedelta(seconds=45)


def _as_datetime(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _in_zone(value: datetime | str) -> datetime:
    return _as_datetime(value).astimezone(current_zone())


def to_local(value: datetime | str | None) -> datetime | None:
    """The moment in the brand's zone (None stays None)."""
    if value is None or value == "":
        return None
    return _in_zone(value)


def clock(value: datetime | str | None) -> str:
    """'21:08' in the brand's zone."""
    local = to_local(value)
    return local.strftime("%H:%M") if local else ""


def localdate(value: date | datetime | str | None) -> str:
    """'2026年12月6日' / 'Dec 6, 2026'; a datetime's date is the brand zone's."""
    if value is None or value == "":
        return ""
    if isinstance(value, str) and len(value) == 10:
        value = date.fromisoformat(value)
    day = _in_zone(value).date() if isinstance(value, datetime | str) else value
    return format_date(day, "medium", locale=current_locale())


def localtime(value: datetime | str | None) -> str:
    """'2026年12月6日 21:08' / 'Dec 6, 2026 21:08' in the brand's zone."""
    if value is None or value == "":
        return ""
    return f"{localdate(value)} {clock(value)}"


def ago(value: datetime | str | None, now: datetime | None = None) -> str:
    """'5 分鐘前' / '5 minutes ago' ('in 5 minutes' for the future; 'just now' under a minute)."""
    if value is None or value == "":
        return ""
    delta = _as_datetime(value) - (now or datetime.now(UTC))
    if abs(delta) < JUST_NOW:
        return gettext("just now")
    return format_timedelta(delta, add_direction=True, locale=current_locale())


def zone_label(at: datetime | None = None) -> str:
    """'台北時間（UTC+8）' / 'Taiwan Time (UTC+8)': named once per page."""
    zone = current_zone()
    offset = (at or datetime.now(UTC)).astimezone(zone).utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    utc = f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
    name = get_timezone_name(zone, locale=current_locale())
    return gettext("%(zone)s (%(utc)s)") % {"zone": name, "utc": utc}


def stamp(value: datetime | str | None, now: datetime | None = None) -> str:
    """'21:08 台北時間（UTC+8）' for a chat message or a terminal, where no page footer names the
    zone: the clock today, the date and clock on other days, then the zone."""
    if value is None or value == "":
        return ""
    moment = _as_datetime(value)
    today = _in_zone(now or datetime.now(UTC)).date()
    shown = clock(moment) if _in_zone(moment).date() == today else localtime(moment)
    return f"{shown} {zone_label(moment)}"
