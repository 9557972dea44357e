"""`replyline incidents list|show|ack|resolve|note`: crisis incidents from the shell, recorded
like the console's steps. Steps are taken as the console user named by --as (or
REPLYLINE_USER), who must be a supervisor."""

from __future__ import annotations

import asyncio
import json

from bot.cli import acting_user
from bot.cli.shown import incident_step, iso, when, zone_note
from bot.config import get_settings
from bot.crisis.wording import incident_title
from bot.i18n import channel_label, incident_status_label, type_label, via_label
from bot.i18n import gettext as _
from db.enums import IncidentStatus


def register(subparsers) -> None:
    incidents = subparsers.add_parser("incidents", help="crisis incidents")
    sub = incidents.add_subparsers(dest="incidents_command", required=True)

    ls = sub.add_parser("list", help="list incidents, newest first")
    ls.add_argument("--status", choices=(*IncidentStatus, "active"))
    ls.add_argument("--json", action="store_true", help="print JSON lines")
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="an incident: explanation, messages, alerts, notes")
    show.add_argument("id", type=int)
    show.set_defaults(func=cmd_show)

    steps = (
        ("ack", "acknowledge: stop the alerts, someone is on it", cmd_ack),
        ("resolve", "resolve with a note on what was done", cmd_resolve),
        ("note", "add a note to the incident's timeline", cmd_note),
    )
    for name, helptext, func in steps:
        p = sub.add_parser(name, help=helptext)
        p.add_argument("id", type=int)
        p.add_argument(
            "--as",
            dest="as_user",
            default=None,
            help="supervisor taking the step (default REPLYLINE_USER)",
        )
        p.add_argument("--note", default="", required=name != "ack", help="what to record")
        p.set_defaults(func=func)


def _engine():
    from db.engine import make_engine

    return make_engine(get_settings().database.url)


def _summary(incident, messages: int | None = None) -> dict:
    return {
        "id": incident.id,
        "status": incident.status,
        "severity": incident.severity,
        "title": incident.title,
        "kinds": incident.kinds,
        "channels": incident.channels,
        "opened_at": iso(incident.opened_at),
        "acknowledged_by": incident.acknowledged_by,
        "resolved_by": incident.resolved_by,
        "alerts_sent": incident.alerts_sent,
        "messages": messages,
    }


def cmd_list(args) -> int:
    from sqlmodel import Session, col, select

    from bot.crisis.incidents import ACTIVE
    from db.models import Incident

    with Session(_engine()) as session:
        query = select(Incident).order_by(col(Incident.id).desc()).limit(args.limit)
        if args.status == "active":
            query = query.where(col(Incident.status).in_(ACTIVE))
        elif args.status:
            query = query.where(Incident.status == args.status)
        rows = session.exec(query).all()
    for incident in rows:
        if args.json:
            print(json.dumps(_summary(incident), ensure_ascii=False))
        else:
            print(
                _("#{id} [{status}] severity {severity}/10 {opened}  {title}").format(
                    id=incident.id,
                    status=incident_status_label(incident.status),
                    severity=incident.severity,
                    opened=when(incident.opened_at),
                    title=incident_title(incident),
                )
            )
    if rows and not args.json:
        print(zone_note())
    elif not rows and not args.json:
        print(_("No incidents."))
    return 0


def cmd_show(args) -> int:
    from sqlmodel import Session, select

    from bot.crisis import incidents
    from bot.review.contact_names import contact_name, contacts_by_id
    from db.models import IncidentAlert

    with Session(_engine()) as session:
        incident = incidents.get(session, args.id)
        messages = incidents.messages_of(session, args.id)
        contacts = contacts_by_id(session, (m.contact_id for m in messages))
        notes = incidents.notes_of(session, args.id)
        sent = session.exec(select(IncidentAlert).where(IncidentAlert.incident_id == args.id)).all()
        explanation = incidents.explain(session, incident)
    print(
        _("#{id} [{status}] severity {severity}/10: {title}").format(
            id=incident.id,
            status=incident_status_label(incident.status),
            severity=incident.severity,
            title=incident_title(incident),
        )
    )
    print(_("Opened {time}").format(time=when(incident.opened_at)))
    print(explanation)
    print("\n" + _("Messages ({count}):").format(count=len(messages)))
    for m in messages:
        who = contact_name(contacts.get(m.contact_id))
        kind = type_label(m.type) or "?"
        print(f"  {when(m.sent_at)} {channel_label(m.channel)} {who} ({kind}): {m.text!r}")
    print("\n" + _("Alerts ({count}):").format(count=len(sent)))
    for a in sent:
        outcome = _("delivered") if a.ok else _("failed: {error}").format(error=a.error)
        print(
            "  "
            + _("round {round}, tier {tier}, {when}, to {recipient}: {outcome}").format(
                round=a.round, tier=a.tier, when=when(a.at), recipient=a.recipient,
                outcome=outcome,
            )
        )  # fmt: skip
    print("\n" + _("Notes ({count}):").format(count=len(notes)))
    for n in notes:
        print(
            f"  {when(n.at)} {n.username} ({via_label(n.via)}) {incident_step(n.action)}: {n.text}"
        )
    print(zone_note())
    return 0


def _step(args, fn, **kwargs):
    from db.engine import session_scope

    with session_scope(_engine()) as session:
        user = acting_user(session, args.as_user)
        return fn(session, args.id, user, via="cli", **kwargs)


def _stop_alerts(incident_id: int) -> None:
    """Remove the alert timer from the job table now (its next run would end it anyway)."""
    from bot.crisis.alerts import cancel
    from bot.scheduler import job_table

    async def remove() -> None:
        async with job_table(get_settings().database.url) as jobs:
            cancel(incident_id, jobs)

    asyncio.run(remove())


def cmd_ack(args) -> int:
    from bot.crisis.incidents import acknowledge

    incident = _step(args, acknowledge, note=args.note)
    _stop_alerts(incident.id)
    print(
        _("Incident #{id} acknowledged by {who}. Alerts stopped.").format(
            id=incident.id, who=incident.acknowledged_by
        )
    )
    return 0


def cmd_resolve(args) -> int:
    from bot.crisis.incidents import resolve

    incident = _step(args, lambda s, i, u, via: resolve(s, i, u, args.note, via=via))
    _stop_alerts(incident.id)
    print(_("Incident #{id} resolved by {who}.").format(id=incident.id, who=incident.resolved_by))
    return 0


def cmd_note(args) -> int:
    from bot.crisis.incidents import add_note

    _step(args, lambda s, i, u, via: add_note(s, i, u, args.note, via=via))
    print(_("Note added to incident #{id}.").format(id=args.id))
    return 0
