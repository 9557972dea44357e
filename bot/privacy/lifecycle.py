"""What some platform events change beyond being stored: a message its sender took back (LINE
`unsend`) is erased everywhere and its replies withdrawn; an edited message shows its new text
and its replies are withdrawn (the edit is drafted afresh, as a message of its own);
`unfollow` blocks the contact (nothing is pushed to it) until `follow`. Applied after the
events are stored, in one transaction; applying an event twice (a redelivery) changes nothing
more."""

from __future__ import annotations

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.pipeline.ingest import storable
from bot.privacy.contacts import OPEN_DRAFTS, erase_messages, stored_ids
from db.engine import session_scope
from db.enums import DraftStatus
from db.models import AuditLog, Contact, Draft, Message
from db.types import utcnow
from handlers.base import InboundEvent

KINDS = {"unsend", "edit", "unfollow", "follow"}


def apply_lifecycle(engine: Engine, events: list[InboundEvent]) -> int:
    """Apply the events that change stored data; returns how many there were."""
    relevant = [storable(e) for e in events if e.kind in KINDS and e.user_id]  # as stored
    if not relevant:
        return 0
    with session_scope(engine) as session:
        for event in relevant:
            contact = session.exec(
                select(Contact).where(
                    Contact.channel == event.channel, Contact.platform_user_id == event.user_id
                )
            ).first()
            if contact is None:
                continue
            if event.kind == "unsend":
                _unsend(session, contact, event.unsent_platform_message_id)
            elif event.kind == "edit":
                _edited(session, contact, event)
            else:
                contact.blocked = event.kind == "unfollow"
                session.add(contact)
    return len(relevant)


def _originals(session: Session, contact: Contact, platform_message_id: str | None) -> list:
    """The sender's own inbound messages with this platform id."""
    if not platform_message_id:
        return []
    return list(
        session.exec(
            select(Message).where(
                Message.channel == contact.channel,
                Message.contact_id == contact.id,
                Message.direction == "in",
                Message.kind == "message",
                Message.platform_message_id == platform_message_id,
            )
        ).all()
    )


def _edited(session: Session, contact: Contact, event: InboundEvent) -> None:
    """The original shows the edited text everywhere (queue context included); replies to the
    old words are withdrawn, an approved one not yet sent too."""
    text = event.text
    for original in _originals(session, contact, event.edit_of_platform_message_id):
        if original.text is None and original.raw is None:
            continue  # unsent meanwhile: nothing comes back
        original.text = text
        session.add(original)
        session.exec(
            update(Draft)
            .where(Draft.message_id == original.id, col(Draft.status).in_(OPEN_DRAFTS))
            .values(
                status=DraftStatus.WITHDRAWN, decided_at=utcnow(), reason="the message was edited"
            )
        )


def _unsend(session: Session, contact: Contact, platform_message_id: str | None) -> None:
    """Only the sender's own message, found by its platform id, is erased."""
    if not platform_message_id:
        return
    ids = session.exec(
        select(Message.id).where(
            Message.channel == contact.channel,
            Message.contact_id == contact.id,
            Message.direction == "in",
            Message.platform_message_id == platform_message_id,
            # not erased already
            or_(col(Message.text).is_not(None), col(Message.raw).is_not(None)),
        )
    ).all()
    if not ids:
        return
    withdrawn = erase_messages(session, stored_ids(ids))
    for message_id in ids:
        session.add(
            AuditLog(
                username="(customer)",
                via=contact.channel[:16],
                action="message_unsend",
                message_id=message_id,
                reason=f"the sender took the message back; {withdrawn} draft(s) withdrawn",
            )
        )
