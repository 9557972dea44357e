"""The monthly report: on the first of each month the leader sends supervisors (the
`report_recipients`) a summary of last month with a link to the full report in the console,
each in their own language (the console user linked to the chat, else the brand's)."""

from __future__ import annotations

import asyncio
import logging
from datetime import date

from apscheduler.triggers.cron import CronTrigger
from sqlmodel import Session

from bot import scheduler as jobs
from bot.calendar.posts import zone
from bot.delivery import notify
from bot.i18n import gettext as _
from bot.i18n import localdate, stage_label, use_locale
from bot.reports import Period, build_report, wording
from db.types import utcnow

log = logging.getLogger(__name__)
JOB_ID = "report:monthly"
GRACE = 12 * 3600  # down at send time? still sent when back the same day


def report_link(settings, period: Period) -> str:
    return f"{settings.web.console_url}/reports?from={period.first}&to={period.last}"


def summary(data: dict, link: str) -> str:
    """A short message for Telegram or LINE in the current language: the headline numbers,
    the first recommendation, and the link."""
    m, r, c = data["messages"], data["responses"], data["contacts"]
    s, cp, p = data["stages"], data["complaints"], data["posts"]
    top = wording.recommendation(data["recommendations"][0])
    period = {"first": localdate(data["period"]["from"]), "last": localdate(data["period"]["to"])}
    minutes = {
        key: wording.minutes(r[key]) for key in ("median_minutes", "p90_minutes", "target_minutes")
    }
    return "\n".join(
        [
            _("replyline report %(first)s – %(last)s") % period,
            _("Messages: %(total)s (before: %(previous)s); complaints %(complaints)s (%(share)s)")
            % {
                "total": m["total"],
                "previous": m["previous_total"],
                "complaints": cp["total"],
                "share": wording.pct(cp["share"]),
            },
            _(
                "First response: median %(median_minutes)s, p90 %(p90_minutes)s (target "
                "%(target_minutes)s); unanswered %(unanswered)s"
            )
            % {**minutes, "unanswered": r["unanswered"]},
            _("Contacts: %(active)s active, %(new)s new, retention %(retention)s")
            % {
                "active": c["active"],
                "new": c["new"],
                "retention": wording.pct(c["retention_rate"]),
            },
            _(
                "Stages: %(relationship)s +%(up_relationship)s, "
                "%(collaboration)s +%(up_collaboration)s"
            )
            % {
                "relationship": stage_label("relationship"),
                "up_relationship": s["moved_to_relationship"],
                "collaboration": stage_label("collaboration"),
                "up_collaboration": s["moved_to_collaboration"],
            },
            _("Posts sent: %(posts)s; contacts reached: %(reached)s")
            % {"posts": p["sent"], "reached": data["reach"]["contacts_reached"]},
            _("First recommendation: %(title)s. %(evidence)s") % top,
            _("Full report: %(link)s") % {"link": link},
        ]
    )


async def send_monthly_report() -> None:
    """The scheduler job."""
    await send_report(jobs.context())


async def send_report(services, today: date | None = None) -> dict[str, bool]:
    """Report on the month before `today` to every recipient; what each push returned."""
    settings = services.settings
    tz = zone(settings.timezone)
    period = Period.month_before(today or utcnow().astimezone(tz).date(), tz)
    report = await asyncio.to_thread(build_report, services.engine, settings, period, False)
    link = report_link(settings, period)
    outcome = {}
    for recipient in settings.reports.recipients:
        with Session(services.engine) as session:
            reader = notify.reader_locale(session, recipient)
        with use_locale(reader):  # the linked console user's language, else the brand's
            text = summary(report.data, link)
        try:
            result = await notify.push(services.channels, recipient, text)
        except ValueError as error:  # a malformed recipient in the settings
            log.error("monthly report: %s", error)
            outcome[recipient] = False
            continue
        if not result.ok:
            log.warning("monthly report to %s failed: %s", recipient, result.error)
        outcome[recipient] = result.ok
    if not settings.reports.recipients:
        log.info("monthly report built; set REPLYLINE_REPORT_RECIPIENTS to have it sent")
    return outcome


def install(services) -> None:
    """Standing job: the first of each month at monthly_report_hour, local time."""
    settings = services.settings
    services.scheduler.ensure_job(
        "bot.reports.monthly:send_monthly_report",
        CronTrigger(
            day=1,
            hour=settings.reports.monthly_report_hour,
            minute=0,
            timezone=zone(settings.timezone),
        ),
        id=JOB_ID,
        misfire_grace_time=GRACE,
    )
