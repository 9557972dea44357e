"""The review queue as people work it: pending messages with their candidates, context, stage
history, scores, assignee and first-response deadline, most urgent first (crisis-related, then
first-response target about to be missed, then complaints), filtered by what the user picked."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, select

from bot.review import OPEN, is_crisis, required_role
from db.models import (
    Assignment,
    Contact,
    Conversation,
    Draft,
    Handoff,
    Message,
    StaffNotice,
    StageTransition,
    User,
)
from db.types import utcnow
from playbooks.hours import BusinessHours

CONTEXT = 5  # earlier messages shown with each item
FILTERS = ("channel", "type", "stage", "language", "assignee")


@dataclass
class QueueFilters:
    channel: str = ""
    type: str = ""
    stage: str = ""
    language: str = ""
    assignee: str = ""  # "" all, "me", "none", or a username

    @classmethod
    def from_query(cls, params) -> QueueFilters:
        return cls(**{k: (params.get(k) or "").strip()[:64] for k in FILTERS})

    @property
    def active(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in FILTERS if getattr(self, k)}


@dataclass
class QueueItem:
    message: Message
    drafts: list[Draft]
    contact: Contact | None
    conversation: Conversation
    assignee: User | None
    context: list[Message]
    stages: list[StageTransition]
    due_at: datetime
    target_minutes: int
    role: str
    handoff: bool
    flags: list[str] = field(default_factory=list)

    @property
    def policy(self) -> dict:
        return (self.drafts[0].policy or {}) if self.drafts else {}

    @property
    def crisis(self) -> bool:
        return is_crisis(self.message)

    def sla(self, now: datetime, warn_minutes: int) -> str:
        if now >= self.due_at:
            return "late"
        return "soon" if self.due_at - now <= timedelta(minutes=warn_minutes) else "ok"

    def urgency(self, now: datetime, warn_minutes: int) -> tuple:
        return (
            not self.crisis,
            -self.message.priority,
            self.sla(now, warn_minutes) == "ok",
            self.message.type != "complaint",
            self.due_at,
            self.message.id,
        )

    @property
    def version(self) -> str:
        """Changes whenever anything shown about the item changes (for live updates)."""
        parts = [
            *(f"{d.id}:{d.status}:{d.text}" for d in self.drafts),
            str(self.assignee.id if self.assignee else ""),
            self.message.type or "",
            self.message.subtype or "",
            self.message.stage or "",
            str(self.handoff),
            str(self.message.incident_id),
            str(len(self.context)),
        ]
        return hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()[:12]


def build_queue(
    session: Session,
    hours: BusinessHours,
    filters: QueueFilters,
    user: User,
    warn_minutes: int = 10,
    now: datetime | None = None,
    limit: int = 100,
) -> list[QueueItem]:
    now = now or utcnow()
    query = (
        select(Draft, Message)
        .join(Message, Message.id == Draft.message_id)
        .where(Draft.status == OPEN)
        .order_by(Draft.message_id, Draft.rank)
    )
    for name in ("channel", "type", "stage", "language"):
        value = getattr(filters, name)
        if value:
            query = query.where(getattr(Message, name) == value)
    if filters.assignee:
        assigned = select(Assignment.message_id)
        if filters.assignee == "none":
            query = query.where(Message.id.not_in(assigned))
        else:
            who = user.id if filters.assignee == "me" else _user_id(session, filters.assignee)
            query = query.where(Message.id.in_(assigned.where(Assignment.user_id == who)))
    rows = session.exec(query).all()
    by_message: dict[int, tuple[Message, list[Draft]]] = {}
    for draft, message in rows:
        by_message.setdefault(message.id, (message, []))[1].append(draft)
    if not by_message:
        return []
    ids = list(by_message)
    assignments = {
        a.message_id: a
        for a in session.exec(select(Assignment).where(Assignment.message_id.in_(ids))).all()
    }
    users = {u.id: u for u in session.exec(select(User)).all()}
    held = set(
        session.exec(select(Handoff.conversation_id).where(Handoff.released_at.is_(None))).all()
    )
    items = []
    for message, drafts in by_message.values():
        target = min(int((d.policy or {}).get("first_response_minutes", 60)) for d in drafts)
        flags = sorted({f for d in drafts for f in (d.policy or {}).get("flags", [])})
        assignment = assignments.get(message.id)
        items.append(
            QueueItem(
                message=message,
                drafts=drafts,
                contact=session.get(Contact, message.contact_id) if message.contact_id else None,
                conversation=session.get(Conversation, message.conversation_id),
                assignee=users.get(assignment.user_id) if assignment else None,
                context=[],
                stages=[],
                due_at=hours.due(message.received_at, target),
                target_minutes=target,
                role=max((required_role(d, message) for d in drafts), key=_rank),
                handoff=message.conversation_id in held,
                flags=[f for f in flags if f != "handoff"],
            )
        )
    items.sort(key=lambda item: item.urgency(now, warn_minutes))
    items = items[:limit]
    for item in items:
        item.context = _context(session, item.message)
        if item.contact:
            item.stages = _stages(session, item.contact.id)
    return items


def _rank(role: str) -> int:
    return {"agent": 1, "supervisor": 2, "admin": 3}.get(role, 0)


def _user_id(session: Session, username: str) -> int:
    found = session.exec(select(User.id).where(User.username == username)).first()
    return found if found is not None else -1


def _context(session: Session, message: Message) -> list[Message]:
    rows = session.exec(
        select(Message)
        .where(Message.conversation_id == message.conversation_id, Message.id < message.id)
        .order_by(Message.id.desc())
        .limit(CONTEXT)
    ).all()
    return list(reversed(rows))


def _stages(session: Session, contact_id: int) -> list[StageTransition]:
    return list(
        session.exec(
            select(StageTransition)
            .where(StageTransition.contact_id == contact_id)
            .order_by(StageTransition.id.desc())
            .limit(5)
        ).all()
    )


def open_handoffs(session: Session) -> list[tuple[Handoff, Conversation, Message]]:
    rows = session.exec(
        select(Handoff, Conversation, Message)
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .join(Message, Message.id == Handoff.message_id)
        .where(Handoff.released_at.is_(None))
        .order_by(Handoff.id)
    ).all()
    return list(rows)


def recent_notices(session: Session, hours: int = 24, limit: int = 10) -> list[StaffNotice]:
    since = utcnow() - timedelta(hours=hours)
    return list(
        session.exec(
            select(StaffNotice)
            .where(StaffNotice.created_at >= since)
            .order_by(StaffNotice.id.desc())
            .limit(limit)
        ).all()
    )


@dataclass(frozen=True)
class ResponseStats:
    answered: int
    within_target: int
    median_minutes: float | None


def response_stats(session: Session, hours: BusinessHours, days: int = 7) -> ResponseStats:
    """First responses sent by people in the last `days`, against each playbook's target."""
    since = utcnow() - timedelta(days=days)
    rows = _sent_rows(session, since)
    minutes, within = [], 0
    for received, sent, target in rows:
        minutes.append((sent - received).total_seconds() / 60)
        within += sent <= hours.due(received, target)
    minutes.sort()
    median = minutes[len(minutes) // 2] if minutes else None
    return ResponseStats(len(minutes), within, median)


def _sent_rows(session: Session, since: datetime) -> list[tuple[datetime, datetime, int]]:
    drafts = session.exec(
        select(Draft, Message.received_at)
        .join(Message, Message.id == Draft.message_id)
        .where(Draft.status == "sent", Draft.auto.is_(False), Draft.sent_at >= since)
        .order_by(Draft.sent_at)
    ).all()
    first: dict[int, tuple[datetime, datetime, int]] = {}
    for draft, received in drafts:
        target = int((draft.policy or {}).get("first_response_minutes", 60))
        first.setdefault(draft.message_id, (received, draft.sent_at, target))
    return list(first.values())
