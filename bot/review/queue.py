"""The review queue as people work it: pending messages with their candidates, context, stage
history, scores, assignee and first-response deadline, most urgent first (crisis-related, then
first-response target about to be missed, then complaints), filtered by what the user picked.

The database orders, filters and pages the queue (the deadline is stored on the message when
its drafts are written), and one page is completed with a fixed number of queries, so a
request costs the same with ten pending messages or ten thousand."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import case, func, or_, text
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from bot.auth.roles import rank
from bot.review.decisions import CRISIS_PRIORITY, OPEN, is_crisis, required_role
from bot.review.notices import ShownNotice, shown
from db.enums import DraftStatus, Role
from db.models import (
    Assignment,
    AuditLog,
    Contact,
    Conversation,
    Draft,
    Handoff,
    Incident,
    Message,
    StaffNotice,
    StageTransition,
    User,
)
from db.types import utcnow
from playbooks.hours import BusinessHours

CONTEXT = 5  # earlier messages shown with each item
STAGES_SHOWN = 5  # stage moves shown with each item
PAGE_SIZE = 25  # a page the console renders well within 200 ms; a person works the top
FILTERS = ("channel", "type", "stage", "language", "assignee")
DEFAULT_TARGET = 60  # first-response minutes when a playbook names none


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
    role: Role
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


def target_minutes(draft: Draft) -> int:
    return int((draft.policy or {}).get("first_response_minutes", DEFAULT_TARGET))


def stamp_due(message: Message, drafts: list[Draft], hours: BusinessHours) -> None:
    """Store when the message must first be answered (its drafts' shortest target, counted in
    business hours), so the database can order the queue by it."""
    if drafts:
        message.due_at = hours.due(message.received_at, min(target_minutes(d) for d in drafts))


@dataclass
class QueuePage:
    items: list[QueueItem]
    total: int  # pending messages under the filters, on every page


def build_queue(
    session: Session,
    hours: BusinessHours,
    filters: QueueFilters,
    user: User,
    warn_minutes: int = 10,
    now: datetime | None = None,
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> list[QueueItem]:
    return load_page(session, hours, filters, user, warn_minutes, now, limit, offset).items


def load_page(
    session: Session,
    hours: BusinessHours,
    filters: QueueFilters,
    user: User,
    warn_minutes: int = 10,
    now: datetime | None = None,
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> QueuePage:
    """One page of the queue, most urgent first, and how many wait in all, in a fixed number of
    queries. The database sorts narrow rows (ids); only the page's messages are loaded."""
    now = now or utcnow()
    ids = session.exec(
        select(Message.id)
        .where(*_conditions(session, filters, user))
        .order_by(*_urgency(now, warn_minutes))
        .offset(offset)
        .limit(limit)
    ).all()
    total = count_queue(session, filters, user)
    if not ids:
        return QueuePage([], total)
    raw = defer(Message.raw)  # type: ignore[arg-type]  # SQLModel types the column as its values
    loaded = {
        m.id: m
        for m in session.exec(select(Message).options(raw).where(col(Message.id).in_(ids))).all()
    }
    return QueuePage(_items(session, hours, [loaded[i] for i in ids]), total)


def _items(session: Session, hours: BusinessHours, messages: list[Message]) -> list[QueueItem]:
    """The page's messages with their drafts, people, context and deadlines."""
    ids = [m.id for m in messages]
    drafts: dict[int, list[Draft]] = {}
    for draft in session.exec(
        select(Draft)
        .where(col(Draft.message_id).in_(ids), Draft.status == OPEN)
        .order_by(col(Draft.message_id), col(Draft.rank))
    ).all():
        drafts.setdefault(draft.message_id, []).append(draft)
    contacts = _by_id(session, Contact, {m.contact_id for m in messages if m.contact_id})
    conversations = _by_id(session, Conversation, {m.conversation_id for m in messages})
    assignees = dict(
        session.exec(
            select(Assignment.message_id, User)
            .join(User, col(User.id) == Assignment.user_id)
            .where(col(Assignment.message_id).in_(ids))
        ).all()
    )
    held = set(
        session.exec(
            select(Handoff.conversation_id).where(
                col(Handoff.released_at).is_(None),
                col(Handoff.conversation_id).in_(list(conversations)),
            )
        ).all()
    )
    context = _contexts(session, messages)
    stages = _stage_histories(session, list(contacts))
    items = []
    for message in messages:
        assert message.id is not None  # loaded from the table
        own = drafts.get(message.id, [])
        target = min((target_minutes(d) for d in own), default=DEFAULT_TARGET)
        flags = sorted({f for d in own for f in (d.policy or {}).get("flags", [])})
        items.append(
            QueueItem(
                message=message,
                drafts=own,
                contact=contacts.get(message.contact_id),
                conversation=conversations[message.conversation_id],
                assignee=assignees.get(message.id),
                context=context.get(message.id, []),
                stages=stages.get(message.contact_id, []) if message.contact_id else [],
                due_at=message.due_at or hours.due(message.received_at, target),
                target_minutes=target,
                role=max((required_role(d, message) for d in own), key=rank, default=Role.AGENT),
                handoff=message.conversation_id in held,
                flags=[f for f in flags if f != "handoff"],
            )
        )
    return items


