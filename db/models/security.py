"""Tables of the security area: console sessions kept on the server, so a logout, a password
or role change or a deactivation ends them in every process behind the same database."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow


class ConsoleSession(SQLModel, table=True):
    """One console login; the cookie carries its token, the table only the token's hash."""

    __tablename__ = "console_session"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
