"""`replyline incidents list|show|ack|resolve|note`: crisis incidents from the shell, recorded
like the console's steps. Steps are taken as the console user named by --as (or
REPLYLINE_USER), who must be a supervisor."""

from __future__ import annotations

import asyncio
import json

from bot.cli import CommandError
from bot.config import get_settings


def register(subparsers) -> None:
    incidents = subparsers.add_parser("incidents", help="crisis incidents")
    sub = incidents.add_subparsers(dest="incidents_command", required=True)

    ls = sub.add_parser("list", help="list incidents, newest first")
    ls.add_argument("--status", choices=("open", "acknowledged", "resolved", "active"))
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
        "opened_at": incident.opened_at.isoformat(),
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
                f"#{incident.id} [{incident.status}] severity {incident.severity}/10 "
                f"{incident.opened_at:%Y-%m-%d %H:%M} UTC  {incident.title}"
            )
    return 0


def cmd_show(args) -> int:
    from sqlmodel import Session, select

    from bot.contact_name import contact_name, contacts_by_id
    from bot.crisis import incidents
    from db.models import IncidentAlert

    with Session(_engine()) as session:
        try:
            incident = incidents.get(session, args.id)
        except incidents.IncidentError as error:
            raise CommandError(str(error)) from error
        messages = incidents.messages_of(session, args.id)
        contacts = contacts_by_id(session, (m.contact_id for m in messages))
        notes = incidents.notes_of(session, args.id)
        sent = session.exec(select(IncidentAlert).where(IncidentAlert.incident_id == args.id)).all()
    print(f"#{incident.id} [{incident.status}] severity {incident.severity}/10: {incident.title}")
    print(incident.explanation)
    print(f"\nmessages ({len(messages)}):")
    for m in messages:
        who = contact_name(contacts.get(m.contact_id))
        print(f"  {m.sent_at:%m-%d %H:%M:%S} {m.channel} {who} ({m.type}): {m.text!r}")
    print(f"\nalerts ({len(sent)}):")
    for a in sent:
        print(f"  round {a.round} tier {a.tier} {a.recipient}: {'ok' if a.ok else a.error}")
    print(f"\nnotes ({len(notes)}):")
    for n in notes:
        print(f"  {n.at:%m-%d %H:%M} {n.username} via {n.via} {n.action}: {n.text}")
    return 0


def _step(args, fn, **kwargs):
    from sqlmodel import select

    from bot.crisis.incidents import IncidentError
    from db.engine import session_scope
    from db.models import User

    if not args.as_user:
        raise CommandError("say who takes this step: --as USERNAME (or set REPLYLINE_USER)")
    try:
        with session_scope(_engine()) as session:
            user = session.exec(select(User).where(User.username == args.as_user)).first()
            if user is None or not user.active:
                raise CommandError(f"no active console user named {args.as_user!r}")
            return fn(session, args.id, user, via="cli", **kwargs)
    except IncidentError as error:
        raise CommandError(str(error)) from error


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
    print(f"incident {incident.id} acknowledged by {incident.acknowledged_by}; alerts stopped")
    return 0


def cmd_resolve(args) -> int:
    from bot.crisis.incidents import resolve

    incident = _step(args, lambda s, i, u, via: resolve(s, i, u, args.note, via=via))
    _stop_alerts(incident.id)
    print(f"incident {incident.id} resolved by {incident.resolved_by}")
    return 0


def cmd_note(args) -> int:
    from bot.crisis.incidents import add_note

    _step(args, lambda s, i, u, via: add_note(s, i, u, args.note, via=via))
    print(f"note added to incident {args.id}")
    return 0