def count_queue(session: Session, filters: QueueFilters, user: User) -> int:
    """How many messages wait for review under these filters (all pages)."""
    if not filters.active:  # the draft index alone answers
        pending = select(func.count(col(Draft.message_id).distinct())).where(Draft.status == OPEN)
        return session.exec(pending).one()
    return session.exec(
        select(func.count(col(Message.id))).where(*_conditions(session, filters, user))
    ).one()


def _conditions(session: Session, filters: QueueFilters, user: User) -> list:
    """Messages with a pending draft (found through the draft index) that pass the filters."""
    conditions = [col(Message.id).in_(select(Draft.message_id).where(Draft.status == OPEN))]
    for name in ("channel", "type", "stage", "language"):
        value = getattr(filters, name)
        if value:
            conditions.append(getattr(Message, name) == value)
    if filters.assignee:
        assigned = select(Assignment.message_id)
        if filters.assignee == "none":
            conditions.append(col(Message.id).not_in(assigned))
        else:
            who = user.id if filters.assignee == "me" else _user_id(session, filters.assignee)
            conditions.append(col(Message.id).in_(assigned.where(Assignment.user_id == who)))
    return conditions


def _urgency(now: datetime, warn_minutes: int) -> tuple:
    """The queue's order as SQL: crisis-related first (the higher priority first), then
    first-response deadlines within `warn_minutes` (or missed), then complaints, then the
    earliest deadline. A message drafted before deadlines were stored counts as due on
    arrival."""
    crisis = or_(col(Message.incident_id).is_not(None), col(Message.priority) >= CRISIS_PRIORITY)
    due = func.coalesce(col(Message.due_at), col(Message.received_at))
    return (
        case((crisis, 0), else_=1),
        col(Message.priority).desc(),
        case((due <= now + timedelta(minutes=warn_minutes), 0), else_=1),
        case((col(Message.type) == "complaint", 0), else_=1),
        due,
        col(Message.id),
    )


def _user_id(session: Session, username: str) -> int:
    found = session.exec(select(User.id).where(User.username == username)).first()
    return found if found is not None else -1


def _by_id(session: Session, model, ids: set[int]) -> dict:
    if not ids:
        return {}
    return {row.id: row for row in session.exec(select(model).where(col(model.id).in_(ids))).all()}


def _newest(session: Session, arm: str, arms: list[dict], count: int) -> list[tuple[int, int]]:
    """(row id, item) for the `count` newest rows of each arm, in one statement: a union of
    small index lookups rather than a query per item. `arm` selects `id` with parameters named
    {n}-suffixed, filled from each dict of `arms` (whose "item" names the item it serves)."""
    parts, params = [], {}
    for n, values in enumerate(arms):
        item, newest = int(values["item"]), arm.format(n=n)  # constant SQL, integers, placeholders
        parts.append(
            f"SELECT id, {item} AS item FROM ({newest} ORDER BY id DESC LIMIT {count}) AS arm{n}"  # noqa: S608
        )
        params.update({f"{name}{n}": v for name, v in values.items() if name != "item"})
    if not parts:
        return []
    return [tuple(row) for row in session.execute(text(" UNION ALL ".join(parts)), params)]


def _contexts(session: Session, messages: list[Message]) -> dict[int, list]:
    """The messages just before each one in its conversation, oldest first (only what the
    queue shows of them)."""
    pairs = _newest(
        session,
        "SELECT id FROM message WHERE conversation_id = :conversation{n} AND id < :before{n}",
        [{"item": m.id, "conversation": m.conversation_id, "before": m.id} for m in messages],
        CONTEXT,
    )
    if not pairs:
        return {}
    rows = {
        row.id: row
        for row in session.execute(  # five columns: more than sqlmodel's select has types for
            sa.select(
                col(Message.id),
                col(Message.direction),
                col(Message.text),
                col(Message.content_type),
                col(Message.sent_at),
            ).where(col(Message.id).in_({row_id for row_id, _ in pairs}))
        ).all()
    }
    found: dict[int, list] = {}
    for row_id, item in sorted(pairs):
        found.setdefault(item, []).append(rows[row_id])
    return found


