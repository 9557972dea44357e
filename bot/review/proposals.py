"""Proposals from the community and complaint tickets: moving them along, and telling the
contributor when their proposal's status changes (a reply in their conversation, through the
normal outbox, approved by the person who made the change)."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from bot.errors import Conflict, Invalid, NotFound
from bot.i18n.catalog import N_
from bot.review.decisions import audit_action
from db.enums import DraftStatus, ProposalStatus, TicketStatus
from db.models import Contact, Draft, Message, Proposal, Ticket, User
from db.models.playbooks import PROPOSAL_STATUSES
from db.types import utcnow
from nlp.types import Classification
from playbooks.engine import DraftContext, Playbooks

NEXT = {
    ProposalStatus.OPEN: (
        ProposalStatus.UNDER_REVIEW,
        ProposalStatus.ADOPTED,
        ProposalStatus.DECLINED,
    ),
    ProposalStatus.UNDER_REVIEW: (ProposalStatus.ADOPTED, ProposalStatus.DECLINED),
    ProposalStatus.ADOPTED: (),
    ProposalStatus.DECLINED: (),
}


def notification(
    session: Session, playbooks: Playbooks, proposal: Proposal, status: str, brand: str
) -> str:
    """What the contributor is told when the proposal moves to `status`, in their language."""
    message = session.get(Message, proposal.message_id)
    assert message is not None  # the proposal's foreign key
    contact = session.get(Contact, proposal.contact_id) if proposal.contact_id else None
    ctx = DraftContext(
        classification=Classification(
            type="other", scores={}, sentiment=0.0, language=message.language or "zh-Hant"
        ),
        stage=message.stage or "identification",
        contact_name=contact.display_name if contact and not contact.erased else None,
        brand=brand,
        channel=message.channel,
        text=message.text or "",
        proposal=proposal.number,
    )
    plan = playbooks.special("suggestion", status, ctx)
    candidates = playbooks.render(plan, ctx)
    return candidates[0].text if candidates else ""


def set_status(
    session: Session,
    proposal_id: int,
    user: User,
    status: str,
    note: str | None = None,
    notify_text: str | None = None,
    via: str = "console",
) -> Draft | None:
    """Move a proposal on; with `notify_text`, the contributor gets it as a reply."""
    if status not in PROPOSAL_STATUSES:
        raise Invalid(N_("status must be one of {values}"), values=", ".join(PROPOSAL_STATUSES))
    proposal = session.get(Proposal, proposal_id, with_for_update=True)
    if proposal is None:
        raise NotFound(N_("proposal {proposal} does not exist"), proposal=proposal_id)
    if not NEXT[proposal.status]:
        raise Conflict(N_("{number} is {status}; it is final"), number=proposal.number,
                       status=proposal.status)  # fmt: skip
    if status not in NEXT[proposal.status]:
        raise Conflict(N_("{number} is {status}; it can move to {allowed}"),
                       number=proposal.number, status=proposal.status,
                       allowed=", ".join(NEXT[proposal.status]))  # fmt: skip
    before = proposal.status
    proposal.status, proposal.status_changed_at = ProposalStatus(status), utcnow()
    proposal.status_changed_by_id = user.id
    if note is not None and note.strip():
        proposal.note = note.strip()
    session.add(proposal)
    audit_action(session, user, via, "proposal_status", message_id=proposal.message_id,
         before=before, after=status, reason=proposal.number)  # fmt: skip
    text = (notify_text or "").strip()
    if not text:
        return None
    return _reply(session, proposal, user, text, via)


def _reply(session: Session, proposal: Proposal, user: User, text: str, via: str) -> Draft:
    now = utcnow()
    draft = Draft(
        message_id=proposal.message_id,
        conversation_id=proposal.conversation_id,
        rank=1
        + (
            session.exec(
                select(Draft.rank)
                .where(Draft.message_id == proposal.message_id)
                .order_by(col(Draft.rank).desc())
            ).first()
            or 0
        ),  # fmt: skip
        text=text,
        original_text=text,
        playbook=f"suggestion/{proposal.status}",
        policy={"proposal": proposal.number, "notification": True},
        status=DraftStatus.APPROVED,
        decided_by_id=user.id,
        decided_at=now,
        approved_at=now,
        idempotency_key=uuid.uuid4().hex,
    )
    session.add(draft)
    session.flush()
    audit_action(session, user, via, "notify_contributor", draft=draft, after=text,
         reason=proposal.number)  # fmt: skip
    return draft


def close_ticket(session: Session, ticket_id: int, user: User, via: str = "console") -> Ticket:
    ticket = session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None:
        raise NotFound(N_("ticket {ticket} does not exist"), ticket=ticket_id)
    if ticket.status == TicketStatus.CLOSED:
        raise Conflict(N_("{number} is already closed"), number=ticket.number)
    ticket.status, ticket.closed_at, ticket.closed_by_id = TicketStatus.CLOSED, utcnow(), user.id
    session.add(ticket)
    audit_action(
        session, user, via, "close_ticket", message_id=ticket.message_id, reason=ticket.number
    )
    return ticket
