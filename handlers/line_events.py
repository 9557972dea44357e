"""LINE webhook events (parsed by line-bot-sdk v3) as replyline's inbound events.

Handled: message events (text; sticker, image, video, audio, file and location stored with
their kind), follow, unfollow, join, leave, memberJoined, memberLeft and postback, from users,
groups and rooms. Events in standby mode (another channel owns the chat) are stored but never
answered; a redelivered event (deliveryContext.isRedelivery) drops its reply token, which has
expired by then. Other event types are stored as what they are and need nothing."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

from linebot.v3.webhooks import (
    Event,
    GroupSource,
    MemberJoinedEvent,
    MemberLeftEvent,
    MessageEditedEvent,
    MessageEvent,
    PostbackEvent,
    RoomSource,
    TextMessageContent,
    UnsendEvent,
)

from handlers.base import InboundEvent

log = logging.getLogger(__name__)
KINDS = {
    "message": "message",
    "messageEdited": "edit",
    "follow": "follow",
    "unfollow": "unfollow",
    "join": "join",
    "leave": "leave",
    "memberJoined": "member_joined",
    "memberLeft": "member_left",
    "postback": "postback",
    "unsend": "unsend",
}


def line_events(raw_events: list) -> list[InboundEvent]:
    """The events of a verified webhook body, with one log line for what was odd in it (one
    per event flooded the log: one request may hold many)."""
    events, skipped, unparsed = [], 0, 0
    for raw in raw_events:
        event_id = raw.get("webhookEventId") if isinstance(raw, dict) else None
        if not isinstance(event_id, str) or not event_id:
            skipped += 1
            continue
        try:
            parsed = Event.from_dict(raw)
        except (ValueError, TypeError, KeyError):  # a type or shape this SDK does not know
            unparsed += 1
            events.append(_unparsed(raw, event_id))
            continue
        events += _per_member(_inbound(parsed, raw, event_id), parsed)
    if skipped or unparsed:
        log.warning("LINE request: %d event(s) without webhookEventId skipped, %d stored "
                    "unparsed (of %d)", skipped, unparsed, len(raw_events))  # fmt: skip
    return events


def _inbound(event: Event, raw: dict, event_id: str) -> InboundEvent:
    chat_id, chat_kind, user_id = _source(event)
    kind = KINDS.get(event.type, str(event.type)[:32])
    redelivered = bool(event.delivery_context and event.delivery_context.is_redelivery)
    standby = getattr(event.mode, "value", event.mode) == "standby"
    result = InboundEvent(
        channel="line",
        event_id=event_id,
        chat_id=chat_id,
        chat_kind=chat_kind,
        user_id=user_id,
        kind=kind,
        content_type="text" if kind in ("message", "edit") else "event",
        reply_token=None if redelivered else getattr(event, "reply_token", None),
        answerable=not standby and kind in ("message", "edit"),
        sent_at=_timestamp(event.timestamp),
        raw=raw,
    )
    if isinstance(event, MessageEvent | MessageEditedEvent):
        content = event.message
        result.content_type = content.type
        result.text = _text(content)
        if isinstance(event, MessageEvent):
            result.platform_message_id = content.id
            quoted = getattr(content, "quoted_message_id", None)
            result.reply_to_platform_message_id = quoted
        else:
            result.edit_of_platform_message_id = content.id
    elif isinstance(event, UnsendEvent):
        result.unsent_platform_message_id = event.unsend.message_id
    elif isinstance(event, PostbackEvent):
        # in standby another channel owns the chat: the press is stored, never acted on
        result.action = None if standby else event.postback.data
        result.content_type = "button"
    elif isinstance(event, MemberJoinedEvent | MemberLeftEvent):
        members = (event.joined if isinstance(event, MemberJoinedEvent) else event.left).members
        result.user_id = members[0].user_id if members else None
    return result


def _per_member(event: InboundEvent, parsed: Event) -> list[InboundEvent]:
    """memberJoined/memberLeft name several members: one event each, so every member is
    recorded (ids derived from the event's, so a redelivery is still recognised)."""
    if not isinstance(parsed, MemberJoinedEvent | MemberLeftEvent):
        return [event]
    members = (parsed.joined if isinstance(parsed, MemberJoinedEvent) else parsed.left).members
    ids = [m.user_id for m in members if getattr(m, "user_id", None)]
    more = [
        dataclasses.replace(
            event,
            event_id=f"{event.event_id}:{i}",
            user_id=user_id,
            raw={"webhookEventId": event.event_id, "type": parsed.type, "member": user_id},
        )
        for i, user_id in enumerate(ids[1:], start=1)
    ]
    return [event, *more]


def _text(content) -> str | None:
    """Only text is read; a sticker, photo or place is stored as its kind, without text."""
    return content.text if isinstance(content, TextMessageContent) else None


def _source(event: Event) -> tuple[str, str, str | None]:
    source = event.source
    if isinstance(source, GroupSource):
        return source.group_id, "group", source.user_id
    if isinstance(source, RoomSource):
        return source.room_id, "group", source.user_id
    user_id = getattr(source, "user_id", None)
    return user_id or "unknown", "direct", user_id


def _unparsed(raw: dict, event_id: str) -> InboundEvent:
    source: dict = raw["source"] if isinstance(raw.get("source"), dict) else {}
    chat_id = source.get("groupId") or source.get("roomId") or source.get("userId") or "unknown"
    return InboundEvent(
        channel="line",
        event_id=event_id,
        chat_id=str(chat_id)[:128],
        chat_kind="group" if source.get("groupId") or source.get("roomId") else "direct",
        user_id=source.get("userId") if isinstance(source.get("userId"), str) else None,
        kind=str(raw.get("type") or "unknown")[:32],
        content_type="event",
        answerable=False,
        sent_at=_timestamp(raw.get("timestamp")),
        raw=raw,
    )


def _timestamp(milliseconds: object) -> datetime:
    if isinstance(milliseconds, int) and 0 < milliseconds < 10**14:
        return datetime.fromtimestamp(milliseconds / 1000, UTC)
    return datetime.now(UTC)