def _stage_histories(session: Session, contact_ids: list[int]) -> dict[int, list]:
    """Each contact's latest stage moves, newest first."""
    pairs = _newest(
        session,
        "SELECT id FROM stagetransition WHERE contact_id = :contact{n}",
        [{"item": c, "contact": c} for c in contact_ids],
        STAGES_SHOWN,
    )
    rows = _by_id(session, StageTransition, {row_id for row_id, _ in pairs})
    found: dict[int, list] = {}
    for row_id, contact in sorted(pairs, reverse=True):
        found.setdefault(contact, []).append(rows[row_id])
    return found


def queue_version(connection) -> str:
    """A fingerprint of what the queue page shows, cheap enough to read every second (primary
    keys and small index ranges only): new messages, drafts and incidents, every decision (each
    is audited), handoffs, notices and replies that could not be sent."""
    failed = select(func.count()).select_from(Draft).where(Draft.status == DraftStatus.FAILED)
    held = select(func.count()).select_from(Handoff).where(col(Handoff.released_at).is_(None))
    parts = [
        select(func.max(Message.id)).scalar_subquery(),
        select(func.max(Draft.id)).scalar_subquery(),
        select(func.max(AuditLog.id)).scalar_subquery(),
        select(func.max(Incident.id)).scalar_subquery(),
        select(func.max(Handoff.id)).scalar_subquery(),
        held.scalar_subquery(),
        select(func.max(StaffNotice.id)).scalar_subquery(),
        failed.scalar_subquery(),
    ]
    row = connection.execute(select(*parts)).one()
    return "-".join(str(value or 0) for value in row)


def open_handoffs(session: Session) -> list[tuple[Handoff, Conversation, Message, Contact | None]]:
    """Chats waiting for a person, each with the message that asked and who wrote it."""
    rows = session.exec(
        select(Handoff, Conversation, Message, Contact)
        .join(Conversation, col(Conversation.id) == Handoff.conversation_id)
        .join(Message, col(Message.id) == Handoff.message_id)
        .outerjoin(Contact, col(Contact.id) == Message.contact_id)
        .where(col(Handoff.released_at).is_(None))
        .order_by(col(Handoff.id))
    ).all()
    return list(rows)


def recent_notices(session: Session, hours: int = 24, limit: int = 10) -> list[ShownNotice]:
    """The last day's notices, newest first, in the reader's language."""
    since = utcnow() - timedelta(hours=hours)
    found = session.exec(
        select(StaffNotice)
        .where(StaffNotice.created_at >= since)
        .order_by(col(StaffNotice.id).desc())
        .limit(limit)
    ).all()
    return shown(session, list(found))


@dataclass(frozen=True)
class ResponseStats:
    answered: int
    within_target: int
    median_minutes: float | None


def response_stats(session: Session, hours: BusinessHours, days: int = 7) -> ResponseStats:
    """First responses sent by people in the last `days`, against each message's deadline."""
    since = utcnow() - timedelta(days=days)
    minutes, within = [], 0
    for received, sent, due in _sent_rows(session, hours, since):
        minutes.append((sent - received).total_seconds() / 60)
        within += sent <= due
    minutes.sort()
    median = minutes[len(minutes) // 2] if minutes else None
    return ResponseStats(len(minutes), within, median)


def _sent_rows(
    session: Session, hours: BusinessHours, since: datetime
) -> list[tuple[datetime, datetime, datetime]]:
    """(received, first reply sent, deadline) per message; only the columns, not the rows:
    the console asks this on every refresh."""
    rows = session.execute(  # five columns: more than sqlmodel's select has types for
        sa.select(
            col(Draft.message_id),
            col(Draft.sent_at),
            col(Draft.policy),
            col(Message.received_at),
            col(Message.due_at),
        )
        .join(Message, col(Message.id) == Draft.message_id)
        .where(
            col(Draft.status) == DraftStatus.SENT,
            col(Draft.auto).is_(False),
            col(Draft.sent_at) >= since,
        )
        .order_by(col(Draft.sent_at))
    ).all()
    first: dict[int, tuple[datetime, datetime, datetime]] = {}
    for message_id, sent, policy, received, due in rows:
        if message_id not in first:
            target = int((policy or {}).get("first_response_minutes", DEFAULT_TARGET))
            first[message_id] = (received, sent, due or hours.due(received, target))
    return list(first.values())
