"""Telegram on python-telegram-bot's `Bot`: webhook or long-polling updates in, replies out.

Inbound: the webhook must carry the exact `X-Telegram-Bot-Api-Secret-Token` (compared in
constant time) or it is refused with 401 before anything is read; updates are parsed with
`Update.de_json` (see handlers/telegram_updates.py) and deduplicated by "<bot id>:<update_id>".
Outbound: every message goes through the flood gate (handlers/telegram_flood.py); group
replies are threaded to the message they answer; a 429 blocks only its chat for retry_after.
Scheduled posts go to a channel or group as a message, or as a photo with the text as its
caption (a longer text follows the photo as a message of its own).
The bot token never leaves this module: URLs are not logged and error texts are redacted."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from handlers.base import Action, Channel, InboundEvent, OutboundReply, RequestRejected, SendResult
from handlers.loop_local import LoopLocal
from handlers.redact import redact
from handlers.telegram_flood import FloodGate
from handlers.telegram_updates import update_events
from handlers.ttl_cache import TTLCache

log = logging.getLogger(__name__)
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name)
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "message_reaction")
MAX_TEXT = 4096  # Telegram's limit for one message
MAX_CAPTION = 1024  # and for a photo's caption
MAX_ANSWER = 200  # and for a callback answer
SEND_TIMEOUT = 10.0  # seconds to wait for a send's answer


class TelegramChannel(Channel):
    name = "telegram"

    def __init__(
        self,
        token: str,
        webhook_secret: str | None = None,
        api_base: str = "https://api.telegram.org",
        staff_chat_id: str | None = None,
        gate: FloodGate | None = None,
        max_inline_wait: float = 1.5,
    ):
        self.bot_id = token.split(":", 1)[0]
        self.webhook_secret = webhook_secret
        self.staff_chat_id = staff_chat_id
        self.gate = gate or FloodGate()
        self.max_inline_wait = max_inline_wait
        self.username: str | None = None
        self._photos_posted: TTLCache[tuple, SendResult] = TTLCache(600)
        base = api_base.rstrip("/")

        def make_bot() -> Bot:
            return Bot(
                token,
                base_url=f"{base}/bot",
                base_file_url=f"{base}/file/bot",
                request=HTTPXRequest(connection_pool_size=64, read_timeout=SEND_TIMEOUT),
                get_updates_request=HTTPXRequest(connection_pool_size=2),
            )

        self._bots: LoopLocal[Bot] = LoopLocal(make_bot, lambda bot: bot.shutdown())

    # ----- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            me = await self._bot().get_me()
        except TelegramError as error:
            log.warning("telegram: getMe failed, sending may fail too: %s", describe(error))
            return
        self.username = me.username
        log.info("telegram: connected as @%s (id %s)", me.username, me.id)
        if self.webhook_secret is None:
            log.warning("telegram: no REPLYLINE_TELEGRAM_WEBHOOK_SECRET, so webhooks are refused")

    async def stop(self) -> None:
        await self._bots.close()

    def _bot(self) -> Bot:
        return self._bots.get()

    # ----- inbound ---------------------------------------------------------------------------

    async def parse_request(self, body: bytes, headers: Mapping[str, str]) -> list[InboundEvent]:
        given = headers.get(SECRET_HEADER) or ""
        if not self.webhook_secret or not hmac.compare_digest(
            given.encode(), self.webhook_secret.encode()
        ):
            raise RequestRejected(401, "missing or wrong secret token")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestRejected(400, "body is not valid JSON") from exc
        return self.events(data)

    def events(self, data: object) -> list[InboundEvent]:
        """The events in one update given as the Bot API's JSON (webhook or getUpdates)."""
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise RequestRejected(400, "not a Telegram update")
        try:
            update = Update.de_json(data, self._bot_or_none())
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RequestRejected(400, f"malformed update: {type(exc).__name__}") from exc
        return update_events(update, data, self.bot_id, self.staff_chat_id)

    def _bot_or_none(self) -> Bot | None:
        try:
            return self._bot()
        except RuntimeError:  # no running loop (parsing outside the app)
            return None

    async def answer(self, event: InboundEvent, text: str) -> None:
        query = event.raw.get("callback_query") if isinstance(event.raw, dict) else None
        try:
            if query:
                await self._bot().answer_callback_query(query["id"], text=text[:MAX_ANSWER])
            elif text:
                await self.push(event.chat_id, text, reply_to=event.platform_message_id)
        except TelegramError as error:
            log.info("telegram: could not answer %s: %s", event.event_id, describe(error))

    # ----- outbound --------------------------------------------------------------------------

    async def send(self, reply: OutboundReply) -> SendResult:
        thread = reply.chat_kind == "group"
        return await self._deliver(
            reply.chat_id,
            reply.text,
            group=thread,
            reply_to=reply.reply_to_platform_message_id if thread else None,
        )

    async def push(
        self,
        recipient: str,
        text: str,
        actions: list[Action] | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        markup = None
        if actions:
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(a.label, callback_data=a.data) for a in actions]]
            )
        return await self._deliver(
            recipient, text, group=_looks_like_group(recipient), reply_to=reply_to, markup=markup
        )

    async def ask(
        self, chat_id: str, text: str, reply_to: str | None = None, placeholder: str = ""
    ) -> SendResult:
        # the placeholder is the caller's, in its reader's language (at most 64 characters)
        markup = ForceReply(selective=False, input_field_placeholder=placeholder[:64] or None)
        return await self._deliver(
            chat_id, text, group=_looks_like_group(chat_id), reply_to=reply_to, markup=markup
        )

    async def edit(self, chat_id: str, platform_message_id: str, text: str) -> SendResult:
        async def call(target: str) -> Message | bool:
            return await self._bot().edit_message_text(
                text[:MAX_TEXT], chat_id=target, message_id=int(platform_message_id)
            )

        return await self._through_gate(chat_id, _looks_like_group(chat_id), call)

    async def publish(
        self, target: str, text: str, image_url: str | None = None, key: str | None = None
    ) -> SendResult:
        """A message, or a photo captioned with the text; a text too long for a caption follows
        the photo, and a retry of the same post after its photo went out sends only the text.
        Channels and groups share the flood gate's group limits."""
        if image_url is None:
            return await self._deliver(target, text, group=True)
        caption = text if len(text) <= MAX_CAPTION else None
        posted = (target, image_url, key or text)
        if self._photos_posted.get(posted, None) is None:  # else a retry: the photo is out

            async def call(chat: str) -> Message:
                return await self._bot().send_photo(chat, image_url, caption=caption)

            photo = await self._through_gate(target, True, call)
            if not photo.ok or caption is not None:
                return photo
            self._photos_posted.put(posted, photo)
        return await self._deliver(target, text, group=True)

    async def _deliver(
        self,
        chat_id: str,
        text: str,
        group: bool,
        reply_to: str | None = None,
        markup: InlineKeyboardMarkup | ForceReply | None = None,
    ) -> SendResult:
        if not text.strip():
            return SendResult(False, error="Telegram cannot send an empty message", permanent=True)
        if len(text) > MAX_TEXT:
            return SendResult(
                False, error=f"reply longer than Telegram's {MAX_TEXT} characters", permanent=True
            )
        parameters = None
        if reply_to and reply_to.isdigit():
            parameters = ReplyParameters(int(reply_to), allow_sending_without_reply=True)

        async def call(target: str) -> Message:
            return await self._bot().send_message(
                target, text, reply_parameters=parameters, reply_markup=markup
            )

        return await self._through_gate(chat_id, group, call)

    async def _through_gate(
        self, chat_id: str, group: bool, call: Callable[[str], Awaitable[Message | bool]]
    ) -> SendResult:
        """Wait for this chat's slot (or defer if it is far off), send, and read the outcome."""
        slot = self.gate.book(chat_id, group, self.max_inline_wait)
        if not slot.booked:
            return SendResult(
                False,
                error=f"waiting {slot.delay:.0f}s for Telegram's flood limit in this chat",
                retry_after=slot.delay,
                deferred=True,
            )
        await asyncio.sleep(slot.delay)
        await asyncio.sleep(self.gate.global_delay())
        try:
            try:
                sent = await call(chat_id)
            except ChatMigrated as moved:  # a group became a supergroup: same chat, new id
                sent = await call(str(moved.new_chat_id))
        except RetryAfter as flood:
            seconds = retry_seconds(flood)
            self.gate.blocked(chat_id, seconds)
            log.info("telegram: chat %s flooded, waiting %.0fs", chat_id, seconds)
            return SendResult(
                False, error=f"Telegram flood control: retry in {seconds:.0f}s", retry_after=seconds
            )
        except (Forbidden, BadRequest, InvalidToken) as error:
            return SendResult(False, error=describe(error), permanent=True)
        except NetworkError as error:  # timeouts and 5xx: Telegram may have sent it
            return SendResult(False, error=describe(error), unknown=True)
        except TelegramError as error:
            return SendResult(False, error=describe(error))
        if not isinstance(sent, Message):
            return SendResult(True)
        return SendResult(True, platform_message_id=str(sent.message_id), chat_id=str(sent.chat_id))

    # ----- webhook and polling ---------------------------------------------------------------

    async def set_webhook(self, url: str, drop_pending: bool = False) -> None:
        if not self.webhook_secret:
            raise ValueError("set REPLYLINE_TELEGRAM_WEBHOOK_SECRET first")
        await self._bot().set_webhook(
            url,
            secret_token=self.webhook_secret,
            allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=drop_pending,
        )

    async def delete_webhook(self) -> None:
        await self._bot().delete_webhook()

    async def webhook_url(self) -> str:
        """The URL Telegram currently delivers updates to; empty when none is set."""
        return (await self._bot().get_webhook_info()).url or ""

    async def get_updates(self, offset: int | None, timeout: int) -> list[dict]:
        """Long polling: the next updates as the Bot API's JSON, at most `timeout` seconds."""
        updates = await self._bot().get_updates(
            offset=offset, timeout=timeout, allowed_updates=list(ALLOWED_UPDATES)
        )
        return [u.to_dict() for u in updates]


def describe(error: TelegramError) -> str:
    """An error text fit for a draft or a log line: the token is never in it."""
    if isinstance(error, InvalidToken):
        return "Telegram rejected the bot token (check REPLYLINE_TELEGRAM_BOT_TOKEN)"
    return redact(f"Telegram: {error.message}")


def describe_api_error(error: BaseException) -> str | None:
    """`describe(error)` for a Bot API error, None for any other: callers outside handlers/
    need not import the SDK to tell them apart."""
    return describe(error) if isinstance(error, TelegramError) else None


def retry_seconds(error: RetryAfter) -> float:
    value = error._retry_after  # a timedelta; the public property warns while it is an int
    return max(1.0, value.total_seconds() if isinstance(value, dt.timedelta) else float(value))


def _looks_like_group(chat_id: str) -> bool:
    """Group and channel ids are negative; users' are positive."""
    return chat_id.startswith("-")
