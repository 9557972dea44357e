"""A fake Telegram Bot API on loopback that behaves like the real one where replyline cares.

- `/bot<token>/<method>` with parameters as query string, form (what python-telegram-bot
  sends: objects JSON-encoded) or a JSON body; answers `{"ok": true, "result": ...}` or
  `{"ok": false, "error_code": ..., "description": ...}` like Telegram
- a malformed token gets 404 Not Found, a well-formed unknown one 401 Unauthorized
- getMe, sendMessage, sendPhoto (a photo by URL, caption of at most 1024 characters),
  editMessageText, answerCallbackQuery, setWebhook, deleteWebhook, getWebhookInfo and
  getUpdates (long polling; 409 Conflict while a webhook is set)
- channels: `channels` maps "@name" to the channel's chat id; a message to "@name" goes to that
  chat (an unknown name: 400 "chat not found") and the result carries the numeric id
- a chat in `blocked_by` answers 403 ("bot was blocked by the user"; for a channel "bot is not
  a member of the channel chat")
- `faults` (tests/fakes/faults.py): a share of sendMessage calls answer 500, 502, 429 with
  `parameters.retry_after`, or hang past the client's timeout, before doing anything
- flood control: too many messages to one chat (or group, or overall) in a window answers 429
  with `parameters.retry_after`; a request to a chat before its retry_after has passed is
  recorded in `violations` (an unhandled 429) and refused again

Everything is recorded: `calls` (every request), `messages` (delivered texts), `photos`,
`floods`. Message ids count up per chat across messages and photos.
Reusable by any test that needs Telegram: start it with `FakeTelegram().start()` or the
`telegram_api` fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.faults import Faults
from tests.fakes.server import BackgroundServer

TOKEN = "7000000001:AAFakeTokenForTestsOnly_abcdefghijk12"
TOKEN_FORMAT = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
OBJECT_PARAMS = {"reply_markup", "reply_parameters", "allowed_updates", "entities"}
FAULTY = ("sendMessage",)  # the methods `faults` may fail
SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass
class Call:
    method: str
    params: dict
    token: str
    at: float
    status: int = 200


@dataclass
class Limit:
    count: int
    seconds: float


@dataclass
class FakeTelegram:
    token: str = TOKEN
    username: str = "replyline_test_bot"
    chat_limit: Limit = field(default_factory=lambda: Limit(1000, 1.0))
    group_limit: Limit = field(default_factory=lambda: Limit(1000, 60.0))
    global_limit: Limit = field(default_factory=lambda: Limit(1000, 1.0))
    retry_after: int | None = None  # None: the time until the window frees a slot
    faults: Faults = field(default_factory=Faults)  # random failures of sendMessage

    def __post_init__(self):
        self.bot_id = int(self.token.split(":")[0])
        self.calls: list[Call] = []
        self.messages: list[dict] = []  # every message delivered by sendMessage
        self.photos: list[dict] = []  # every photo delivered by sendPhoto
        self.channels: dict[str, int] = {}  # "@name" -> the channel's chat id
        self.edits: list[dict] = []
        self.answers: list[dict] = []
        self.floods: list[tuple[str, float, int]] = []  # (chat, at, retry_after)
        self.violations: list[tuple[str, float]] = []  # requests while a chat was blocked
        self.webhook: dict = {}
        self.blocked_by: set[str] = set()  # chats whose user blocked the bot: 403
        self.updates: list[dict] = []
        self._lock = threading.Lock()
        self._sent_at: dict[str, deque] = {}
        self._all_sent: deque = deque()
        self._blocked_until: dict[str, float] = {}
        self._told_until: dict[str, float] = {}  # retry_after given to the client
        self._next_id: dict[str, int] = {}
        self._answered: set[str] = set()
        self._new_update: asyncio.Event | None = None
        self.server = BackgroundServer(self._app())

    # ----- control from tests ---------------------------------------------------------------

    def start(self) -> FakeTelegram:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def api_base(self) -> str:
        """What REPLYLINE_TELEGRAM_API_BASE should be."""
        return self.server.url

    def texts_to(self, chat_id: int | str) -> list[str]:
        with self._lock:
            return [m["text"] for m in self.messages if str(m["chat_id"]) == str(chat_id)]

    def methods(self) -> list[str]:
        with self._lock:
            return [c.method for c in self.calls]

    def flood(self, chat_id: int | str, seconds: int) -> None:
        """Make the next message to this chat hit a 429 for `seconds`."""
        with self._lock:
            self._blocked_until[str(chat_id)] = time.monotonic() + seconds

    def queue_update(self, update: dict) -> None:
        """An update for getUpdates to deliver."""

        async def add():
            self.updates.append(update)
            if self._new_update:
                self._new_update.set()

        self.server.call(add())

    # ----- the API --------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", r"/bot{token}/{method}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        params = await _params(request)
        call = Call(method, params, token, time.monotonic())
        with self._lock:
            self.calls.append(call)
        if not TOKEN_FORMAT.match(token):
            return _error(call, 404, "Not Found")
        if token != self.token:
            return _error(call, 401, "Unauthorized")
        handler = getattr(self, "_m_" + method, None)
        fault = await self.faults.pick() if method in FAULTY else None
        if fault == "429":
            retry_after = self.faults.retry_after
            parameters = {"retry_after": retry_after}
            return _error(call, 429, f"Too Many Requests: retry after {retry_after}", parameters)
        if fault:
            status = 504 if fault == "timeout" else int(fault)
            return _error(call, status, "Internal Server Error" if status == 500 else "Bad Gateway")
        if handler is None:
            return _error(call, 404, "Not Found: method not found")
        try:
            result = await handler(params, call)
        except ApiError as error:
            return _error(call, error.status, error.description, error.parameters)
        return web.json_response({"ok": True, "result": result})

    async def _m_getMe(self, params: dict, call: Call) -> dict:
        return self._bot_user() | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_sendMessage(self, params: dict, call: Call) -> dict:
        chat_id = self._chat_id(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        self._check_blocked(chat_id)
        with self._lock:
            message_id = self._next_message(chat_id, call)
            self.messages.append(
                {
                    "chat_id": chat_id,
                    "message_id": message_id,
                    "text": text,
                    "reply_parameters": params.get("reply_parameters"),
                    "reply_markup": params.get("reply_markup"),
                    "at": call.at,
                }
            )
        result = self._sent(chat_id, message_id) | {"text": text}
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            result["reply_markup"] = markup
        return result

    async def _m_sendPhoto(self, params: dict, call: Call) -> dict:
        chat_id = self._chat_id(params)
        photo, caption = params.get("photo"), params.get("caption")
        if not isinstance(photo, str) or not photo.startswith(("https://", "http://")):
            raise ApiError(400, "Bad Request: wrong remote file identifier specified")
        if caption is not None and len(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        self._check_blocked(chat_id)
        with self._lock:
            message_id = self._next_message(chat_id, call)
            self.photos.append(
                {"chat_id": chat_id, "message_id": message_id, "photo": photo, "caption": caption}
            )
        size = {"file_id": f"AgACp{message_id}", "file_unique_id": "AQADp", "width": 800}
        result = self._sent(chat_id, message_id) | {"photo": [size | {"height": 800}]}
        return result | ({"caption": caption} if caption else {})

    async def _m_editMessageText(self, params: dict, call: Call) -> dict:
        chat_id, text = str(params.get("chat_id", "")), params.get("text")
        if not chat_id or not str(params.get("message_id", "")).isdigit() or not text:
            raise ApiError(400, "Bad Request: message to edit not found")
        with self._lock:
            self.edits.append(
                {"chat_id": chat_id, "message_id": int(params["message_id"]), "text": text}
            )
        return {
            "message_id": int(params["message_id"]),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "text": text,
        }

    async def _m_answerCallbackQuery(self, params: dict, call: Call) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        with self._lock:
            if not query_id or query_id in self._answered:
                raise ApiError(
                    400,
                    "Bad Request: query is too old and response timeout expired or query ID "
                    "is invalid",
                )
            self._answered.add(query_id)
            self.answers.append({"id": query_id, "text": params.get("text", "")})
        return True

    async def _m_setWebhook(self, params: dict, call: Call) -> bool:
        secret = params.get("secret_token")
        if secret is not None and not SECRET_FORMAT.match(str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if not str(params.get("url", "")).startswith(("https://", "http://")):
            raise ApiError(400, "Bad Request: bad webhook: an HTTPS URL must be provided")
        self.webhook = {
            "url": params["url"],
            "secret_token": secret,
            "allowed_updates": params.get("allowed_updates"),
        }
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self.updates.clear()
        return True

    async def _m_deleteWebhook(self, params: dict, call: Call) -> bool:
        self.webhook = {}
        return True

    async def _m_getWebhookInfo(self, params: dict, call: Call) -> dict:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
            "allowed_updates": self.webhook.get("allowed_updates") or [],
        }

    async def _m_getUpdates(self, params: dict, call: Call) -> list[dict]:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        self.updates[:] = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates:
            self._new_update = asyncio.Event()
            timeout = min(float(params.get("timeout") or 0), 2.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout)
        return list(self.updates[: int(params.get("limit") or 100)])

    # ----- helpers --------------------------------------------------------------------------

    def _bot_user(self) -> dict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Replyline",
            "username": self.username,
        }

    def _chat_id(self, params: dict) -> str:
        """The numeric chat id a request is for ("@name" looked up among the channels)."""
        chat_id = str(params.get("chat_id", ""))
        if not chat_id:
            raise ApiError(400, "Bad Request: chat_id is empty")
        if chat_id.startswith("@"):
            if chat_id not in self.channels:
                raise ApiError(400, "Bad Request: chat not found")
            return str(self.channels[chat_id])
        return chat_id

    def _check_blocked(self, chat_id: str) -> None:
        if chat_id in self.blocked_by:
            if self._channel_name(chat_id):
                raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    def _channel_name(self, chat_id: str) -> str | None:
        return next((n for n, i in self.channels.items() if str(i) == chat_id), None)

    def _next_message(self, chat_id: str, call: Call) -> int:
        """The next message id in this chat, after the flood check; called with the lock held."""
        self._check_flood(chat_id, call.at)
        message_id = self._next_id.get(chat_id, 1000) + 1
        self._next_id[chat_id] = message_id
        return message_id

    def _sent(self, chat_id: str, message_id: int) -> dict:
        """A message the bot sent, as the Bot API returns it."""
        chat = _chat(chat_id)
        name = self._channel_name(chat_id)
        if name:
            chat = {"id": int(chat_id), "type": "channel", "title": "Brand", "username": name[1:]}
        sender = {} if chat["type"] == "channel" else {"from": self._bot_user()}
        return {"message_id": message_id, "date": int(time.time()), "chat": chat} | sender

    def _check_flood(self, chat_id: str, now: float) -> None:
        """Raise 429 when this message would break a limit; called with the lock held."""
        if now < self._told_until.get(chat_id, 0.0):  # the client ignored a retry_after
            self.violations.append((chat_id, now))
        blocked = self._blocked_until.get(chat_id, 0.0)
        if now < blocked:
            self._refuse(chat_id, now, blocked - now)
        sent = self._sent_at.setdefault(chat_id, deque())
        limits = [(sent, self.chat_limit)]
        if chat_id.startswith("-"):
            limits.append((sent, self.group_limit))
        limits.append((self._all_sent, self.global_limit))
        for times, limit in limits:
            recent = [t for t in times if t > now - limit.seconds]
            if len(recent) >= limit.count:
                self._refuse(chat_id, now, recent[-limit.count] + limit.seconds - now)
        sent.append(now)
        self._all_sent.append(now)
        while sent and sent[0] < now - 120:
            sent.popleft()
        while self._all_sent and self._all_sent[0] < now - 120:
            self._all_sent.popleft()

    def _refuse(self, chat_id: str, now: float, wait: float) -> None:
        retry_after = self.retry_after or max(1, math.ceil(wait))
        until = max(self._blocked_until.get(chat_id, 0.0), now + retry_after)
        self._blocked_until[chat_id] = self._told_until[chat_id] = until
        self.floods.append((chat_id, now, retry_after))
        raise ApiError(
            429,
            f"Too Many Requests: retry after {retry_after}",
            {"retry_after": retry_after},
        )


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


def _error(call: Call, status: int, description: str, parameters: dict | None = None):
    call.status = status
    body = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


def _chat(chat_id: str) -> dict:
    if chat_id.startswith("-"):
        return {"id": int(chat_id), "type": "supergroup", "title": "A group"}
    return {"id": int(chat_id), "type": "private", "first_name": "Someone"}


async def _params(request: web.Request) -> dict:
    params: dict = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            params.update(body if isinstance(body, dict) else {})
        else:
            params.update(dict(await request.post()))
    for key in OBJECT_PARAMS & params.keys():
        if isinstance(params[key], str):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params
