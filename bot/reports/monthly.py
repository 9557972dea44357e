"""The monthly report: on the first of each month the leader sends supervisors (the
`report_recipients`) a summary of last month with a link to the full report in the console."""

from __future__ import annotations

import asyncio
import logging
from datetime import date

from apscheduler.triggers.cron import CronTrigger

from bot import scheduler as jobs
from bot.calendar.posts import zone
from bot.delivery import notify
from bot.reports import Period, build_report
from db.types import utcnow

log = logging.getLogger(__name__)
JOB_ID = "report:monthly"
GRACE = 12 * 3600  # down at send time? still sent when back the same day


def report_link(settings, period: Period) -> str:
    return f"{settings.web.console_url}/reports?from={period.first}&to={period.last}"


def _minutes(value) -> str:
    return "n/a" if value is None else f"{value:g} min"


def _pct(value) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def summary(data: dict, link: str) -> str:
    """A short message for Telegram or LINE: the headline numbers, the first recommendation,
    and the link."""
    m, r, c = data["messages"], data["responses"], data["contacts"]
    s, cp, p = data["stages"], data["complaints"], data["posts"]
    top = data["recommendations"][0]
    return "\n".join(
        [
            f"replyline report {data['period']['from']} – {data['period']['to']}",
            f"Messages: {m['total']} (before: {m['previous_total']}); complaints {cp['total']} "
            f"({_pct(cp['share'])})",
            f"First response: median {_minutes(r['median_minutes'])}, p90 "
            f"{_minutes(r['p90_minutes'])} (target {r['target_minutes']} min); "
            f"unanswered {r['unanswered']}",
            f"Contacts: {c['active']} active, {c['new']} new, retention "
            f"{_pct(c['retention_rate'])}",
            f"Stages: +{s['moved_to_relationship']} relationship, "
            f"+{s['moved_to_collaboration']} collaboration",
            f"Posts sent: {p['sent']}; contacts reached: {data['reach']['contacts_reached']}",
            f"First recommendation: {top['title']}. {top['evidence']}",
            f"Full report: {link}",
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
    text = summary(report.data, report_link(settings, period))
    outcome = {}
    for recipient in settings.reports.recipients:
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
