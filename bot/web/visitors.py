"""Web chat visitors: ids the server issues and signs (a cookie value the client made up is
refused), a keyed hash of the address so crisis detection counts people rather than cookies,
and per-visitor and per-address rate limits for posting."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque

_ID_BYTES = 18


class Visitors:
    """Issues and checks signed visitor ids; derives the person key of an address."""

    def __init__(self, secret: str):
        self._key = hashlib.sha256(("web-visitor:" + secret).encode()).digest()

    def _sign(self, visitor: str) -> str:
        return hmac.new(self._key, visitor.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self) -> str:
        """A new visitor's cookie value."""
        return self.cookie_for(secrets.token_urlsafe(_ID_BYTES))

    def cookie_for(self, visitor: str) -> str:
        """The cookie value that carries `visitor`: `id.signature`."""
        return f"{visitor}.{self._sign(visitor)}"

    def verified(self, cookie: str | None) -> str | None:
        """The visitor id of a cookie this server issued, else None."""
        visitor, _, signature = (cookie or "").partition(".")
        if not visitor or len(signature) != 32:
            return None
        return visitor if hmac.compare_digest(self._sign(visitor), signature) else None

    def person(self, address: str) -> str:
        """Who is writing, as far as the server can tell: a keyed hash of the address (never
        the address itself), shared by every visitor id one address rotates through."""
        digest = hmac.new(self._key, b"address:" + address.encode(), hashlib.sha256)
        return "addr-" + digest.hexdigest()[:24]


class RateLimit:
    """At most `limit` events per key within `seconds`, in this process (a sliding window)."""

    def __init__(self, limit: int, seconds: float, clock=time.monotonic):
        self.limit, self.seconds, self.clock = limit, seconds, clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int:
        """0 and counts the event when it is allowed; else seconds until it would be."""
        now = self.clock()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.seconds:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, int(hits[0] + self.seconds - now + 0.999))
            hits.append(now)
            if len(self._hits) > 100_000:  # forget idle keys, so memory stays bounded
                for stale in [k for k, v in self._hits.items() if not v]:
                    del self._hits[stale]
            return 0
