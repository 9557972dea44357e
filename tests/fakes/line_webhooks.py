"""LINE webhook bodies as the Messaging API reference documents them, and their signature.

Each builder returns one event dict; `body(...)` wraps events in the request body and
`signature(...)` computes X-Line-Signature (HMAC-SHA256 of the raw body, base64). Pass a
`FakeLine` as `api` to have it issue the event's reply token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import time

CHANNEL_SECRET = "fake-line-channel-secret-0123456789"
BOT_USER_ID = "U" + "b0" * 16
_ids = itertools.count(1)


def user_id(n: int) -> str:
    return f"U{n:032x}"


def group_id(n: int) -> str:
    return f"C{n:032x}"


def room_id(n: int) -> str:
    return f"R{n:032x}"


def event_id() -> str:
    """A ULID-like webhookEventId."""
    return "01" + secrets.token_hex(12).upper()


def _event(type_, user, group=None, room=None, api=None, reply=True, redelivery=False, **extra):
    if group:
        source = {"type": "group", "groupId": group, "userId": user}
    elif room:
        source = {"type": "room", "roomId": room, "userId": user}
    else:
        source = {"type": "user", "userId": user}
    if user is None:
        source.pop("userId")
    event = {
        "type": type_,
        "mode": extra.pop("mode", "active"),
        "timestamp": int(time.time() * 1000),
        "source": source,
        "webhookEventId": extra.pop("webhook_event_id", None) or event_id(),
        "deliveryContext": {"isRedelivery": redelivery},
    }
    if reply:
        to = group or room or user
        event["replyToken"] = api.issue_reply_token(to) if api else secrets.token_hex(16)
    event.update(extra)
    return event


def text_event(text: str, user: str, **kw) -> dict:
    message = {
        "type": "text",
        "id": str(next(_ids) + 10**13),
        "quoteToken": secrets.token_urlsafe(16),
        "text": text,
    }
    return _event("message", user, message=message, **kw)


def sticker_event(user: str, **kw) -> dict:
    message = {
        "type": "sticker",
        "id": str(next(_ids) + 10**13),
        "quoteToken": secrets.token_urlsafe(16),
        "stickerId": "52002738",
        "packageId": "11537",
        "stickerResourceType": "ANIMATION",
        "keywords": ["cony", "Happy"],
    }
    return _event("message", user, message=message, **kw)


def image_event(user: str, **kw) -> dict:
    message = {
        "type": "image",
        "id": str(next(_ids) + 10**13),
        "quoteToken": secrets.token_urlsafe(16),
        "contentProvider": {"type": "line"},
    }
    return _event("message", user, message=message, **kw)


def location_event(user: str, **kw) -> dict:
    message = {
        "type": "location",
        "id": str(next(_ids) + 10**13),
        "title": "Taipei 101",
        "address": "No. 7, Section 5, Xinyi Road, Xinyi District, Taipei City, 110",
        "latitude": 25.033964,
        "longitude": 121.564468,
    }
    return _event("message", user, message=message, **kw)


def follow_event(user: str, **kw) -> dict:
    return _event("follow", user, follow={"isUnblocked": False}, **kw)


def unfollow_event(user: str, **kw) -> dict:
    return _event("unfollow", user, reply=False, **kw)


def join_event(group: str, **kw) -> dict:
    return _event("join", None, group=group, **kw)


def leave_event(group: str, **kw) -> dict:
    return _event("leave", None, group=group, reply=False, **kw)


def member_joined_event(group: str, member: str, **kw) -> dict:
    joined = {"members": [{"type": "user", "userId": member}]}
    return _event("memberJoined", None, group=group, joined=joined, **kw)


def member_left_event(group: str, member: str, **kw) -> dict:
    left = {"members": [{"type": "user", "userId": member}]}
    return _event("memberLeft", None, group=group, reply=False, left=left, **kw)


def postback_event(data: str, user: str, **kw) -> dict:
    return _event("postback", user, postback={"data": data}, **kw)


def body(*events: dict, destination: str = BOT_USER_ID) -> bytes:
    return json.dumps(
        {"destination": destination, "events": list(events)}, ensure_ascii=False
    ).encode()


def signature(raw_body: bytes, secret: str = CHANNEL_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


def headers(raw_body: bytes, secret: str = CHANNEL_SECRET) -> dict:
    return {"x-line-signature": signature(raw_body, secret), "content-type": "application/json"}
