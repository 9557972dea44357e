"""The tables every part of the pipeline shares: contacts, conversations, messages, drafts,
console users and the audit log of human decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.enums import DraftStatus, MessageState, Role, one_of
from db.types import EnumText, UTCDateTime, utcnow


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


def _opt_ts(**kw: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime, **kw)


class Contact(SQLModel, table=True):
    """One person on one platform, with the relationship stage the three-stage model gives them."""

    __table_args__ = (UniqueConstraint("channel", "platform_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    platform_user_id: str = Field(max_length=128)
    display_name: str | None = Field(default=None, max_length=200)
    stage: str = Field(default="identification", max_length=32)
    stage_changed_at: datetime = _ts()
    first_seen_at: datetime = _ts()
    last_seen_at: datetime = _ts()
    message_count: int = 0
    erased: bool = False
    blocked: bool = False  # unfollowed the account (LINE): nothing is pushed until a follow


class StageTransition(SQLModel, table=True):
    """Every move between stages, with why it happened, so the funnel can be audited."""

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    from_stage: str = Field(max_length=32)
    to_stage: str = Field(max_length=32)
    reason: str = Field(sa_type=Text)
    at: datetime = _ts()


class Conversation(SQLModel, table=True):
    """A chat on a platform: a one-to-one chat or a group, the unit replies are ordered in."""

    __table_args__ = (UniqueConstraint("channel", "chat_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    chat_id: str = Field(max_length=128)
    kind: str = Field(default="direct", max_length=16)  # direct | group
    title: str | None = Field(default=None, max_length=200)
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    created_at: datetime = _ts()
    last_message_at: datetime = _ts()


class Message(SQLModel, table=True):
    """A message in or out. Inbound rows are the durable record of a platform event.

    `state` drives the pipeline: `received` rows still need classifying and drafting;
    `processed` rows are done; `ignored` rows (non-message events) need nothing; `failed` rows
    could not be processed after several attempts (`error` says why).
    """

    __table_args__ = (
        UniqueConstraint("channel", "platform_event_id"),
        Index("ix_message_state_id", "state", "id"),
        Index("ix_message_conversation_id", "conversation_id", "id"),
        Index("ix_message_contact_id", "contact_id", "id"),
        one_of("message", "state", MessageState),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    platform_event_id: str | None = Field(default=None, max_length=200)
    conversation_id: int = Field(foreign_key="conversation.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    direction: str = Field(default="in", max_length=3)  # in | out
    kind: str = Field(default="message", max_length=32)  # message | edit | follow | ...
    content_type: str = Field(default="text", max_length=32)  # text | sticker | image | ...
    text: str | None = Field(default=None, sa_type=Text)
    raw: dict | None = Field(default=None, sa_column=Column(JSON))
    platform_message_id: str | None = Field(default=None, max_length=200)
    reply_to_message_id: int | None = Field(default=None, foreign_key="message.id")
    edit_of_id: int | None = Field(default=None, foreign_key="message.id")
    reply_token: str | None = Field(default=None, max_length=200)
    sent_at: datetime = _ts()  # when the platform says it was written
    received_at: datetime = _ts()  # when replyline committed it
    state: MessageState = Field(default=MessageState.RECEIVED, sa_type=EnumText(MessageState))
    processed_at: datetime | None = _opt_ts()
    attempts: int = 0  # failed processing attempts; `failed` after the pipeline's limit
    error: str | None = Field(default=None, sa_type=Text)  # the last failure, redacted
    retry_at: datetime | None = _opt_ts()  # a failed attempt is not retried before this
    # classification (filled by the pipeline)
    type: str | None = Field(default=None, max_length=16, index=True)
    type_scores: dict | None = Field(default=None, sa_column=Column(JSON))
    subtype: str | None = Field(default=None, max_length=16)
    sentiment: float | None = None
    language: str | None = Field(default=None, max_length=16)
    suggestion: bool | None = None
    confidence: float | None = None
    low_confidence: bool | None = None
    stage: str | None = Field(default=None, max_length=32)  # sender's stage at that time
    # review-queue urgency (playbooks area): higher comes first; a crisis detector sets
    # incident_id (and may raise priority) so crisis-related items top the queue and need a
    # supervisor
    priority: int = 0
    incident_id: int | None = Field(default=None, index=True)
    # first-response deadline in business hours, stored when drafts are written so the
    # database can order and page the review queue (bot/review/queue.py)
    due_at: datetime | None = _opt_ts()


class Draft(SQLModel, table=True):
    """A candidate reply to one inbound message and what became of it.

    status: pending → approved | edited → sent | failed; or rejected; or superseded when a
    sibling candidate was chosen.
    """

    __table_args__ = (
        Index("ix_draft_status_id", "status", "id"),
        Index("ix_draft_status_message_id", "status", "message_id"),  # the review queue
        one_of("draft", "status", DraftStatus),
        one_of("draft", "required_role", Role),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    conversation_id: int = Field(foreign_key="conversation.id")
    rank: int = 0
    text: str = Field(sa_type=Text)
    original_text: str = Field(sa_type=Text)
    playbook: str = Field(default="", max_length=100)
    policy: dict | None = Field(default=None, sa_column=Column(JSON))
    required_role: Role = Field(default=Role.AGENT, sa_type=EnumText(Role))
    status: DraftStatus = Field(default=DraftStatus.PENDING, sa_type=EnumText(DraftStatus))
    auto: bool = False
    decided_by_id: int | None = Field(default=None, foreign_key="user.id")
    decided_at: datetime | None = _opt_ts()
    reason: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _ts()
    approved_at: datetime | None = _opt_ts()
    send_attempts: int = 0
    next_attempt_at: datetime | None = _opt_ts()
    sent_at: datetime | None = _opt_ts()
    sent_message_id: int | None = Field(default=None, foreign_key="message.id")
    error: str | None = Field(default=None, sa_type=Text)
    maybe_sent: bool = False  # an attempt got no answer: a failed draft may still have gone out
    idempotency_key: str | None = Field(default=None, max_length=64, unique=True)


class User(SQLModel, table=True):
    """A console user. Roles: agent < supervisor < admin."""

    __table_args__ = (one_of("user", "role", Role),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    password_hash: str = Field(max_length=255)
    role: Role = Field(default=Role.AGENT, sa_type=EnumText(Role))
    telegram_user_id: str | None = Field(default=None, max_length=64, unique=True)
    line_user_id: str | None = Field(default=None, max_length=64, unique=True)
    active: bool = True
    must_change_password: bool = False  # the first-start admin: set a password before anything
    locale: str | None = Field(default=None, max_length=16)  # console language; None: the browser's
    created_at: datetime = _ts()


class AuditLog(SQLModel, table=True):
    """Every human decision: who, when, what, the text before and after, and why."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    username: str = Field(max_length=64)
    via: str = Field(default="console", max_length=16)  # console | cli | telegram | auto
    action: str = Field(max_length=32)
    draft_id: int | None = Field(default=None, foreign_key="draft.id")
    message_id: int | None = Field(default=None, foreign_key="message.id")
    before_text: str | None = Field(default=None, sa_type=Text)
    after_text: str | None = Field(default=None, sa_type=Text)
    reason: str | None = Field(default=None, sa_type=Text)


class Feedback(SQLModel, table=True):
    """A label a human corrected; `replyline train --with-feedback` learns from these."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    text: str = Field(sa_type=Text)
    field: str = Field(max_length=16)  # type | subtype | stage | ...
    value: str = Field(max_length=32)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _ts()


class AppMeta(SQLModel, table=True):
    """Small key-value facts the processes share, such as the generated session secret."""

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_type=Text)
