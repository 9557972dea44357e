"""What keeps several processes in step: version counters of shared state, and the messages a
correction asked the worker to redraft."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from db.models.core import _ts


class StateVersion(SQLModel, table=True):
    """A counter per piece of cached state (playbooks, users, ...), bumped in the transaction
    that changes it, so every process sees that its copy is stale and reloads it."""

    name: str = Field(primary_key=True, max_length=64)
    version: int = 0
    updated_at: datetime = _ts()


class Redraft(SQLModel, table=True):
    """A message whose label a person corrected: the worker drafts it again, outside the
    request that made the correction."""

    message_id: int = Field(primary_key=True, foreign_key="message.id")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    requested_at: datetime = _ts()
