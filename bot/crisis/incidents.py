"""Incidents: a signal opens one, later signals about the same story join it (severity may
rise), and people move it open → acknowledged → resolved with notes.

`belongs` (does a signal belong to an incident?) is pure, so the replay benchmark uses the
same rule as the live system."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import or_
from sqlmodel import Session, col, select

from bot.auth.roles import has_role
from bot.crisis.signals import Observation, Signal
from bot.crisis.wording import signal_explanation
from bot.errors import Conflict, Forbidden, Invalid, NotFound
from bot.i18n import channel_label, use_locale
from bot.i18n import gettext as _
from bot.i18n.catalog import N_
from db.enums import IncidentStatus, Role
from db.models import Incident, IncidentMessage, IncidentNote, Message, User
from db.types import utcnow

ACTIVE = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)
SPIKE_KINDS = {"volume", "share"}
EXAMPLES = 3


@dataclass
class IncidentView:
    """What matching needs to know about an active incident."""

    id: int
    kinds: set[str]
    channels: set[str]
    message_ids: set[int] = field(default_factory=set)
    contacts: set[int] = field(default_factory=set)  # people whose messages are in it
    story: np.ndarray | None = None
    severity: int = 1


def belongs(signal: Signal, view: IncidentView, story_threshold: float) -> bool:
    """Same story: shared messages, a close story embedding, or a spike on the same channels
    while a spike incident is open."""
    if view.message_ids.intersection(signal.message_ids):
        return True
    if (
        signal.vector is not None
        and view.story is not None
        and float(view.story @ signal.vector) >= story_threshold
    ):
        return True
    if signal.kind in SPIKE_KINDS and view.kinds & SPIKE_KINDS:
        channels = set(signal.channels)
        return "*" in channels or bool(view.channels & channels) or not view.channels
    return False


def joins(obs: Observation, view: IncidentView, story_threshold: float) -> bool:
    """A new message joins an active incident (and gets the crisis playbook) when its author is
    already in it, when it is about the incident's story, or when it is negative on a channel
    where the incident is a spike."""
    if obs.message_id in view.message_ids:
        return True
    if obs.contact_id is not None and obs.contact_id in view.contacts:
        return True
    if view.kinds & SPIKE_KINDS and obs.negative and obs.channel in view.channels:
        return True
    if obs.vector is None or view.story is None:
        return False
    return float(view.story @ obs.vector) >= story_threshold


def mostly_resolved(message_ids: Iterable[int], resolved: set[int]) -> bool:
    """Most of a signal's messages were in an incident already resolved: the tail of a crisis
    the team has dealt with, not a new one."""
    ids = set(message_ids)
    return bool(ids) and len(ids & resolved) * 2 >= len(ids)


def raised_severity(current: int, signal: Signal, kinds: set[str]) -> int:
    """The worse of the two, one more when a different kind of signal corroborates it."""
    corroborated = signal.kind not in kinds
    return min(10, max(current, signal.severity) + (1 if corroborated else 0))


def story_vector(incident: Incident) -> np.ndarray | None:
    return np.frombuffer(incident.story, dtype=np.float32) if incident.story else None


def view_of(session: Session, incident: Incident, about: Message | None = None) -> IncidentView:
    """The incident as matching sees it; `about` one message, only the members that matter to
    it (that message, its author's), since an incident can hold thousands."""
    assert incident.id is not None  # a stored incident
    query = (
        select(IncidentMessage.message_id, Message.contact_id)
        .join(Message, col(Message.id) == IncidentMessage.message_id)
        .where(IncidentMessage.incident_id == incident.id)
    )
    if about is not None:
        same = [col(IncidentMessage.message_id) == about.id]
        if about.contact_id is not None:
            same.append(col(Message.contact_id) == about.contact_id)
        query = query.where(or_(*same))
    rows = session.exec(query).all()
    return IncidentView(
        id=incident.id,
        kinds=set(incident.kinds),
        channels=set(incident.channels),
        message_ids={r[0] for r in rows},
        contacts={r[1] for r in rows if r[1] is not None},
        story=story_vector(incident),
        severity=incident.severity,
    )


def category(incident: Incident) -> str | None:
    """The severity category (legal, safety, ...) the incident is about, if one was named."""
    for s in incident.signals:
        if s.get("kind") == "severity":
            return s.get("figures", {}).get("category")
    return None


def active(session: Session) -> list[Incident]:
    return list(
        session.exec(
            select(Incident).where(col(Incident.status).in_(ACTIVE)).order_by(col(Incident.id))
        )
    )


@dataclass
class Recorded:
    incident: Incident
    opened: bool
    severity_rose: bool
    new_message_ids: list[int]


def record(
    session: Session, signal: Signal, story_threshold: float, now: datetime | None = None
) -> Recorded | None:
    """Open an incident for the signal or join the active one it belongs to. None when the
    signal only repeats a resolved incident (most of its messages were in it)."""
    now = now or utcnow()
    if mostly_resolved(signal.message_ids, _resolved_among(session, signal.message_ids)):
        return None
    views = [(i, view_of(session, i)) for i in active(session)]
    match = next((i for i, v in views if belongs(signal, v, story_threshold)), None)
    if match is None:
        incident = Incident(
            title=signal.title[:200],
            severity=signal.severity,
            explanation="",
            kinds=[signal.kind],
            channels=sorted(signal.channels),
            signals=[signal.summary()],
            story=_to_bytes(signal.vector),
            opened_at=now,
            updated_at=now,
        )
        session.add(incident)
        session.flush()
        new_ids = link(session, incident, signal.message_ids, signal.kind)
        incident.explanation = stored_explanation(session, incident)
        return Recorded(incident, True, False, new_ids)

    incident = match
    before = incident.severity
    incident.severity = raised_severity(before, signal, set(incident.kinds))
    incident.kinds = sorted({*incident.kinds, signal.kind})
    incident.channels = sorted({*incident.channels, *signal.channels})
    incident.signals = [*incident.signals, signal.summary()][-50:]
    if incident.story is None and signal.vector is not None:
        incident.story = _to_bytes(signal.vector)
    incident.updated_at = now
    new_ids = link(session, incident, signal.message_ids, signal.kind)
    incident.explanation = stored_explanation(session, incident)
    session.add(incident)
    return Recorded(incident, False, incident.severity > before, new_ids)


def link(
    session: Session, incident: Incident, message_ids: Iterable[int], reason: str
) -> list[int]:
    """Add messages to the incident; returns the ones that were not in it yet."""
    assert incident.id is not None  # flushed before its messages are linked
    have = set(
        session.exec(
            select(IncidentMessage.message_id).where(IncidentMessage.incident_id == incident.id)
        ).all()
    )
    new = [m for m in dict.fromkeys(message_ids) if m not in have]
    for message_id in new:
        session.add(IncidentMessage(incident_id=incident.id, message_id=message_id, reason=reason))
    session.flush()
    return new


def messages_of(session: Session, incident_id: int, limit: int = 500) -> list[Message]:
    return list(
        session.exec(
            select(Message)
            .join(IncidentMessage, col(IncidentMessage.message_id) == Message.id)
            .where(IncidentMessage.incident_id == incident_id)
            .order_by(col(Message.sent_at))
            .limit(limit)
        )
    )


def explain(session: Session, incident: Incident) -> str:
    """Plain language, in the current language: each kind of signal once (its latest
    figures), the channels, and the most telling messages."""
    assert incident.id is not None  # flushed before it is explained
    latest: dict[str, dict] = {}
    for s in incident.signals:
        latest[s["kind"] if s["kind"] != "volume" else s["key"].rsplit(":", 1)[0]] = s
    lines = [signal_explanation(s) for s in latest.values()]
    channels = ", ".join(channel_label(c) for c in incident.channels) or _("unknown")
    lines.append(_("Channels: {channels}.").format(channels=channels))
    examples = sorted(
        messages_of(session, incident.id),
        key=lambda m: (m.sentiment if m.sentiment is not None else 0.0, -m.sent_at.timestamp()),
    )[:EXAMPLES]
    if examples:
        lines.append(_("Examples:"))
        lines += [
            _("- “{text}” ({channel})").format(
                text=_short(m.text), channel=channel_label(m.channel)
            )
            for m in examples
        ]
    return "\n".join(lines)


def stored_explanation(session: Session, incident: Incident) -> str:
    """The explanation the incident row keeps (in English; readers get `explain`'s)."""
    with use_locale("en"):
        return explain(session, incident)


def _short(text: str | None, limit: int = 120) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _resolved_among(session: Session, message_ids: list[int]) -> set[int]:
    if not message_ids:
        return set()
    return set(
        session.exec(
            select(IncidentMessage.message_id)
            .join(Incident, col(Incident.id) == IncidentMessage.incident_id)
            .where(
                Incident.status == IncidentStatus.RESOLVED,
                col(IncidentMessage.message_id).in_(message_ids),
            )
        ).all()
    )


def _to_bytes(vector: np.ndarray | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()


# ---- people's steps ----------------------------------------------------------------------


def get(session: Session, incident_id: int, lock: bool = False) -> Incident:
    incident = session.get(Incident, incident_id, with_for_update=lock)
    if incident is None:
        raise NotFound(N_("incident {incident} does not exist"), incident=incident_id)
    return incident


def _require(user: User | None) -> User:
    if user is None or not user.active:
        raise Forbidden(N_("only a supervisor linked to a console user can do this"))
    if not has_role(user, Role.SUPERVISOR):
        raise Forbidden(N_("this needs the supervisor role"))
    return user


def acknowledge(
    session: Session, incident_id: int, user: User | None, via: str = "console", note: str = ""
) -> Incident:
    """Someone is on it: repeats and escalation stop."""
    user = _require(user)
    incident = get(session, incident_id, lock=True)
    if incident.status != IncidentStatus.OPEN:
        who = incident.acknowledged_by or incident.resolved_by
        if who is None:
            raise Conflict(N_("incident {incident} is already {status}"), incident=incident_id,
                           status=incident.status)  # fmt: skip
        raise Conflict(N_("incident {incident} is already {status} by {name}"),
                       incident=incident_id, status=incident.status, name=who)  # fmt: skip
    now = utcnow()
    incident.status, incident.acknowledged_at, incident.acknowledged_by = (
        IncidentStatus.ACKNOWLEDGED,
        now,
        user.username,
    )
    incident.updated_at = now
    session.add(incident)
    _note(session, incident, user, via, "acknowledge", note)
    return incident


def resolve(
    session: Session, incident_id: int, user: User | None, note: str, via: str = "console"
) -> Incident:
    """Over: say what was done. Resolving an open incident acknowledges it too."""
    user = _require(user)
    note = (note or "").strip()
    if not note:
        raise Invalid(N_("say how the incident was resolved"))
    incident = get(session, incident_id, lock=True)
    if incident.status == IncidentStatus.RESOLVED:
        raise Conflict(N_("incident {incident} is already resolved"), incident=incident_id)
    now = utcnow()
    if incident.status == IncidentStatus.OPEN:
        incident.acknowledged_at, incident.acknowledged_by = now, user.username
    incident.status, incident.resolved_at, incident.resolved_by = (
        IncidentStatus.RESOLVED,
        now,
        user.username,
    )
    incident.updated_at = now
    session.add(incident)
    _note(session, incident, user, via, "resolve", note)
    return incident


def add_note(
    session: Session, incident_id: int, user: User | None, text: str, via: str = "console"
) -> IncidentNote:
    user = _require(user)
    text = (text or "").strip()
    if not text:
        raise Invalid(N_("a note cannot be empty"))
    incident = get(session, incident_id)
    incident.updated_at = utcnow()
    session.add(incident)
    return _note(session, incident, user, via, "note", text)


def _note(session, incident, user, via, action, text) -> IncidentNote:
    note = IncidentNote(
        incident_id=incident.id,
        user_id=user.id,
        username=user.username,
        via=via,
        action=action,
        text=(text or "").strip(),
    )
    session.add(note)
    return note


def notes_of(session: Session, incident_id: int) -> list[IncidentNote]:
    return list(
        session.exec(
            select(IncidentNote)
            .where(IncidentNote.incident_id == incident_id)
            .order_by(col(IncidentNote.at), col(IncidentNote.id))
        )
    )
