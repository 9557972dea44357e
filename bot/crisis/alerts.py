"""Alerts to supervisors on Telegram or LINE: the first within seconds of an incident opening,
then a repeat every N minutes while nobody acknowledges, reaching the next tier of supervisors
every M minutes. The process that opens the incident sends the first round itself
(bot/crisis/monitor.py); the timer is one APScheduler job per incident in the shared job table,
so it survives a restart and runs in whichever process leads the scheduler. The incident row
records each round, claimed under a row lock, so no incident ever sends more than one round per
interval (counted from when it opened), whatever sends it and however often.

REPLYLINE_CRISIS_SUPERVISORS (or REPLYLINE_SUPERVISORS) lists who gets alerts: entries
separated by commas, each `[TIER:]CHANNEL:ID` — e.g. "1:telegram:123456789, 1:line:U4af49806,
2:telegram:-1001234" (tier 1 when omitted). Tier 1 gets the first alert; after M minutes
unacknowledged tier 2 is added, and so on. A Telegram chat id may be a person or a group
(negative id)."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import event
from sqlmodel import Session

from bot import scheduler
from bot.crisis import incidents
from bot.crisis.wording import incident_title
from bot.delivery.notify import push, reader_locale
from bot.errors import DomainError
from bot.i18n import gettext as _
from bot.i18n import pgettext, stamp, use_locale
from bot.review import actions
from db.engine import session_scope
from db.enums import IncidentStatus
from db.models import Incident, IncidentAlert, User
from db.types import utcnow
from handlers.base import Action

log = logging.getLogger(__name__)
CHANNELS = ("telegram", "line")
ACK_PREFIX = "ack"
STOP = "stop"  # the incident is no longer open: end its timer


@dataclass(frozen=True)
class Supervisor:
    tier: int
    recipient: str  # "<channel>:<id>", what bot.delivery.notify.push takes


def parse_supervisors(entries: list[str]) -> list[Supervisor]:
    """Read REPLYLINE_CRISIS_SUPERVISORS' entries (settings.crisis.supervisors); a ValueError says
    which entry is wrong and how to write it."""
    found = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        head, _, rest = entry.partition(":")
        tier, target = (int(head), rest) if head.strip().isdigit() else (1, entry)
        channel, _, chat_id = (part.strip() for part in target.partition(":"))
        if channel not in CHANNELS or not chat_id:
            raise ValueError(
                f"REPLYLINE_CRISIS_SUPERVISORS entry {entry!r}: write [TIER:]CHANNEL:ID, "
                f"CHANNEL one of {', '.join(CHANNELS)} (e.g. 1:telegram:123456789)"
            )
        if tier < 1:
            raise ValueError(f"REPLYLINE_CRISIS_SUPERVISORS entry {entry!r}: tiers start at 1")
        found.append(Supervisor(tier, f"{channel}:{chat_id}"))
    return found


@dataclass
class AlertPolicy:
    supervisors: list[Supervisor]
    repeat: timedelta = timedelta(minutes=5)
    escalate: timedelta = timedelta(minutes=15)
    console_url: str = "http://127.0.0.1:8000/console"

    @property
    def tiers(self) -> list[int]:
        return sorted({s.tier for s in self.supervisors})

    def tier_at(self, opened_at: datetime, now: datetime) -> int:
        """The highest tier alerted `now`: one more tier for every `escalate` unacknowledged."""
        tiers = self.tiers or [1]
        steps = math.floor(max(0.0, (now - opened_at) / self.escalate)) if self.escalate else 0
        return tiers[min(steps, len(tiers) - 1)]

    def recipients(self, tier: int) -> list[Supervisor]:
        return [s for s in self.supervisors if s.tier <= tier]

    def slot(self, opened_at: datetime, at: datetime) -> int:
        """Which interval since the incident opened `at` falls in: one round per interval."""
        return math.floor(max(0.0, (at - opened_at) / self.repeat))


def job_id(incident_id: int) -> str:
    return f"crisis-alert-{incident_id}"


def ack_action(incident_id: int) -> Action:
    return Action(
        label=pgettext("alert button", "Acknowledge"),
        data=actions.encode(ACK_PREFIX, str(incident_id)),
    )


def alert_text(
    session: Session, incident: Incident, round_: int, tier: int, console_url: str
) -> str:
    """The alert in the current language, its times in the brand's zone. Plain text: the
    channels send no markup, so customer words quoted in the explanation format nothing."""
    if round_ == 1:
        head = _("🚨 Possible crisis")
    else:
        head = _("🚨 Reminder {number}: not acknowledged").format(number=round_ - 1)
    if tier > 1:
        head += " " + _("(escalated to tier {tier})").format(tier=tier)
    return "\n".join(
        [
            _("{head} · incident #{id} · severity {severity}/10").format(
                head=head, id=incident.id, severity=incident.severity
            ),
            incident_title(incident),
            "",
            incidents.explain(session, incident),
            "",
            _("Opened {time}.").format(time=stamp(incident.opened_at)),
            _("Acknowledge with the button or in the console: {url}").format(
                url=f"{console_url}/incidents/{incident.id}"
            ),
        ]
    )


# ---- the timer ---------------------------------------------------------------------------


def schedule(jobs, incident_id: int, policy: AlertPolicy, now: datetime | None = None) -> None:
    """Put the incident's alert timer in the shared job table (any process that opened it may,
    the leader runs it): a round at once (the process that opened the incident usually sent
    it already, and then this run finds its interval taken), then one every `repeat` until
    someone acknowledges, each `escalate` adding a tier."""
    start = (now or utcnow()) + timedelta(seconds=1)  # an interval trigger's first run
    jobs.add_job(
        "bot.crisis.alerts:alert_job",
        IntervalTrigger(seconds=policy.repeat.total_seconds(), start_date=start),
        id=job_id(incident_id),
        args=[incident_id],
        misfire_grace_time=None,  # after downtime: one round at once (missed ones coalesce)
    )


def cancel(incident_id: int, jobs=None) -> None:
    """Remove the timer from the shared job table, from whichever process opened it (leading
    or not); in a process without one, the job's next run sees the incident and ends itself."""
    for table in (jobs, scheduler.current()):  # the given one may not be open
        if table is None:
            continue
        try:
            if table.remove_job(job_id(incident_id)):
                return
        except Exception:  # the job ends itself at its next run anyway
            log.exception("incident %s: could not remove its alert timer", incident_id)


