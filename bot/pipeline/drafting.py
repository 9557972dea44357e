"""Step four of the pipeline in full: from a classified message to stored drafts, with what the
playbooks ask for around them — a complaint's ticket, a suggestion's proposal, a flag on repeat
trolls, a human handoff, one acknowledgement per closed stretch — all in the message's own
transaction.

It depends on what it needs, not on the pipeline: a `Drafting` value (the playbooks, the brand,
what may go out on its own, the hooks that may answer instead) built by the pipeline per
message, so nothing here calls back into it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Protocol

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.review.decisions import CRISIS_PRIORITY, is_crisis
from bot.review.notices import add_notice
from bot.review.queue import stamp_due
from bot.review.team_replies import answered_before, rank_in
from db.enums import DraftStatus, Role, TicketStatus
from db.models import (
    AfterHoursAck,
    AuditLog,
    Contact,
    Conversation,
    Draft,
    Handoff,
    Message,
    Proposal,
    Ticket,
)
from db.types import utcnow
from nlp.types import Classification
from playbooks.engine import MAX_CANDIDATES, DraftCandidate, DraftContext, Playbooks, reply_language
from playbooks.policy import Policy


class DraftHook(Protocol):
    """A feature that may answer a message with its own candidates instead of the playbook's
    (crisis detection: holding statements for a message that joins an incident); None leaves
    the playbook's. Runs inside the message's transaction."""

    def drafts(
        self, session: Session, message: Message, result: Classification, contact: Contact | None
    ) -> list[DraftCandidate] | None: ...


@dataclass(frozen=True)
class Drafting:
    """What drafting a message needs, as it stands when the message is drafted."""

    playbooks: Playbooks
    brand: str = "replyline"
    acknowledge: bool = True  # handoff and after-hours acknowledgements go out on their own
    auto_send: bool = False  # a confident draft the playbook allows goes out on its own
    auto_send_min_confidence: float = 0.85
    hooks: tuple[DraftHook, ...] = ()

    def may_auto_send(self, policy_allows: bool, result: Classification) -> bool:
        """Off by default; when enabled, only where the playbook allows it and we are sure."""
        return (
            self.auto_send
            and policy_allows
            and not result.low_confidence
            and result.confidence >= self.auto_send_min_confidence
        )


def _stored_id(message: Message) -> int:
    """A message being drafted was stored before it was classified."""
    assert message.id is not None
    return message.id


def open_handoff(session: Session, conversation_id: int) -> Handoff | None:
    """The conversation's unreleased handoff: while there is one, nothing is sent on its own."""
    return session.exec(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, col(Handoff.released_at).is_(None))
        .order_by(col(Handoff.id).desc())
    ).first()


def draft_message(
    drafting: Drafting,
    session: Session,
    message: Message,
    result: Classification,
    stage: str,
    contact: Contact | None,
    allow_auto: bool = True,
    first_rank: int = 0,
) -> list[Draft]:
    """Store the message's candidate drafts. `allow_auto` False (a human is redoing the drafts
    after a correction) means nothing is sent or acknowledged on its own."""
    playbooks = drafting.playbooks
    conversation = session.get(Conversation, message.conversation_id)
    assert conversation is not None  # the message's foreign key
    ctx = DraftContext(
        classification=result,
        stage=stage,
        contact_name=contact.display_name if contact and not contact.erased else None,
        brand=drafting.brand,
        channel=message.channel,
        text=message.text or "",
        chat_kind=conversation.kind,
        at=message.received_at,
    )
    held = open_handoff(session, message.conversation_id)
    asks = playbooks.brand.handoff.asks_for_human(message.text)
    # a handoff acknowledgement says when a person comes: the drafts do not promise another time
    ctx = replace(ctx, promised=bool(held or asks) and drafting.acknowledge)

    plan = playbooks.plan(ctx)
    ticket = _ticket(session, playbooks, message, result) if plan.policy.opens_ticket else None
    proposal = None
    if plan.policy.records_proposal or (result.suggestion and result.type != "troll"):
        proposal = _proposal(session, playbooks, message)
    ctx = replace(
        ctx,
        plan=plan,
        ticket=ticket.number if ticket else None,
        proposal=proposal.number if proposal else None,
    )
    candidates = playbooks.draft(ctx)
    if message.kind == "message" and result.type != "troll":
        learned = answered_before(session, message, result.type, reply_language(result.language),
                                  candidates[0] if candidates else None)  # fmt: skip
        candidates = rank_in(candidates, learned, MAX_CANDIDATES)
    overridden = _hooked_candidates(drafting, session, message, result, contact)
    if overridden:
        candidates = overridden
        message.priority = max(message.priority or 0, CRISIS_PRIORITY)
        session.add(message)

    flags = []
    if held or asks:
        flags.append("handoff")
    if is_crisis(message):
        flags.append("crisis")
    if result.type == "troll" and contact is not None:
        flags += _repeat_troll(session, message, contact, plan.policy)
    if plan.policy.escalates:
        add_notice(
            session,
            "escalation",
            message,
            type=plan.playbook.type,
            section=plan.section.name,
            role=str(plan.policy.required_role),
            ticket=ticket.number if ticket else None,
        )
    drafts = _store(session, message, candidates, flags, first_rank)
    stamp_due(message, drafts, playbooks.brand.hours)  # the review queue is ordered by it
    session.add(message)
    if not allow_auto:
        return drafts

    auto_sent = False
    may_send_alone = not held and not asks and "crisis" not in flags
    if drafts and may_send_alone and drafting.may_auto_send(candidates[0].auto_send, result):
        approve_automatically(session, drafts)
        auto_sent = True
    if asks and not held:
        _hand_off(drafting, session, message, ctx, first_rank + len(drafts))
    elif may_send_alone and not auto_sent:
        _after_hours(drafting, session, message, ctx, first_rank + len(drafts))
    return drafts


