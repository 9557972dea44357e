"""Tables of the reliability area: failed console logins, for the login rate limit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow


class LoginFailure(SQLModel, table=True):
    """One failed console login, kept for the length of the rate-limit window, so every
    process behind the same database counts the same failures."""

    __table_args__ = (
        Index("ix_loginfailure_username_at", "username", "at"),
        Index("ix_loginfailure_ip_at", "ip", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    ip: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
