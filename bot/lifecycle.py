"""What some platform events change beyond being stored: a message its sender took back (LINE
`unsend`) is erased everywhere and its replies withdrawn; `unfollow` blocks the contact (nothing
is pushed to it) until `follow`. Applied after the events are stored, in one transaction;
applying an event twice (a redelivery) changes nothing more."""

from __future__ import annotations

from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.privacy import erase_messages
from db.engine import session_scope
from db.models import AuditLog, Contact, Message
from handlers.base import InboundEvent

KINDS = {"unsend", "unfollow", "follow"}


def apply_lifecycle(engine: Engine, events: list[InboundEvent]) -> int:
    """Apply the events that change stored data; returns how many there were."""
    relevant = [e for e in events if e.kind in KINDS and e.user_id]
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
            else:
                contact.blocked = event.kind == "unfollow"
                session.add(contact)
    return len(relevant)


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
            or_(Message.text.is_not(None), Message.raw.is_not(None)),  # not erased already
        )
    ).all()
    if not ids:
        return
    withdrawn = erase_messages(session, list(ids))
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
