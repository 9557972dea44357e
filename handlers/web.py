"""The built-in web chat: anyone can talk to the bot from a browser, no platform tokens needed.

Replies are delivered by the chat page reading the conversation back, so sending only has to
record the reply, which the outbox does for every channel."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from handlers.base import Channel, InboundEvent, OutboundReply, RequestRejected, SendResult

VISITOR_HEADER = "x-replyline-visitor"
PERSON_HEADER = "x-replyline-person"  # set by the server (bot/web/visitors.py), never by a browser
_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class WebChannel(Channel):
    name = "web"

    def __init__(self, max_text_chars: int = 5000):
        self.max_text_chars = max_text_chars

    async def parse_request(self, body: bytes, headers: Mapping[str, str]) -> list[InboundEvent]:
        visitor = headers.get(VISITOR_HEADER, "")
        if not _ID.match(visitor):
            raise RequestRejected(401, "no chat session")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestRejected(400, "body is not valid JSON") from exc
        if not isinstance(payload, dict):
            raise RequestRejected(422, "body must be a JSON object")
        text, client_id = payload.get("text"), payload.get("client_id")
        if not isinstance(text, str) or not text.strip():
            raise RequestRejected(422, "text must be a non-empty string")
        if len(text) > self.max_text_chars:
            raise RequestRejected(413, f"text longer than {self.max_text_chars} characters")
        if not isinstance(client_id, str) or not _ID.match(client_id):
            raise RequestRejected(422, "client_id must be 8-64 letters, digits, - or _")
        name = payload.get("name")
        name = name.strip()[:60] if isinstance(name, str) and name.strip() else None
        return [
            InboundEvent(
                channel=self.name,
                event_id=f"{visitor}:{client_id}",
                chat_id=visitor,
                user_id=visitor,
                user_name=name,
                text=text.strip(),
                platform_message_id=client_id,
                raw={"text": text, "client_id": client_id}
                | ({"person": person} if (person := headers.get(PERSON_HEADER)) else {}),
            )
        ]

    async def send(self, reply: OutboundReply) -> SendResult:
        return SendResult(ok=True)
