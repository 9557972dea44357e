"""Push a message to people, not in reply to anything: supervisors' alerts and reports.

A recipient is written "<channel>:<id>", e.g. "telegram:123456789" or "line:U4af4980629...".
Each message is written in its reader's language: the console user linked to that chat id
(their own setting), else the brand's (REPLYLINE_LANGUAGE); a group chat reads the brand's."""

from __future__ import annotations

from sqlmodel import Session

from bot.auth.linked import linked_user
from handlers.base import Action, Channel, SendResult


def parse_recipient(recipient: str) -> tuple[str, str]:
    channel, sep, chat_id = recipient.partition(":")
    if not sep or not channel or not chat_id:
        raise ValueError(f"recipient {recipient!r} is not <channel>:<id>")
    return channel, chat_id


def reader_locale(session: Session, recipient: str) -> str | None:
    """The language the person behind a chat id chose in the console; None (the brand's
    language) for a group or a chat no active console user is linked to."""
    channel, _, chat_id = recipient.partition(":")
    user = linked_user(session, channel, chat_id)
    return user.locale if user else None


async def push(
    channels: dict[str, Channel], recipient: str, text: str, actions: list[Action] | None = None
) -> SendResult:
    channel_name, chat_id = parse_recipient(recipient)
    channel = channels.get(channel_name)
    if channel is None:
        return SendResult(False, error=f"channel {channel_name} is not configured", permanent=True)
    return await channel.push(chat_id, text, actions)
