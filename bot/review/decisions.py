"""Human decisions on drafts: approve (as is or edited), reject, no reply, claim and assign,
correct the classifier, release a handoff; each one audited.

The console, the CLI and the Telegram staff chat all call these, so a decision means the
same thing wherever it is made. Two people never answer one message: deciding claims the
message for the decider (atomically, on SQLite and PostgreSQL alike), and a message someone
else claimed is refused until it is reassigned."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.auth.roles import has_role, rank
from bot.errors import Conflict, Forbidden, Invalid, NotFound
from bot.i18n.catalog import N_
from db.enums import DraftStatus, MessageState, Role
from db.models import (
    Assignment,
    AuditLog,
    Contact,
    Draft,
    Feedback,
    Handoff,
    Message,
    Redraft,
    StageTransition,
    User,
)
from db.types import utcnow
from nlp.types import COMMENTER_TYPES, COMPLAINT_SUBTYPES, STAGES

OPEN = DraftStatus.PENDING
CRISIS_PRIORITY = 100  # Message.priority from which a message counts as crisis-related
CORRECTABLE = {"type": COMMENTER_TYPES, "subtype": COMPLAINT_SUBTYPES, "stage": STAGES}
MANUAL = "manual"  # the playbook name of a reply a person wrote from scratch
WRITE_SLOT = "manual/write"  # an empty candidate keeping a message whose drafts were rejected


def is_crisis(message: Message) -> bool:
    """Crisis-related: linked to an incident, or raised to crisis priority by crisis detection."""
    return message.incident_id is not None or (message.priority or 0) >= CRISIS_PRIORITY


def required_role(draft: Draft, message: Message | None) -> Role:
    """The draft's own role, raised to supervisor when the message is part of a crisis."""
    if message is not None and is_crisis(message) and draft.required_role == Role.AGENT:
        return Role.SUPERVISOR
    return Role(draft.required_role)


def _open_draft(session: Session, draft_id: int, user: User) -> Draft:
    draft = session.get(Draft, draft_id, with_for_update=True)
    if draft is None:
        raise NotFound(N_("draft {draft} does not exist"), draft=draft_id)
    if draft.status != OPEN:
        raise Conflict(N_("draft {draft} is already {status}"), draft=draft_id, status=draft.status)
    role = required_role(draft, session.get(Message, draft.message_id))
    if not has_role(user, role):
        raise Forbidden(N_("draft {draft} needs a {role} to decide"), draft=draft_id, role=role)
    return draft


