"""Telegram's flood limits as a send schedule: a queue of send slots per chat.

Telegram allows about one message a second in a chat, twenty a minute in a group and thirty a
second overall, and answers 429 with `retry_after` when a chat is flooded. Each chat gets its
own queue of slots, booked in call order; a 429 blocks only that chat until its retry_after has
passed, so every other chat keeps flowing. The schedule is plain bookkeeping on a monotonic
clock (no locks bound to an event loop); callers sleep until their slot."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Chat:
    next_free: float = 0.0  # earliest time of this chat's next slot
    blocked_until: float = 0.0  # from a 429's retry_after
    recent: deque = field(default_factory=deque)  # booked slots in the last minute (groups)


@dataclass(frozen=True)
class Slot:
    """A booked slot `delay` seconds from now, or (booked=False) how long until one is free."""

    booked: bool
    delay: float


class FloodGate:
    def __init__(
        self,
        chat_interval: float = 1.0,
        group_per_minute: int = 20,
        global_per_second: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.chat_interval = chat_interval
        self.group_per_minute = group_per_minute
        self.global_interval = 1.0 / global_per_second
        self.clock = clock
        self._chats: dict[str, _Chat] = {}
        self._global_next = 0.0

    def book(self, chat_id: str, group: bool, max_wait: float) -> Slot:
        """Book this chat's next slot if it comes within `max_wait` seconds."""
        now = self.clock()
        if len(self._chats) > 1000:
            self.forget_idle()
        chat = self._chats.setdefault(chat_id, _Chat())
        at = max(now, chat.next_free, chat.blocked_until)
        if group:
            while chat.recent and chat.recent[0] <= now - 60:
                chat.recent.popleft()
            if len(chat.recent) >= self.group_per_minute:
                at = max(at, chat.recent[-self.group_per_minute] + 60)
        if at - now > max_wait:
            return Slot(False, at - now)
        chat.next_free = at + self.chat_interval
        if group:
            chat.recent.append(at)
        return Slot(True, at - now)

    def global_delay(self) -> float:
        """Book a slot in the bot-wide limit, taken just before a request goes out."""
        now = self.clock()
        at = max(now, self._global_next)
        self._global_next = at + self.global_interval
        return at - now

    def blocked(self, chat_id: str, retry_after: float) -> None:
        """Telegram said 429 for this chat: send nothing there for `retry_after` seconds."""
        chat = self._chats.setdefault(chat_id, _Chat())
        chat.blocked_until = max(chat.blocked_until, self.clock() + retry_after)
        chat.next_free = max(chat.next_free, chat.blocked_until)

    def forget_idle(self, idle_seconds: float = 120.0) -> None:
        """Drop the state of chats that have been quiet, so memory stays bounded."""
        now = self.clock()
        cutoff = now - idle_seconds
        for state in self._chats.values():
            while state.recent and state.recent[0] <= now - 60:
                state.recent.popleft()
        for chat_id in [
            c
            for c, s in self._chats.items()
            if max(s.next_free, s.blocked_until) < cutoff and not s.recent
        ]:
            del self._chats[chat_id]
