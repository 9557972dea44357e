"""FakeChannel: the one in-memory `Channel` tests stand on (errbot's testbot idea).

It behaves as a platform that takes everything: each call is answered with the next scripted
result for its method (`results`), else the method's standing answer (`always`), else success
with a numbered platform id ("telegram-1", "telegram-2", ...). A scripted exception is raised,
as a client library would. What the platform accepted is kept by kind (`sent`, `pushed`,
`asked`, `edited`, `published`); every answered attempt is in `calls`. `latency` makes sends
take time, so tests can see two sends into one chat overlapping (`overlaps`). The real
platforms are tested against the local fake servers in tests/fakes."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from handlers.base import Action, Channel, InboundEvent, OutboundReply, SendResult

# a standing answer may be computed from each call's arguments (say, a random failure, or an
# error quoting the reply); None means success
Answer = (
    SendResult | BaseException | Callable[[dict[str, Any]], "SendResult | BaseException | None"]
)
Parse = Callable[[bytes, Mapping[str, str]], list[InboundEvent]]  # may raise RequestRejected


@dataclass
class Call:
    """One answered attempt: the method, what it was given, and the answer."""

    method: str
    args: dict[str, Any]
    result: SendResult


class Pushed(NamedTuple):
    recipient: str
    text: str
    actions: list[Action]  # the buttons under it, in order

    @property
    def data(self) -> list[str]:
        """What each button sends back when pressed."""
        return [action.data for action in self.actions]


class Asked(NamedTuple):
    chat_id: str
    text: str
    reply_to: str | None


class Edited(NamedTuple):
    chat_id: str
    platform_message_id: str
    text: str


class Published(NamedTuple):
    target: str
    text: str
    image_url: str | None
    key: str | None


class FakeChannel(Channel):
    def __init__(
        self,
        name: str = "web",
        *,
        results: Mapping[str, Iterable[SendResult | BaseException]] | None = None,
        always: Mapping[str, Answer] | None = None,
        latency: float | Callable[[], float] = 0.0,
        can_publish: bool = True,
        parse: Parse | None = None,
    ):
        self.name = name
        self.results = {method: list(items) for method, items in (results or {}).items()}
        self.always = dict(always or {})
        self.latency = latency
        self.can_publish = can_publish
        self.parse = parse
        self.calls: list[Call] = []
        self.sent: list[OutboundReply] = []
        self.pushed: list[Pushed] = []
        self.asked: list[Asked] = []
        self.edited: list[Edited] = []
        self.published: list[Published] = []
        self.answered: list[tuple[InboundEvent, str]] = []
        self.overlaps = 0
        self._in_flight: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # some tests send from several threads at once

    @property
    def texts(self) -> list[str]:
        """The texts of the replies the platform accepted, in order."""
        return [reply.text for reply in self.sent]

    def script(self, method: str, *answers: SendResult | BaseException) -> None:
        """Queue more answers for `method`, after those already queued."""
        self.results.setdefault(method, []).extend(answers)

    # ------------------------------------------------------------------ the Channel interface

    async def parse_request(self, body: bytes, headers: Mapping[str, str]) -> list[InboundEvent]:
        return [] if self.parse is None else self.parse(body, headers)

    async def send(self, reply: OutboundReply) -> SendResult:
        with self._lock:
            if reply.chat_id in self._in_flight:
                self.overlaps += 1
            self._in_flight.add(reply.chat_id)
        try:
            await self._wait()
            result = self._answer("send", {"reply": reply})
            if result.ok:
                with self._lock:
                    self.sent.append(reply)
            return result
        finally:
            with self._lock:
                self._in_flight.discard(reply.chat_id)

    async def push(
        self, recipient: str, text: str, actions: list[Action] | None = None
    ) -> SendResult:
        result = self._answer("push", {"recipient": recipient, "text": text, "actions": actions})
        if result.ok:
            self.pushed.append(Pushed(recipient, text, list(actions or [])))
        return result

    async def ask(
        self, chat_id: str, text: str, reply_to: str | None = None, placeholder: str = ""
    ) -> SendResult:
        result = self._answer("ask", {"chat_id": chat_id, "text": text, "reply_to": reply_to})
        if result.ok:
            self.asked.append(Asked(chat_id, text, reply_to))
        return result

    async def edit(self, chat_id: str, platform_message_id: str, text: str) -> SendResult:
        args = {"chat_id": chat_id, "platform_message_id": platform_message_id, "text": text}
        result = self._answer("edit", args)
        if result.ok:
            self.edited.append(Edited(chat_id, platform_message_id, text))
        return result

    async def answer(self, event: InboundEvent, text: str) -> None:
        self.answered.append((event, text))

    async def publish(
        self, target: str, text: str, image_url: str | None = None, key: str | None = None
    ) -> SendResult:
        if not self.can_publish:
            return await super().publish(target, text, image_url, key)
        args = {"target": target, "text": text, "image_url": image_url, "key": key}
        result = self._answer("publish", args)
        if result.ok:
            self.published.append(Published(target, text, image_url, key))
        return result

    # ------------------------------------------------------------------ answers

    async def _wait(self) -> None:
        delay = self.latency() if callable(self.latency) else self.latency
        if delay:
            await asyncio.sleep(delay)

    def _answer(self, method: str, args: dict[str, Any]) -> SendResult:
        with self._lock:
            queued = self.results.get(method)
            answer: Any = queued.pop(0) if queued else self.always.get(method)
            if callable(answer) and not isinstance(answer, BaseException):
                answer = answer(args)
            if isinstance(answer, BaseException):
                raise answer
            result = answer or SendResult(True)
            if result.ok and result.platform_message_id is None:
                result = replace(result, platform_message_id=f"{self.name}-{next(self._ids)}")
            self.calls.append(Call(method, args, result))
            return result
