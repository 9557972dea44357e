"""Console users linked to a chat account (a Telegram or LINE user id): who pressed a button in
a chat, and whose language a message pushed to that chat is written in."""

from __future__ import annotations

from sqlmodel import Session, select

from db.models import User

LINKED = {"telegram": User.telegram_user_id, "line": User.line_user_id}


def linked_user(session: Session, channel: str, platform_user_id: str) -> User | None:
    """The active console user linked to this account on this channel, if any."""
    column = LINKED.get(channel)
    if column is None or not platform_user_id:
        return None
    return session.exec(select(User).where(column == platform_user_id, User.active)).first()