def _message(session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None or message.direction != "in":
        raise NotFound(N_("message {message} does not exist"), message=message_id)
    return message


def _id_of(user: User) -> int:
    """A signed-in or chosen user's id (users are read from the table)."""
    assert user.id is not None
    return user.id


def _username(session: Session, user_id: int) -> str:
    other = session.get(User, user_id)
    return other.username if other else f"user {user_id}"


def take(session: Session, message_id: int, user: User) -> None:
    """Claim the message for `user` unless someone else has it (then 409)."""
    assignment = session.get(Assignment, message_id)
    if assignment is None:
        try:
            with session.begin_nested():
                session.add(Assignment(message_id=message_id, user_id=_id_of(user),
                                       assigned_by_id=user.id))  # fmt: skip
            return
        except IntegrityError:  # someone claimed it a moment ago
            assignment = session.get(Assignment, message_id, populate_existing=True)
    if assignment is not None and assignment.user_id != user.id:
        name = _username(session, assignment.user_id)
        raise Conflict(N_("{name} is answering this message; ask them or reassign it"), name=name)


def assign(
    session: Session, message_id: int, user: User, to: User | None, via: str = "console"
) -> Assignment | None:
    """Claim (`to` is `user`), hand to a colleague, or release (`to` None). Taking a message
    from someone else, or releasing theirs, needs a supervisor."""
    _message(session, message_id)
    assignment = session.get(Assignment, message_id, with_for_update=True)
    owner = assignment.user_id if assignment else None
    if owner not in (None, user.id) and not has_role(user, Role.SUPERVISOR):
        raise Conflict(N_("{name} has this message; a supervisor can reassign it"),
                       name=_username(session, owner))  # fmt: skip
    if to is not None and not to.active:
        raise Invalid(N_("{name} is not an active user"), name=to.username)
    before = _username(session, owner) if owner else None
    if to is None:
        if assignment is not None:
            session.delete(assignment)
        assignment = None
    elif assignment is None:
        assignment = Assignment(message_id=message_id, user_id=_id_of(to), assigned_by_id=user.id)
        try:
            with session.begin_nested():
                session.add(assignment)
        except IntegrityError as error:
            raise Conflict(N_("someone claimed this message a moment ago")) from error
    else:
        assignment.user_id, assignment.assigned_by_id = _id_of(to), user.id
        assignment.assigned_at = utcnow()
        session.add(assignment)
    action = "release" if to is None else ("claim" if to.id == user.id else "assign")
    audit_action(session, user, via, action, message_id=message_id, before=before,
         after=to.username if to else None)  # fmt: skip
    return assignment


def approve(
    session: Session, draft_id: int, user: User, text: str | None = None, via: str = "console"
) -> Draft:
    """Approve one candidate (edited if `text` differs); its siblings are superseded."""
    draft = _open_draft(session, draft_id, user)
    new_text = text.strip() if text is not None else draft.text
    if not new_text:
        raise Invalid(N_("a reply cannot be empty"))
    take(session, draft.message_id, user)
    edited = new_text != draft.text
    now = utcnow()
    before = draft.text
    done = session.exec(
        update(Draft)
        .where(col(Draft.id) == draft.id, col(Draft.status) == OPEN)
        .values(
            text=new_text,
            status=DraftStatus.EDITED if edited else DraftStatus.APPROVED,
            decided_by_id=user.id,
            decided_at=now,
            approved_at=now,
        )
    )
    if done.rowcount != 1:
        raise Conflict(N_("draft {draft} was decided a moment ago"), draft=draft_id)
    _supersede_siblings(session, draft, user, now)
    _audit(session, user, via, "edit" if edited else "approve", draft, before, new_text, None)
    session.refresh(draft)
    return draft


def _supersede_siblings(session: Session, draft: Draft, user: User, now, reason=None) -> None:
    session.exec(
        update(Draft)
        .where(
            col(Draft.message_id) == draft.message_id,
            col(Draft.id) != draft.id,
            col(Draft.status) == OPEN,
        )
        .values(status=DraftStatus.SUPERSEDED, decided_by_id=user.id, decided_at=now, reason=reason)
    )


def reject(session: Session, draft_id: int, user: User, reason: str, via: str = "console") -> Draft:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(N_("say why the draft is rejected"))
    draft = _open_draft(session, draft_id, user)
    take(session, draft.message_id, user)
    done = session.exec(
        update(Draft)
        .where(col(Draft.id) == draft.id, col(Draft.status) == OPEN)
        .values(
            status=DraftStatus.REJECTED, decided_by_id=user.id, decided_at=utcnow(), reason=reason
        )
    )
    if done.rowcount != 1:
        raise Conflict(N_("draft {draft} was decided a moment ago"), draft=draft_id)
    _audit(session, user, via, "reject", draft, draft.text, None, reason)
    _keep_waiting(session, draft)
    session.refresh(draft)
    return draft


def _keep_waiting(session: Session, rejected: Draft) -> None:
    """Rejecting a message's last candidate leaves an empty one to write the reply in, so the
    message stays in the queue until someone replies, redrafts or marks it "no reply"."""
    waiting = session.exec(
        select(Draft.id).where(
            Draft.message_id == rejected.message_id,
            col(Draft.status).in_(
                (OPEN, DraftStatus.APPROVED, DraftStatus.EDITED, DraftStatus.SENT)
            ),
        )
    ).first()
    if waiting is not None:
        return
    top = session.exec(
        select(Draft.rank)
        .where(Draft.message_id == rejected.message_id)
        .order_by(col(Draft.rank).desc())
    ).first()
    policy = {k: v for k, v in (rejected.policy or {}).items() if k != "faq"}
    session.add(
        Draft(
            message_id=rejected.message_id,
            conversation_id=rejected.conversation_id,
            rank=(top or 0) + 1,
            text="",
            original_text="",
            playbook=WRITE_SLOT,
            policy={**policy, "write": True, "auto_send": False},
            required_role=rejected.required_role,
            idempotency_key=uuid.uuid4().hex,
        )
    )
    session.flush()


def reply(session: Session, message_id: int, user: User, text: str, via: str = "console") -> Draft:
    """A reply written from scratch: approved at once, the waiting candidates superseded."""
    text = (text or "").strip()
    if not text:
        raise Invalid(N_("a reply cannot be empty"))
    message = _message(session, message_id)
    pending = session.exec(
        select(Draft).where(Draft.message_id == message_id, Draft.status == OPEN)
    ).all()
    role = max((required_role(d, message) for d in pending), key=rank, default=Role.AGENT)
    if not has_role(user, role):
        raise Forbidden(N_("message {message} needs a {role} to answer"), message=message_id,
                        role=role)  # fmt: skip
    take(session, message_id, user)
    top = session.exec(
        select(Draft.rank).where(Draft.message_id == message_id).order_by(col(Draft.rank).desc())
    ).first()
    now = utcnow()
    policy = {k: v for k, v in ((pending[0].policy or {}) if pending else {}).items()
              if k not in ("faq", "write")}  # fmt: skip
    draft = Draft(
        message_id=message_id,
        conversation_id=message.conversation_id,
        rank=(top or 0) + 1,
        text=text,
        original_text="",
        playbook=MANUAL,
        policy={**policy, "written_by": user.username},
        required_role=role,
        status=DraftStatus.EDITED,
        decided_by_id=user.id,
        decided_at=now,
        approved_at=now,
        idempotency_key=uuid.uuid4().hex,
    )
    session.add(draft)
    session.flush()
    _supersede_siblings(session, draft, user, now, reason="answered with a reply written by hand")
    _audit(session, user, via, "reply", draft, None, text, None)
    return draft


def dismiss(
    session: Session, message_id: int, user: User, reason: str, via: str = "console"
) -> int:
    """Answer nothing (the troll default): every pending candidate is rejected with the reason,
    which must be given (it is audited)."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(N_("say why no reply is needed"))
    message = _message(session, message_id)
    pending = session.exec(
        select(Draft).where(Draft.message_id == message_id, Draft.status == OPEN)
    ).all()
    if not pending:
        raise Conflict(N_("message {message} has nothing waiting"), message=message_id)
    for draft in pending:
        role = required_role(draft, message)
        if not has_role(user, role):
            raise Forbidden(N_("message {message} needs a {role} to decide"), message=message_id,
                            role=role)  # fmt: skip
    take(session, message_id, user)
    done = session.exec(
        update(Draft)
        .where(col(Draft.message_id) == message_id, col(Draft.status) == OPEN)
        .values(
            status=DraftStatus.REJECTED, decided_by_id=user.id, decided_at=utcnow(), reason=reason
        )
    )
    audit_action(session, user, via, "no_reply", message_id=message_id, reason=reason)
    return done.rowcount


def correct(
    session: Session, message_id: int, user: User, field: str, value: str, via: str = "console"
) -> Redraft:
    """Correct the commenter type, complaint subtype or stage: stored as training feedback, the
    waiting drafts superseded, and the message marked for the worker to draft again for the
    corrected label (bot/pipeline/redrafts.py; never sent on their own). Drafting may embed text and
    load the model, so it happens there, not in this transaction."""
    if field not in CORRECTABLE:
        raise Invalid(N_("only {fields} can be corrected"), fields=", ".join(CORRECTABLE))
    if value not in CORRECTABLE[field]:
        raise Invalid(N_("{field} must be one of {values}"), field=field,
                      values=", ".join(CORRECTABLE[field]))  # fmt: skip
    message = _message(session, message_id)
    if message.state != MessageState.PROCESSED:
        raise Conflict(N_("message {message} is not classified yet"), message=message_id)
    take(session, message_id, user)
    contact = session.get(Contact, message.contact_id) if message.contact_id else None
    before = {"type": message.type, "subtype": message.subtype, "stage": message.stage}[field]
    if before == value:
        raise Invalid(N_("the {field} is already {value}"), field=field, value=value)
    session.add(
        Feedback(
            message_id=message.id,
            text=message.text or "",
            field=field,
            value=value,
            user_id=user.id,
        )  # fmt: skip
    )
    if field == "type":
        message.type = value
        message.subtype = message.subtype if value == "complaint" else None
    elif field == "subtype":
        message.type, message.subtype = "complaint", value
    else:
        message.stage = value
        if contact is not None and contact.stage != value:
            assert contact.id is not None  # read from the table
            session.add(StageTransition(contact_id=contact.id, message_id=message.id,
                                        from_stage=contact.stage, to_stage=value,
                                        reason=f"corrected by {user.username}"))  # fmt: skip
            contact.stage, contact.stage_changed_at = value, utcnow()
            session.add(contact)
    session.add(message)
    now = utcnow()
    session.exec(
        update(Draft)
        .where(col(Draft.message_id) == message.id, col(Draft.status) == OPEN)
        .values(
            status=DraftStatus.SUPERSEDED,
            decided_by_id=user.id,
            decided_at=now,
            reason=f"{field} corrected to {value}",
        )  # fmt: skip
    )
    audit_action(session, user, via, f"correct_{field}", message_id=message.id, before=before,
         after=value)  # fmt: skip
    redraft = session.get(Redraft, message_id) or Redraft(message_id=message_id)
    redraft.user_id, redraft.requested_at = user.id, now  # a second correction: one redraft
    session.add(redraft)
    return redraft


def release_handoff(
    session: Session, conversation_id: int, user: User, via: str = "console"
) -> int:
    """Let the bot act on its own in the conversation again."""
    now = utcnow()
    done = session.exec(
        update(Handoff)
        .where(col(Handoff.conversation_id) == conversation_id, col(Handoff.released_at).is_(None))
        .values(released_at=now, released_by_id=user.id)
    )
    if done.rowcount == 0:
        raise Conflict(N_("this conversation is not waiting for a person"))
    audit_action(session, user, via, "release_handoff", reason=f"conversation {conversation_id}")
    return done.rowcount


def _audit(session, user, via, action, draft, before, after, reason) -> None:
    audit_action(session, user, via, action, draft=draft, before=before, after=after, reason=reason)


def audit_action(session, user, via, action, draft=None, message_id=None, before=None,
                 after=None, reason=None) -> None:  # fmt: skip
    """One line in the audit log: who did what to which draft or message, and why."""
    session.add(
        AuditLog(
            user_id=user.id,
            username=user.username,
            via=via,
            action=action,
            draft_id=draft.id if draft else None,
            message_id=draft.message_id if draft else message_id,
            before_text=before,
            after_text=after,
            reason=reason,
        )
    )


def pending_drafts(session: Session, limit: int = 200) -> list[tuple[Message, list[Draft]]]:
    """Messages that wait for a decision, oldest first, each with its candidate drafts."""
    drafts = session.exec(
        select(Draft).where(Draft.status == OPEN).order_by(col(Draft.message_id), col(Draft.rank))
    ).all()
    by_message: dict[int, list[Draft]] = {}
    for d in drafts:
        by_message.setdefault(d.message_id, []).append(d)
    ids = list(by_message)[:limit]
    messages = {
        m.id: m for m in session.exec(select(Message).where(col(Message.id).in_(ids))).all()
    }
    return [(messages[i], by_message[i]) for i in ids if i in messages]