async def alert_job(incident_id: int) -> None:
    """The stored job: one alert round for the incident, or the end of its timer once the
    incident is acknowledged or resolved."""
    services = scheduler.context()
    monitor = services.crisis
    if monitor is None:
        return
    await send_round(
        services.engine, services.channels, monitor.policy, incident_id, jobs=services.scheduler
    )


@dataclass
class Round:
    number: int
    tier: int
    recipients: list[Supervisor]
    texts: list[str]  # each recipient's, in their language
    buttons: list[Action]


async def send_round(
    engine, channels, policy: AlertPolicy, incident_id: int, now=None, jobs=None
) -> int:
    """Claim the next round in the database, then push it; returns messages sent."""
    now = now or utcnow()
    claimed = await asyncio.to_thread(_claim, engine, policy, incident_id, now)
    if claimed is None:
        return 0
    if isinstance(claimed, str):  # STOP
        if jobs is not None:
            jobs.remove_job(job_id(incident_id))
        return 0
    results = await asyncio.gather(
        *(
            push(channels, s.recipient, text, [button])
            for s, text, button in zip(
                claimed.recipients, claimed.texts, claimed.buttons, strict=True
            )
        ),
        return_exceptions=True,
    )
    await asyncio.to_thread(_record, engine, incident_id, claimed, results, now)
    return sum(1 for r in results if not isinstance(r, BaseException) and r.ok)


def _claim(engine, policy: AlertPolicy, incident_id: int, now: datetime) -> Round | str | None:
    with session_scope(engine) as session:
        incident = session.get(Incident, incident_id, with_for_update=True)
        if incident is None or incident.status != IncidentStatus.OPEN:
            return STOP
        last = incident.last_alert_at
        if last is not None and policy.slot(incident.opened_at, last) >= policy.slot(
            incident.opened_at, now
        ):
            return None  # a round already went out in this interval
        tier = max(incident.alert_tier, policy.tier_at(incident.opened_at, now))
        incident.alerts_sent += 1
        incident.alert_tier, incident.last_alert_at = tier, now
        session.add(incident)
        if not policy.supervisors:
            log.warning("incident %s: no REPLYLINE_CRISIS_SUPERVISORS to alert", incident_id)
        claimed = Round(incident.alerts_sent, tier, policy.recipients(tier), [], [])
        for supervisor in claimed.recipients:
            with use_locale(reader_locale(session, supervisor.recipient)):
                claimed.texts.append(
                    alert_text(session, incident, claimed.number, tier, policy.console_url)
                )
                claimed.buttons.append(ack_action(incident_id))
        return claimed


def _record(engine, incident_id: int, claimed: Round, results, now: datetime) -> None:
    with session_scope(engine) as session:
        for supervisor, result in zip(claimed.recipients, results, strict=True):
            failed = isinstance(result, BaseException)
            ok = not failed and result.ok
            error = f"{type(result).__name__}" if failed else (None if ok else result.error)
            if not ok:
                log.warning("alert to %s failed: %s", supervisor.recipient, error)
            session.add(
                IncidentAlert(
                    incident_id=incident_id,
                    round=claimed.number,
                    tier=supervisor.tier,
                    recipient=supervisor.recipient,
                    at=now,
                    ok=ok,
                    error=error,
                )
            )


def reschedule_open(jobs, engine, policy: AlertPolicy) -> int:
    """On start: give every open incident its timer back if it has none (e.g. it was opened
    while no scheduler ran). Timers already in the job table are left as they are."""
    with Session(engine) as session:
        open_ids = [
            i.id
            for i in incidents.active(session)
            if i.status == IncidentStatus.OPEN and i.id is not None
        ]
    missing = [i for i in open_ids if jobs.get_job(job_id(i)) is None]
    for incident_id in missing:
        schedule(jobs, incident_id, policy)
    return len(missing)


# ---- the acknowledge button --------------------------------------------------------------


def on_ack_press(session: Session, user: User | None, press: actions.Press, payload: str) -> str:
    """A supervisor pressed Acknowledge under an alert on Telegram or LINE."""
    if not payload.isdigit():
        return _("This button is no longer valid.")
    incident_id = int(payload)
    try:
        incident = incidents.acknowledge(session, incident_id, user, via=press.channel)
    except DomainError as error:
        return error.text()  # in the presser's language (actions.dispatch)
    event.listen(session, "after_commit", lambda _s: cancel(incident_id), once=True)
    return _("Incident #{id} acknowledged by {who}. Alerts stopped.").format(
        id=incident.id, who=incident.acknowledged_by
    )
