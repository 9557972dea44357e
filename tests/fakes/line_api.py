"""A fake LINE Messaging API on loopback that behaves like the real one where replyline cares.

- every call needs `Authorization: Bearer <channel access token>` (else 401)
- reply (`/v2/bot/message/reply`): a reply token is accepted once, and only while fresh
  (`reply_token_ttl`); otherwise 400 "Invalid reply token". Tokens are issued by the webhook
  payload builders (tests/fakes/line_webhooks.py) through `issue_reply_token`
- push (`/v2/bot/message/push`), broadcast (`/v2/bot/message/broadcast`, to every follower)
  and narrowcast (`/v2/bot/message/narrowcast`, to an audience: 202 Accepted): a repeated
  `X-Line-Retry-Key` answers 409 with `x-line-accepted-request-id` and delivers nothing;
  `quota_exhausted = True` answers 429 "You have reached your monthly limit."; with
  `lose_responses = n` the next n sends go out but answer 500, like a response lost on the way
- `faults` (tests/fakes/faults.py): a share of reply and push requests answer 500, 503, 429
  "Too many requests" or hang past the client's timeout, before doing anything
- messages are checked: one to five, texts of at most 5000 characters, images with https URLs
- profiles (user, group member, room member), the loading animation, message content and the
  quota endpoints

Everything is recorded: `calls` (every request, with the `x-line-request-id` answered),
`delivered` (every message that went out by reply, push, broadcast or narrowcast; an image's
URL as `image`), `loading`. Reusable: `FakeLine().start()` or the `line_api` fixture.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.faults import Faults
from tests.fakes.server import BackgroundServer

ACCESS_TOKEN = "fake-line-channel-access-token-for-tests-0123456789"
ID_FORMAT = re.compile(r"^[UCR][0-9a-f]{32}$")
FAULTY = ("/v2/bot/message/reply", "/v2/bot/message/push")
AUTH_FAILED = (
    "Authentication failed. Confirm that the access token in the authorization header is valid."
)


@dataclass
class Call:
    method: str
    path: str
    headers: dict
    body: object
    at: float
    status: int = 200
    request_id: str | None = None


@dataclass
class FakeLine:
    access_token: str = ACCESS_TOKEN
    reply_token_ttl: float = 60.0
    quota_exhausted: bool = False
    lose_responses: int = 0  # this many sends go out but answer 500
    profiles: dict = field(default_factory=dict)  # user id -> display name
    member_profiles: dict = field(default_factory=dict)  # (group or room id, user id) -> name
    content: dict = field(default_factory=dict)  # message id -> bytes
    faults: Faults = field(default_factory=Faults)  # random failures of replies and pushes
    profile_gate: threading.Event | None = None  # profile lookups wait until it is set

    def __post_init__(self):
        self.calls: list[Call] = []
        self.delivered: list[dict] = []  # {"via", "to", "text", "retry_key", "quick_reply", "id"}
        self.loading: list[dict] = []
        self._reply_tokens: dict[str, dict] = {}  # token -> {"issued", "used", "to"}
        self._retry_keys: dict[str, str] = {}  # accepted key -> request id
        self._lock = threading.Lock()
        self.server = BackgroundServer(self._app())

    # ----- control from tests ---------------------------------------------------------------

    def start(self) -> FakeLine:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def api_base(self) -> str:
        """What REPLYLINE_LINE_API_BASE should be."""
        return self.server.url

    def issue_reply_token(self, to: str, age: float = 0.0) -> str:
        """A reply token as LINE puts in a webhook event for chat `to`, `age` seconds ago."""
        token = secrets.token_hex(16)
        with self._lock:
            self._reply_tokens[token] = {"issued": time.monotonic() - age, "used": False, "to": to}
        return token

    def texts(self, via: str | None = None) -> list[str]:
        with self._lock:
            return [
                d["text"] for d in self.delivered if d["text"] and (via is None or d["via"] == via)
            ]

    def requests(self, path_part: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if path_part in c.path]

    # ----- the API --------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        routes = [
            ("POST", "/v2/bot/message/reply", self._reply),
            ("POST", "/v2/bot/message/push", self._push),
            ("POST", "/v2/bot/message/broadcast", self._broadcast),
            ("POST", "/v2/bot/message/narrowcast", self._narrowcast),
            ("GET", "/v2/bot/profile/{user}", self._profile),
            ("GET", "/v2/bot/group/{chat}/member/{user}", self._member_profile),
            ("GET", "/v2/bot/room/{chat}/member/{user}", self._member_profile),
            ("POST", "/v2/bot/chat/loading/start", self._loading),
            ("GET", "/v2/bot/message/{message}/content", self._content),
            ("GET", "/v2/bot/message/quota", self._quota),
            ("GET", "/v2/bot/message/quota/consumption", self._consumption),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, self._authorized(handler))
        return app

    def _authorized(self, handler):
        async def wrapped(request: web.Request) -> web.Response:
            body = None
            if request.can_read_body:
                try:
                    body = await request.json()
                except ValueError:
                    body = None
            call = Call(request.method, request.path, dict(request.headers), body, time.monotonic())
            with self._lock:
                self.calls.append(call)
            fault = await self.faults.pick() if request.path in FAULTY else None
            if request.headers.get("Authorization") != f"Bearer {self.access_token}":
                response = _error(401, AUTH_FAILED)
            elif fault:
                response = _fault(fault)
            else:
                response = await handler(request, body)
            call.status = response.status
            call.request_id = response.headers.get("x-line-request-id")
            return response

        return wrapped

    async def _reply(self, request: web.Request, body) -> web.Response:
        problem = _check_messages(body)
        if problem:
            return _error(400, problem)
        with self._lock:
            token = self._reply_tokens.get(str(body.get("replyToken")))
            fresh = token and time.monotonic() - token["issued"] < self.reply_token_ttl
            if not token or token["used"] or not fresh:
                return _error(400, "Invalid reply token")
            token["used"] = True
            return self._deliver("reply", token["to"], body["messages"], None)

    async def _push(self, request: web.Request, body) -> web.Response:
        to = str(body.get("to", "")) if isinstance(body, dict) else ""
        problem = None
        if not ID_FORMAT.match(to):
            problem = "The property, 'to', in the request body is invalid (line: -, column: -)"
        return self._keyed(request, body, "push", to, problem)

    async def _broadcast(self, request: web.Request, body) -> web.Response:
        return self._keyed(request, body, "broadcast", "broadcast")

    async def _narrowcast(self, request: web.Request, body) -> web.Response:
        recipient = body.get("recipient") if isinstance(body, dict) else None
        audience = recipient.get("audienceGroupId") if isinstance(recipient, dict) else None
        problem = None
        if recipient is not None and (
            recipient.get("type") != "audience" or type(audience) is not int
        ):
            problem = (
                "The property, 'recipient', in the request body is invalid (line: -, column: -)"
            )
        to = f"audience:{audience}" if audience is not None else "followers"
        return self._keyed(request, body, "narrowcast", to, problem, status=202)

    def _keyed(
        self, request: web.Request, body, via: str, to: str, problem=None, status: int = 200
    ) -> web.Response:
        """Send under an optional X-Line-Retry-Key: a key accepted before answers 409 and
        delivers nothing."""
        key = request.headers.get("X-Line-Retry-Key")
        if key is not None:
            try:
                uuid.UUID(key)
            except ValueError:
                return _error(400, "The value of the X-Line-Retry-Key header is invalid")
        problem = _check_messages(body) or problem
        if problem:
            return _error(400, problem)
        with self._lock:
            if key in self._retry_keys:
                return web.json_response(
                    {"message": "The retry key is already accepted"},
                    status=409,
                    headers={"x-line-accepted-request-id": self._retry_keys[key]},
                )
            if self.quota_exhausted:
                return _error(429, "You have reached your monthly limit.")
            response = self._deliver(via, to, body["messages"], key, status)
            if key is not None:
                self._retry_keys[key] = response.headers["x-line-request-id"]
            if self.lose_responses > 0:
                self.lose_responses -= 1
                lost = _error(500, "Internal server error")
                lost.headers["x-line-request-id"] = response.headers["x-line-request-id"]
                return lost
            return response

    def _deliver(
        self, via: str, to: str, messages: list, key: str | None, status: int = 200
    ) -> web.Response:
        """Record delivered messages; called with the lock held. Replies and pushes answer
        with the messages' ids, broadcasts and narrowcasts with an empty object."""
        sent = []
        for message in messages:
            message_id = str(10**17 + len(self.delivered))
            record = {
                "via": via,
                "to": to,
                "text": message.get("text"),
                "retry_key": key,
                "quick_reply": message.get("quickReply"),
                "id": message_id,
            }
            if message.get("type") == "image":
                record["image"] = message["originalContentUrl"]
            self.delivered.append(record)
            sent.append({"id": message_id, "quoteToken": secrets.token_urlsafe(12)})
        result = {"sentMessages": sent} if via in ("reply", "push") else {}
        headers = {"x-line-request-id": str(uuid.uuid4())}
        return web.json_response(result, status=status, headers=headers)

    async def _profile(self, request: web.Request, body) -> web.Response:
        if self.profile_gate is not None:
            await asyncio.to_thread(self.profile_gate.wait, 30)
        name = self.profiles.get(request.match_info["user"])
        if name is None:
            return _error(404, "Not found")
        return web.json_response(
            {"userId": request.match_info["user"], "displayName": name, "language": "zh-TW"}
        )

    async def _member_profile(self, request: web.Request, body) -> web.Response:
        key = (request.match_info["chat"], request.match_info["user"])
        name = self.member_profiles.get(key)
        if name is None:
            return _error(404, "Not found")
        return web.json_response({"userId": key[1], "displayName": name})

    async def _loading(self, request: web.Request, body) -> web.Response:
        body = body if isinstance(body, dict) else {}
        seconds = body.get("loadingSeconds", 20)
        if not str(body.get("chatId", "")).startswith("U"):
            return _error(400, "The property, 'chatId', in the request body is invalid")
        if not isinstance(seconds, int) or seconds % 5 or not 5 <= seconds <= 60:
            return _error(400, "The property, 'loadingSeconds', in the request body is invalid")
        with self._lock:
            self.loading.append({"chatId": body["chatId"], "loadingSeconds": seconds})
        return web.json_response({}, status=202)

    async def _content(self, request: web.Request, body) -> web.Response:
        data = self.content.get(request.match_info["message"])
        if data is None:
            return _error(404, "Not found")
        return web.Response(body=data, content_type="image/jpeg")

    async def _quota(self, request: web.Request, body) -> web.Response:
        return web.json_response({"type": "limited", "value": 200})

    async def _consumption(self, request: web.Request, body) -> web.Response:
        with self._lock:
            pushed = sum(1 for d in self.delivered if d["via"] == "push")
        return web.json_response({"totalUsage": 200 if self.quota_exhausted else pushed})


def _check_messages(body) -> str | None:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return "The request body has 1 error(s)"
    for i, message in enumerate(messages):
        if message.get("type") == "text" and not (0 < len(message.get("text") or "") <= 5000):
            return f"The property, 'messages[{i}].text', in the request body is invalid"
        if message.get("type") == "image":
            for name in ("originalContentUrl", "previewImageUrl"):
                url = message.get(name)
                if not isinstance(url, str) or not url.startswith("https://") or len(url) > 2000:
                    return f"The property, 'messages[{i}].{name}', must be an HTTPS URL"
    return None


def _fault(kind: str) -> web.Response:
    if kind == "429":
        return _error(429, "Too many requests")
    if kind == "timeout":
        return _error(504, "Gateway timeout")
    return _error(int(kind), "Internal server error")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)
