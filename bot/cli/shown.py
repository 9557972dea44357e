"""How the command line shows times to people: the brand zone's clock, the zone named once
under a table; JSON gets the brand zone's offset instead of UTC. Statuses are put in words by
bot/i18n/labels.py, as on the console's pages."""

from __future__ import annotations

from datetime import datetime

from bot.i18n import gettext as _
from bot.i18n import localtime, to_local, zone_label


def when(value: datetime | None) -> str:
    """'2026年12月6日 21:08' in the brand's zone (the table's footnote names the zone)."""
    return localtime(value) if value else "-"


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with the brand zone's offset, for JSON lines."""
    local = to_local(value)
    return local.isoformat() if local else None


def zone_note() -> str:
    return _("Times are {zone}.").format(zone=zone_label())


def incident_step(action: str) -> str:
    """An incident note's step in words."""
    words = {"acknowledge": _("acknowledged"), "resolve": _("resolved"), "note": _("note")}
    return words.get(action, action)
