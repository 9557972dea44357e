"""The one small interface every channel implements: verify and parse inbound requests into
normalized events, and send replies out. The rest of replyline only sees these types."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from db.types import utcnow

# A platform sends a handful of events per request; far more is an abuse of a leaked secret or
# a bug, refused whole (and logged once) before anything is parsed, looked up or stored.
MAX_EVENTS_PER_REQUEST = 1000


class RequestRejected(Exception):
    """An inbound request that must not be stored: the HTTP status says why (400, 401, 413...)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class InboundEvent:
    """One platform event in replyline's terms (Rasa calls this a UserMessage)."""

    channel: str
    event_id: str  # the platform's unique id for this delivery; duplicates are dropped
    chat_id: str
    user_id: str | None
    text: str | None = None
    kind: str = "message"  # message | edit | follow | unfollow | join | leave | postback | ...
    content_type: str = "text"  # text | sticker | image | video | audio | file | location
    chat_kind: str = "direct"  # direct | group
    chat_title: str | None = None
    user_name: str | None = None
    platform_message_id: str | None = None
    reply_to_platform_message_id: str | None = None
    edit_of_platform_message_id: str | None = None
    reply_token: str | None = None
    answerable: bool = True  # False for events we must store but never answer (LINE standby)
    # a button's data (or a staff reply), dispatched by bot/review/actions.py
    action: str | None = None
    unsent_platform_message_id: str | None = None  # kind "unsend": the message taken back
    sent_at: datetime = field(default_factory=utcnow)
    raw: dict = field(default_factory=dict)


@dataclass
class OutboundReply:
    """A reply to deliver, with what the platform needs to thread it and to deduplicate it."""

    draft_id: int
    channel: str
    chat_id: str
    text: str
    idempotency_key: str
    reply_to_platform_message_id: str | None = None
    reply_token: str | None = None
    reply_token_received_at: datetime | None = None
    chat_kind: str = "direct"


@dataclass(frozen=True)
class Action:
    """A button under a pushed message: an inline button on Telegram, a postback on LINE.
    `data` comes back to replyline as an action event (see bot/review/actions.py)."""

    label: str
    data: str  # "<prefix>:<payload>", at most 64 bytes (Telegram's callback_data limit)


@dataclass
class SendResult:
    """What happened to a send. A failure is retried after `retry_after` unless `permanent`."""

    ok: bool
    platform_message_id: str | None = None
    error: str | None = None
    retry_after: float | None = None
    permanent: bool = False
    deferred: bool = False  # nothing was sent: the platform's rate limit says wait retry_after
    unknown: bool = False  # no answer (timeout, 5xx): it may have reached the customer
    chat_id: str | None = None  # the platform's id of the chat it went to (for "@name" targets)


class Channel(ABC):
    """A platform replyline talks on (errbot's Backend, Rasa's Input+OutputChannel)."""

    name: str

    @abstractmethod
    async def parse_request(self, body: bytes, headers: Mapping[str, str]) -> list[InboundEvent]:
        """Verify the request is genuine, then turn it into events. Raise RequestRejected."""

    @abstractmethod
    async def send(self, reply: OutboundReply) -> SendResult:
        """Deliver one reply. Must be safe to call again with the same idempotency key."""

    async def push(
        self, recipient: str, text: str, actions: list[Action] | None = None
    ) -> SendResult:
        """Send a message that answers nothing (alerts, reports) to a chat or user id."""
        return SendResult(False, error=f"{self.name} cannot push messages", permanent=True)

    async def answer(self, event: InboundEvent, text: str) -> None:  # noqa: B027 (optional)
        """Show `text` to whoever pressed a button (an event with an `action`)."""

    async def ask(
        self, chat_id: str, text: str, reply_to: str | None = None, placeholder: str = ""
    ) -> SendResult:
        """Ask for a text answer in a chat (Telegram: a forced reply, `placeholder` in its
        input field); by default a push."""
        return await self.push(chat_id, text)

    async def edit(self, chat_id: str, platform_message_id: str, text: str) -> SendResult:
        """Replace the text of a message sent earlier, dropping its buttons."""
        return SendResult(False, error=f"{self.name} cannot edit messages", permanent=True)

    async def publish(
        self, target: str, text: str, image_url: str | None = None, key: str | None = None
    ) -> SendResult:
        """Post to an audience on a schedule (the content calendar), answering no one.

        `target` is the channel's own address for an audience: on Telegram a channel or group
        chat id ("@brandchannel" or "-1001234567890"); on LINE "broadcast" (every follower) or
        "audience:<audienceGroupId>" (narrowcast to an audience). `image_url`, when given, is a
        public https URL of a JPEG or PNG to post with the text. Return the platform's id for
        what was posted (message id, or LINE's request id) as `platform_message_id`. A failure
        is retried (after `retry_after`, up to three attempts) unless `permanent`. `key` names
        the occurrence and is the same on every attempt at it, so a retry is delivered once
        where the platform can tell (LINE's X-Line-Retry-Key)."""
        return SendResult(False, error=f"{self.name} cannot publish posts", permanent=True)

    names_later = False  # True where `unnamed` can return senders (their names come later)

    def unnamed(self, events: list[InboundEvent]) -> list[tuple[str, str, str]]:
        """Senders whose display name the platform gives only on request: (source type, chat
        id, user id) for `look_up_names`, which runs after the events are acknowledged."""
        return []

    async def look_up_names(self, wanted: list[tuple[str, str, str]]) -> dict[str, str]:
        """Display names by user id for what `unnamed` returned."""
        return {}

    async def start(self) -> None:  # noqa: B027 (optional hook)
        """Open clients or connections; called once when the app starts."""

    async def stop(self) -> None:  # noqa: B027 (optional hook)
        """Release what start() opened."""
