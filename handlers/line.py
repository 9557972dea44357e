"""LINE on line-bot-sdk v3: signed webhooks in; replies out by reply token, else by push.

Inbound: `X-Line-Signature` is checked on the raw request bytes (HMAC-SHA256 with the channel
secret, base64, constant-time compare) before anything is parsed; the events are parsed with
the SDK's models (handlers/line_events.py) and deduplicated by webhookEventId. Display names
come from the profile API, cached; one not cached yet is looked up after the events are stored
and acknowledged (`look_up_names`), never on the webhook's time. When replies may go out
automatically, one-to-one chats see the loading animation while their draft is prepared.

Outbound: a reply token is free but single-use and short-lived, so it is used only while fresh
(REPLYLINE_LINE_REPLY_TOKEN_MAX_AGE_SECONDS); later, or if LINE refuses it, the reply is pushed
with an `X-Line-Retry-Key` derived from the draft, so a retried push is delivered once (LINE
answers 409 to a key it already accepted). An exhausted monthly push quota fails the draft with
that reason instead of retrying. A reply whose response was lost on the network cannot be told
apart from one never sent; it is retried (by push if the token has expired meanwhile).

Scheduled posts go to every follower (broadcast) or to an audience (narrowcast), with a retry
key fixed by the occurrence, so a retried publish is delivered once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from linebot.v3.messaging import (
    ApiException,
    ApiResponse,
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    AudienceRecipient,
    BroadcastRequest,
    Configuration,
    ImageMessage,
    NarrowcastRequest,
    PostbackAction,
    PushMessageRequest,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
    TextMessage,
)

from db.types import utcnow
from handlers.base import (
    MAX_EVENTS_PER_REQUEST,
    Action,
    Channel,
    InboundEvent,
    OutboundReply,
    RequestRejected,
    SendResult,
)
from handlers.line_events import line_events
from handlers.loop_local import LoopLocal
from handlers.redact import redact
from handlers.ttl_cache import TTLCache

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "x-line-signature"
MAX_TEXT = 5000  # LINE's limit for one text message
MAX_LABEL = 20  # and for a quick-reply button label
TIMEOUT = 10.0  # seconds for one API call
PROFILE_TIMEOUT = 2.0  # a display name lookup waits at most this long
MAX_PROFILE_LOOKUPS = 20  # per request; the others get their name from a later event
REQUEST_ID = "x-line-request-id"
ACCEPTED_ID = "x-line-accepted-request-id"  # a 409's: the request that key went out with
RETRY_KEYS = uuid.uuid5(uuid.NAMESPACE_URL, "https://replyline/line/x-line-retry-key")
AUDIENCE = re.compile(r"audience:(\d{1,20})")
QUOTA_EXHAUSTED = (
    "LINE monthly push quota exhausted: LINE refuses push, broadcast and narrowcast messages "
    "until the quota resets next month or the plan's limit is raised (replies by reply token "
    "are still free)"
)
_MISSING = object()


def retry_key(idempotency_key: str) -> str:
    """The same X-Line-Retry-Key (a UUID) for every attempt at delivering one draft."""
    return str(uuid.uuid5(RETRY_KEYS, idempotency_key))


def signature_of(secret: str, body: bytes) -> str:
    """What LINE puts in X-Line-Signature for this body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class LineChannel(Channel):
    name = "line"
    names_later = True

    def __init__(
        self,
        channel_secret: str,
        access_token: str,
        api_base: str = "https://api.line.me",
        content_api_base: str = "https://api-data.line.me",
        reply_token_max_age: float = 50.0,
        show_loading: bool = False,
        loading_seconds: int = 20,
        profile_cache_seconds: float = 3600.0,
    ):
        self._secret = channel_secret
        self.reply_token_max_age = timedelta(seconds=reply_token_max_age)
        self.show_loading = show_loading
        self.loading_seconds = loading_seconds
        self._profiles: TTLCache[tuple[str, str], str | None] = TTLCache(profile_cache_seconds)
        self._background: set[asyncio.Task] = set()

        def client(host: str):
            return lambda: AsyncApiClient(
                Configuration(host=host.rstrip("/"), access_token=access_token)
            )

        self._api_clients = LoopLocal(client(api_base), lambda c: c.close())
        self._content_clients = LoopLocal(client(content_api_base), lambda c: c.close())

    def _api(self) -> AsyncMessagingApi:
        return AsyncMessagingApi(self._api_clients.get())

    async def push_quota(self) -> tuple[int | None, int]:
        """This month's push limit (None: unlimited) and pushes used: what a late reply costs."""
        api = self._api()
        quota = await api.get_message_quota(_request_timeout=TIMEOUT)
        used = await api.get_message_quota_consumption(_request_timeout=TIMEOUT)
        limit = quota.value if quota.type == "limited" else None
        return limit, int(used.total_usage or 0)

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        await self._api_clients.close()
        await self._content_clients.close()

    # ----- inbound ---------------------------------------------------------------------------

    def valid_signature(self, body: bytes, signature: str) -> bool:
        expected = signature_of(self._secret, body).encode()
        return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))

    async def parse_request(self, body: bytes, headers: Mapping[str, str]) -> list[InboundEvent]:
        signature = headers.get(SIGNATURE_HEADER)
        if not signature or not self.valid_signature(body, signature):
            raise RequestRejected(400, "missing or invalid X-Line-Signature")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestRejected(400, "body is not valid JSON") from exc
        raw_events = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(raw_events, list):
            raise RequestRejected(400, "body has no events list")
        if len(raw_events) > MAX_EVENTS_PER_REQUEST:
            raise RequestRejected(413, f"more than {MAX_EVENTS_PER_REQUEST} events")
        events = line_events(raw_events)
        self._add_known_names(events)  # the others after the events are stored (look_up_names)
        for event in events:
            if self._loading_fits(event):
                self._in_background(self._show_loading(event.chat_id))
        return events

    def _add_known_names(self, events: list[InboundEvent]) -> None:
        for event in events:
            if event.user_id is None:
                continue
            name = self._profiles.get((event.chat_id, event.user_id), None)
            event.user_name = name or event.user_name

    def unnamed(self, events: list[InboundEvent]) -> list[tuple[str, str, str]]:
        """(source type, chat, user) of the senders whose display name is not known yet (a few
        per request: one request must not cost thousands of API calls)."""
        return list(
            {
                (e.raw.get("source", {}).get("type", "user"), e.chat_id, e.user_id)
                for e in events
                if e.user_id
                and not e.user_name
                and e.kind not in ("unfollow", "leave", "member_left")
                and self._profiles.get((e.chat_id, e.user_id), _MISSING) is _MISSING
            }
        )[:MAX_PROFILE_LOOKUPS]

    async def look_up_names(self, wanted: list[tuple[str, str, str]]) -> dict[str, str]:
        """Display names by user id from the profile API, for `unnamed` senders: called after
        the webhook is acknowledged, so a slow profile API never delays the acknowledgement."""
        names = await asyncio.gather(*(self.display_name(*w) for w in wanted))
        return {user: name for (_, _, user), name in zip(wanted, names, strict=True) if name}

    async def display_name(self, source_type: str, chat_id: str, user_id: str) -> str | None:
        """The user's LINE display name (as a member of a group or room when there), cached."""
        key = (chat_id, user_id)
        cached = self._profiles.get(key, _MISSING)
        if cached is not _MISSING:
            return cached
        api = self._api()
        try:
            async with asyncio.timeout(PROFILE_TIMEOUT):
                if source_type == "group":
                    profile = await api.get_group_member_profile(chat_id, user_id)
                elif source_type == "room":
                    profile = await api.get_room_member_profile(chat_id, user_id)
                else:
                    profile = await api.get_profile(user_id)
            name = profile.display_name
        except ApiException as error:  # 404: not a friend or left; cache that too
            log.debug("LINE profile of %s unavailable: %s", user_id, error.status)
            name = None
        except Exception as error:  # the network or a timeout: try again next time
            log.info("LINE profile of %s not fetched: %s", user_id, type(error).__name__)
            return None
        self._profiles.put(key, name)
        return name

    def _loading_fits(self, event: InboundEvent) -> bool:
        return (
            self.show_loading
            and event.kind == "message"
            and event.chat_kind == "direct"
            and event.answerable
            and event.reply_token is not None
        )

    async def _show_loading(self, user_id: str) -> None:
        request = ShowLoadingAnimationRequest(chatId=user_id, loadingSeconds=self.loading_seconds)
        try:
            await self._api().show_loading_animation(request, _request_timeout=TIMEOUT)
        except Exception as error:  # cosmetic; never worth failing for
            log.info("LINE loading animation not shown: %s", type(error).__name__)

    def _in_background(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def answer(self, event: InboundEvent, text: str) -> None:
        if not text:
            return
        if event.reply_token:
            result = await self._reply(event.reply_token, [TextMessage(text=text[:MAX_TEXT])])
            if result is not None and result.ok:
                return
        await self.push(event.user_id or event.chat_id, text)

    # ----- outbound --------------------------------------------------------------------------

    async def send(self, reply: OutboundReply) -> SendResult:
        if len(reply.text) > MAX_TEXT:
            return SendResult(
                False, error=f"reply longer than LINE's {MAX_TEXT} characters", permanent=True
            )
        messages = [TextMessage(text=reply.text)]
        if reply.reply_token and self._fresh(reply):
            result = await self._reply(reply.reply_token, messages)
            if result is not None:
                return result
        return await self._push(reply.chat_id, messages, retry_key(reply.idempotency_key))

    def _fresh(self, reply: OutboundReply) -> bool:
        received = reply.reply_token_received_at
        return received is not None and utcnow() - received < self.reply_token_max_age

    async def _reply(self, token: str, messages: list[TextMessage]) -> SendResult | None:
        """The outcome of a reply, or None when LINE refused the token (then push instead)."""
        request = ReplyMessageRequest(replyToken=token, messages=messages)
        try:
            response = await self._api().reply_message(request, _request_timeout=TIMEOUT)
        except ApiException as error:
            if error.status == 400 and "reply token" in _message(error).lower():
                log.info("LINE refused a reply token (%s); pushing instead", _message(error))
                return None
            return failure(error)
        except Exception as error:  # the network: outcome unknown, retry later
            return SendResult(
                False, error=redact(f"LINE reply failed: {type(error).__name__}"), unknown=True
            )
        return SendResult(True, platform_message_id=_first_id(response))

    async def _push(self, to: str, messages: list, key: str) -> SendResult:
        request = PushMessageRequest(to=to, messages=messages)
        return await self._keyed(
            "push",
            lambda: self._api().push_message_with_http_info(
                request, x_line_retry_key=key, _request_timeout=TIMEOUT
            ),
        )

    async def _keyed(self, what: str, call: Callable[[], Awaitable[ApiResponse]]) -> SendResult:
        """A send under an X-Line-Retry-Key; its result names the first message sent, or LINE's
        request id when LINE returns none (broadcasts, narrowcasts)."""
        try:
            response = await call()
        except ApiException as error:
            if error.status == 409:  # this retry key was accepted before: it went out
                return SendResult(True, platform_message_id=_header(error, ACCEPTED_ID))
            return failure(error)
        except Exception as error:  # the network: the same key makes a retry safe
            return SendResult(
                False, error=redact(f"LINE {what} failed: {type(error).__name__}"), unknown=True
            )
        sent = _first_id(response.data) or _header(response, REQUEST_ID)
        return SendResult(True, platform_message_id=sent)

    async def publish(
        self, target: str, text: str, image_url: str | None = None, key: str | None = None
    ) -> SendResult:
        """ "broadcast" reaches every follower, "audience:<id>" an audience (narrowcast); the
        image (https only: LINE fetches it) comes first, then the text. Without a `key` the
        retry key comes from the content, so the same post within a day goes out once."""
        audience = AUDIENCE.fullmatch(target)
        problem = None
        if len(text) > MAX_TEXT:
            problem = f"post longer than LINE's {MAX_TEXT} characters"
        elif target != "broadcast" and audience is None:
            problem = f"LINE publishes to broadcast or audience:<id>, not {target!r}"
        elif image_url is not None and not image_url.startswith("https://"):
            problem = "LINE only shows images from https:// URLs; this image link is not one"
        if problem:
            return SendResult(False, error=problem, permanent=True)
        messages: list = [TextMessage(text=text)]
        if image_url is not None:
            messages.insert(
                0, ImageMessage(originalContentUrl=image_url, previewImageUrl=image_url)
            )
        retry = retry_key(f"publish:{target}:{key or text + (image_url or '')}")
        api = self._api()
        if audience is None:
            what, call = "broadcast", api.broadcast_with_http_info
            request = BroadcastRequest(messages=messages)
        else:
            what, call = "narrowcast", api.narrowcast_with_http_info
            recipient = AudienceRecipient(audienceGroupId=int(audience[1]))
            request = NarrowcastRequest(messages=messages, recipient=recipient)
        return await self._keyed(
            what, lambda: call(request, x_line_retry_key=retry, _request_timeout=TIMEOUT)
        )

    async def push(
        self, recipient: str, text: str, actions: list[Action] | None = None
    ) -> SendResult:
        quick_reply = None
        if actions:
            quick_reply = QuickReply(
                items=[
                    QuickReplyItem(
                        action=PostbackAction(
                            label=a.label[:MAX_LABEL], data=a.data, displayText=a.label
                        )
                    )
                    for a in actions
                ]
            )
        messages = [TextMessage(text=text[:MAX_TEXT], quickReply=quick_reply)]
        key = str(uuid.uuid4())
        result = await self._push(recipient, messages, key)
        if not result.ok and not result.permanent:  # once more; the key keeps it single
            result = await self._push(recipient, messages, key)
        return result

    async def content(self, message_id: str) -> bytes:
        """The image, video, audio or file a user sent (from the content API)."""
        blob = AsyncMessagingApiBlob(self._content_clients.get())
        return await blob.get_message_content(message_id, _request_timeout=TIMEOUT)


def failure(error: ApiException) -> SendResult:
    """What a LINE API error means for a draft."""
    message = _message(error)
    status = error.status or 0
    if status == 429 and "monthly limit" in message.lower():
        return SendResult(False, error=QUOTA_EXHAUSTED, permanent=True)
    if status == 429:
        return SendResult(False, error=f"LINE rate limit: {message}")
    if status == 401:
        return SendResult(False, error="LINE rejected the channel access token", permanent=True)
    if 400 <= status < 500:
        return SendResult(False, error=redact(f"LINE {status}: {message}"), permanent=True)
    # a 5xx may come after LINE accepted the message (its answer was lost)
    return SendResult(
        False, error=redact(f"LINE {status or 'network error'}: {message}"), unknown=True
    )


def _header(response: ApiResponse | ApiException, name: str) -> str | None:
    return (response.headers or {}).get(name)


def _message(error: ApiException) -> str:
    try:
        return str(json.loads(error.body).get("message") or error.reason or "")
    except (TypeError, ValueError, AttributeError):
        return str(error.reason or "")


def _first_id(response) -> str | None:
    sent = getattr(response, "sent_messages", None) or []
    return sent[0].id if sent else None
