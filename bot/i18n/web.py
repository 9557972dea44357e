"""The web side: every request gets its own locale slot, negotiated from the browser's
Accept-Language and the brand default; the console user's own setting replaces it once the
session is read (`choose`, in bot.web.deps)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.i18n.locale import negotiate, use_locale


class LocaleMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        wanted = negotiate(None, Headers(scope=scope).get("accept-language"))
        with use_locale(wanted):
            await self.app(scope, receive, send)


def wants_html(accept: str | None) -> bool:
    """A browser (asks for text/html) rather than an API client or a script."""
    return "text/html" in (accept or "")
