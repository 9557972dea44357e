"""Review from the Telegram staff chat: the card each pending message gets there, and the
forced-reply prompts that ask a staff member for the edited text."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from db.models.core import _opt_ts, _ts


class StaffCard(SQLModel, table=True):
    """One card per message waiting for review; its buttons decide on `draft_id`.

    A card is claimed (claimed_until, a lease) before it is sent, so two workers never both
    send it; a worker that dies mid-send leaves a lease that expires and the card is sent then.
    """

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", unique=True)
    draft_id: int = Field(foreign_key="draft.id", index=True)
    chat_id: str = Field(max_length=128)
    platform_message_id: str | None = Field(default=None, max_length=64)
    text: str | None = Field(default=None, sa_type=Text)  # as sent, to append the outcome
    created_at: datetime = _ts()
    claimed_until: datetime | None = _opt_ts()
    sent_at: datetime | None = _opt_ts(index=True)
    closed_at: datetime | None = _opt_ts()
    attempts: int = 0
    next_attempt_at: datetime | None = _opt_ts()
    error: str | None = Field(default=None, sa_type=Text)


class StaffEditRequest(SQLModel, table=True):
    """A staff member pressed Edit; their reply to the prompt becomes the approved text."""

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="draft.id")
    user_id: int = Field(foreign_key="user.id")
    chat_id: str = Field(max_length=128)
    card_message_id: str | None = Field(default=None, max_length=64)
    prompt_message_id: str | None = Field(default=None, max_length=64, index=True)
    created_at: datetime = _ts()
    claimed_until: datetime | None = _opt_ts()
    prompted_at: datetime | None = _opt_ts()
    used_at: datetime | None = _opt_ts()
    attempts: int = 0
    next_attempt_at: datetime | None = _opt_ts()
    error: str | None = Field(default=None, sa_type=Text)
