"""Buttons pressed in a chat (Telegram callback queries, LINE postbacks) routed by prefix.

Each feature owns a prefix, e.g. "draft" for review decisions from the staff chat, "ack" for
acknowledging a crisis alert; the table of prefixes and handlers is `bot/services.py` ACTIONS,
built in one place rather than by import side effects. Adapters turn a press into
`dispatch(...)` and show the returned text to whoever pressed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlmodel import Session

from bot.auth.linked import linked_user
from bot.i18n import use_locale
from db.models import User

MAX_DATA_BYTES = 64


@dataclass(frozen=True)
class Press:
    """Who pressed what: the channel, the platform user id, and the button's data."""

    channel: str
    platform_user_id: str
    data: str
    text: str | None = None  # what was written, for actions answered with text (a staff edit)


# `handler(session, staff_user_or_None, press, payload)` returns the text to show.
Handler = Callable[[Session, "User | None", Press, str], str]


def encode(prefix: str, payload: str) -> str:
    data = f"{prefix}:{payload}"
    if len(data.encode()) > MAX_DATA_BYTES:
        raise ValueError(f"button data over {MAX_DATA_BYTES} bytes: {data!r}")
    return data


def staff_user(session: Session, press: Press) -> User | None:
    """The console user linked to the platform account that pressed, if any."""
    return linked_user(session, press.channel, press.platform_user_id)


def dispatch(session: Session, press: Press, handlers: Mapping[str, Handler]) -> str | None:
    """The text to show whoever pressed; None for a button replyline did not make (a rich
    menu's, say): it is stored and left alone, since answering it could cost a paid push."""
    prefix, _, payload = press.data.partition(":")
    handler = handlers.get(prefix)
    if handler is None:
        return None
    user = staff_user(session, press)
    with use_locale(user.locale if user else None):  # the answer in the presser's language
        return handler(session, user, press, payload)
