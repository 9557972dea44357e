"""Tables the playbooks and the review queue keep: complaint tickets, proposals from suggestions,
human handoffs, after-hours acknowledgements, who is answering which message, staff notices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.enums import ProposalStatus, TicketStatus, one_of
from db.models.core import _opt_ts, _ts
from db.types import EnumText

TICKET_STATUSES = tuple(TicketStatus)
PROPOSAL_STATUSES = tuple(ProposalStatus)


class Ticket(SQLModel, table=True):
    """A complaint's follow-up: its number is quoted in the reply so both sides can refer to it."""

    __table_args__ = (one_of("ticket", "status", TicketStatus),)

    id: int | None = Field(default=None, primary_key=True)
    number: str | None = Field(default=None, max_length=32, unique=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    message_id: int = Field(foreign_key="message.id")
    subtype: str | None = Field(default=None, max_length=16)
    status: TicketStatus = Field(default=TicketStatus.OPEN, sa_type=EnumText(TicketStatus))
    created_at: datetime = _ts()
    closed_at: datetime | None = _opt_ts()
    closed_by_id: int | None = Field(default=None, foreign_key="user.id")


class Proposal(SQLModel, table=True):
    """A suggestion from the community the team tracks: open → under_review → adopted/declined."""

    __table_args__ = (one_of("proposal", "status", ProposalStatus),)

    id: int | None = Field(default=None, primary_key=True)
    number: str | None = Field(default=None, max_length=32, unique=True)
    message_id: int = Field(foreign_key="message.id", unique=True)
    conversation_id: int = Field(foreign_key="conversation.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    text: str = Field(sa_type=Text)
    status: ProposalStatus = Field(
        default=ProposalStatus.OPEN, sa_type=EnumText(ProposalStatus), index=True
    )
    note: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _ts()
    status_changed_at: datetime = _ts()
    status_changed_by_id: int | None = Field(default=None, foreign_key="user.id")


class Handoff(SQLModel, table=True):
    """A customer asked for a person: nothing automatic is sent in the conversation until a
    staff member releases it."""

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    message_id: int = Field(foreign_key="message.id")
    requested_at: datetime = _ts()
    released_at: datetime | None = _opt_ts()
    released_by_id: int | None = Field(default=None, foreign_key="user.id")


class AfterHoursAck(SQLModel, table=True):
    """The one acknowledgement a conversation gets per closed stretch (evening, weekend,
    holiday), however many messages arrive in it."""

    __table_args__ = (UniqueConstraint("conversation_id", "closed_since"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id")
    closed_since: datetime = _ts()
    message_id: int = Field(foreign_key="message.id")
    at: datetime = _ts()


class Assignment(SQLModel, table=True):
    """Who is answering a message. One row per message, so two people never answer it twice."""

    message_id: int = Field(foreign_key="message.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    assigned_by_id: int | None = Field(default=None, foreign_key="user.id")
    assigned_at: datetime = _ts()


class StaffNotice(SQLModel, table=True):
    """Something staff must know now (a handoff, an escalation, a repeat troll); shown in the
    console and pushed to the configured staff chats."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)  # handoff | escalation | repeat_troll
    text: str = Field(sa_type=Text)  # in English, as written (older notices have only this)
    # the figures the text is written from in each reader's language (bot/review/notices.py)
    params: dict | None = Field(default=None, sa_column=Column(JSON))
    message_id: int | None = Field(default=None, foreign_key="message.id")
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id")
    created_at: datetime = _ts(index=True)
    pushed_at: datetime | None = _opt_ts()
    push_error: str | None = Field(default=None, sa_type=Text)
