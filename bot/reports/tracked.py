"""Report sections on what the team tracked in the period: crisis incidents (with their
timelines of alerts and notes) and the proposals collected at the collaboration stage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.reports.period import Period
from db.models import Incident, IncidentAlert, IncidentNote, Proposal

TEXT_LIMIT = 300


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return round((end - start).total_seconds() / 60, 1) if end else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _note_step(note: IncidentNote) -> dict:
    line = f"{note.action} by {note.username}"
    text = note.text[:TEXT_LIMIT] if note.text else ""
    what = (f"{line}: {note.text}" if note.text else line)[:TEXT_LIMIT]
    return {"what": what, "event": "note", "action": note.action, "by": note.username, "text": text}


def _alert_step(alert: IncidentAlert) -> dict:
    line = f"alert round {alert.round} to {alert.recipient}"
    what = line if alert.ok else f"{line} (not delivered)"
    return {
        "what": what,
        "event": "alert",
        "round": alert.round,
        "recipient": alert.recipient,
        "delivered": alert.ok,
    }


Step = tuple[datetime, dict]  # when, and what happened: "what" in English, the rest as data


def _events(session: Session, incidents: Sequence[Incident]) -> dict[int, list[Step]]:
    """Each incident's alerts and notes, as (when, step)."""
    events: dict[int, list[Step]] = {}
    ids = [i.id for i in incidents]
    if not ids:
        return events
    for alert in session.exec(select(IncidentAlert).where(col(IncidentAlert.incident_id).in_(ids))):
        events.setdefault(alert.incident_id, []).append((alert.at, _alert_step(alert)))
    for note in session.exec(select(IncidentNote).where(col(IncidentNote.incident_id).in_(ids))):
        events.setdefault(note.incident_id, []).append((note.at, _note_step(note)))
    return events


def _timeline(incident: Incident, events: list[Step]) -> list[dict]:
    """The steps in time order; "what" says each in English, "event" and its fields let a
    report say it in its reader's language."""
    own = [(incident.opened_at, {"what": "opened", "event": "opened"})]
    if incident.acknowledged_at:
        own.append((incident.acknowledged_at, {"what": "acknowledged", "event": "acknowledged"}))
    if incident.resolved_at:
        own.append((incident.resolved_at, {"what": "resolved", "event": "resolved"}))
    ordered = sorted(own + events, key=lambda e: e[0])  # stable: own steps first on a tie
    return [{"at": at.isoformat(), **step} for at, step in ordered]


def _incident(incident: Incident, events: dict[int, list[Step]]) -> dict:
    assert incident.id is not None  # read from the table
    return {
        "id": incident.id,
        "title": incident.title[:TEXT_LIMIT],
        # the signal the title was written from, so a report says it in its reader's language
        "signal": next((s for s in incident.signals if s.get("title") == incident.title), None),
        "status": incident.status,
        "severity": incident.severity,
        "opened_at": incident.opened_at.isoformat(),
        "closed_at": _iso(incident.resolved_at),
        "minutes_to_acknowledge": _minutes(incident.opened_at, incident.acknowledged_at),
        "minutes_open": _minutes(incident.opened_at, incident.resolved_at),
        "timeline": _timeline(incident, events.get(incident.id, [])),
    }


def incidents(engine: Engine, period: Period) -> dict:
    """Incidents opened in the period, each with its lifecycle times (opened, acknowledged,
    resolved) and its alerts and notes, in time order."""
    with Session(engine) as session:
        rows = session.exec(
            select(Incident)
            .where(Incident.opened_at >= period.start, Incident.opened_at < period.end)
            .order_by(col(Incident.opened_at), col(Incident.id))
        ).all()
        events = _events(session, rows)
    items = [_incident(i, events) for i in rows]
    return {
        "count": len(items),
        "by_status": dict(Counter(i["status"] for i in items)),
        "by_severity": dict(Counter(str(i["severity"]) for i in items)),  # keys as in JSON
        "items": items,
    }


def proposals(engine: Engine, period: Period) -> dict:
    """Proposals created in the period, with where each stands now."""
    with Session(engine) as session:
        rows = session.exec(
            select(Proposal)
            .where(Proposal.created_at >= period.start, Proposal.created_at < period.end)
            .order_by(col(Proposal.created_at), col(Proposal.id))
        ).all()
    items = [
        {
            "id": p.id,
            "number": p.number,
            "title": p.text[:TEXT_LIMIT],
            "status": p.status,
            "created_at": p.created_at.isoformat(),
        }
        for p in rows
    ]
    return {
        "count": len(items),
        "by_status": dict(Counter(p["status"] for p in items)),
        "items": items,
    }