def approve_automatically(session: Session, drafts: list[Draft]) -> None:
    """The first candidate approved by the bot itself (audited), its siblings superseded."""
    now = utcnow()
    chosen, others = drafts[0], drafts[1:]
    chosen.status, chosen.auto = DraftStatus.APPROVED, True
    chosen.decided_at = chosen.approved_at = now
    for other in others:
        other.status, other.decided_at = DraftStatus.SUPERSEDED, now
    session.add(
        AuditLog(
            username="auto",
            via="auto",
            action="auto_approve",
            draft_id=chosen.id,
            message_id=chosen.message_id,
            after_text=chosen.text,
            reason="playbook policy allows automatic sending above the confidence threshold",
        )
    )


def _hooked_candidates(drafting: Drafting, session, message, result, contact) -> list | None:
    """Candidates a hook puts in place of the playbook's: crisis detection answers a
    message that joins an active incident with holding statements. Such a message tops the
    review queue and needs a supervisor."""
    for hook in drafting.hooks:
        candidates = hook.drafts(session, message, result, contact)
        if candidates:
            return candidates
    return None


def next_ranks(session: Session, message_ids: list[int]) -> dict[int, int]:
    """The rank after each message's last draft (1 if it has none): drafts made again go
    below the ones they replace."""
    last = dict(
        session.exec(
            select(Draft.message_id, func.max(Draft.rank))
            .where(col(Draft.message_id).in_(message_ids))
            .group_by(col(Draft.message_id))
        ).all()
    )
    return {message_id: (last.get(message_id) or 0) + 1 for message_id in message_ids}


def redraft(
    session: Session, message: Message, candidates: list[DraftCandidate], first_rank: int
) -> list[Draft]:
    """New crisis candidates for a message drafted before (it has just joined an incident):
    only the drafts change; the ticket, proposal and notices of its first drafting stay."""
    if not candidates:
        return []
    message.priority = max(message.priority or 0, CRISIS_PRIORITY)
    session.add(message)
    return _store(session, message, candidates, ["crisis"], first_rank)


def _store(session, message, candidates: list[DraftCandidate], flags: list[str], first_rank: int):
    drafts = [
        Draft(
            message_id=message.id,
            conversation_id=message.conversation_id,
            rank=first_rank + rank,
            text=c.text,
            original_text=c.text,
            playbook=c.playbook,
            policy={**c.policy, "flags": flags} if flags else c.policy,
            required_role=Role.SUPERVISOR
            if "crisis" in flags and c.required_role == Role.AGENT
            else c.required_role,
            idempotency_key=uuid.uuid4().hex,
        )
        for rank, c in enumerate(candidates)
    ]
    for draft in drafts:
        session.add(draft)
    session.flush()
    return drafts


def _ticket(session, playbooks: Playbooks, message: Message, result) -> Ticket:
    """The conversation's open ticket, or a new one: one follow-up per open problem."""
    ticket = session.exec(
        select(Ticket)
        .where(
            Ticket.conversation_id == message.conversation_id, Ticket.status == TicketStatus.OPEN
        )
        .order_by(col(Ticket.id).desc())
    ).first()
    if ticket is None:
        ticket = Ticket(
            conversation_id=message.conversation_id,
            contact_id=message.contact_id,
            message_id=_stored_id(message),
            subtype=result.subtype,
        )
        session.add(ticket)
        session.flush()
        ticket.number = f"{playbooks.brand.ticket_prefix}-{ticket.id:05d}"
        session.add(ticket)
    return ticket


