"""Personal data under Taiwan's PDPA: export everything stored about a contact, erase it on
request, and purge message text past the retention period.

Erasing and purging remove what identifies or quotes a person (names, platform ids, message
text, raw payloads, reply texts, training examples) and keep what reports count: message types,
sentiment, language, stage, timestamps and draft statuses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, null, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from bot.errors import NotFound
from bot.i18n.catalog import N_
from db.engine import session_scope
from db.enums import DraftStatus, MessageState
from db.models import (
    AuditLog,
    Contact,
    Conversation,
    CrisisFeed,
    Draft,
    Feedback,
    Incident,
    IncidentMessage,
    Message,
    Proposal,
    StaffCard,
    StaffNotice,
    StageTransition,
    User,
)
from db.types import utcnow

OPEN_DRAFTS = (DraftStatus.PENDING, DraftStatus.APPROVED, DraftStatus.EDITED)  # text needed
PURGE_BATCH = 500
# null(): SQL NULL; a plain None would be stored in a JSON column as the JSON text 'null'.
ERASED_MESSAGE: dict[str, object] = {
    "text": None,
    "raw": null(),
    "reply_token": None,
    "error": None,
}
ERASED_DRAFT: dict[str, object] = {"text": "", "original_text": "", "reason": None, "error": None}
ERASED_AUDIT: dict[str, object] = {"before_text": None, "after_text": None, "reason": None}
# Other tables that copy a customer's words, by the message they quote: each is exported with
# the contact and blanked when the message is erased or purged. A feature that copies message
# text into a table of its own adds that table here.
TEXT_COPIES: dict[str, tuple[type[Proposal] | type[StaffNotice], dict[str, object]]] = {
    "proposals": (Proposal, {"text": "", "note": None}),
    "staff_notices": (StaffNotice, {"text": ""}),
}


def _quoted_forms(text: str) -> set[str]:
    """How a message may be quoted in an incident: whole, on one line, or cut at 60 or 120
    characters with an ellipsis (bot/crisis/signals.py, bot/crisis/incidents.py)."""
    line = " ".join(text.split())
    return {f for f in (text, line, line[:59], line[:119]) if len(f) >= 4}


def stored_ids(rows: Sequence[int | None]) -> list[int]:
    """Primary keys read back from a table (None only before a row is stored)."""
    return [i for i in rows if i is not None]


def _incidents_of(message_ids: Sequence[int]):
    """Ids of the incidents these messages joined (a subquery)."""
    return select(IncidentMessage.incident_id).where(
        col(IncidentMessage.message_id).in_(message_ids)
    )


def _scrub_incidents(session: Session, message_ids: Sequence[int], texts: list[str]) -> None:
    """Incident explanations and their signals quote example messages: take the words of
    erased or purged messages out of them, and rebuild the explanation from what remains."""
    from bot.crisis.incidents import stored_explanation

    forms = sorted({f for t in texts if t for f in _quoted_forms(t)}, key=len, reverse=True)
    if not message_ids or not forms:
        return
    incidents = session.exec(
        select(Incident).where(col(Incident.id).in_(_incidents_of(message_ids)))
    ).all()
    for incident in incidents:
        signals = []
        for signal in incident.signals:
            words = signal.get("explanation", "")
            figures = dict(signal.get("figures") or {})
            example = figures.get("example")  # a story's quoted message
            for form in forms:
                words = words.replace(form, "[erased]")
                example = example.replace(form, "[erased]") if example else example
            if example is not None:
                figures["example"] = example
            signals.append({**signal, "explanation": words, "figures": figures})
        incident.signals = signals
        session.add(incident)
        session.flush()
        incident.explanation = stored_explanation(session, incident)
        session.add(incident)


class ContactNotFound(NotFound):
    """No contact has that id (the command line says so in its reader's language)."""


def _rows(items: list[SQLModel], drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json", exclude=set(drop)) for item in items]


def _about(session: Session, contact: Contact) -> dict[str, list]:
    """Everything that belongs to or quotes one contact."""
    conversations = session.exec(
        select(Conversation).where(Conversation.contact_id == contact.id)
    ).all()
    inbound = session.exec(
        select(Message).where(Message.contact_id == contact.id).order_by(col(Message.id))
    ).all()
    inbound_ids = stored_ids([m.id for m in inbound])
    drafts = session.exec(
        select(Draft).where(col(Draft.message_id).in_(inbound_ids)).order_by(col(Draft.id))
    ).all()
    replies = session.exec(
        select(Message)
        .where(
            Message.direction == "out",
            or_(
                col(Message.conversation_id).in_([c.id for c in conversations]),
                col(Message.id).in_([d.sent_message_id for d in drafts if d.sent_message_id]),
            ),
        )
        .order_by(col(Message.id))
    ).all()
    about: dict[str, list] = {
        "conversations": list(conversations),
        "messages": list(inbound),
        "replies": list(replies),
        "drafts": list(drafts),
        "stage_transitions": list(
            session.exec(
                select(StageTransition).where(StageTransition.contact_id == contact.id)
            ).all()
        ),
        "audit_log": list(
            session.exec(select(AuditLog).where(col(AuditLog.message_id).in_(inbound_ids))).all()
        ),
        "feedback": list(
            session.exec(select(Feedback).where(col(Feedback.message_id).in_(inbound_ids))).all()
        ),
        "incidents": list(
            session.exec(
                select(Incident).where(col(Incident.id).in_(_incidents_of(inbound_ids)))
            ).all()
        ),
    }
    for name, (model, _) in TEXT_COPIES.items():
        about[name] = list(
            session.exec(select(model).where(col(model.message_id).in_(inbound_ids))).all()
        )
    return about


def _contact(session: Session, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id, with_for_update=True)
    if contact is None:
        raise ContactNotFound(N_("contact {contact} does not exist"), contact=contact_id)
    return contact


def _audit(session: Session, user: User, action: str, contact_id: int) -> None:
    session.add(
        AuditLog(
            user_id=user.id,
            username=user.username,
            via="cli",
            action=action,
            reason=f"contact {contact_id}, on the person's request",
        )
    )


def export_contact(engine: Engine, contact_id: int, user: User) -> dict[str, Any]:
    """A JSON-ready copy of everything stored about the contact (audited)."""
    with session_scope(engine) as session:
        contact = _contact(session, contact_id)
        about = _about(session, contact)
        _audit(session, user, "contact_export", contact_id)
        export: dict[str, Any] = {
            "exported_at": utcnow().isoformat(),
            "contact": contact.model_dump(mode="json"),
        }
        for name, items in about.items():
            # Staff identities in the audit log are the team's data, not the contact's.
            # (and an incident's story vector is no one's personal data)
            drop = {"audit_log": ("user_id", "username"), "incidents": ("story",)}.get(name, ())
            export[name] = _rows(items, drop)
    return export


def erase_contact(engine: Engine, contact_id: int, user: User) -> dict[str, int]:
    """Remove the contact's personal data and message text in one transaction (audited)."""
    with session_scope(engine) as session:
        contact = _contact(session, contact_id)
        about = _about(session, contact)
        messages = about["messages"] + about["replies"]
        quoted = [m.text for m in about["messages"] if m.text]
        for message in messages:
            for field, value in ERASED_MESSAGE.items():
                setattr(message, field, value)
            message.platform_event_id = f"erased-{message.id}"
            message.platform_message_id = None
            session.add(message)
        for draft in about["drafts"]:
            for field, value in ERASED_DRAFT.items():
                setattr(draft, field, value)
            session.add(draft)
        for entry in about["audit_log"]:
            for field, value in ERASED_AUDIT.items():
                setattr(entry, field, value)
            session.add(entry)
        for feedback in about["feedback"]:
            session.delete(feedback)
        for name, (_, erased) in TEXT_COPIES.items():
            for row in about[name]:
                for field, value in erased.items():
                    setattr(row, field, value)
                session.add(row)
        _scrub_incidents(session, stored_ids([m.id for m in about["messages"]]), quoted)
        for conversation in about["conversations"]:
            conversation.chat_id, conversation.title = f"erased-{conversation.id}", None
            session.add(conversation)
        contact.platform_user_id = f"erased-{contact.id}"
        contact.display_name = None
        contact.erased = True
        session.add(contact)
        _audit(session, user, "contact_erase", contact_id)
        return {
            "messages": len(messages),
            "drafts": len(about["drafts"]),
            "conversations": len(about["conversations"]),
            "feedback_deleted": len(about["feedback"]),
        }


TAKEN_BACK = "（訊息已收回）(the customer took this message back)"


def erase_messages(session: Session, ids: list[int]) -> int:
    """Erase these messages (and edits of them) wherever their words are stored or shown: the
    message rows and raw payloads, drafts quoting them (open ones are withdrawn, so an approved
    reply not yet sent never goes out), audit entries, training examples, incident quotes, the
    crisis feed. Returns how many drafts were withdrawn."""
    edits = stored_ids(
        session.exec(select(Message.id).where(col(Message.edit_of_id).in_(ids))).all()
    )
    ids = sorted({*ids, *edits})
    if not ids:
        return 0
    quoted = session.exec(select(Message.text).where(col(Message.id).in_(ids))).all()
    withdrawn = session.exec(
        update(Draft)
        .where(col(Draft.message_id).in_(ids), col(Draft.status).in_(OPEN_DRAFTS))
        .values(status=DraftStatus.WITHDRAWN, decided_at=utcnow())
    ).rowcount
    session.exec(
        update(Message)
        .where(col(Message.id).in_(ids), col(Message.state) == MessageState.RECEIVED)
        .values(state=MessageState.IGNORED, processed_at=utcnow())
    )
    session.exec(update(Message).where(col(Message.id).in_(ids)).values(**ERASED_MESSAGE))
    _scrub_incidents(session, ids, [t for t in quoted if t])
    session.exec(update(Draft).where(col(Draft.message_id).in_(ids)).values(**ERASED_DRAFT))
    session.exec(update(AuditLog).where(col(AuditLog.message_id).in_(ids)).values(**ERASED_AUDIT))
    session.exec(delete(Feedback).where(col(Feedback.message_id).in_(ids)))
    session.exec(delete(CrisisFeed).where(col(CrisisFeed.message_id).in_(ids)))
    session.exec(
        update(StaffCard).where(col(StaffCard.message_id).in_(ids)).values(text=TAKEN_BACK)
    )
    for model, erased in TEXT_COPIES.values():
        session.exec(update(model).where(col(model.message_id).in_(ids)).values(**erased))
    return withdrawn


def purge_expired_text(engine: Engine, days: int) -> int:
    """Blank message text (and the drafts, audit entries and training examples quoting it)
    older than `days`, except where a draft still waits to be decided or sent. Returns how
    many messages were purged. Safe to run in several processes at once."""
    cutoff = utcnow() - timedelta(days=days)
    purged, after = 0, 0
    while True:
        with session_scope(engine) as session:
            open_drafts = select(Draft.message_id).where(col(Draft.status).in_(OPEN_DRAFTS))
            ids = stored_ids(
                session.exec(
                    select(Message.id)
                    .where(
                        col(Message.id) > after,
                        Message.received_at < cutoff,
                        Message.state != MessageState.RECEIVED,
                        or_(col(Message.text).is_not(None), col(Message.raw).is_not(None)),
                        col(Message.id).not_in(open_drafts),
                    )
                    .order_by(col(Message.id))
                    .limit(PURGE_BATCH)
                ).all()
            )
            if not ids:
                return purged
            quoted = session.exec(select(Message.text).where(col(Message.id).in_(ids))).all()
            session.exec(update(Message).where(col(Message.id).in_(ids)).values(**ERASED_MESSAGE))
            _scrub_incidents(session, ids, [t for t in quoted if t])
            session.exec(update(Draft).where(col(Draft.message_id).in_(ids)).values(**ERASED_DRAFT))
            session.exec(
                update(AuditLog).where(col(AuditLog.message_id).in_(ids)).values(**ERASED_AUDIT)
            )
            session.exec(delete(Feedback).where(col(Feedback.message_id).in_(ids)))
            for model, erased in TEXT_COPIES.values():
                session.exec(update(model).where(col(model.message_id).in_(ids)).values(**erased))
            purged, after = purged + len(ids), ids[-1]
