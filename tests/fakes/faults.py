"""Random faults a fake platform API answers sends with, as real APIs do on a bad day:
500/503 (nothing done), 429 (slow down), and requests that hang past the client's timeout.

Every fault happens before the request is processed, so nothing is delivered; the fake LINE
API's `lose_responses` covers a send that went out but whose answer was lost."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

KINDS = ("500", "503", "429", "timeout")


@dataclass
class Faults:
    rate: float = 0.0  # share of send requests that fail
    kinds: tuple[str, ...] = KINDS
    hang_seconds: float = 2.0  # a "timeout" answers 504 after this long (the client gave up)
    retry_after: int = 1  # seconds, in a 429's answer
    seed: int = 0
    injected: Counter = field(default_factory=Counter)

    def __post_init__(self):
        self._random = random.Random(self.seed)

    async def pick(self) -> str | None:
        """The fault this request gets (after hanging, for a timeout), or None."""
        if self.rate <= 0 or self._random.random() >= self.rate:
            return None
        kind = self._random.choice(self.kinds)
        self.injected[kind] += 1
        if kind == "timeout":
            await asyncio.sleep(self.hang_seconds)
        return kind
