"""Crisis incidents: what was detected, the messages in it, the alerts sent and the team's notes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint, func, text
from sqlmodel import Field, SQLModel

from db.enums import IncidentStatus, one_of
from db.models.core import _opt_ts, _ts
from db.types import EnumText

# Database-side defaults too, so rows written by other tools (imports, reports' fixtures) work.
EMPTY_LIST = text("'[]'")


def _list() -> Any:
    return Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default=EMPTY_LIST)
    )


def _count(default: int = 0) -> Any:
    return Field(default=default, sa_column_kwargs={"server_default": str(default)})


class Incident(SQLModel, table=True):
    """A suspected brand crisis. status: open → acknowledged → resolved.

    `signals` lists every detector signal that opened or joined it (kind, when, summary,
    figures); `story` is the unit embedding of what it is about, used to match later signals.
    The alert fields drive repeats and escalation until someone acknowledges."""

    __table_args__ = (
        Index("ix_incident_status_id", "status", "id"),
        one_of("incident", "status", IncidentStatus),
    )

    id: int | None = Field(default=None, primary_key=True)
    status: IncidentStatus = Field(default=IncidentStatus.OPEN, sa_type=EnumText(IncidentStatus))
    severity: int = 1  # 1..10
    title: str = Field(max_length=200)
    explanation: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    kinds: list = _list()
    channels: list = _list()
    signals: list = _list()
    story: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    opened_at: datetime = _ts()
    updated_at: datetime = _ts(sa_column_kwargs={"server_default": func.now()})
    acknowledged_at: datetime | None = _opt_ts()
    acknowledged_by: str | None = Field(default=None, max_length=64)
    resolved_at: datetime | None = _opt_ts()
    resolved_by: str | None = Field(default=None, max_length=64)
    alert_tier: int = _count()  # highest supervisor tier alerted so far
    alerts_sent: int = _count()  # alert rounds sent
    last_alert_at: datetime | None = _opt_ts()


class IncidentMessage(SQLModel, table=True):
    """A message that is part of an incident, and which signal put it there."""

    __table_args__ = (UniqueConstraint("incident_id", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    reason: str = Field(max_length=32)  # volume | share | severity | story | follow-up
    added_at: datetime = _ts()


class IncidentNote(SQLModel, table=True):
    """The incident's timeline of human steps: acknowledge, notes, resolve."""

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    at: datetime = _ts()
    user_id: int | None = Field(default=None, foreign_key="user.id")
    username: str = Field(max_length=64)
    via: str = Field(
        default="console", max_length=16, sa_column_kwargs={"server_default": "console"}
    )  # console | cli | telegram | line
    action: str = Field(max_length=16)  # note | acknowledge | resolve
    text: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})


class IncidentAlert(SQLModel, table=True):
    """One alert message pushed to one supervisor, and whether the platform took it."""

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    round: int  # 1 = the first alert, 2 = first repeat, ...
    tier: int = _count(1)
    recipient: str = Field(max_length=200)
    at: datetime = _ts()
    ok: bool = False
    error: str | None = Field(default=None, sa_type=Text)


class CrisisFeed(SQLModel, table=True):
    """A classified inbound message the crisis detector has not read yet. Only on PostgreSQL,
    where several processes share the pipeline: the process that processes a message adds its
    row in the message's own transaction; the one process that runs the window tests reads
    and deletes the rows (bot/crisis/shared.py), so it counts every message exactly once.
    `vector` is the message's unit embedding, kept for negative messages (only those make
    stories)."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: int
    vector: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