def _proposal(session, playbooks: Playbooks, message: Message) -> Proposal:
    proposal = session.exec(select(Proposal).where(Proposal.message_id == message.id)).first()
    if proposal is None:
        proposal = Proposal(
            message_id=_stored_id(message),
            conversation_id=message.conversation_id,
            contact_id=message.contact_id,
            text=message.text or "",
        )
        session.add(proposal)
        session.flush()
        proposal.number = f"{playbooks.brand.proposal_prefix}-{proposal.id:05d}"
        session.add(proposal)
    return proposal


def _repeat_troll(session, message: Message, contact: Contact, policy: Policy) -> list[str]:
    threshold = policy.repeat_flag_after
    if not threshold:
        return []
    since = message.received_at - timedelta(days=policy.repeat_window_days or 30)
    count = session.exec(
        select(func.count(col(Message.id))).where(
            Message.contact_id == contact.id,
            Message.direction == "in",
            Message.type == "troll",
            Message.received_at >= since,
            col(Message.id) <= message.id,
        )
    ).one()
    if count < threshold:
        return []
    if count == threshold:
        add_notice(
            session,
            "repeat_troll",
            message,
            channel=contact.channel,
            count=count,
            days=policy.repeat_window_days or 30,
        )
    return ["repeat_troll"]


def _acknowledge(session, message: Message, text: str, playbook: str, rank: int) -> None:
    """Send a system acknowledgement on its own (handoff, after hours), audited as such."""
    now = utcnow()
    draft = Draft(
        message_id=_stored_id(message),
        conversation_id=message.conversation_id,
        rank=rank,
        text=text,
        original_text=text,
        playbook=playbook,
        policy={"acknowledgement": True},
        status=DraftStatus.APPROVED,
        auto=True,
        decided_at=now,
        approved_at=now,
        idempotency_key=uuid.uuid4().hex,
    )
    session.add(draft)
    session.flush()
    session.add(
        AuditLog(
            username="auto",
            via="auto",
            action="auto_ack",
            draft_id=draft.id,
            message_id=message.id,
            after_text=text,
            reason=f"{playbook}: acknowledgements are sent on their own",
        )
    )


def _hand_off(drafting: Drafting, session, message: Message, ctx: DraftContext, rank: int) -> None:
    playbooks = drafting.playbooks
    session.add(Handoff(conversation_id=message.conversation_id, message_id=_stored_id(message)))
    # anything the bot approved on its own but has not sent yet stays unsent
    session.exec(
        update(Draft)
        .where(
            col(Draft.conversation_id) == message.conversation_id,
            col(Draft.auto).is_(True),
            col(Draft.status) == DraftStatus.APPROVED,
            col(Draft.sent_at).is_(None),
        )
        .values(status=DraftStatus.SUPERSEDED, reason="the customer asked for a person")
    )
    add_notice(session, "handoff", message)
    if not drafting.acknowledge:
        return
    hours = playbooks.brand.hours
    section = "open" if hours.is_open(message.received_at) else "closed"
    plan = playbooks.special("handoff", section, ctx)
    candidates = playbooks.render(plan, ctx)
    if candidates:
        _acknowledge(session, message, candidates[0].text, plan.name, rank)


def _after_hours(drafting: Drafting, session, message: Message, ctx: DraftContext, rank: int):
    playbooks = drafting.playbooks
    closed_since = playbooks.brand.hours.closed_since(message.received_at)
    if closed_since is None or not drafting.acknowledge:
        return
    done = session.exec(
        select(AfterHoursAck.id).where(
            AfterHoursAck.conversation_id == message.conversation_id,
            AfterHoursAck.closed_since == closed_since,
        )
    ).first()
    if done is not None:
        return  # this closed stretch was acknowledged already
    try:
        with session.begin_nested():
            session.add(
                AfterHoursAck(
                    conversation_id=message.conversation_id,
                    closed_since=closed_since,
                    message_id=_stored_id(message),
                )
            )
    except IntegrityError:
        return  # another worker acknowledged it a moment ago
    plan = playbooks.special("after_hours", "default", ctx)
    candidates = playbooks.render(plan, ctx)
    if candidates:
        _acknowledge(session, message, candidates[0].text, plan.name, rank)
