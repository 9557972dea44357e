"""How the command line shows times and statuses to people: the brand zone's clock, the zone
named once under a table, statuses in words; JSON gets the brand zone's offset instead of UTC."""

from __future__ import annotations

from datetime import datetime

from bot.i18n import gettext as _
from bot.i18n import localtime, pgettext, to_local, zone_label


def when(value: datetime | None) -> str:
    """'2026年12月6日 21:08' in the brand's zone (the table's footnote names the zone)."""
    return localtime(value) if value else "-"


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with the brand zone's offset, for JSON lines."""
    local = to_local(value)
    return local.isoformat() if local else None


def zone_note() -> str:
    return _("Times are {zone}.").format(zone=zone_label())


def draft_status(status: str) -> str:
    words = {
        "pending": _("waiting for review"),
        "approved": _("approved"),
        "edited": _("approved with edits"),
        "rejected": _("rejected"),
        "sent": _("sent"),
        "failed": _("failed"),
        "superseded": _("replaced"),
    }
    return words.get(str(status), str(status))


def incident_status(status: str) -> str:
    words = {"open": _("open"), "acknowledged": _("acknowledged"), "resolved": _("resolved")}
    return words.get(str(status), str(status))


def post_status(status: str) -> str:
    words = {
        "planned": pgettext("post", "needs approval"),
        "approved": pgettext("post", "approved"),
        "sending": pgettext("post", "sending"),
        "sent": pgettext("post", "sent"),
        "failed": pgettext("post", "failed"),
        "missed": pgettext("post", "missed"),
        "cancelled": pgettext("post", "cancelled"),
    }
    return words.get(str(status), str(status))


def incident_step(action: str) -> str:
    """An incident note's step in words."""
    words = {"acknowledge": _("acknowledged"), "resolve": _("resolved"), "note": _("note")}
    return words.get(action, action)
